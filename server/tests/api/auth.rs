//! Sign-in through a real OpenID Connect provider (tests/oidc/provider.mjs, shaped like Entra ID):
//! the HTTP flow end to end, sessions, sign-out, the checks on state, and the ID tokens Portolan
//! must refuse (wrong nonce; tampered, expired, from another issuer, for another audience: the
//! provider's misbehaviour switch makes those, see tests/oidc/README.md), and the groups of a
//! person with the groups-overage marker looked up in the provider's Graph stand-in.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use portolan_server::access::GroupRoles;
use portolan_server::config::{Config, GraphConfig, OidcConfig, Secret};
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

/// The `prod-approvers` group of the test tenant (tests/oidc/users.json), which every stack here
/// maps to approver@prod (`PORTOLAN_GROUP_ROLES`).
const PROD_APPROVERS: &str = "bbbbbbbb-0000-4000-8000-000000000001";

/// Whether (and where) Portolan looks groups up in Microsoft Graph.
enum Graph {
    Off,
    /// The provider's Graph stand-in.
    StandIn,
    /// Another Graph base URL.
    At(&'static str),
}

async fn start(pool: PgPool) -> Stack {
    start_provider_with(pool, &[], Graph::Off).await
}

/// A stack whose provider can be told to hand out bad ID tokens ([`misbehave`]).
async fn start_misbehaving(pool: PgPool) -> Stack {
    start_provider_with(pool, &["--allow-misbehaviour"], Graph::Off).await
}

async fn start_provider_with(pool: PgPool, provider_args: &[&str], graph: Graph) -> Stack {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    // The provider prints where it listens within a second or two. Node has been seen, rarely,
    // to hang while starting: such a start is killed and tried again rather than waited on.
    let mut attempts = 0;
    let (provider, line) = loop {
        attempts += 1;
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
        let mut reader = tokio::io::BufReader::new(stdout);
        let read = reader.read_line(&mut line);
        match tokio::time::timeout(std::time::Duration::from_secs(30), read).await {
            Ok(result) => {
                result.expect("the provider says where it is");
                break (provider, line);
            }
            Err(_) if attempts < 3 => {
                let _ = provider.kill().await;
            }
            Err(_) => panic!("the test provider did not start in 30 s, {attempts} times"),
        }
    };
    let started: Value = serde_json::from_str(&line).expect("one JSON line");
    let issuer = started["issuer"].as_str().expect("issuer").to_string();
    let stand_in = started["graph"].as_str().expect("graph").to_string();
    let graph = match graph {
        Graph::Off => None,
        Graph::StandIn => Some(GraphConfig {
            url: stand_in.parse().expect("url"),
        }),
        Graph::At(url) => Some(GraphConfig {
            url: url.parse().expect("url"),
        }),
    };

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
            graph,
        }),
        public_url: base.parse().expect("url"),
        group_roles: GroupRoles::parse(&format!("{PROD_APPROVERS}=approver@prod"))
            .expect("group roles"),
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

/// Signs in as `login` through the provider in a new browser and returns that browser and
/// `GET /api/v1/me`.
async fn signed_in_as(stack: &Stack, login: &str) -> (reqwest::Client, Value) {
    let b = browser();
    let page = b
        .get(format!("{}/auth/login?login_hint={login}", stack.base))
        .send()
        .await
        .expect("sign-in");
    assert!(
        page.status().is_success(),
        "{login} signs in: {}",
        page.status()
    );
    let me = b
        .get(format!("{}/api/v1/me", stack.base))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK, "{login} is signed in");
    let me = me.json().await.expect("json");
    (b, me)
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
    let (_b, me) = signed_in_as(&stack, "overage").await;
    assert_eq!(me["groups_overage"], true);
    assert_eq!(me["roles"], json!(["developer"]), "app roles still apply");
    assert_eq!(
        me["grants"],
        json!(["developer"]),
        "and only they: the groups are not known"
    );
    assert!(
        me["notices"]
            .to_string()
            .contains("roles given through groups are missing"),
        "the person is told why group-based rights are missing: {}",
        me["notices"]
    );
    assert!(
        !me["notices"].to_string().contains("Microsoft Graph"),
        "nothing was looked up: {}",
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
    let (_b, me) = signed_in_as(&stack, "viewer").await;
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

/// The groups the Graph stand-in lists for `login` (tests/oidc/users.json).
fn member_objects(login: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/oidc/users.json");
    let users: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("users.json")).expect("json");
    serde_json::from_value(users["member_objects"][login].clone()).expect("a list of group ids")
}

