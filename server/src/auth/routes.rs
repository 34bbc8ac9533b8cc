//! Sign-in, sign-out, and who am I.

use std::collections::HashMap;

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use portolan_api::{ErrorBody, Me};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::oidc::SignInError;
use super::session::{self, ABSOLUTE_TIMEOUT, SignedIn};
use super::{SESSION_COOKIE, SIGN_IN_COOKIE, cookie};
use crate::AppState;
use crate::error::{AppError, AppResult};

/// `/auth/*`: browser redirects, not part of the REST contract.
pub fn browser_routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
}

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me))
}

#[derive(Template)]
#[template(path = "sign_in_problem.html")]
struct SignInProblem<'a> {
    title: &'a str,
    message: String,
}

fn problem(status: StatusCode, title: &str, message: impl Into<String>) -> Response {
    let html = SignInProblem {
        title,
        message: message.into(),
    }
    .render()
    .unwrap_or_else(|_| "sign-in failed".to_string());
    (status, Html(html)).into_response()
}

/// Only a path of this site: never an absolute URL or a `//host` (an open redirect).
fn safe_return_to(raw: Option<&String>) -> String {
    match raw {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.starts_with("/auth/") =>
        {
            p.clone()
        }
        _ => "/".into(),
    }
}

async fn login(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(oidc) = state.oidc.as_ref() else {
        return problem(
            StatusCode::NOT_FOUND,
            "Sign-in is not configured",
            "This Portolan has no identity provider configured (see PORTOLAN_OIDC_* in the README).",
        );
    };
    let return_to = safe_return_to(q.get("return_to"));
    let started = match oidc.start(q.get("login_hint").map(String::as_str)).await {
        Ok(s) => s,
        Err(e) => return sign_in_failed(e),
    };
    if let Err(e) = session::save_attempt(
        &state.pool,
        &started.state,
        &started.nonce,
        &started.pkce_verifier,
        &return_to,
    )
    .await
    {
        return e.into_response();
    }
    let mut res = Redirect::to(started.url.as_str()).into_response();
    let binding = format!(
        "{SIGN_IN_COOKIE}={}; Path=/auth; HttpOnly; SameSite=Lax; Max-Age={}{}",
        started.state,
        session::ATTEMPT_TIMEOUT.whole_seconds(),
        secure_flag(oidc)
    );
    if let Ok(v) = HeaderValue::from_str(&binding) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

fn secure_flag(oidc: &super::oidc::Oidc) -> &'static str {
    if oidc.config.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    }
}

fn sign_in_failed(e: SignInError) -> Response {
    tracing::warn!(error = ?e, "sign-in failed");
    let status = match e {
        SignInError::ProviderUnreachable(_) => StatusCode::BAD_GATEWAY,
        SignInError::Refused(_) | SignInError::Untrusted(_) => StatusCode::BAD_REQUEST,
    };
    problem(status, "Sign-in failed", e.to_string())
}

async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(oidc) = state.oidc.as_ref() else {
        return problem(
            StatusCode::NOT_FOUND,
            "Sign-in is not configured",
            "This Portolan has no identity provider configured.",
        );
    };
    let Some(state_param) = q.get("state") else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The answer from the identity provider has no state. Start again from the sign-in link.",
        );
    };
    if cookie(&headers, SIGN_IN_COOKIE) != Some(state_param.as_str()) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "This sign-in was started in another browser (or its cookie expired). Start again from the sign-in link.",
        );
    }
    let attempt = match session::take_attempt(&state.pool, state_param).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                "This sign-in is unknown, expired, or was already completed. Start again from the sign-in link.",
            );
        }
        Err(e) => return e.into_response(),
    };
    if let Some(error) = q.get("error") {
        let detail = q.get("error_description").map(String::as_str).unwrap_or("");
        return sign_in_failed(SignInError::Refused(
            format!("{error} {detail}").trim().to_string(),
        ));
    }
    let Some(code) = q.get("code") else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "The answer from the identity provider has no code.",
        );
    };
    let who = match oidc
        .finish(code, &attempt.nonce, &attempt.pkce_verifier)
        .await
    {
        Ok(w) => w,
        Err(e) => return sign_in_failed(e),
    };
    let token = match session::sign_in(&state.pool, &who, cookie(&headers, SESSION_COOKIE)).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    tracing::info!(tid = %who.tenant_id, oid = %who.object_id, roles = ?who.roles, "signed in");
    let cookie_value = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        ABSOLUTE_TIMEOUT.whole_seconds(),
        secure_flag(oidc)
    );
    let mut res = Redirect::to(&attempt.return_to).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie_value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "portolan_sign_in=; Path=/auth; HttpOnly; SameSite=Lax; Max-Age=0",
        ),
    );
    res
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && let Err(e) = session::sign_out(&state.pool, token).await
    {
        return e.into_response();
    }
    let target = match state.oidc.as_ref() {
        Some(oidc) => oidc
            .end_session_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_else(|| "/".into()),
        None => "/".into(),
    };
    let mut res = Redirect::to(&target).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("portolan_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    res
}

/// The signed-in person (401 when signed out).
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn get_me(signed_in: Option<axum::Extension<SignedIn>>) -> AppResult<Json<Me>> {
    match signed_in {
        Some(axum::Extension(s)) => Ok(Json(s.me)),
        None => Err(AppError::Unauthenticated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_this_site() {
        let s = |v: &str| safe_return_to(Some(&v.to_string()));
        assert_eq!(
            s("/deployments?status=failed"),
            "/deployments?status=failed"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "evil",
            "/auth/callback",
        ] {
            assert_eq!(s(bad), "/", "{bad}");
        }
        assert_eq!(safe_return_to(None), "/");
    }
}
