//! The permission matrix: every endpoint in the route table × every role, no role, anonymous, and
//! each API token scope → allowed or refused, with the right status. The expectations below are
//! written out by hand; an endpoint missing from them fails the test, so a new endpoint cannot be
//! forgotten.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::{Auth, TestApp};

const ROLES: [&str; 5] = ["viewer", "developer", "approver", "sre", "admin"];
const SCOPES: [&str; 4] = [
    "read",
    "catalog:write",
    "deployments:write",
    "promotions:write",
];
const ANY_ROLE: &[&str] = &ROLES;

/// Who may call an endpoint: people with one of `roles` (or, for `person`, anyone signed in),
/// and tokens with one of `scopes`; or, for `webhook`, only an alert sender with its own secret
/// (everyone here gets 401 from the handler).
struct Expect {
    person: bool,
    roles: &'static [&'static str],
    scopes: &'static [&'static str],
    webhook: bool,
}

const fn roles(roles: &'static [&'static str], scopes: &'static [&'static str]) -> Expect {
    Expect {
        person: false,
        roles,
        scopes,
        webhook: false,
    }
}

fn expected(method: &str, path: &str) -> Option<Expect> {
    const READ: Expect = roles(ANY_ROLE, &SCOPES);
    const CATALOG: Expect = roles(&["developer", "sre", "admin"], &["catalog:write"]);
    const DEPLOY: Expect = roles(&["developer", "sre", "admin"], &["deployments:write"]);
    const ADMIN: Expect = roles(&["admin"], &[]);
    const DECLARE: Expect = roles(&["developer", "sre", "admin"], &[]);
    const RUN_INCIDENTS: Expect = roles(&["sre", "admin"], &[]);
    const PERSON: Expect = Expect {
        person: true,
        roles: &[],
        scopes: &[],
        webhook: false,
    };
    const WEBHOOK: Expect = Expect {
        person: false,
        roles: &[],
        scopes: &[],
        webhook: true,
    };
    Some(match (method, path) {
        ("GET", "/api/v1/me" | "/api/v1/tokens") => PERSON,
        ("POST", "/api/v1/tokens") | ("DELETE", "/api/v1/tokens/{id}") => PERSON,
        ("GET", "/api/v1/audit" | "/api/v1/audit/export") => ADMIN,
        ("GET", "/api/v1/notifications") | ("POST", "/api/v1/notifications/{id}/retry") => ADMIN,
        // Without a topic it answers 422 at once instead of streaming.
        ("GET", "/api/v1/events") => READ,
        ("GET", _) => READ,
        ("POST" | "PATCH", p)
            if p.starts_with("/api/v1/teams") || p.starts_with("/api/v1/systems") =>
        {
            ADMIN
        }
        ("POST" | "PATCH" | "PUT", p) if p.starts_with("/api/v1/environments") => ADMIN,
        ("POST" | "PATCH", p) if p.starts_with("/api/v1/services") => CATALOG,
        ("PUT" | "DELETE", "/api/v1/services/{slug}/dependencies/{to}") => CATALOG,
        ("POST", "/api/v1/deployments" | "/api/v1/deployments/{id}/status") => DEPLOY,
        ("POST", "/api/v1/incidents" | "/api/v1/incidents/{id}/notes") => DECLARE,
        ("PATCH", "/api/v1/incidents/{id}")
        | ("POST", "/api/v1/incidents/{id}/transition")
        | ("PUT" | "DELETE", "/api/v1/incidents/{id}/links/{deployment}") => RUN_INCIDENTS,
        ("POST", "/api/v1/webhooks/alertmanager" | "/api/v1/webhooks/pagerduty") => WEBHOOK,
        ("POST" | "PUT", "/api/v1/incidents/{id}/postmortem")
        | (
            "POST",
            "/api/v1/incidents/{id}/postmortem/review-request"
            | "/api/v1/incidents/{id}/postmortem/publish",
        ) => RUN_INCIDENTS,
        ("POST", "/api/v1/postmortems/preview") => READ,
        ("POST", "/api/v1/incidents/{id}/postmortem/review") => PERSON,
        ("POST", "/api/v1/incidents/{id}/action-items") => RUN_INCIDENTS,
        ("PATCH", "/api/v1/action-items/{id}") => DECLARE,
        ("POST", "/api/v1/promotions" | "/api/v1/integrations/azure-devops/check") => {
            roles(&["developer", "admin"], &["promotions:write"])
        }
        ("POST", "/api/v1/promotions/{id}/decisions") => roles(&["approver"], &[]),
        ("POST", "/api/v1/promotions/{id}/cancel") => {
            roles(&["developer", "admin"], &["promotions:write"])
        }
        ("POST", "/api/v1/promotions/{id}/break-glass") => ADMIN,
        _ => return None,
    })
}

