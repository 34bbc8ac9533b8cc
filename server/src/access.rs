//! Who may do what: roles, what they allow, API token scopes, and the rule of every API endpoint.
//!
//! Pure logic, no I/O. A person's roles come from the identity provider's app roles (`roles`
//! claim) and, where configured, from their groups (`PORTOLAN_GROUP_ROLES`). An API token acts
//! with the rights of its scopes, and never with more than its owner holds at the time of use.
//! Every API endpoint has exactly one rule in [`rule`]; an endpoint without one is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use axum::http::Method;

/// The roles Portolan knows, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Developer,
    Approver,
    Sre,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Developer,
        Role::Approver,
        Role::Sre,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Approver => "approver",
            Role::Sre => "sre",
            Role::Admin => "admin",
        }
    }

    /// Case-insensitive, so an app role value of `Approver` counts as `approver`.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// What the role allows.
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Viewer => &[Read],
            Role::Developer => &[
                Read,
                CatalogWrite,
                DeploymentsWrite,
                PromotionsRequest,
                IncidentsDeclare,
            ],
            Role::Approver => &[Read, PromotionsApprove],
            Role::Sre => &[
                Read,
                CatalogWrite,
                DeploymentsWrite,
                IncidentsDeclare,
                IncidentsWrite,
            ],
            Role::Admin => &[
                Read,
                CatalogWrite,
                DeploymentsWrite,
                PromotionsRequest,
                IncidentsDeclare,
                IncidentsWrite,
                OrganisationWrite,
                PipelineWrite,
                AuditRead,
                PromotionsOverride,
                NotificationsManage,
            ],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a person or a token may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// See the catalog, the pipeline, deployments.
    Read,
    /// Create and change services and their dependencies.
    CatalogWrite,
    /// Record deployments and move them through their states.
    DeploymentsWrite,
    /// Ask for a promotion.
    PromotionsRequest,
    /// Approve or reject a promotion (possibly only into some environments).
    PromotionsApprove,
    /// Declare an incident and add to its timeline: whoever notices trouble may raise it. Also
    /// work on action items (pick them up, move them, finish them).
    IncidentsDeclare,
    /// Run incidents (move them, edit them, link deployments), write postmortems, add action
    /// items.
    IncidentsWrite,
    /// Create and change teams and systems.
    OrganisationWrite,
    /// Shape the pipeline of environments.
    PipelineWrite,
    /// Read and export the audit log.
    AuditRead,
    /// Break the glass: approve a promotion whatever its gate says, with a reason, loudly.
    PromotionsOverride,
    /// See the messages sent to Teams and Slack (and their failures), and send failed ones again.
    NotificationsManage,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::CatalogWrite => "catalog:write",
            Permission::DeploymentsWrite => "deployments:write",
            Permission::PromotionsRequest => "promotions:request",
            Permission::PromotionsApprove => "promotions:approve",
            Permission::IncidentsDeclare => "incidents:declare",
            Permission::IncidentsWrite => "incidents:write",
            Permission::OrganisationWrite => "organisation:write",
            Permission::PipelineWrite => "pipeline:write",
            Permission::AuditRead => "audit:read",
            Permission::PromotionsOverride => "promotions:override",
            Permission::NotificationsManage => "notifications:manage",
        }
    }

    /// The roles that hold this permission, for messages.
    pub fn roles(self) -> Vec<Role> {
        Role::ALL
            .into_iter()
            .filter(|r| r.permissions().contains(&self))
            .collect()
    }

    /// The token scope that carries this permission, if a token may hold it at all.
    pub fn scope(self) -> Option<Scope> {
        match self {
            Permission::Read => Some(Scope::Read),
            Permission::CatalogWrite => Some(Scope::CatalogWrite),
            Permission::DeploymentsWrite => Some(Scope::DeploymentsWrite),
            Permission::PromotionsRequest => Some(Scope::PromotionsWrite),
            _ => None,
        }
    }
}