/// How many app-only tokens the provider issued and Graph requests its stand-in answered.
async fn graph_stats(stack: &Stack) -> (u64, u64) {
    let url = reqwest::Url::parse(&stack.issuer)
        .and_then(|issuer| issuer.join("/__test/graph"))
        .expect("url");
    let stats: Value = reqwest::get(url)
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    (
        stats["client_credentials_tokens"].as_u64().expect("tokens"),
        stats["graph_requests"].as_u64().expect("requests"),
    )
}

fn sorted(v: &Value) -> Vec<String> {
    let mut items: Vec<String> = serde_json::from_value(v.clone()).expect("a list of strings");
    items.sort();
    items
}

/// What is logged on this thread while the guard of [`Logs::capture`] lives: the tests' runtime
/// runs the server and the test on one thread, so that is everything Portolan logs meanwhile.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("logs")).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// Insists that `text` holds no secret: not the client secret, no JWT, no bearer credential, and no
/// run of 40 or more token characters (session cookies, API tokens and the provider's access tokens
/// are 43; object ids are 36).
fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains("portolan-test-secret"), "{what}: {text}");
    assert!(!text.contains("eyJ"), "{what}: {text}");
    assert!(!text.to_lowercase().contains("bearer"), "{what}: {text}");
    let longest = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest < 40, "{what} has a token-like run: {text}");
}

