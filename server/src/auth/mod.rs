//! Sign-in through OpenID Connect (Entra ID in production), browser sessions, and who acts.
//!
//! Rules: a person is their `tid` + `oid`, never their e-mail or name; display name and e-mail
//! are refreshed at each sign-in. The authorization code flow runs with PKCE, and `state` and
//! `nonce` are checked; the ID token's signature, issuer, audience and expiry are verified. A
//! sign-in attempt can be completed once. Sessions live in Postgres behind an HttpOnly,
//! SameSite=Lax cookie (Secure when Portolan is served over https), get a new id at every sign-in,
//! and end after 8 hours idle or 7 days in all. Only a hash of the session token is stored.

pub mod oidc;
pub mod routes;
pub mod session;

use axum::extract::{Request, State};
use axum::http::header::COOKIE;
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;
use crate::audit::Actor;

pub const SESSION_COOKIE: &str = "portolan_session";
/// Binds a sign-in attempt to the browser that started it: the answer from the provider must
/// come back to that browser (or someone could sign a victim in as themselves).
pub const SIGN_IN_COOKIE: &str = "portolan_sign_in";

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

/// Resolves the session cookie, if any, into the signed-in person for the rest of the request:
/// handlers see them as the [`Actor`] (and the audit log records them).
pub async fn resolve_session(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(token) = cookie(req.headers(), SESSION_COOKIE) {
        match session::lookup(&state.pool, token).await {
            Ok(Some(signed_in)) => {
                req.extensions_mut().insert(Actor {
                    kind: portolan_api::ActorKind::User,
                    id: format!("{}:{}", signed_in.me.tenant_id, signed_in.me.object_id),
                    name: signed_in.me.display_name.clone(),
                });
                req.extensions_mut().insert(signed_in);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "reading the session failed; treating the request as signed out")
            }
        }
    }
    next.run(req).await
}