/// What an API token may be given. Every scope includes `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Read,
    CatalogWrite,
    DeploymentsWrite,
    PromotionsWrite,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::Read,
        Scope::CatalogWrite,
        Scope::DeploymentsWrite,
        Scope::PromotionsWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::CatalogWrite => "catalog:write",
            Scope::DeploymentsWrite => "deployments:write",
            Scope::PromotionsWrite => "promotions:write",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The permission a person must hold to hand this scope to a token.
    pub fn permission(self) -> Permission {
        match self {
            Scope::Read => Permission::Read,
            Scope::CatalogWrite => Permission::CatalogWrite,
            Scope::DeploymentsWrite => Permission::DeploymentsWrite,
            Scope::PromotionsWrite => Permission::PromotionsRequest,
        }
    }
}

/// Where an approver may approve.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Approves {
    #[default]
    Nowhere,
    Everywhere,
    Only(BTreeSet<String>),
}

/// One role, as granted: `approver@prod,staging` limits approving to those environments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    /// Only for `approver`: `None` means every environment.
    pub environments: Option<BTreeSet<String>>,
}

impl Grant {
    /// `viewer`, `developer`, `approver`, `approver@prod`, `approver@staging,prod`, `sre`, `admin`.
    pub fn parse(text: &str) -> Result<Grant, String> {
        let (role_text, envs) = match text.trim().split_once('@') {
            Some((r, e)) => (r, Some(e)),
            None => (text.trim(), None),
        };
        let role = Role::parse(role_text).ok_or_else(|| {
            format!(
                "'{role_text}' is not a role; the roles are {}",
                Role::ALL.map(Role::as_str).join(", ")
            )
        })?;
        let environments = match envs {
            None => None,
            Some(_) if role != Role::Approver => {
                return Err(format!(
                    "'{text}': only approver can be limited to environments (approver@prod)"
                ));
            }
            Some(list) => {
                let set: BTreeSet<String> = list
                    .split(',')
                    .map(|e| e.trim().to_ascii_lowercase())
                    .filter(|e| !e.is_empty())
                    .collect();
                if set.is_empty() {
                    return Err(format!(
                        "'{text}': name the environments after '@', e.g. approver@prod"
                    ));
                }
                Some(set)
            }
        };
        Ok(Grant { role, environments })
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.role.as_str())?;
        if let Some(envs) = &self.environments {
            write!(f, "@{}", envs.iter().cloned().collect::<Vec<_>>().join(","))?;
        }
        Ok(())
    }
}

/// Which groups (by object id) give which roles: `PORTOLAN_GROUP_ROLES`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRoles(BTreeMap<String, Vec<Grant>>);

