//! Azure DevOps' "Invoke REST API" check: a pipeline's token asks for the promotion at every
//! evaluation and reads at once whether it may go; the same request answers every time.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use serde_json::json;
use sqlx::PgPool;

use crate::permissions::token;
use crate::promotions::{decide, one_approval, shipped};
use crate::{Auth, TestApp};

const CHECK: &str = "/api/v1/integrations/azure-devops/check";

async fn promotions_in_db(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM promotions")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_check_asks_once_and_passes_once_approved(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    one_approval(&admin).await;
    shipped(&admin, "staging", "2.0.0").await;
    let body = json!({"service": "checkout-api", "version": "2.0.0", "to": "prod",
                      "reason": "Build 4711"});

    // A token without promotions:write is refused, and told why.
    let deployer =
        admin.with_auth(token(&admin, "dana", &["developer"], &["deployments:write"]).await);
    let refused = deployer.post(CHECK, body.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(
        refused.text.contains("lacks the promotions:write scope"),
        "{}",
        refused.text
    );
    assert_eq!(promotions_in_db(&pool).await, 0, "nothing was asked");

    let Auth::Bearer(secret) = token(&admin, "dana", &["developer"], &["promotions:write"]).await
    else {
        panic!("a token")
    };
    let ci = admin.with_auth(Auth::Bearer(secret.clone()));

    // A bad body names the fields at fault.
    let bad = ci
        .post(
            CHECK,
            json!({"service": "no-such-service", "version": "2.0.0", "to": "prod"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.error_fields(), ["service"]);
    let typed = ci
        .post(
            CHECK,
            json!({"service": "checkout-api", "version": 2, "to": "prod"}),
        )
        .await;
    assert_eq!(
        typed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        typed.text
    );
    assert_eq!(typed.error_fields(), ["version"]);

    // Pending: not approved, not final, and what it waits for.
    let first = ci.post(CHECK, body.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let id = first.body["id"].as_i64().expect("id");
    assert_eq!(first.body["approved"], false);
    assert_eq!(first.body["final"], false);
    assert_eq!(first.body["state"], "pending");
    assert_eq!(
        first.body["url"],
        format!("http://127.0.0.1:8080/promotions/{id}")
    );
    assert_eq!(
        first.body["summary"],
        "waiting: needs 1 more approval from Approvers"
    );

    // Every evaluation asks again and gets the same request.
    let again = ci.post(CHECK, body.clone()).await;
    assert_eq!(again.body["id"], id, "{}", again.text);
    assert_eq!(promotions_in_db(&pool).await, 1);

    // A generic service connection sends the token as the Basic password.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("azure-devops:{secret}"));
    let by_basic = ci
        .send(
            Request::builder()
                .method(Method::POST)
                .uri(CHECK)
                .header(header::AUTHORIZATION, format!("Basic {basic}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .expect("request"),
        )
        .await;
    assert_eq!(by_basic.status, StatusCode::OK, "{}", by_basic.text);
    assert_eq!(by_basic.body["id"], id);

    // Someone approves: the next evaluation passes, and says who.
    decide(&admin, id, json!({"decision": "approve"})).await;
    let passed = ci.post(CHECK, body.clone()).await;
    assert_eq!(passed.status, StatusCode::OK, "{}", passed.text);
    assert_eq!(
        (
            passed.body["approved"].as_bool(),
            passed.body["final"].as_bool(),
            passed.body["state"].as_str(),
            passed.body["id"].as_i64()
        ),
        (Some(true), Some(true), Some("approved"), Some(id))
    );
    assert!(
        passed.body["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("approved by Test rita")),
        "{}",
        passed.text
    );
    assert_eq!(promotions_in_db(&pool).await, 1);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_rejected_check_stays_rejected_until_someone_asks_again(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    one_approval(&admin).await;
    shipped(&admin, "staging", "2.1.0").await;
    let ci = admin.with_auth(token(&admin, "dana", &["developer"], &["promotions:write"]).await);
    let body = json!({"service": "checkout-api", "version": "2.1.0", "to": "prod"});
    let id = ci.post(CHECK, body.clone()).await.body["id"]
        .as_i64()
        .expect("id");
    decide(
        &admin,
        id,
        json!({"decision": "reject", "comment": "not during the audit"}),
    )
    .await;

    // Final and not approved, at every evaluation, without asking anew.
    for _ in 0..2 {
        let a = ci.post(CHECK, body.clone()).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        assert_eq!(
            (
                a.body["approved"].as_bool(),
                a.body["final"].as_bool(),
                a.body["id"].as_i64()
            ),
            (Some(false), Some(true), Some(id))
        );
        assert_eq!(
            a.body["summary"],
            "rejected by Test rita: not during the audit"
        );
    }
    assert_eq!(promotions_in_db(&pool).await, 1);

    // Asking again through the API opens a new request, which the check then follows.
    let asked = ci.post("/api/v1/promotions", body.clone()).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
    let new_id = asked.body["id"].as_i64().expect("id");
    assert_ne!(new_id, id);
    let follows = ci.post(CHECK, body).await;
    assert_eq!(follows.body["id"], new_id, "{}", follows.text);
    assert_eq!(follows.body["state"], "pending");
}
