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
        .route("/auth/sign-in", get(sign_in_page))
        .route("/auth/dev", post(dev_sign_in))
}

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me))
        .merge(super::tokens::router())
}

struct PersonaView {
    login: &'static str,
    name: &'static str,
    roles: String,
    blurb: &'static str,
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    return_to: String,
    oidc: bool,
    dev: bool,
    personas: Vec<PersonaView>,
}

/// Where people sign in. With only the identity provider configured it goes straight there.
async fn sign_in_page(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let return_to = safe_return_to(q.get("return_to"));
    let oidc = state.oidc.is_some();
    let dev = state.config.dev_sign_in;
    if oidc && !dev {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", &return_to)
            .finish();
        return Redirect::to(&format!("/auth/login?{query}")).into_response();
    }
    let page = SignInPage {
        return_to,
        oidc,
        dev,
        personas: super::dev::PERSONAS
            .iter()
            .map(|p| PersonaView {
                login: p.login,
                name: p.name,
                roles: p.roles_text(),
                blurb: p.blurb,
            })
            .collect(),
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => AppError::Internal(e.into()).into_response(),
    }
}

/// Signs in as one of the made-up people (only while the development sign-in is on).
async fn dev_sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if !state.config.dev_sign_in {
        return problem(
            StatusCode::NOT_FOUND,
            "Development sign-in is off",
            "This Portolan signs people in through its identity provider only.",
        );
    }
    let Some(persona) = form.get("persona").and_then(|p| super::dev::persona(p)) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            "Choose one of the people listed on the sign-in page.",
        );
    };
    let return_to = safe_return_to(form.get("return_to"));
    tracing::info!(persona = persona.login, "development sign-in");
    open_session(&state, &headers, &persona.identity(), &return_to).await
}

/// Records the person, opens a new session (ending the one the browser had) and sends them on.
async fn open_session(
    state: &AppState,
    headers: &HeaderMap,
    who: &session::Identity,
    return_to: &str,
) -> Response {
    let token = match session::sign_in(&state.pool, who, cookie(headers, SESSION_COOKIE)).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let mut res = Redirect::to(return_to).into_response();
    set_cookie(
        &mut res,
        SESSION_COOKIE,
        &token,
        "/",
        ABSOLUTE_TIMEOUT.whole_seconds(),
        state.config.serves_https(),
    );
    res
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
        return not_configured();
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
    set_cookie(
        &mut res,
        SIGN_IN_COOKIE,
        &started.state,
        "/auth",
        session::ATTEMPT_TIMEOUT.whole_seconds(),
        state.config.serves_https(),
    );
    res
}

/// Every cookie Portolan sets: HttpOnly and SameSite=Lax (the provider's answer is a top-level
/// navigation from another site, which Lax lets through), Secure when served over https.
/// `max_age` 0 removes the cookie.
fn set_cookie(res: &mut Response, name: &str, value: &str, path: &str, max_age: i64, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    if let Ok(v) = HeaderValue::from_str(&text) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn not_configured() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Sign-in is not configured",
        "This Portolan has no identity provider configured (see PORTOLAN_OIDC_* in the README).",
    )
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
        return not_configured();
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
    tracing::info!(tid = %who.tenant_id, oid = %who.object_id, roles = ?who.roles, "signed in");
    let mut res = open_session(&state, &headers, &who, &attempt.return_to).await;
    set_cookie(
        &mut res,
        SIGN_IN_COOKIE,
        "",
        "/auth",
        0,
        state.config.serves_https(),
    );
    res
}

/// Ends the session (the form carries the session's CSRF token, so another site cannot sign
/// someone out), then the provider's session where it offers that.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        match session::lookup(&state.pool, token).await {
            Ok(Some(s)) => {
                let sent = form.get("csrf_token").map(String::as_str).unwrap_or("");
                if !super::same_secret(sent, &s.me.csrf_token) {
                    return problem(
                        StatusCode::FORBIDDEN,
                        "Sign-out refused",
                        "The sign-out form did not come from this session. Use the Sign out button in Portolan.",
                    );
                }
                if let Err(e) = session::sign_out(&state.pool, token).await {
                    return e.into_response();
                }
            }
            Ok(None) => {}
            Err(e) => return e.into_response(),
        }
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
    set_cookie(
        &mut res,
        SESSION_COOKIE,
        "",
        "/",
        0,
        state.config.serves_https(),
    );
    res
}

/// The signed-in person, what they may do, and the CSRF token of their session.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn get_me(
    State(state): State<AppState>,
    signed_in: Option<axum::Extension<SignedIn>>,
) -> AppResult<Json<Me>> {
    let Some(axum::Extension(s)) = signed_in else {
        return Err(AppError::sign_in_first());
    };
    let access = state.access_of(&s);
    let mut me = s.me;
    super::describe_access(&mut me, &access, &state.config);
    Ok(Json(me))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_lax_and_secure_over_https() {
        let mut res = Response::default();
        set_cookie(&mut res, "portolan_session", "tok", "/", 604800, true);
        set_cookie(&mut res, "portolan_sign_in", "", "/auth", 0, false);
        let set: Vec<&str> = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(
            set,
            vec![
                "portolan_session=tok; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800; Secure",
                "portolan_sign_in=; Path=/auth; HttpOnly; SameSite=Lax; Max-Age=0",
            ]
        );
    }

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