impl GroupRoles {
    /// `<group-object-id>=<grant>` entries separated by `;` or new lines, e.g.
    /// `1b2c…=approver@prod; 7d8e…=developer`. A group may appear more than once.
    pub fn parse(text: &str) -> Result<GroupRoles, String> {
        let mut map: BTreeMap<String, Vec<Grant>> = BTreeMap::new();
        for (n, entry) in text
            .split([';', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let (group, grant) = entry.split_once('=').ok_or_else(|| {
                format!(
                    "entry {} ('{entry}') is not <group-object-id>=<role>",
                    n + 1
                )
            })?;
            let group = group.trim().to_ascii_lowercase();
            if group.is_empty() || !group.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                return Err(format!(
                    "entry {} ('{entry}'): '{group}' is not a group object id (a GUID)",
                    n + 1
                ));
            }
            let grant = Grant::parse(grant).map_err(|e| format!("entry {}: {e}", n + 1))?;
            map.entry(group).or_default().push(grant);
        }
        Ok(GroupRoles(map))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What one person may do, worked out from their app roles and groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Access {
    pub grants: Vec<Grant>,
    /// App role values Portolan does not know (ignored; shown so someone can fix the directory).
    pub unknown_roles: Vec<String>,
}

impl Access {
    pub fn of(app_roles: &[String], groups: &[String], mapping: &GroupRoles) -> Access {
        let mut grants = Vec::new();
        let mut unknown_roles = Vec::new();
        for value in app_roles {
            match Grant::parse(value) {
                Ok(g) => grants.push(g),
                Err(_) => unknown_roles.push(value.clone()),
            }
        }
        for group in groups {
            if let Some(gs) = mapping.0.get(&group.to_ascii_lowercase()) {
                grants.extend(gs.iter().cloned());
            }
        }
        grants.sort_by(|a, b| (a.role, &a.environments).cmp(&(b.role, &b.environments)));
        grants.dedup();
        Access {
            grants,
            unknown_roles,
        }
    }

    pub fn roles(&self) -> BTreeSet<Role> {
        self.grants.iter().map(|g| g.role).collect()
    }

    /// Admins see and revoke everyone's API tokens.
    pub fn is_admin(&self) -> bool {
        self.grants.iter().any(|g| g.role == Role::Admin)
    }

    pub fn has_any_role(&self) -> bool {
        !self.grants.is_empty()
    }

    pub fn allows(&self, p: Permission) -> bool {
        self.grants
            .iter()
            .any(|g| g.role.permissions().contains(&p))
    }

    pub fn permissions(&self) -> BTreeSet<Permission> {
        self.grants
            .iter()
            .flat_map(|g| g.role.permissions().iter().copied())
            .collect()
    }

    /// Where this person may approve promotions.
    pub fn approves(&self) -> Approves {
        let mut envs = BTreeSet::new();
        let mut any = false;
        for g in self.grants.iter().filter(|g| g.role == Role::Approver) {
            any = true;
            match &g.environments {
                None => return Approves::Everywhere,
                Some(e) => envs.extend(e.iter().cloned()),
            }
        }
        if any {
            Approves::Only(envs)
        } else {
            Approves::Nowhere
        }
    }

    pub fn may_approve_in(&self, environment: &str) -> bool {
        match self.approves() {
            Approves::Nowhere => false,
            Approves::Everywhere => true,
            Approves::Only(envs) => envs.contains(environment),
        }
    }
}

/// Who is asking, as far as authorization is concerned.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    /// A person with a browser session (the cookie); changes need the CSRF token.
    Person {
        access: Access,
    },
    /// An API token: its scopes, bounded by what its owner may do now.
    Token {
        scopes: BTreeSet<Scope>,
        owner: Access,
    },
}

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A signed-in person, whatever their roles (who am I, my tokens). Tokens are refused.
    Person,
    /// This permission, from a person's roles or a token's scope.
    Needs(Permission),
    /// An alert sender (`/api/v1/webhooks/…`): not for people or tokens. The request reaches the
    /// handler, which authenticates the sender with its own secret and refuses everyone else.
    Webhook,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// Nobody signed in and no token: 401.
    SignInFirst,
    /// Known caller, not allowed: 403 with the reason.
    Forbidden(String),
}

pub fn role_list(p: Permission) -> String {
    let roles: Vec<&str> = p.roles().into_iter().map(Role::as_str).collect();
    match roles.as_slice() {
        [one] => format!("the {one} role"),
        _ => format!("one of the roles {}", roles.join(", ")),
    }
}