fn concrete(path: &str) -> String {
    path.replace("{slug}", "no-such-thing")
        .replace("{to}", "no-such-service")
        .replace("{id}", "999999")
        .replace("{deployment}", "999999")
}

pub(crate) async fn token(
    app: &TestApp,
    owner: &str,
    owner_roles: &[&str],
    scopes: &[&str],
) -> Auth {
    let maker = app.as_roles(owner, owner_roles).await;
    let made = maker
        .post(
            "/api/v1/tokens",
            json!({"name": "matrix", "scopes": scopes}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    Auth::Bearer(made.body["token"].as_str().expect("token").to_string())
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn every_endpoint_refuses_whoever_may_not_use_it(pool: PgPool) {
    // The alert receivers are on, so that their handlers judge (and refuse) every caller here.
    let config = portolan_server::config::Config {
        alertmanager_token: Some(portolan_server::config::Secret::new(
            "matrix-am-token-0123456789",
        )),
        pagerduty_secret: Some(portolan_server::config::Secret::new(
            "matrix-pd-secret-0123456789",
        )),
        ..Default::default()
    };
    let app = TestApp::with_config(pool, config).await;
    let mut callers: Vec<(String, TestApp, Option<&str>, Option<&str>)> =
        vec![("anonymous".into(), app.anonymous(), None, None)];
    for role in ROLES {
        callers.push((
            role.into(),
            app.as_roles(role, &[role]).await,
            Some(role),
            None,
        ));
    }
    callers.push((
        "no role".into(),
        app.as_roles("norole", &[]).await,
        Some(""),
        None,
    ));
    for scope in SCOPES {
        // Owned by an admin, who holds every right: only the scope limits the token.
        let auth = token(&app, "token-owner", &["admin"], &[scope]).await;
        callers.push((
            format!("token {scope}"),
            app.with_auth(auth),
            None,
            Some(scope),
        ));
    }

    let doc = portolan_server::openapi();
    let mut checked = 0;
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        for (method, present) in ops {
            if !present {
                continue;
            }
            let Some(expect) = expected(method, path) else {
                missing.push(format!("{method} {path}"));
                continue;
            };
            for (who, caller, role, scope) in &callers {
                let body = (method != "GET" && method != "DELETE").then(|| json!({}));
                let m = Method::from_bytes(method.as_bytes()).expect("method");
                let a = caller.request(m, &concrete(path), body).await;
                let want_allowed = match (role, scope) {
                    (None, None) => false,
                    (Some(r), _) => expect.person || expect.roles.contains(r),
                    (None, Some(s)) => expect.scopes.contains(s),
                };
                let refused = matches!(a.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
                let ok = if expect.webhook {
                    a.status == StatusCode::UNAUTHORIZED
                } else if want_allowed {
                    !refused
                } else if role.is_none() && scope.is_none() {
                    a.status == StatusCode::UNAUTHORIZED
                } else {
                    a.status == StatusCode::FORBIDDEN
                };
                if !ok {
                    wrong.push(format!(
                        "{method} {path} as {who}: {} (expected {}) {}",
                        a.status,
                        if expect.webhook {
                            "401 from the handler"
                        } else if want_allowed {
                            "allowed"
                        } else {
                            "refused"
                        },
                        a.text
                    ));
                }
                checked += 1;
            }
        }
    }
    assert!(
        missing.is_empty(),
        "endpoints missing from the permission matrix (add them to `expected`): {missing:#?}"
    );
    assert!(
        wrong.is_empty(),
        "{} wrong answers: {wrong:#?}",
        wrong.len()
    );
    assert!(checked > 300, "checked {checked}");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn approvers_can_be_limited_to_environments_through_groups(pool: PgPool) {
    let group = "bbbbbbbb-0000-4000-8000-000000000001";
    let config = portolan_server::config::Config {
        group_roles: portolan_server::access::GroupRoles::parse(&format!(
            "{group}=approver@prod; bbbbbbbb-0000-4000-8000-000000000002=developer"
        ))
        .expect("mapping"),
        ..Default::default()
    };
    let app = TestApp::with_config(pool.clone(), config).await;
    let me = app
        .with_auth(crate::session_for(&pool, "prod-approver", &[], &[group]).await)
        .get("/api/v1/me")
        .await;
    assert_eq!(me.body["grants"], json!(["approver@prod"]));
    assert!(me.body["notices"].as_array().is_some_and(|n| n.is_empty()));
    let dev = app.with_auth(
        crate::session_for(
            &pool,
            "grouped",
            &[],
            &["BBBBBBBB-0000-4000-8000-000000000002"],
        )
        .await,
    );
    assert_eq!(
        dev.get("/api/v1/me").await.body["grants"],
        json!(["developer"])
    );
    assert_eq!(dev.get("/api/v1/services").await.status, StatusCode::OK);
    let nobody = app.with_auth(crate::session_for(&pool, "nobody", &["Portolan.Owner"], &[]).await);
    let me = nobody.get("/api/v1/me").await;
    assert_eq!(me.body["grants"], json!([]));
    let notices = me.body["notices"].to_string();
    assert!(
        notices.contains("no Portolan role") && notices.contains("Portolan.Owner"),
        "{notices}"
    );
    let refused = nobody.get("/api/v1/services").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.text.contains("no Portolan role"),
        "{}",
        refused.text
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn cookie_changes_need_this_sessions_csrf_token(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let Auth::Session { cookie, csrf } = app.auth.clone() else {
        panic!("a session")
    };
    let post = |csrf: Option<String>| {
        let mut b = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/api/v1/teams")
            .header("content-type", "application/json")
            .header("cookie", &cookie);
        if let Some(c) = csrf {
            b = b.header("x-csrf-token", c);
        }
        b.body(axum::body::Body::from(
            json!({"slug": "payments", "name": "Payments"}).to_string(),
        ))
        .expect("request")
    };
    let a = app.send(post(None)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.text.contains("x-csrf-token"), "{}", a.text);
    let Auth::Session { csrf: other, .. } =
        crate::session_for(&pool, "other", &["admin"], &[]).await
    else {
        panic!("a session")
    };
    let a = app.send(post(Some(other))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "another session's token");
    assert!(
        a.text.contains("does not belong to this session"),
        "{}",
        a.text
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM teams")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 0, "nothing was written");
    assert_eq!(app.send(post(Some(csrf))).await.status, StatusCode::CREATED);
    // Reads need no token.
    let read = axum::http::Request::builder()
        .uri("/api/v1/teams")
        .header("cookie", &cookie)
        .body(axum::body::Body::empty())
        .expect("request");
    assert_eq!(app.send(read).await.status, StatusCode::OK);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn pages_send_strangers_to_sign_in_and_people_without_a_role_to_a_polite_page(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let a = app.anonymous().get("/deployments?status=failed").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.headers["location"],
        "/auth/sign-in?return_to=%2Fdeployments%3Fstatus%3Dfailed"
    );
    let sign_in = app
        .anonymous()
        .get("/auth/sign-in?return_to=/deployments")
        .await;
    assert_eq!(sign_in.status, StatusCode::OK);
    assert!(
        sign_in.text.contains("Sign-in is not configured"),
        "nothing configured here"
    );
    let newcomer = app.as_roles("newcomer", &[]).await;
    let page = newcomer.get("/").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.text.contains("have no access yet"));
    assert!(
        page.text.contains("test-tenant:newcomer"),
        "names the account id to pass on"
    );
    assert!(
        page.text.contains("name=\"csrf_token\""),
        "and offers to sign out"
    );
    assert_eq!(
        app.as_roles("vic", &["viewer"]).await.get("/").await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_development_sign_in_is_announced_and_off_unless_asked_for(pool: PgPool) {
    let off = TestApp::new(pool.clone()).await.anonymous();
    let form = |persona: &str| {
        axum::http::Request::builder()
            .method(Method::POST)
            .uri("/auth/dev")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(format!(
                "persona={persona}&return_to=%2Fenvironments"
            )))
            .expect("request")
    };
    assert_eq!(off.send(form("admin")).await.status, StatusCode::NOT_FOUND);

    let config = portolan_server::config::Config {
        dev_sign_in: true,
        public_url: "https://portolan.example.com".parse().expect("url"),
        ..Default::default()
    };
    let on = TestApp::with_config(pool, config).await.anonymous();
    let page = on.get("/auth/sign-in?return_to=/environments").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Development sign-in is on"));
    assert!(page.text.contains("data-persona=\"approver-prod\""));
    assert_eq!(on.send(form("root")).await.status, StatusCode::BAD_REQUEST);
    let signed_in = on.send(form("developer")).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.headers["location"], "/environments");
    let cookie = signed_in.headers["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure"),
        "{cookie}"
    );
    assert!(
        signed_in.headers["strict-transport-security"]
            .to_str()
            .expect("hsts")
            .contains("max-age=31536000"),
        "served over https: HSTS"
    );
    let session = cookie.split(';').next().expect("pair").to_string();
    let me = on
        .send(
            axum::http::Request::builder()
                .uri("/api/v1/me")
                .header("cookie", &session)
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(me.body["display_name"], "Dana Developer");
    assert_eq!(me.body["development_sign_in"], true);
    assert_eq!(me.body["grants"], json!(["developer"]));
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_audit_page_is_for_administrators_and_the_tokens_page_for_everyone(pool: PgPool) {
    let admin = TestApp::new(pool).await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let refused = dev.get("/audit?action=service.update").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.text.contains("The audit log is for administrators"),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("needs the admin role"),
        "says what it needs"
    );
    assert!(refused.text.contains("developer"), "and what they have");
    // Only the page itself and what is beneath it: /auditors would be another page.
    assert_eq!(dev.get("/audit/").await.status, StatusCode::FORBIDDEN);
    assert_eq!(dev.get("/auditors").await.status, StatusCode::NOT_FOUND);

    let page = admin.get("/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("<h1>Audit log</h1>"), "{}", page.text);

    for roles in [&["viewer"][..], &["developer"], &["admin"]] {
        let who = admin.as_roles("someone", roles).await;
        let page = who.get("/settings/tokens").await;
        assert_eq!(page.status, StatusCode::OK, "{roles:?}");
        assert!(page.text.contains("API tokens"));
    }
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn people_are_told_which_scopes_they_may_hand_out(pool: PgPool) {
    let admin = TestApp::new(pool).await;
    let scopes = |me: serde_json::Value| -> Vec<String> {
        me["token_scopes"]
            .as_array()
            .expect("token_scopes")
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let viewer = admin.as_roles("vic", &["viewer"]).await;
    assert_eq!(scopes(viewer.get("/api/v1/me").await.body), ["read"]);
    let dev = admin.as_roles("dana", &["developer"]).await;
    assert_eq!(
        scopes(dev.get("/api/v1/me").await.body),
        [
            "read",
            "catalog:write",
            "deployments:write",
            "promotions:write"
        ]
    );
    let nobody = admin.as_roles("nico", &[]).await;
    assert!(scopes(nobody.get("/api/v1/me").await.body).is_empty());
}
