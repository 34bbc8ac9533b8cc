//! Sign-in through a real OpenID Connect provider (tests/oidc/provider.mjs, shaped like Entra ID):
//! the HTTP flow end to end, sessions, sign-out, and the checks on state.

use std::path::PathBuf;
use std::process::Stdio;

use axum::http::StatusCode;
use portolan_server::config::{Config, OidcConfig, Secret};
use portolan_server::{AppState, build_app};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::AsyncBufReadExt;

/// The provider and Portolan, each on its own loopback port.
struct Stack {
    base: String,
    issuer: String,
    _provider: tokio::process::Child,
}

async fn start(pool: PgPool) -> Stack {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut provider = tokio::process::Command::new("node")
        .arg(root.join("tests/oidc/provider.mjs"))
        .args(["--port", "0", "--exit-with-stdin", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs the test provider (bash tests/setup.sh installs it)");
    let stdout = provider.stdout.take().expect("stdout");
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .expect("the provider says where it is");
    let started: Value = serde_json::from_str(&line).expect("one JSON line");
    let issuer = started["issuer"].as_str().expect("issuer").to_string();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let config = Config {
        addr: listener.local_addr().expect("addr"),
        oidc: Some(OidcConfig {
            issuer: issuer.clone(),
            client_id: "portolan-test".into(),
            client_secret: Secret::new("portolan-test-secret"),
            public_url: base.parse().expect("url"),
        }),
        public_url: base.parse().expect("url"),
        ..Config::default()
    };
    let app = build_app(AppState::new(pool, config).expect("state"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Stack {
        base,
        issuer,
        _provider: provider,
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client")
}

/// A client that stops at the first redirect, to look at it.
fn stepper() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn sign_in_sign_out_through_the_provider(pool: PgPool) {
    let stack = start(pool.clone()).await;
    let b = browser();

    let me = b
        .get(format!("{}/api/v1/me", stack.base))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);

    // Sign in as `developer`; the provider signs them in from the login hint and redirects back.
    let page = b
        .get(format!(
            "{}/auth/login?login_hint=developer&return_to=/deployments",
            stack.base
        ))
        .send()
        .await
        .expect("sign-in");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        page.url().path(),
        "/deployments",
        "back where the person started"
    );

    let me: Value = b
        .get(format!("{}/api/v1/me", stack.base))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["object_id"], "aaaaaaaa-0000-4000-8000-000000000002");
    assert_eq!(me["tenant_id"], "11111111-2222-4333-8444-555555555555");
    assert_eq!(me["roles"], json!(["developer"]));
    assert_eq!(me["groups_overage"], false);
    assert!(me["csrf_token"].as_str().is_some_and(|t| t.len() >= 32));
    assert!(
        stack
            .issuer
            .ends_with("/11111111-2222-4333-8444-555555555555/v2.0")
    );

    assert_eq!(me["grants"], json!(["developer"]));
    assert!(
        me["permissions"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("deployments:write"))
                && !p.contains(&json!("organisation:write")))
    );
    let csrf = me["csrf_token"].as_str().expect("csrf").to_string();

    // A change made with the cookie needs the session's CSRF token, and the role for it.
    let team = json!({"slug": "payments", "name": "Payments"});
    let no_csrf = b
        .post(format!("{}/api/v1/teams", stack.base))
        .json(&team)
        .send()
        .await
        .expect("create");
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let body: Value = no_csrf.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("x-csrf-token")
    );
    let not_admin = b
        .post(format!("{}/api/v1/teams", stack.base))
        .header("x-csrf-token", &csrf)
        .json(&team)
        .send()
        .await
        .expect("create");
    assert_eq!(not_admin.status(), StatusCode::FORBIDDEN);
    let body: Value = not_admin.json().await.expect("json");
    assert_eq!(
        body["error"]["message"],
        "this needs the admin role (you have developer)"
    );

    // Signing in again, as someone else, in the same browser: the session id rotates.
    let page = b
        .get(format!("{}/auth/login?login_hint=admin", stack.base))
        .send()
        .await
        .expect("sign-in");
    assert_eq!(page.status(), StatusCode::OK);
    let me: Value = b
        .get(format!("{}/api/v1/me", stack.base))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["object_id"], "aaaaaaaa-0000-4000-8000-000000000006");
    let admin_csrf = me["csrf_token"].as_str().expect("csrf").to_string();
    assert_ne!(admin_csrf, csrf, "a new session, with a new CSRF token");
    let from_old_session = b
        .post(format!("{}/api/v1/teams", stack.base))
        .header("x-csrf-token", &csrf)
        .json(&team)
        .send()
        .await
        .expect("create");
    assert_eq!(
        from_old_session.status(),
        StatusCode::FORBIDDEN,
        "a CSRF token of another session counts for nothing"
    );

    // Changes are now made, and audited, as that person.
    let created = b
        .post(format!("{}/api/v1/teams", stack.base))
        .header("x-csrf-token", &admin_csrf)
        .json(&team)
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), StatusCode::CREATED);
    let (kind, id): (String, String) =
        sqlx::query_as("SELECT actor_kind, actor_id FROM audit_log WHERE action = 'team.create'")
            .fetch_one(&pool)
            .await
            .expect("audit");
    assert_eq!(
        (kind.as_str(), id.as_str()),
        (
            "user",
            "11111111-2222-4333-8444-555555555555:aaaaaaaa-0000-4000-8000-000000000006"
        )
    );

    // Only a hash of the session token is stored.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored, 1);

    // Sign-out needs the session's CSRF token (another site cannot sign someone out).
    let forged = b
        .post(format!("{}/auth/logout", stack.base))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .expect("logout");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Sign out: the session ends here and at the provider, and the browser comes back to
    // Portolan, which (signed out) sends it to sign in again.
    let out = b
        .post(format!("{}/auth/logout", stack.base))
        .form(&[("csrf_token", admin_csrf.as_str())])
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), StatusCode::OK);
    let provider_origin = stack.issuer.split("/1111").next().expect("origin");
    assert!(
        out.url().as_str().starts_with(provider_origin),
        "asked to sign in again at the provider: {}",
        out.url()
    );
    assert_eq!(
        b.get(format!("{}/api/v1/me", stack.base))
            .send()
            .await
            .expect("me")
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_sign_in_answer_counts_once_and_only_with_its_state(pool: PgPool) {
    let stack = start(pool.clone()).await;
    let s = stepper();
    // Walk the redirects by hand until the provider sends the browser back with a code.
    let mut url = format!("{}/auth/login?login_hint=admin", stack.base);
    let callback = loop {
        let res = s.get(&url).send().await.expect("step");
        assert!(res.status().is_redirection(), "{url}: {}", res.status());
        let next = res.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        let next = if next.starts_with('/') {
            format!("{}{next}", res.url().origin().ascii_serialization())
        } else {
            next
        };
        if next.starts_with(&format!("{}/auth/callback", stack.base)) {
            break next;
        }
        url = next;
    };
    // The answer opened in another browser (a victim lured to the attacker's callback URL).
    let res = browser().get(&callback).send().await.expect("elsewhere");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .expect("text")
            .contains("started in another browser")
    );
    // A forged state in the right browser.
    let forged = callback.replace("state=", "state=forged");
    let res = s.get(&forged).send().await.expect("forged");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let first = s.get(&callback).send().await.expect("callback");
    assert_eq!(
        first.status(),
        StatusCode::SEE_OTHER,
        "the real answer signs in"
    );
    assert!(
        first.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .contains("HttpOnly; SameSite=Lax")
    );
    let again = s.get(&callback).send().await.expect("replay");
    assert_eq!(
        again.status(),
        StatusCode::BAD_REQUEST,
        "a replayed answer is refused"
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(users, 1);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_groups_overage_marker_is_kept_not_read_as_no_groups(pool: PgPool) {
    let stack = start(pool).await;
    let b = browser();
    b.get(format!("{}/auth/login?login_hint=overage", stack.base))
        .send()
        .await
        .expect("sign-in");
    let me: Value = b
        .get(format!("{}/api/v1/me", stack.base))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["groups_overage"], true);
    assert_eq!(me["roles"], json!(["developer"]), "app roles still apply");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn without_sign_in_configured_the_routes_say_so(pool: PgPool) {
    let app = crate::TestApp::new(pool).await;
    let page = app.get("/auth/login").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.text.contains("Sign-in is not configured"));
    assert_eq!(
        app.anonymous().get("/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
}
