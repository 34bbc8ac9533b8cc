//! Sign-in through OpenID Connect (Entra ID in production), browser sessions, API tokens, and
//! who may do what on every request.
//!
//! Rules: a person is their `tid` + `oid`, never their e-mail or name; display name and e-mail
//! are refreshed at each sign-in. The authorization code flow runs with PKCE, and `state` and
//! `nonce` are checked; the ID token's signature, issuer, audience and expiry are verified. A
//! sign-in attempt can be completed once. Sessions live in Postgres behind an HttpOnly,
//! SameSite=Lax cookie (Secure when Portolan is served over https), get a new id at every sign-in,
//! and end after 8 hours idle or 7 days in all. Only a hash of a session or API token is stored.
//! Every API request is authenticated ([`authenticate`]: a bearer token, else the session cookie)
//! and then authorized against the rule of the endpoint it matched ([`authorize`]); a change made
//! with the cookie must carry the session's CSRF token.

pub mod dev;
pub mod graph;
pub mod oidc;
pub mod routes;
pub mod session;
pub mod tokens;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderName, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portolan_api::ActorKind;

use crate::AppState;
use crate::access::{self, Access, Caller, Denied};
use crate::audit::Actor;
use crate::error::AppError;

pub const SESSION_COOKIE: &str = "portolan_session";
/// Binds a sign-in attempt to the browser that started it: the answer from the provider must
/// come back to that browser (or someone could sign a victim in as themselves).
pub const SIGN_IN_COOKIE: &str = "portolan_sign_in";
/// The header a cookie-authenticated change carries (the value is in `GET /api/v1/me`).
pub const CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

/// The value of one cookie of the request.
pub fn cookie<'a>(req: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    req.get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl AppState {
    /// What a signed-in person may do under the current configuration.
    pub fn access_of(&self, s: &session::SignedIn) -> Access {
        Access::of(&s.me.roles, &s.me.groups, &self.config.group_roles)
    }
}

/// A session's CSRF token, kept for [`authorize`] when the request came with the cookie.
#[derive(Clone)]
struct CsrfExpected(String);

/// What someone should know about their access, in words, beyond having no role at all (e.g. why
/// group-based roles are missing). `graph_groups`: groups are looked up in Microsoft Graph at
/// sign-in, so a remaining overage means that lookup failed.
pub fn access_notices(groups_overage: bool, graph_groups: bool, access: &Access) -> Vec<String> {
    let mut notices = Vec::new();
    if groups_overage && graph_groups {
        notices.push(
            "Your account is in more groups than a sign-in token can list, and looking your \
             groups up in Microsoft Graph failed when you signed in, so roles given through groups \
             are missing; roles assigned to you directly still apply. Try signing in again later, \
             or ask an administrator to check that Portolan's app registration has the \
             GroupMember.Read.All application permission with admin consent."
                .into(),
        );
    } else if groups_overage {
        notices.push(
            "Your account is in more groups than a sign-in token can list, so roles given through \
             groups are missing; roles assigned to you directly still apply."
                .into(),
        );
    }
    if !access.unknown_roles.is_empty() {
        notices.push(format!(
            "These app roles mean nothing to Portolan and were ignored: {}.",
            access.unknown_roles.join(", ")
        ));
    }
    notices
}

/// Fills in what `Me` says about access under `config`: grants, permissions, notices.
pub fn describe_access(me: &mut portolan_api::Me, access: &Access, config: &crate::config::Config) {
    me.grants = access.grants.iter().map(ToString::to_string).collect();
    me.permissions = access
        .permissions()
        .into_iter()
        .map(|p| p.as_str().to_string())
        .collect();
    me.token_scopes = crate::access::Scope::ALL
        .into_iter()
        .filter(|s| access.allows(s.permission()))
        .map(|s| s.as_str().to_string())
        .collect();
    me.development_sign_in = config.dev_sign_in;
    me.notices.clear();
    if !access.has_any_role() {
        me.notices.push(
            "You have no Portolan role yet, so there is nothing you may see. Ask an administrator \
             to give you one (viewer, developer, approver, sre or admin)."
                .into(),
        );
    }
    me.notices.extend(access_notices(
        me.groups_overage,
        config.graph_groups(),
        access,
    ));
}

