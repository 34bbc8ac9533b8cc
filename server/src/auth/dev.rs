//! The development sign-in: for the demo and local work, anyone may sign in as one of a few
//! made-up people, one per role. On only with `PORTOLAN_DEV_SIGN_IN=true`, refused at start-up when
//! `PORTOLAN_ENV=production`, and announced by a banner on every page while it is on.

use super::session::Identity;

/// The tenant id of the made-up people: never a real directory's GUID.
pub const TENANT: &str = "development";

/// One made-up person.
pub struct Persona {
    /// What the sign-in form posts, and their object id.
    pub login: &'static str,
    pub name: &'static str,
    /// App role values, as the identity provider would send them.
    pub roles: &'static [&'static str],
    /// What they can do, for the sign-in page.
    pub blurb: &'static str,
}

pub const PERSONAS: &[Persona] = &[
    Persona {
        login: "viewer",
        name: "Vic Viewer",
        roles: &["viewer"],
        blurb: "Reads everything, changes nothing.",
    },
    Persona {
        login: "developer",
        name: "Dana Developer",
        roles: &["developer"],
        blurb: "Edits services, records deployments, asks for promotions.",
    },
    Persona {
        login: "approver",
        name: "Avery Approver",
        roles: &["approver"],
        blurb: "Approves promotions into every environment.",
    },
    Persona {
        login: "approver-prod",
        name: "Parker Prod-Approver",
        roles: &["approver@prod"],
        blurb: "Approves promotions into prod only.",
    },
    Persona {
        login: "sre",
        name: "Sasha SRE",
        roles: &["sre"],
        blurb: "Runs incidents, edits services, records deployments.",
    },
    Persona {
        login: "admin",
        name: "Ada Admin",
        roles: &["admin"],
        blurb: "Shapes teams and the pipeline, reads the audit log.",
    },
    Persona {
        login: "newcomer",
        name: "Nico Newcomer",
        roles: &[],
        blurb: "Signed in but given no role yet: sees the no-access page.",
    },
];

pub fn persona(login: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.login == login)
}

impl Persona {
    pub fn identity(&self) -> Identity {
        Identity {
            tenant_id: TENANT.into(),
            object_id: self.login.into(),
            display_name: self.name.into(),
            email: Some(format!("{}@portolan.invalid", self.login)),
            roles: self.roles.iter().map(|r| r.to_string()).collect(),
            groups: vec![],
            groups_overage: false,
        }
    }

    pub fn roles_text(&self) -> String {
        if self.roles.is_empty() {
            "no role".into()
        } else {
            self.roles.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Access, GroupRoles, Role};

    #[test]
    fn there_is_one_persona_per_role_and_one_without() {
        let mut seen = std::collections::BTreeSet::new();
        for p in PERSONAS {
            let a = Access::of(&p.identity().roles, &[], &GroupRoles::default());
            assert!(a.unknown_roles.is_empty(), "{}", p.login);
            seen.extend(a.roles());
        }
        assert_eq!(seen.len(), Role::ALL.len());
        assert!(PERSONAS.iter().any(|p| p.roles.is_empty()));
        assert!(persona("admin").is_some() && persona("root").is_none());
    }
}