/// The decision, with a reason a person understands.
pub fn authorize(caller: &Caller, rule: Rule) -> Result<(), Denied> {
    match (caller, rule) {
        (_, Rule::Webhook) => Ok(()),
        (Caller::Anonymous, _) => Err(Denied::SignInFirst),
        (Caller::Person { .. }, Rule::Person) => Ok(()),
        (Caller::Token { .. }, Rule::Person) => Err(Denied::Forbidden(
            "this endpoint is for people signed in to Portolan, not for API tokens".into(),
        )),
        (Caller::Person { access }, Rule::Needs(p)) => {
            if access.allows(p) {
                Ok(())
            } else if !access.has_any_role() {
                Err(Denied::Forbidden(
                    "you have no Portolan role yet; ask an administrator to assign you one".into(),
                ))
            } else {
                Err(Denied::Forbidden(format!(
                    "this needs {} (you have {})",
                    role_list(p),
                    access
                        .grants
                        .iter()
                        .map(Grant::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
        (Caller::Token { scopes, owner }, Rule::Needs(p)) => {
            let Some(scope) = p.scope() else {
                return Err(Denied::Forbidden(format!(
                    "API tokens cannot be used for this ({} is for people signed in to Portolan)",
                    p.as_str()
                )));
            };
            // Every scope includes read.
            let scoped = scopes.contains(&scope) || (scope == Scope::Read && !scopes.is_empty());
            if !scoped {
                return Err(Denied::Forbidden(format!(
                    "this token lacks the {} scope",
                    scope.as_str()
                )));
            }
            if !owner.allows(p) {
                return Err(Denied::Forbidden(format!(
                    "the person who created this token no longer holds {}",
                    role_list(p)
                )));
            }
            Ok(())
        }
    }
}

/// Whether a person may hand these scopes to a token: only what they hold themselves.
pub fn may_delegate(access: &Access, scopes: &BTreeSet<Scope>) -> Result<(), String> {
    for s in scopes {
        if !access.allows(s.permission()) {
            return Err(format!(
                "you cannot hand out the {} scope: it needs {}",
                s.as_str(),
                role_list(s.permission())
            ));
        }
    }
    Ok(())
}

/// The rule of every API endpoint, by method and route template (as the router matched it).
/// `None` is a bug: the endpoint is refused, and the permission-matrix test fails.
pub fn rule(method: &Method, route: &str) -> Option<Rule> {
    use Permission::*;
    let m = method.as_str();
    let needs = Rule::Needs;
    Some(match (m, route) {
        ("GET", "/api/v1/me") => Rule::Person,
        ("GET" | "POST", "/api/v1/tokens") => Rule::Person,
        ("DELETE", "/api/v1/tokens/{id}") => Rule::Person,

        ("GET", "/api/v1/audit" | "/api/v1/audit/export") => needs(AuditRead),

        ("GET", "/api/v1/teams" | "/api/v1/teams/{slug}") => needs(Read),
        ("POST", "/api/v1/teams") => needs(OrganisationWrite),
        ("PATCH", "/api/v1/teams/{slug}") => needs(OrganisationWrite),
        ("POST", "/api/v1/teams/{slug}/archive" | "/api/v1/teams/{slug}/restore") => {
            needs(OrganisationWrite)
        }

        ("GET", "/api/v1/systems" | "/api/v1/systems/{slug}") => needs(Read),
        ("POST", "/api/v1/systems") => needs(OrganisationWrite),
        ("PATCH", "/api/v1/systems/{slug}") => needs(OrganisationWrite),
        ("POST", "/api/v1/systems/{slug}/archive" | "/api/v1/systems/{slug}/restore") => {
            needs(OrganisationWrite)
        }

        (
            "GET",
            "/api/v1/services"
            | "/api/v1/services/{slug}"
            | "/api/v1/services/{slug}/dependencies"
            | "/api/v1/services/{slug}/versions",
        ) => needs(Read),
        ("POST", "/api/v1/services") => needs(CatalogWrite),
        ("PATCH", "/api/v1/services/{slug}") => needs(CatalogWrite),
        ("POST", "/api/v1/services/{slug}/archive" | "/api/v1/services/{slug}/restore") => {
            needs(CatalogWrite)
        }
        ("PUT" | "DELETE", "/api/v1/services/{slug}/dependencies/{to}") => needs(CatalogWrite),

        ("GET", "/api/v1/environments" | "/api/v1/environments/{slug}" | "/api/v1/matrix") => {
            needs(Read)
        }
        ("POST", "/api/v1/environments") => needs(PipelineWrite),
        (
            "GET",
            "/api/v1/environments/{slug}/gate" | "/api/v1/environments/{slug}/gate/history",
        ) => needs(Read),
        ("PUT", "/api/v1/environments/{slug}/gate") => needs(PipelineWrite),
        ("PATCH", "/api/v1/environments/{slug}") => needs(PipelineWrite),
        ("POST", "/api/v1/environments/{slug}/archive" | "/api/v1/environments/{slug}/restore") => {
            needs(PipelineWrite)
        }

        ("GET", "/api/v1/deployments" | "/api/v1/deployments/{id}") => needs(Read),
        ("POST", "/api/v1/deployments" | "/api/v1/deployments/{id}/status") => {
            needs(DeploymentsWrite)
        }

        (
            "GET",
            "/api/v1/incidents"
            | "/api/v1/people"
            | "/api/v1/incidents/{id}"
            | "/api/v1/incidents/{id}/timeline"
            | "/api/v1/incidents/{id}/links"
            | "/api/v1/incidents/{id}/link-candidates",
        ) => needs(Read),
        ("PUT" | "DELETE", "/api/v1/incidents/{id}/links/{deployment}") => needs(IncidentsWrite),

        (
            "GET",
            "/api/v1/postmortems"
            | "/api/v1/incidents/{id}/postmortem"
            | "/api/v1/incidents/{id}/postmortem/revisions"
            | "/api/v1/incidents/{id}/postmortem/export",
        ) => needs(Read),
        // Reading help for the editor, changing nothing.
        ("POST", "/api/v1/postmortems/preview") => needs(Read),
        ("POST" | "PUT", "/api/v1/incidents/{id}/postmortem") => needs(IncidentsWrite),
        (
            "POST",
            "/api/v1/incidents/{id}/postmortem/review-request"
            | "/api/v1/incidents/{id}/postmortem/publish",
        ) => needs(IncidentsWrite),
        // Anyone may be named a reviewer; the handler lets only the named ones decide.
        ("POST", "/api/v1/incidents/{id}/postmortem/review") => Rule::Person,
        ("POST", "/api/v1/incidents" | "/api/v1/incidents/{id}/notes") => needs(IncidentsDeclare),
        ("PATCH", "/api/v1/incidents/{id}") => needs(IncidentsWrite),
        ("POST", "/api/v1/incidents/{id}/transition") => needs(IncidentsWrite),

        (
            "GET",
            "/api/v1/action-items"
            | "/api/v1/action-items/follow-through"
            | "/api/v1/action-items/{id}"
            | "/api/v1/incidents/{id}/action-items",
        ) => needs(Read),
        // Adding commitments is part of running the incident; doing them is everyone's work.
        ("POST", "/api/v1/incidents/{id}/action-items") => needs(IncidentsWrite),
        ("PATCH", "/api/v1/action-items/{id}") => needs(IncidentsDeclare),

        ("POST", "/api/v1/promotions") => needs(PromotionsRequest),
        (
            "GET",
            "/api/v1/promotions"
            | "/api/v1/promotions/{id}"
            | "/api/v1/promotions/{id}/wait"
            | "/api/v1/promotions/{id}/review",
        ) => needs(Read),
        // Where someone may approve is checked by the handler against the target.
        ("POST", "/api/v1/promotions/{id}/decisions") => needs(PromotionsApprove),
        // The requester (or, for a token, its owner) or an admin: the handler tells which.
        ("POST", "/api/v1/promotions/{id}/cancel") => needs(PromotionsRequest),
        ("POST", "/api/v1/promotions/{id}/break-glass") => needs(PromotionsOverride),
        // Asks (idempotently) and reads: a pipeline's token with promotions:write.
        ("POST", "/api/v1/integrations/azure-devops/check") => needs(PromotionsRequest),

        ("GET", "/api/v1/notifications") => needs(NotificationsManage),
        ("POST", "/api/v1/notifications/{id}/retry") => needs(NotificationsManage),

        ("POST", "/api/v1/webhooks/alertmanager" | "/api/v1/webhooks/pagerduty") => Rule::Webhook,

        // Says what changed, never what it became: reading it again needs its own rule.
        ("GET", "/api/v1/events") => needs(Read),

        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What someone with these app roles (and no groups) may do.
    pub(crate) fn access(roles: &[&str]) -> Access {
        Access::of(
            &roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            &[],
            &GroupRoles::default(),
        )
    }

    #[test]
    fn grants_parse_and_print() {
        assert_eq!(
            Grant::parse("Developer").expect("fine").to_string(),
            "developer"
        );
        assert_eq!(
            Grant::parse("approver@Prod, staging")
                .expect("fine")
                .to_string(),
            "approver@prod,staging"
        );
        assert!(
            Grant::parse("developer@prod")
                .expect_err("refused")
                .contains("only approver")
        );
        assert!(
            Grant::parse("approver@")
                .expect_err("refused")
                .contains("name the environments")
        );
        assert!(
            Grant::parse("owner")
                .expect_err("refused")
                .contains("is not a role")
        );
    }

    #[test]
    fn group_roles_parse_with_positions_in_errors() {
        let g = GroupRoles::parse(
            "BBBBBBBB-0000-4000-8000-000000000001=approver@prod;\n bbbbbbbb-0000-4000-8000-000000000002 = developer ;",
        )
        .expect("fine");
        let a = Access::of(&[], &["bbbbbbbb-0000-4000-8000-000000000001".into()], &g);
        assert_eq!(a.grants, vec![Grant::parse("approver@prod").expect("fine")]);
        assert!(
            GroupRoles::parse("x")
                .expect_err("refused")
                .starts_with("entry 1")
        );
        assert!(
            GroupRoles::parse("aa=viewer;zz=viewer")
                .expect_err("refused")
                .starts_with("entry 2")
        );
        assert!(
            GroupRoles::parse("aa=boss")
                .expect_err("refused")
                .contains("not a role")
        );
        assert!(GroupRoles::parse("").expect("fine").is_empty());
    }

    #[test]
    fn app_roles_and_groups_add_up_and_unknown_values_are_kept_aside() {
        let g = GroupRoles::parse("aa=developer").expect("fine");
        let a = Access::of(
            &["viewer".into(), "Portolan.Owner".into()],
            &["AA".into()],
            &g,
        );
        assert_eq!(
            a.roles().into_iter().collect::<Vec<_>>(),
            vec![Role::Viewer, Role::Developer]
        );
        assert_eq!(a.unknown_roles, vec!["Portolan.Owner".to_string()]);
        assert!(a.allows(Permission::DeploymentsWrite));
        assert!(!a.allows(Permission::AuditRead));
    }

    #[test]
    fn approver_limits_combine() {
        assert_eq!(access(&["developer"]).approves(), Approves::Nowhere);
        assert_eq!(access(&["approver"]).approves(), Approves::Everywhere);
        assert_eq!(
            access(&["approver@prod", "approver"]).approves(),
            Approves::Everywhere
        );
        let two = access(&["approver@prod", "approver@staging"]);
        assert!(two.may_approve_in("prod") && two.may_approve_in("staging"));
        assert!(!two.may_approve_in("qa"));
        assert!(!access(&["admin"]).may_approve_in("prod"));
    }

    #[test]
    fn people_are_judged_by_their_roles() {
        let p = |r: &[&str]| Caller::Person { access: access(r) };
        assert_eq!(
            authorize(&Caller::Anonymous, Rule::Needs(Permission::Read)),
            Err(Denied::SignInFirst)
        );
        assert_eq!(authorize(&p(&[]), Rule::Person), Ok(()));
        let Err(Denied::Forbidden(why)) = authorize(&p(&[]), Rule::Needs(Permission::Read)) else {
            panic!("no role, no read")
        };
        assert!(why.contains("no Portolan role"), "{why}");
        let Err(Denied::Forbidden(why)) =
            authorize(&p(&["viewer"]), Rule::Needs(Permission::DeploymentsWrite))
        else {
            panic!("viewer cannot deploy")
        };
        assert_eq!(
            why,
            "this needs one of the roles developer, sre, admin (you have viewer)"
        );
        assert!(authorize(&p(&["sre"]), Rule::Needs(Permission::DeploymentsWrite)).is_ok());
        assert!(authorize(&p(&["developer"]), Rule::Needs(Permission::PipelineWrite)).is_err());
        assert!(authorize(&p(&["admin"]), Rule::Needs(Permission::AuditRead)).is_ok());
    }

    #[test]
    fn tokens_are_bounded_by_scope_and_owner() {
        let t = |scopes: &[Scope], owner: &[&str]| Caller::Token {
            scopes: scopes.iter().copied().collect(),
            owner: access(owner),
        };
        let deploy = Rule::Needs(Permission::DeploymentsWrite);
        assert!(authorize(&t(&[Scope::DeploymentsWrite], &["developer"]), deploy).is_ok());
        // Every scope reads.
        assert!(
            authorize(
                &t(&[Scope::DeploymentsWrite], &["developer"]),
                Rule::Needs(Permission::Read)
            )
            .is_ok()
        );
        assert_eq!(
            authorize(&t(&[Scope::Read], &["developer"]), deploy),
            Err(Denied::Forbidden(
                "this token lacks the deployments:write scope".into()
            ))
        );
        // The owner lost the role since.
        let Err(Denied::Forbidden(why)) =
            authorize(&t(&[Scope::DeploymentsWrite], &["viewer"]), deploy)
        else {
            panic!("owner without the right")
        };
        assert!(why.contains("no longer holds"), "{why}");
        // Tokens never administer, whoever owns them.
        assert!(
            authorize(
                &t(&Scope::ALL, &["admin"]),
                Rule::Needs(Permission::AuditRead)
            )
            .is_err()
        );
        assert!(authorize(&t(&Scope::ALL, &["admin"]), Rule::Person).is_err());
    }

    #[test]
    fn alert_senders_are_judged_by_their_handler_alone() {
        // Whoever calls, the request reaches the handler, which checks the sender's own secret.
        for caller in [
            Caller::Anonymous,
            Caller::Person {
                access: access(&["admin"]),
            },
            Caller::Token {
                scopes: Scope::ALL.into_iter().collect(),
                owner: access(&["admin"]),
            },
        ] {
            assert_eq!(authorize(&caller, Rule::Webhook), Ok(()), "{caller:?}");
        }
        for path in [
            "/api/v1/webhooks/alertmanager",
            "/api/v1/webhooks/pagerduty",
        ] {
            assert_eq!(rule(&Method::POST, path), Some(Rule::Webhook));
            assert_eq!(rule(&Method::GET, path), None, "only POST");
        }
    }

    #[test]
    fn people_delegate_only_what_they_hold() {
        let scopes = |s: &[Scope]| s.iter().copied().collect::<BTreeSet<_>>();
        assert!(may_delegate(&access(&["developer"]), &scopes(&[Scope::DeploymentsWrite])).is_ok());
        let why = may_delegate(
            &access(&["viewer"]),
            &scopes(&[Scope::Read, Scope::DeploymentsWrite]),
        )
        .expect_err("refused");
        assert!(why.contains("deployments:write"), "{why}");
        assert!(may_delegate(&access(&["approver"]), &scopes(&[Scope::PromotionsWrite])).is_err());
    }

    #[test]
    fn every_scope_is_reachable_from_some_permission() {
        for s in Scope::ALL {
            assert_eq!(s.permission().scope(), Some(s), "{s:?}");
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
    }
}
