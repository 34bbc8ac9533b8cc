//! API tokens: made by people for the rights they hold, shown once, stored as a hash, scoped,
//! expiring, revocable, with their use recorded and audited.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::{Auth, TestApp};

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_pipeline_token_records_deployments_and_nothing_else(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    let dev = admin.as_roles("dana", &["developer"]).await;

    let made = dev
        .post(
            "/api/v1/tokens",
            json!({"name": "checkout CI", "scopes": ["deployments:write"], "expires_in_days": 30}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let secret = made.body["token"].as_str().expect("token").to_string();
    assert!(secret.starts_with("ptl_") && secret.len() > 40);
    assert!(secret.starts_with(made.body["prefix"].as_str().expect("prefix")));
    assert_eq!(made.body["scopes"], json!(["deployments:write"]));
    // Only the hash is kept; the list never shows the secret again.
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_one(&pool)
        .await
        .expect("row");
    assert_eq!(stored.len(), 32);
    let listed = dev.get("/api/v1/tokens").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.text.contains(&secret));
    assert_eq!(listed.body[0]["name"], "checkout CI");
    assert!(listed.body[0]["last_used_at"].is_null());

    let pipeline = admin.with_auth(Auth::Bearer(secret.clone()));
    let recorded = pipeline
        .post(
            "/api/v1/deployments",
            json!({"service": "checkout-api", "environment": "dev", "version": "1.4.0",
                   "status": "succeeded", "source": "ci", "external_id": "run-1"}),
        )
        .await;
    assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.text);
    // Every scope reads.
    assert_eq!(
        pipeline.get("/api/v1/services").await.status,
        StatusCode::OK
    );
    // But not what it was not given, and never the people's endpoints.
    let refused = pipeline
        .post(
            "/api/v1/services",
            json!({"slug": "x", "name": "X", "team": "payments"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.text.contains("lacks the catalog:write scope"),
        "{}",
        refused.text
    );
    let refused = pipeline
        .post(
            "/api/v1/tokens",
            json!({"name": "more", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // The deployment is audited as the token, and the token's use is noted.
    let (kind, id, name): (String, String, String) = sqlx::query_as(
        "SELECT actor_kind, actor_id, actor_name FROM audit_log WHERE action = 'deployment.record'",
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(kind, "token");
    assert_eq!(id, format!("token:{}", made.body["id"]));
    assert!(
        name.contains("checkout CI") && name.contains("Test dana"),
        "{name}"
    );
    assert!(dev.get("/api/v1/tokens").await.body[0]["last_used_at"].is_string());
    let created: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'api_token.create' AND after->>'token' IS NULL
           AND after->>'prefix' IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(
        created, 1,
        "creating a token is audited, without the secret"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn nobody_hands_out_rights_they_do_not_hold(pool: PgPool) {
    let admin = TestApp::new(pool).await;
    let viewer = admin.as_roles("vic", &["viewer"]).await;
    let a = viewer
        .post(
            "/api/v1/tokens",
            json!({"name": "sneaky", "scopes": ["read", "deployments:write"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.error_fields(), vec!["scopes"]);
    assert!(a.text.contains("deployments:write"), "{}", a.text);
    let a = viewer
        .post(
            "/api/v1/tokens",
            json!({"name": "", "scopes": ["root"], "expires_in_days": 1000}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        a.error_fields(),
        vec!["name", "scopes[0]", "expires_in_days"]
    );
    let a = viewer
        .post(
            "/api/v1/tokens",
            json!({"name": "x", "scopes": ["read"], "admin": true}),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused"
    );
    let none = admin.as_roles("nobody", &[]).await;
    let a = none
        .post("/api/v1/tokens", json!({"name": "x", "scopes": ["read"]}))
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no role, no read to delegate"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn revoked_expired_unknown_and_orphaned_tokens_are_refused(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let make = |name: &'static str| {
        let dev = dev.clone();
        async move {
            let a = dev
                .post(
                    "/api/v1/tokens",
                    json!({"name": name, "scopes": ["deployments:write"]}),
                )
                .await;
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
            (
                a.body["id"].as_i64().expect("id"),
                a.body["token"].as_str().expect("t").to_string(),
            )
        }
    };
    let (revoked_id, revoked) = make("to revoke").await;
    let (expired_id, expired) = make("to expire").await;
    let (_, orphaned) = make("owner demoted").await;

    // Someone else cannot revoke it (nor learn that it exists); its owner can; an admin could.
    let other = admin.as_roles("other", &["developer"]).await;
    let path = format!("/api/v1/tokens/{revoked_id}");
    assert_eq!(other.delete(&path).await.status, StatusCode::NOT_FOUND);
    let a = dev.delete(&path).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body["revoked_at"].is_string());
    assert_eq!(
        dev.delete(&path).await.status,
        StatusCode::OK,
        "revoking twice is fine"
    );
    let revocations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'api_token.revoke'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(revocations, 1, "the second revoke changed nothing");
    let a = admin
        .with_auth(Auth::Bearer(revoked))
        .get("/api/v1/services")
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.text.contains("was revoked"), "{}", a.text);
    assert!(a.headers.contains_key("www-authenticate"));

    sqlx::query(
        "UPDATE api_tokens SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day' WHERE id = $1",
    )
    .bind(expired_id)
    .execute(&pool)
    .await
    .expect("expire");
    let a = admin
        .with_auth(Auth::Bearer(expired))
        .get("/api/v1/services")
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.text.contains("expired at"), "{}", a.text);

    // The list says which can still be used, newest first.
    let listed = dev.get("/api/v1/tokens").await.body;
    let statuses: Vec<(&str, &str)> = listed
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default(),
                t["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("owner demoted", "active"),
            ("to expire", "expired"),
            ("to revoke", "revoked")
        ]
    );

    let a = admin
        .with_auth(Auth::Bearer("ptl_not-a-token-anyone-made".into()))
        .get("/api/v1/services")
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.text.contains("not known"), "{}", a.text);
    let malformed = axum::http::Request::builder()
        .uri("/api/v1/services")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .body(axum::body::Body::empty())
        .expect("request");
    let a = admin.send(malformed).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.text.contains("Bearer"), "{}", a.text);

    // The owner loses the developer role (at their next sign-in): the token loses it too.
    sqlx::query("UPDATE users SET roles = '{viewer}' WHERE object_id = 'dana'")
        .execute(&pool)
        .await
        .expect("demote");
    let pipeline = admin.with_auth(Auth::Bearer(orphaned));
    let a = pipeline
        .post(
            "/api/v1/deployments/999/status",
            json!({"status": "failed"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.text.contains("no longer holds"), "{}", a.text);
    assert_eq!(
        pipeline.get("/api/v1/services").await.status,
        StatusCode::OK
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_command_line_makes_tokens_for_people_who_signed_in(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    let _ = admin.as_roles("dana", &["developer"]).await;
    let config = portolan_server::config::Config::default();
    let new = |scopes: &[&str]| portolan_api::NewApiToken {
        name: "from the shell".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        expires_in_days: Some(7),
    };
    let made = portolan_server::auth::tokens::create_for(
        &pool,
        &config,
        "test-tenant:dana",
        &new(&["deployments:write"]),
    )
    .await
    .expect("made");
    assert_eq!(
        admin
            .with_auth(Auth::Bearer(made.token))
            .get("/api/v1/deployments")
            .await
            .status,
        StatusCode::OK
    );
    let err = portolan_server::auth::tokens::create_for(
        &pool,
        &config,
        "test-tenant:dana",
        &new(&["catalog:write", "nonsense"]),
    )
    .await
    .expect_err("bad scope");
    assert!(err.to_string().contains("scopes[1]"), "{err}");
    let err =
        portolan_server::auth::tokens::create_for(&pool, &config, "nobody:here", &new(&["read"]))
            .await
            .expect_err("unknown person");
    assert!(err.to_string().contains("has signed in"), "{err}");
    let actor: String =
        sqlx::query_scalar("SELECT actor_name FROM audit_log WHERE action = 'api_token.create'")
            .fetch_one(&pool)
            .await
            .expect("audit");
    assert!(actor.contains("portolan token create"), "{actor}");
}