const OVERAGE_OID: &str = "aaaaaaaa-0000-4000-8000-000000000009";

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn with_graph_configured_the_overage_users_groups_are_looked_up(pool: PgPool) {
    let stack = start_provider_with(pool.clone(), &[], Graph::StandIn).await;
    let (_b, me) = signed_in_as(&stack, "overage").await;
    assert_eq!(me["object_id"], OVERAGE_OID);
    assert_eq!(me["groups_overage"], false, "the groups are known now");
    let expected = member_objects("overage");
    assert!(
        expected.len() > 200 && expected.contains(&PROD_APPROVERS.to_string()),
        "more groups than a token lists, prod-approvers among them"
    );
    assert_eq!(sorted(&me["groups"]), {
        let mut e = expected.clone();
        e.sort();
        e
    });
    assert_eq!(me["roles"], json!(["developer"]));
    assert_eq!(
        sorted(&me["grants"]),
        vec!["approver@prod", "developer"],
        "the app role, and the role given through prod-approvers"
    );
    assert!(
        me["permissions"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("promotions:approve"))),
        "{}",
        me["permissions"]
    );
    assert_eq!(me["notices"], json!([]), "nothing is missing");
    let stored: (bool, i64) = sqlx::query_as(
        "SELECT groups_overage, cardinality(groups)::bigint FROM users WHERE object_id = $1",
    )
    .bind(OVERAGE_OID)
    .fetch_one(&pool)
    .await
    .expect("the person is stored");
    assert_eq!(stored, (false, expected.len() as i64));
    assert_eq!(graph_stats(&stack).await, (1, 1));

    // The next sign-in asks Graph again, with the app-only token it already has.
    let (_b, me) = signed_in_as(&stack, "overage").await;
    assert_eq!(me["groups_overage"], false);
    assert_eq!(graph_stats(&stack).await, (1, 2), "one token, two lookups");
    // Without the overage marker nothing is looked up: the token's groups are all there is.
    let (_b, me) = signed_in_as(&stack, "approver-prod").await;
    assert_eq!(me["groups"], json!([PROD_APPROVERS]));
    assert_eq!(me["groups_overage"], false);
    assert_eq!(graph_stats(&stack).await, (1, 2));
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn when_graph_fails_the_overage_user_signs_in_with_app_roles_and_is_told_why(pool: PgPool) {
    let stack = start_provider_with(pool, &["--allow-misbehaviour"], Graph::StandIn).await;
    let logs = Logs::default();
    let _capture = logs.capture();
    for (mode, failure) in [
        (
            "graph-down",
            "Microsoft Graph answered HTTP 503 (serviceNotAvailable)",
        ),
        (
            "graph-denied",
            "Microsoft Graph answered HTTP 403 (Authorization_RequestDenied)",
        ),
    ] {
        misbehave(&stack, mode).await;
        let (b, me) = signed_in_as(&stack, "overage").await;
        assert_eq!(me["object_id"], OVERAGE_OID, "{mode}");
        assert_eq!(
            me["groups_overage"], true,
            "{mode}: the groups stay unknown"
        );
        assert_eq!(me["groups"], json!([]), "{mode}");
        assert_eq!(me["grants"], json!(["developer"]), "{mode}: app roles only");
        let notices = me["notices"].to_string();
        for words in [
            "roles given through groups are missing",
            "looking your groups up in Microsoft Graph failed",
            "Try signing in again later",
            "GroupMember.Read.All application permission with admin consent",
        ] {
            assert!(notices.contains(words), "{mode}: {words}: {notices}");
        }
        assert_no_secret("the notice", &notices);
        let mut answer = me.clone();
        answer["csrf_token"].take();
        assert_no_secret("the answer beside its CSRF token", &answer.to_string());
        // The pages carry the same notice (the app role lets the person in; the no-access page,
        // for someone with no role, takes its notices from the same place).
        let page = b
            .get(format!("{}/", stack.base))
            .send()
            .await
            .expect("page");
        assert_eq!(page.status(), StatusCode::OK, "{mode}");

        let log = logs.text();
        assert!(
            log.contains(failure),
            "{mode}: the log says what failed: {log}"
        );
        assert!(log.contains(OVERAGE_OID), "{mode}: and for whom: {log}");
    }
    assert_no_secret("the log", &logs.text());

    // Graph is back: the next sign-in gets the groups.
    misbehave(&stack, "none").await;
    let (_b, me) = signed_in_as(&stack, "overage").await;
    assert_eq!(me["groups_overage"], false);
    assert_eq!(sorted(&me["grants"]), vec!["approver@prod", "developer"]);
    assert_eq!(me["notices"], json!([]));
    assert_eq!(
        graph_stats(&stack).await,
        (1, 3),
        "one app-only token served all three sign-ins"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_refused_app_only_token_is_a_graph_failure_too(pool: PgPool) {
    // Graph's URL of another cloud than the provider's: the provider refuses the token for its
    // scope, and Graph is never asked.
    let stack = start_provider_with(pool, &[], Graph::At("https://graph.microsoft.us")).await;
    let logs = Logs::default();
    let _capture = logs.capture();
    let (_b, me) = signed_in_as(&stack, "overage").await;
    assert_eq!(me["groups_overage"], true);
    assert_eq!(me["grants"], json!(["developer"]));
    assert!(
        me["notices"]
            .to_string()
            .contains("looking your groups up in Microsoft Graph failed"),
        "{}",
        me["notices"]
    );
    let log = logs.text();
    assert!(
        log.contains("no app-only token for Microsoft Graph") && log.contains("invalid_scope"),
        "{log}"
    );
    assert_no_secret("the log", &log);
    assert_eq!(graph_stats(&stack).await, (0, 0));
}
