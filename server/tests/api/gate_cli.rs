//! `portolan gate` as a pipeline runs it: the built binary, as its own process, against a real
//! Portolan listening on a local port. People decide through the API while it waits.

use std::process::Output;
use std::time::Duration;

use portolan_server::cli::gate::exit;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::permissions::token;
use crate::promotions::{decide, one_approval, shipped};
use crate::{Auth, TestApp};

/// Portolan on 127.0.0.1 at a free port, for as long as the test runs; its base URL.
async fn listen(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("address");
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

fn gate(url: &str, token: &str, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_portolan"));
    c.arg("gate")
        .args(args)
        .env("PORTOLAN_URL", url)
        .env("PORTOLAN_TOKEN", token)
        .env_remove("PORTOLAN_CA_CERT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    c
}

async fn finished(child: tokio::process::Child) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = tokio::time::timeout(Duration::from_secs(90), child.wait_with_output())
        .await
        .expect("the command ended in time")
        .expect("its output");
    (
        status.code(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

async fn run(mut command: tokio::process::Command) -> (Option<i32>, String, String) {
    finished(command.spawn().expect("the portolan binary runs")).await
}

async fn secret(app: &TestApp, scopes: &[&str]) -> String {
    match token(app, "dana", &["developer"], scopes).await {
        Auth::Bearer(t) => t,
        other => panic!("a token, not {other:?}"),
    }
}

/// The pending request of `version`, once the command has asked for it.
async fn asked(admin: &TestApp, version: &str) -> i64 {
    for _ in 0..200 {
        let page = admin.get("/api/v1/promotions?state=pending").await.body;
        let found = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["version"] == version)
            .and_then(|p| p["id"].as_i64());
        if let Some(id) = found {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the command never asked for {version}")
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn gate_wait_ends_with_the_decision_made_while_it_waits(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    one_approval(&admin).await;
    shipped(&admin, "staging", "1.0.0").await;
    shipped(&admin, "staging", "1.1.0").await;
    let url = listen(&admin).await;
    let ci = secret(&admin, &["promotions:write"]).await;
    let wait_for = |version: &str| {
        gate(
            &url,
            &ci,
            &[
                "wait",
                "--service",
                "checkout-api",
                "--version",
                version,
                "--to",
                "prod",
                "--reason",
                "pipeline 4711",
                "--timeout",
                "60s",
            ],
        )
    };

    // Approved by someone else while it waits: exit 0, having shown the page and the wait.
    let child = wait_for("1.0.0").spawn().expect("runs");
    let id = asked(&admin, "1.0.0").await;
    decide(&admin, id, json!({"decision": "approve"})).await;
    let (code, out, err) = finished(child).await;
    assert_eq!(code, Some(i32::from(exit::APPROVED)), "{out}\n{err}");
    assert!(out.contains(&format!("{url}/promotions/{id}")), "{out}");
    assert!(
        out.contains("waiting: needs 1 more approval from Approvers"),
        "{out}"
    );
    assert!(out.contains("approved by Test rita"), "{out}");

    // Rejected while it waits: the rejection's code, who and why.
    let child = wait_for("1.1.0").spawn().expect("runs");
    let id = asked(&admin, "1.1.0").await;
    decide(
        &admin,
        id,
        json!({"decision": "reject", "comment": "not during the audit"}),
    )
    .await;
    let (code, out, err) = finished(child).await;
    assert_eq!(code, Some(i32::from(exit::REJECTED)), "{out}\n{err}");
    assert!(
        out.contains("rejected by Test rita: not during the audit"),
        "{out}"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn gate_wait_times_out_and_refuses_bad_tokens_without_showing_them(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    one_approval(&admin).await;
    shipped(&admin, "staging", "3.0.0").await;
    let url = listen(&admin).await;
    let ci = secret(&admin, &["promotions:write"]).await;

    // `gate request` asks and says where the request is.
    let (code, out, err) = run(gate(
        &url,
        &ci,
        &[
            "request",
            "--service",
            "checkout-api",
            "--version",
            "3.0.0",
            "--to",
            "prod",
            "--json",
        ],
    ))
    .await;
    assert_eq!(code, Some(0), "{out}\n{err}");
    let made: Value = serde_json::from_str(out.trim()).expect("JSON");
    let id = made["id"].as_i64().expect("id");
    assert_eq!(made["state"], "pending");
    assert_eq!(made["url"], format!("{url}/promotions/{id}"));

    // Nobody decides: it gives up at its timeout, with the timeout's code.
    let started = std::time::Instant::now();
    let id_text = id.to_string();
    let (code, out, err) = run(gate(
        &url,
        &ci,
        &["wait", "--id", &id_text, "--timeout", "2s"],
    ))
    .await;
    assert_eq!(code, Some(i32::from(exit::TIMED_OUT)), "{out}\n{err}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(out.contains(&format!("{url}/promotions/{id}")), "{out}");
    assert!(
        out.contains(&format!(
            "timed out after 2 s: promotion #{id} is still pending"
        )),
        "{out}"
    );

    // A token Portolan does not know: an error, the server's reason, and never the token.
    let fake = "ptl_thisisnotarealtoken0123456789";
    let (code, out, err) = run(gate(
        &url,
        fake,
        &["wait", "--id", &id_text, "--timeout", "10s"],
    ))
    .await;
    assert_eq!(code, Some(i32::from(exit::ERROR)), "{out}\n{err}");
    assert!(
        err.contains("this API token is not known to Portolan"),
        "{err}"
    );
    assert!(!out.contains(fake) && !err.contains(fake), "{out}\n{err}");

    // A token that may only read cannot ask: the server says which scope is missing.
    let reader = secret(&admin, &["read"]).await;
    let (code, out, err) = run(gate(
        &url,
        &reader,
        &[
            "wait",
            "--service",
            "checkout-api",
            "--version",
            "3.0.1",
            "--to",
            "prod",
        ],
    ))
    .await;
    assert_eq!(code, Some(i32::from(exit::ERROR)), "{out}\n{err}");
    assert!(err.contains("lacks the promotions:write scope"), "{err}");
    assert!(!out.contains(&reader) && !err.contains(&reader));

    // An unknown service: the field and the server's words.
    let (code, _, err) = run(gate(
        &url,
        &ci,
        &[
            "wait",
            "--service",
            "nope",
            "--version",
            "1",
            "--to",
            "prod",
        ],
    ))
    .await;
    assert_eq!(code, Some(i32::from(exit::ERROR)), "{err}");
    assert!(err.contains("no service has the slug 'nope'"), "{err}");

    // No token at all, and a token on the command line is not an option.
    let mut bare = gate(&url, "", &["wait", "--id", &id_text]);
    bare.env_remove("PORTOLAN_TOKEN");
    let (code, _, err) = run(bare).await;
    assert_eq!(code, Some(i32::from(exit::ERROR)), "{err}");
    assert!(err.contains("set PORTOLAN_TOKEN"), "{err}");
    let (code, _, err) = run(gate(&url, &ci, &["wait", "--id", &id_text, "--token", "x"])).await;
    assert_eq!(code, Some(i32::from(exit::USAGE)), "{err}");
}

#[tokio::test]
async fn gate_wait_rides_out_an_unreachable_portolan_until_its_timeout() {
    // A port nobody listens on: bound, then closed.
    let url = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let (code, out, err) = run(gate(
        &url,
        "ptl_unused",
        &["wait", "--id", "1", "--timeout", "3s"],
    ))
    .await;
    assert_eq!(code, Some(i32::from(exit::ERROR)), "{out}\n{err}");
    assert!(err.contains("trying again in 1 s"), "{err}");
    assert!(err.contains("gave up after 3 s"), "{err}");
}