fn when(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

fn token_actor(t: &tokens::Presented) -> Actor {
    Actor {
        kind: ActorKind::Token,
        id: format!("token:{}", t.id),
        name: format!(
            "{} ({}, of {} {}:{})",
            t.name, t.prefix, t.owner_name, t.owner_tenant, t.owner_object
        ),
    }
}

/// Works out who is calling: an API token (`Authorization: Bearer …`, or Basic with the token as
/// the password), else the session cookie, else nobody. A token that is unknown, expired or
/// revoked is refused here with 401 and the reason; so is a malformed Authorization header. The alert receivers (`/api/v1/webhooks/…`)
/// are passed by as nobody: their senders authenticate with their own secrets, which may travel
/// in the same header, and a session cookie counts for nothing there.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let caller = if req.uri().path().starts_with(crate::webhooks::PATH_PREFIX) {
        Caller::Anonymous
    } else if let Some(value) = req.headers().get(AUTHORIZATION) {
        let Some(secret) = value.to_str().ok().and_then(api_token_in) else {
            return AppError::Unauthenticated(
                "the Authorization header must be 'Bearer <API token>' (or Basic, with the API \
                 token as the password)"
                    .into(),
            )
            .into_response();
        };
        let presented = match tokens::present(&state.pool, &secret).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                return AppError::Unauthenticated(
                    "this API token is not known to Portolan (mistyped, or never created here)"
                        .into(),
                )
                .into_response();
            }
            Err(e) => return e.into_response(),
        };
        if let Some(at) = presented.revoked_at {
            return AppError::Unauthenticated(format!(
                "API token {} was revoked at {}; create a new one",
                presented.prefix,
                when(at)
            ))
            .into_response();
        }
        if presented.expires_at <= time::OffsetDateTime::now_utc() {
            return AppError::Unauthenticated(format!(
                "API token {} expired at {}; create a new one",
                presented.prefix,
                when(presented.expires_at)
            ))
            .into_response();
        }
        let owner = Access::of(
            &presented.owner_roles,
            &presented.owner_groups,
            &state.config.group_roles,
        );
        req.extensions_mut().insert(token_actor(&presented));
        Caller::Token {
            scopes: presented.scopes,
            owner,
        }
    } else if let Some(token) = cookie(req.headers(), SESSION_COOKIE) {
        match session::lookup(&state.pool, token).await {
            Ok(Some(signed_in)) => {
                let access = state.access_of(&signed_in);
                req.extensions_mut().insert(Actor {
                    kind: ActorKind::User,
                    id: format!("{}:{}", signed_in.me.tenant_id, signed_in.me.object_id),
                    name: signed_in.me.display_name.clone(),
                });
                req.extensions_mut()
                    .insert(CsrfExpected(signed_in.me.csrf_token.clone()));
                req.extensions_mut().insert(signed_in);
                Caller::Person { access }
            }
            // An ended session is as good as none.
            Ok(None) => Caller::Anonymous,
            Err(e) => return e.into_response(),
        }
    } else {
        Caller::Anonymous
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The API token an Authorization header carries: `Bearer <token>`, or `Basic` with a Portolan
/// token (`ptl_…`) as the password (the user name is ignored), which is what a generic service
/// connection of Azure DevOps sends. Any other Basic pair is no token at all.
pub fn api_token_in(header: &str) -> Option<String> {
    use base64::Engine;
    let token = if let Some(t) = header.strip_prefix("Bearer ") {
        t.trim().to_string()
    } else {
        let encoded = header.strip_prefix("Basic ")?.trim();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        let pair = String::from_utf8(decoded).ok()?;
        let password = pair.split_once(':')?.1.trim();
        if !password.starts_with(tokens::TOKEN_PREFIX) {
            return None;
        }
        password.to_string()
    };
    (!token.is_empty()).then_some(token)
}

/// Compares in time independent of where the first difference is.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Applies the rule of the endpoint the request matched (see [`access::rule`]), and the CSRF
/// check to changes made with the session cookie. Runs after routing.
pub async fn authorize(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let Some(rule) = access::rule(req.method(), &route) else {
        tracing::error!(method = %req.method(), route, "an API endpoint has no access rule; refusing it");
        return AppError::Forbidden(
            "this endpoint has no access rule yet, so nobody may use it".into(),
        )
        .into_response();
    };
    // A forged cross-site change is stopped before it learns anything about permissions.
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes && let Some(CsrfExpected(expected)) = req.extensions().get::<CsrfExpected>() {
        let sent = req
            .headers()
            .get(&CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if sent.is_empty() {
            return AppError::Forbidden(
                "a change made with the session cookie needs the x-csrf-token header (its value is \
                 csrf_token in GET /api/v1/me)"
                    .into(),
            )
            .into_response();
        }
        if !same_secret(sent, expected) {
            return AppError::Forbidden(
                "the x-csrf-token header does not belong to this session; reload the page".into(),
            )
            .into_response();
        }
    }
    let caller = req
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller::Anonymous);
    match access::authorize(&caller, rule) {
        Ok(()) => {}
        Err(Denied::SignInFirst) => return AppError::sign_in_first().into_response(),
        Err(Denied::Forbidden(why)) => return AppError::Forbidden(why).into_response(),
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overage_notice_says_whether_the_graph_lookup_failed() {
        let access = Access::of(&["developer".into()], &[], &Default::default());
        assert!(access_notices(false, true, &access).is_empty());
        assert!(access_notices(false, false, &access).is_empty());
        let without = access_notices(true, false, &access).join(" ");
        assert!(
            without.contains("roles given through groups are missing"),
            "{without}"
        );
        assert!(!without.contains("Microsoft Graph"), "{without}");
        let failed = access_notices(true, true, &access).join(" ");
        for words in [
            "roles given through groups are missing",
            "looking your groups up in Microsoft Graph failed",
            "Try signing in again later",
            "GroupMember.Read.All application permission with admin consent",
        ] {
            assert!(failed.contains(words), "{words}: {failed}");
        }
        assert_eq!(access_notices(true, true, &access).len(), 1, "one notice");
    }

    #[test]
    fn an_api_token_comes_as_bearer_or_as_the_basic_password() {
        use base64::Engine;
        let basic = |pair: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        };
        assert_eq!(api_token_in("Bearer ptl_abc ").as_deref(), Some("ptl_abc"));
        assert_eq!(
            api_token_in(&basic("azure-devops:ptl_abc")).as_deref(),
            Some("ptl_abc")
        );
        assert_eq!(api_token_in(&basic(":ptl_abc")).as_deref(), Some("ptl_abc"));
        assert_eq!(api_token_in(&basic("user:")), None, "no password");
        assert_eq!(
            api_token_in(&basic("user:secret")),
            None,
            "not a Portolan token"
        );
        assert_eq!(api_token_in(&basic("no colon")), None);
        assert_eq!(api_token_in("Basic not-base64!"), None);
        assert_eq!(api_token_in("Bearer  "), None);
        assert_eq!(api_token_in("Token ptl_abc"), None);
    }
}
