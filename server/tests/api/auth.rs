//! Sign-in through a real OpenID Connect provider (tests/oidc/provider.mjs, shaped like Entra ID):
//! the HTTP flow end to end, sessions, sign-out, the checks on state, and the ID tokens Portolan
//! must refuse (wrong nonce; tampered, expired, from another issuer, for another audience: the
//! provider's misbehaviour switch makes those, see tests/oidc/README.md).

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
    start_provider_with(pool, &[]).await
}

/// A stack whose provider can be told to hand out bad ID tokens ([`misbehave`]).
async fn start_misbehaving(pool: PgPool) -> Stack {
    start_provider_with(pool, &["--allow-misbehaviour"]).await
}

async fn start_provider_with(pool: PgPool, provider_args: &[&str]) -> Stack {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut provider = tokio::process::Command::new("node")
        .arg(root.join("tests/oidc/provider.mjs"))
        .args(["--port", "0", "--exit-with-stdin", "--quiet"])
        .args(provider_args)
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

/// The target of a redirect, made absolute.
fn location(res: &reqwest::Response) -> reqwest::Url {
    let to = res.headers()["location"].to_str().expect("location");
    res.url().join(to).expect("a URL")
}

/// Walks a sign-in as `login` by hand (with a [`stepper`]): Portolan's /auth/login, then the
/// provider, until the provider sends the browser back. Returns that callback URL, not yet opened.
/// `to_provider` may change Portolan's redirect to the provider before it is followed.
async fn walk_to_callback(
    stack: &Stack,
    s: &reqwest::Client,
    login: &str,
    to_provider: impl FnOnce(reqwest::Url) -> reqwest::Url,
) -> String {
    let start = format!("{}/auth/login?login_hint={login}", stack.base);
    let res = s.get(&start).send().await.expect("login");
    assert!(res.status().is_redirection(), "{start}: {}", res.status());
    let mut url = to_provider(location(&res));
    assert!(
        url.as_str().starts_with(&stack.issuer),
        "Portolan sends the browser to the provider: {url}"
    );
    for _ in 0..10 {
        let res = s.get(url.clone()).send().await.expect("step");
        assert!(res.status().is_redirection(), "{url}: {}", res.status());
        url = location(&res);
        if url
            .as_str()
            .starts_with(&format!("{}/auth/callback", stack.base))
        {
            return url.into();
        }
    }
    panic!("the provider did not send the browser back to Portolan");
}

/// Switches the provider's misbehaviour (tests/oidc/README.md, "Bad ID tokens on purpose").
async fn misbehave(stack: &Stack, mode: &str) {
    let url = reqwest::Url::parse(&stack.issuer)
        .and_then(|issuer| issuer.join("/__test/misbehave"))
        .expect("url");
    let res = reqwest::Client::new()
        .post(url)
        .json(&json!({ "mode": mode }))
        .send()
        .await
        .expect("the misbehaviour switch");
    assert_eq!(res.status(), StatusCode::OK, "misbehave {mode}");
    let now: Value = res.json().await.expect("json");
    assert_eq!(now["mode"], mode);
}

/// Opens the provider's answer (`callback`) in the browser that started the sign-in and insists
/// that Portolan refuses it: a 4xx "Sign-in failed" page, no session cookie, no session or user
/// stored, still signed out. Returns the page's message, in lower case.
async fn refused_sign_in(
    stack: &Stack,
    pool: &PgPool,
    s: &reqwest::Client,
    callback: &str,
) -> String {
    let res = s.get(callback).send().await.expect("callback");
    let status = res.status();
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let page = res.text().await.expect("page");
    assert!(
        status.is_client_error(),
        "refused with a 4xx, not {status}: {page}"
    );
    assert!(
        !cookies.iter().any(|c| c.starts_with("portolan_session=")),
        "no session cookie: {cookies:?}"
    );
    let message = page
        .split_once(r#"<div class="error-state" role="alert">"#)
        .and_then(|(_, rest)| rest.split_once("</div>"))
        .map(|(message, _)| message.to_lowercase())
        .unwrap_or_else(|| panic!("a sign-in problem page: {page}"));
    assert!(message.contains("sign-in failed"), "{message}");
    // It names the problem, never the token or the client secret.
    assert!(!message.contains("eyj"), "no token in the page: {message}");
    assert!(!message.contains("portolan-test-secret"), "{message}");

    for table in ["sessions", "users"] {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .expect("count");
        assert_eq!(rows, 0, "nothing stored in {table}");
    }
    let me = s
        .get(format!("{}/api/v1/me", stack.base))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "still signed out");
    message
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_sign_in_answer_counts_once_and_only_with_its_state(pool: PgPool) {
    let stack = start(pool.clone()).await;
    let s = stepper();
    // Walk the redirects by hand until the provider sends the browser back with a code.
    let callback = walk_to_callback(&stack, &s, "admin", |url| url).await;
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
    assert_eq!(me["grants"], json!(["developer"]));
    assert!(
        me["notices"]
            .to_string()
            .contains("roles given through groups are missing"),
        "the person is told why group-based rights are missing: {}",
        me["notices"]
    );
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

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn an_id_token_with_another_nonce_is_refused(pool: PgPool) {
    let stack = start(pool.clone()).await;
    let s = stepper();
    // The authorization request reaches the provider with another nonce than the one Portolan
    // keeps for this sign-in (state and PKCE unchanged), so the ID token carries that other nonce.
    let mut sent = None;
    let callback = walk_to_callback(&stack, &s, "viewer", |mut url| {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                if k == "nonce" {
                    sent = Some(v.to_string());
                    (k.into_owned(), "a-nonce-portolan-never-sent".to_string())
                } else {
                    (k.into_owned(), v.into_owned())
                }
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url
    })
    .await;
    let sent = sent.expect("Portolan sends a nonce");
    assert!(sent.len() >= 16, "a random nonce: {sent}");
    let message = refused_sign_in(&stack, &pool, &s, &callback).await;
    assert!(message.contains("nonce"), "{message}");
    assert!(!message.contains(&sent.to_lowercase()), "{message}");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_tampered_id_token_is_refused(pool: PgPool) {
    let stack = start_misbehaving(pool.clone()).await;
    // The viewer's ID token, altered after signing to claim the admin role.
    misbehave(&stack, "tamper").await;
    let s = stepper();
    let callback = walk_to_callback(&stack, &s, "viewer", |url| url).await;
    let message = refused_sign_in(&stack, &pool, &s, &callback).await;
    assert!(message.contains("signature"), "{message}");

    // The same provider, behaving again: the same person signs in, as a viewer.
    misbehave(&stack, "none").await;
    let b = browser();
    let page = b
        .get(format!("{}/auth/login?login_hint=viewer", stack.base))
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
    assert_eq!(me["object_id"], "aaaaaaaa-0000-4000-8000-000000000001");
    assert_eq!(me["roles"], json!(["viewer"]));
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn an_expired_id_token_is_refused(pool: PgPool) {
    let stack = start_misbehaving(pool.clone()).await;
    // Validly signed, but its exp lies ten minutes in the past.
    misbehave(&stack, "expired").await;
    let s = stepper();
    let callback = walk_to_callback(&stack, &s, "developer", |url| url).await;
    let message = refused_sign_in(&stack, &pool, &s, &callback).await;
    assert!(message.contains("expired"), "{message}");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn an_id_token_from_another_issuer_is_refused(pool: PgPool) {
    let stack = start_misbehaving(pool.clone()).await;
    // Validly signed with the provider's key, but issued as another tenant.
    misbehave(&stack, "wrong-issuer").await;
    let s = stepper();
    let callback = walk_to_callback(&stack, &s, "developer", |url| url).await;
    let message = refused_sign_in(&stack, &pool, &s, &callback).await;
    assert!(message.contains("issuer"), "{message}");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn an_id_token_for_another_audience_is_refused(pool: PgPool) {
    let stack = start_misbehaving(pool.clone()).await;
    // Validly signed, but meant for another application.
    misbehave(&stack, "wrong-audience").await;
    let s = stepper();
    let callback = walk_to_callback(&stack, &s, "developer", |url| url).await;
    let message = refused_sign_in(&stack, &pool, &s, &callback).await;
    assert!(message.contains("audience"), "{message}");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_person_without_roles_signs_in_with_no_roles(pool: PgPool) {
    // What they may do is decided later (authorization); signing in only records who they are.
    let stack = start(pool.clone()).await;
    let b = browser();
    let page = b
        .get(format!("{}/auth/login?login_hint=norole", stack.base))
        .send()
        .await
        .expect("sign-in");
    // Signed in, and told politely that there is nothing to see yet: not an error page.
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert_eq!(page.url().path(), "/");
    let text = page.text().await.expect("page");
    assert!(text.contains("have no access yet"), "{text}");
    assert!(text.contains("aaaaaaaa-0000-4000-8000-000000000007"));
    let me = b
        .get(format!("{}/api/v1/me", stack.base))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.expect("json");
    assert_eq!(me["object_id"], "aaaaaaaa-0000-4000-8000-000000000007");
    assert_eq!(me["tenant_id"], "11111111-2222-4333-8444-555555555555");
    assert_eq!(me["display_name"], "Test No Role");
    assert_eq!(me["email"], "norole@acme.example");
    assert_eq!(me["roles"], json!([]));
    assert_eq!(me["groups"], json!([]));
    assert_eq!(me["groups_overage"], false);
    assert_eq!(me["grants"], json!([]));
    assert!(me["notices"].to_string().contains("no Portolan role"));

    let (roles, sessions): (Vec<String>, i64) = sqlx::query_as(
        "SELECT u.roles, (SELECT count(*) FROM sessions s WHERE s.user_id = u.id)
         FROM users u WHERE u.object_id = 'aaaaaaaa-0000-4000-8000-000000000007'",
    )
    .fetch_one(&pool)
    .await
    .expect("the person is stored");
    assert!(roles.is_empty(), "{roles:?}");
    assert_eq!(sessions, 1);
}
