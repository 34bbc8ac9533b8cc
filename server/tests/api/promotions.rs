//! Promotion requests through the router: asking (and refusing bad requests), the gate as it
//! reads, and decisions, including the forced cases: the requester approving their own request,
//! an approver of another environment, a second decision, a decided request, a token.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{Auth, TestApp};

pub(crate) async fn shipped(app: &TestApp, env: &str, version: &str) {
    app.create(
        "/api/v1/deployments",
        json!({"service": "checkout-api", "environment": env, "version": version,
               "status": "succeeded", "external_id": format!("{env}-{version}"),
               "changes": [{"sha": "abc1234", "author": "Test dana", "message": "Retry the card call",
                            "committed_at": "2026-01-01T10:00:00Z"}]}),
    )
    .await;
}

fn condition<'a>(p: &'a Value, key: &str) -> &'a Value {
    p["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["key"] == key))
        .unwrap_or_else(|| panic!("no {key} in {p}"))
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_promotion_is_asked_for_judged_and_decided_once(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    shipped(&admin, "staging", "1.2.0").await;
    admin
        .put(
            "/api/v1/environments/prod/gate",
            json!({"reason": "Two people for prod", "policy": {
                "approvals": [{"name": "Release managers", "count": 2, "roles": ["approver", "approver@prod"]}],
                "exclude_commit_authors": true}}),
        )
        .await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let both = admin.as_roles("bo", &["developer", "approver"]).await;
    let stager = admin.as_roles("stan", &["approver@staging"]).await;
    let ann = admin.as_roles("ann", &["approver@prod"]).await;
    let ben = admin.as_roles("ben", &["approver"]).await;
    let cy = admin.as_roles("cy", &["approver"]).await;

    // Bad requests are named field by field.
    let bad = dev
        .post(
            "/api/v1/promotions",
            json!({"service": "nope", "version": " ", "to": "dev"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.error_fields(), ["version", "service", "to"]);
    assert!(bad.text.contains("dev is the first stage"), "{}", bad.text);
    let backwards = dev
        .post(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "1.2.0", "to": "staging", "from": "prod"}),
        )
        .await;
    assert_eq!(backwards.error_fields(), ["from"]);
    // Viewers and approvers do not ask.
    assert_eq!(
        ann.post(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "1.2.0", "to": "prod"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // Asked by someone who is also an approver: their own approval is refused.
    let asked = both
        .post(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "1.2.0", "to": "prod", "reason": "Card retries"}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
    let p = asked.body.clone();
    let id = p["id"].as_i64().expect("id");
    assert_eq!(
        (p["from"].as_str(), p["state"].as_str()),
        (Some("staging"), Some("pending"))
    );
    assert_eq!(p["verdict"], "waiting");
    assert_eq!(condition(&p, "previous_environment")["status"], "pass");
    assert_eq!(
        condition(&p, "approvals:Release managers")["reason"],
        "needs 2 more approvals from Release managers"
    );
    // Asking again answers the same request.
    let again = both
        .post(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "1.2.0", "to": "prod"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["id"], id);

    let decide = |app: &TestApp, body: Value| {
        let app = app.clone();
        async move {
            app.post(&format!("/api/v1/promotions/{id}/decisions"), body)
                .await
        }
    };
    let approve = json!({"decision": "approve"});
    let own = decide(&both, approve.clone()).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.text);
    assert!(
        own.text.contains("someone else must decide"),
        "{}",
        own.text
    );
    let elsewhere = decide(&stager, approve.clone()).await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
    assert!(elsewhere.text.contains("into prod"), "{}", elsewhere.text);
    assert_eq!(
        decide(&dev, approve.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let first = decide(&ann, approve.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["state"], "pending");
    assert_eq!(
        condition(&first.body, "approvals:Release managers")["reason"],
        "needs 1 more approval from Release managers (approved: Test ann)"
    );
    let twice = decide(&ann, approve.clone()).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice.text.contains("already decided"), "{}", twice.text);
    let second = decide(&ben, approve.clone()).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(second.body["state"], "approved");
    assert_eq!(second.body["verdict"], "open");
    assert_eq!(second.body["policy_version"], 1);
    assert_eq!(second.body["decided_by"], "Test ben");
    let late = decide(&cy, approve.clone()).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(late.text.contains("already approved"), "{}", late.text);

    // Everything is in the audit log.
    let audit = admin
        .get(&format!(
            "/api/v1/audit?target_kind=promotion&target_id={id}"
        ))
        .await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "promotion.approve",
            "promotion.approve",
            "promotion.request"
        ]
    );
    assert_eq!(
        admin.get("/api/v1/promotions/999999").await.status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_rejection_ends_it_and_pipelines_ask_with_tokens(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    shipped(&admin, "staging", "1.3.0").await;
    one_approval(&admin).await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let made = dev
        .post(
            "/api/v1/tokens",
            json!({"name": "pipeline", "scopes": ["promotions:write"]}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let pipeline = admin.with_auth(Auth::Bearer(
        made.body["token"].as_str().expect("token").to_string(),
    ));
    let asked = pipeline
        .post(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "1.3.0", "to": "prod"}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
    let id = asked.body["id"].as_i64().expect("id");
    assert!(
        asked.body["requester"]
            .as_str()
            .is_some_and(|r| r.starts_with("pipeline"))
    );
    let path = format!("/api/v1/promotions/{id}/decisions");
    // The token may read it, not decide it.
    assert_eq!(
        pipeline
            .get(&format!("/api/v1/promotions/{id}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        pipeline
            .post(&path, json!({"decision": "approve"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // The token's owner counts as the requester: they never approve it, even as an approver.
    let owner_as_approver = admin.as_roles("dana", &["developer", "approver"]).await;
    let own = owner_as_approver
        .post(&path, json!({"decision": "approve"}))
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.text);

    let rita = admin.as_roles("rita", &["approver"]).await;
    let no_reason = rita.post(&path, json!({"decision": "reject"})).await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_reason.error_fields(), ["comment"]);
    let unknown = rita.post(&path, json!({"decision": "maybe"})).await;
    assert_eq!(unknown.error_fields(), ["decision"]);
    let rejected = rita
        .post(
            &path,
            json!({"decision": "reject", "comment": "Wait for the payment provider's fix"}),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text);
    assert_eq!(rejected.body["state"], "rejected");
    assert_eq!(
        rejected.body["decision_note"],
        "rejected by Test rita: Wait for the payment provider's fix"
    );
    assert_eq!(rejected.body["approvals"][0]["decision"], "reject");
    // Decided: nothing more.
    let after = admin
        .as_roles("sam", &["approver"])
        .await
        .post(&path, json!({"decision": "approve"}))
        .await;
    assert_eq!(after.status, StatusCode::CONFLICT);
    // A new request for the same version may be made now.
    let again = pipeline
        .post(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "1.3.0", "to": "prod"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_ne!(again.body["id"], id);
}

/// Rita, an approver, decides request `id`; insists on 200.
pub(crate) async fn decide(admin: &TestApp, id: i64, decision: Value) {
    let a = admin
        .as_roles("rita", &["approver"])
        .await
        .post(&format!("/api/v1/promotions/{id}/decisions"), decision)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

pub(crate) async fn one_approval(admin: &TestApp) {
    let set = admin
        .put(
            "/api/v1/environments/prod/gate",
            json!({"reason": "One approval", "policy": {"approvals": [{"name": "Approvers", "count": 1}]}}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_gate_that_opens_by_itself_approves_and_time_expires_requests(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    // The default gate needs nobody, only success in the stage before.
    let asked = dev
        .post(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "2.0.0", "to": "prod"}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
    let id = asked.body["id"].as_i64().expect("id");
    assert_eq!(asked.body["state"], "pending");
    assert_eq!(
        condition(&asked.body, "previous_environment")["reason"],
        "not yet succeeded in staging"
    );
    shipped(&admin, "staging", "2.0.0").await;
    let now = admin.get(&format!("/api/v1/promotions/{id}")).await.body;
    assert_eq!(now["state"], "approved", "{now}");
    assert_eq!(now["decided_by"], "Portolan");
    assert_eq!(
        now["decision_note"],
        "the gate opened: every condition passes"
    );
    assert_eq!(now["policy_version"], 0);
    // Already shipped: approved at once.
    shipped(&admin, "staging", "2.0.1").await;
    let at_once = dev
        .post(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "2.0.1", "to": "prod"}),
        )
        .await;
    assert_eq!(at_once.body["state"], "approved", "{}", at_once.text);

    // With an approval needed, a request nobody decides expires; reading it settles that.
    one_approval(&admin).await;
    shipped(&admin, "staging", "2.1.0").await;
    let asked = dev
        .post(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "2.1.0", "to": "prod"}),
        )
        .await;
    let id = asked.body["id"].as_i64().expect("id");
    assert_eq!(asked.body["state"], "pending");
    sqlx::query("UPDATE promotions SET expires_at = now() - interval '1 minute', created_at = now() - interval '3 days' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("age it");
    let rita = admin.as_roles("rita", &["approver"]).await;
    let expired = rita
        .post(
            &format!("/api/v1/promotions/{id}/decisions"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(expired.status, StatusCode::CONFLICT, "{}", expired.text);
    assert!(expired.text.contains("expired"), "{}", expired.text);
    let read = admin.get(&format!("/api/v1/promotions/{id}")).await.body;
    assert_eq!(
        (read["state"].as_str(), read["decided_by"].as_str()),
        (Some("expired"), Some("Portolan"))
    );
    let recorded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM promotion_approvals WHERE promotion_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(recorded, 0, "the refused approval left nothing behind");
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn pipelines_wait_for_the_decision(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    one_approval(&admin).await;
    shipped(&admin, "staging", "5.0.0").await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let id = dev
        .create(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "5.0.0", "to": "prod"}),
        )
        .await["id"]
        .as_i64()
        .expect("id");
    let wait = format!("/api/v1/promotions/{id}/wait");
    assert_eq!(
        dev.get(&format!("{wait}?timeout_seconds=0"))
            .await
            .error_fields(),
        ["timeout_seconds"]
    );
    // Nobody decides: the wait ends at its timeout with the request still pending.
    let started = std::time::Instant::now();
    let pending = dev.get(&format!("{wait}?timeout_seconds=1")).await;
    assert_eq!(pending.status, StatusCode::OK, "{}", pending.text);
    assert_eq!(pending.body["state"], "pending");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    // Someone approves while the pipeline waits: the wait ends with the decision.
    let waiting = {
        let dev = dev.clone();
        let wait = wait.clone();
        tokio::spawn(async move { dev.get(&format!("{wait}?timeout_seconds=30")).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let approved = admin
        .as_roles("rita", &["approver"])
        .await
        .post(
            &format!("/api/v1/promotions/{id}/decisions"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let started = std::time::Instant::now();
    let answer = waiting.await.expect("the waiting request");
    assert_eq!(answer.body["state"], "approved", "{}", answer.text);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "it did not wait for its timeout"
    );
}

/// Many approvers (and one rejecter) decide the same request at once, again and again: there is
/// exactly one decision, and every approval is either recorded or refused, never lost.
#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn concurrent_decisions_make_exactly_one_decision(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    admin
        .put(
            "/api/v1/environments/prod/gate",
            json!({"reason": "Two for prod", "policy": {"approvals": [{"name": "Approvers", "count": 2}]}}),
        )
        .await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let mut approvers = Vec::new();
    for n in 0..8 {
        approvers.push(admin.as_roles(&format!("approver{n}"), &["approver"]).await);
    }
    for round in 0..5 {
        let version = format!("3.{round}.0");
        shipped(&admin, "staging", &version).await;
        let asked = dev
            .post(
                "/api/v1/promotions",
                json!({"service": "checkout-api", "version": version, "to": "prod"}),
            )
            .await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
        let id = asked.body["id"].as_i64().expect("id");
        let path = format!("/api/v1/promotions/{id}/decisions");
        let answers = futures_util::future::join_all(approvers.iter().enumerate().map(|(n, a)| {
            let a = a.clone();
            let path = path.clone();
            // In odd rounds one of them rejects.
            let body = if round % 2 == 1 && n == 3 {
                json!({"decision": "reject", "comment": "not today"})
            } else {
                json!({"decision": "approve"})
            };
            async move { a.post(&path, body).await }
        }))
        .await;
        let ok = answers
            .iter()
            .filter(|a| a.status == StatusCode::OK)
            .count();
        assert!(
            answers
                .iter()
                .all(|a| a.status == StatusCode::OK || a.status == StatusCode::CONFLICT),
            "round {round}: {:?}",
            answers
                .iter()
                .map(|a| (a.status, a.text.clone()))
                .collect::<Vec<_>>()
        );
        let (state, decided): (String, i64) = sqlx::query_as(
            "SELECT state, (SELECT count(*) FROM audit_log WHERE target_kind = 'promotion' AND target_id = $1::text
                                AND action IN ('promotion.approve', 'promotion.reject')) FROM promotions WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("state");
        let recorded: i64 =
            sqlx::query_scalar("SELECT count(*) FROM promotion_approvals WHERE promotion_id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("count");
        assert_eq!(
            recorded as usize, ok,
            "round {round}: every 200 is a recorded decision, nothing else is"
        );
        assert_eq!(
            decided as usize, ok,
            "round {round}: each recorded decision is audited once"
        );
        assert!(
            state == "approved" || state == "rejected",
            "round {round}: {state}"
        );
        let decisive = answers
            .iter()
            .filter(|a| a.status == StatusCode::OK && a.body["state"] != "pending")
            .count();
        assert_eq!(
            decisive, 1,
            "round {round}: exactly one answer made the decision"
        );
        if state == "approved" {
            assert_eq!(
                ok, 2,
                "round {round}: the second approval decides, the rest are refused"
            );
        }
    }
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_inbox_holds_what_i_may_decide(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    for (version, to) in [("4.0.0", "prod"), ("4.1.0", "staging"), ("4.2.0", "prod")] {
        let asked = dev
            .post(
                "/api/v1/promotions",
                json!({"service": "checkout-api", "version": version, "to": to}),
            )
            .await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
    }
    let prod = admin.as_roles("pat", &["approver@prod"]).await;
    let everywhere = admin.as_roles("eve", &["approver"]).await;
    let versions = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|p| p["version"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let inbox = prod.get("/api/v1/promotions?decidable=true").await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.text);
    assert_eq!(
        versions(&inbox.body),
        ["4.2.0", "4.0.0"],
        "only prod for an approver of prod"
    );
    assert_eq!(
        versions(
            &everywhere
                .get("/api/v1/promotions?decidable=true")
                .await
                .body
        )
        .len(),
        3
    );
    // Once I decided one, it leaves my inbox; the requester has none to decide.
    let first = versions(&inbox.body).len();
    let id = inbox.body["items"][0]["id"].as_i64().expect("id");
    prod.post(
        &format!("/api/v1/promotions/{id}/decisions"),
        json!({"decision": "reject", "comment": "no"}),
    )
    .await;
    assert_eq!(
        versions(&prod.get("/api/v1/promotions?decidable=true").await.body).len(),
        first - 1
    );
    assert!(versions(&dev.get("/api/v1/promotions?decidable=true").await.body).is_empty());
    // Filters.
    assert_eq!(
        versions(&dev.get("/api/v1/promotions?state=rejected").await.body),
        ["4.2.0"]
    );
    assert_eq!(
        versions(&dev.get("/api/v1/promotions?to=staging").await.body),
        ["4.1.0"]
    );
    let paged = dev.get("/api/v1/promotions?limit=2").await.body;
    assert_eq!(versions(&paged), ["4.2.0", "4.1.0"]);
    let cursor = paged["next_cursor"].as_str().expect("a next page");
    assert_eq!(
        versions(
            &dev.get(&format!("/api/v1/promotions?limit=2&cursor={cursor}"))
                .await
                .body
        ),
        ["4.0.0"]
    );
    let bad = dev.get("/api/v1/promotions?state=done").await;
    assert_eq!(bad.error_fields(), ["state"]);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn break_glass_is_for_admins_with_a_reason_and_shows_forever(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    one_approval(&admin).await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let other = admin.as_roles("otto", &["developer"]).await;
    let ask = |version: &'static str| {
        let dev = dev.clone();
        async move {
            dev.create(
                "/api/v1/promotions",
                json!({"service": "checkout-api", "version": version, "to": "prod"}),
            )
            .await["id"]
                .as_i64()
                .expect("id")
        }
    };
    // Never ran in staging and nobody approved: blocked for now, but an admin may override.
    let id = ask("6.0.0").await;
    let path = format!("/api/v1/promotions/{id}/break-glass");
    assert_eq!(
        dev.post(&path, json!({"reason": "urgent"})).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin
            .as_roles("rita", &["approver"])
            .await
            .post(&path, json!({"reason": "urgent"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin
            .post(&path, json!({"reason": "  "}))
            .await
            .error_fields(),
        ["reason"]
    );
    let broke = admin
        .post(
            &path,
            json!({"reason": "Payments down; the fix cannot wait for staging"}),
        )
        .await;
    assert_eq!(broke.status, StatusCode::OK, "{}", broke.text);
    let p = &broke.body;
    assert_eq!(p["state"], "approved");
    assert_eq!(p["verdict"], "open");
    assert_eq!(
        p["break_glass"],
        "Test admin: Payments down; the fix cannot wait for staging"
    );
    assert_eq!(condition(p, "break_glass")["status"], "pass");
    assert_eq!(
        condition(p, "previous_environment")["status"],
        "waiting",
        "what the gate said stays visible"
    );
    // Forever: it reads the same later, and it is audited.
    let later = admin.get(&format!("/api/v1/promotions/{id}")).await.body;
    assert!(
        later["break_glass"]
            .as_str()
            .is_some_and(|b| b.contains("Payments down"))
    );
    let audit = admin
        .get("/api/v1/audit?action=promotion.break_glass")
        .await
        .body;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        admin.post(&path, json!({"reason": "again"})).await.status,
        StatusCode::CONFLICT
    );

    // Cancelling: the requester or an admin, while not yet deployed.
    let id = ask("6.0.1").await;
    let cancel = format!("/api/v1/promotions/{id}/cancel");
    assert_eq!(
        other
            .post(&cancel, json!({"reason": "mine now"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let cancelled = dev
        .post(&cancel, json!({"reason": "Superseded by 6.0.2"}))
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(cancelled.body["state"], "cancelled");
    assert_eq!(
        cancelled.body["decision_note"],
        "cancelled: Superseded by 6.0.2"
    );
    let twice = dev.post(&cancel, json!({"reason": "again"})).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice.text.contains("no longer changes"), "{}", twice.text);
    let id = ask("6.0.2").await;
    let by_admin = admin
        .post(
            &format!("/api/v1/promotions/{id}/cancel"),
            json!({"reason": "Freeze for the audit"}),
        )
        .await;
    assert_eq!(by_admin.body["state"], "cancelled", "{}", by_admin.text);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn an_approved_promotion_is_deployed_when_its_deployment_succeeds(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    shipped(&admin, "staging", "7.0.0").await;
    let dev = admin.as_roles("dana", &["developer"]).await;
    let p = dev
        .create(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "7.0.0", "to": "prod"}),
        )
        .await;
    assert_eq!(p["state"], "approved", "the default gate opened at once");
    let id = p["id"].as_i64().expect("id");
    // A deployment still running changes nothing; its success deploys the promotion.
    let d = admin
        .create(
            "/api/v1/deployments",
            json!({"service": "checkout-api", "environment": "prod", "version": "7.0.0",
                   "status": "in_progress", "external_id": "prod-7"}),
        )
        .await;
    assert_eq!(
        admin.get(&format!("/api/v1/promotions/{id}")).await.body["state"],
        "approved"
    );
    let done = admin
        .post(
            &format!("/api/v1/deployments/{}/status", d["id"]),
            json!({"status": "succeeded"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let after = admin.get(&format!("/api/v1/promotions/{id}")).await.body;
    assert_eq!(after["state"], "deployed");
    // Deployed is final.
    let cancel = dev
        .post(
            &format!("/api/v1/promotions/{id}/cancel"),
            json!({"reason": "too late"}),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::CONFLICT);
    let deployed_at: Option<i64> =
        sqlx::query_scalar("SELECT deployment_id FROM promotions WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!(deployed_at, d["id"].as_i64());
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn the_review_shows_what_changes_what_burns_nearby_and_the_candidates_record(pool: PgPool) {
    let admin = TestApp::new(pool.clone()).await;
    admin.scene().await;
    for (from, to) in [
        ("checkout-api", "payment-gateway"),
        ("payment-gateway", "search-indexer"),
    ] {
        admin
            .put(
                &format!("/api/v1/services/{from}/dependencies/{to}"),
                json!({"kind": "sync"}),
            )
            .await;
    }
    let deploy = |env: &'static str,
                  version: &'static str,
                  status: &'static str,
                  kind: &'static str,
                  commits: Value| {
        let admin = admin.clone();
        async move {
            admin
                .create(
                    "/api/v1/deployments",
                    json!({"service": "checkout-api", "environment": env, "version": version,
                           "status": status, "kind": kind, "changes": commits}),
                )
                .await["id"]
                .as_i64()
                .expect("id")
        }
    };
    let c = |sha: &str, author: &str, day: u8| {
        json!({"sha": sha, "author": author, "message": format!("{sha}: a change\n\nlong body"),
               "committed_at": format!("2026-11-{day:02}T10:00:00Z")})
    };
    // dev sees every version with the commits it first carries; staging skipped 1.1 and
    // recorded 1.1's commit again with 1.2.
    deploy(
        "dev",
        "1.0",
        "succeeded",
        "normal",
        json!([c("aaa0001", "Ann", 1)]),
    )
    .await;
    deploy(
        "dev",
        "1.1",
        "succeeded",
        "normal",
        json!([c("bbb0002", "Ben", 2)]),
    )
    .await;
    deploy(
        "dev",
        "1.2",
        "succeeded",
        "normal",
        json!([c("ccc0003", "Cy", 3), c("ddd0004", "Ben", 4)]),
    )
    .await;
    deploy("dev", "1.1", "succeeded", "rollback", json!([])).await;
    deploy(
        "staging",
        "1.0",
        "succeeded",
        "normal",
        json!([c("aaa0001", "Ann", 1)]),
    )
    .await;
    deploy("staging", "1.2", "failed", "normal", json!([])).await;
    let landed = deploy(
        "staging",
        "1.2",
        "succeeded",
        "normal",
        json!([
            c("bbb0002", "Ben", 2),
            c("ccc0003", "Cy", 3),
            c("ddd0004", "Ben", 4)
        ]),
    )
    .await;
    deploy(
        "prod",
        "1.0",
        "succeeded",
        "normal",
        json!([c("aaa0001", "Ann", 1)]),
    )
    .await;

    // Burning: the service's dependency (one hop) and its dependency's dependency (two); a
    // resolved incident on the service itself is not shown, the one 1.2 caused in staging is.
    let incident = |title: &'static str, sev: &'static str, service: &'static str| {
        let admin = admin.clone();
        async move {
            admin
                .create(
                    "/api/v1/incidents",
                    json!({"title": title, "severity": sev, "services": [service]}),
                )
                .await["id"]
                .as_i64()
                .expect("id")
        }
    };
    let far = incident("Index lag", "sev3", "search-indexer").await;
    let near = incident("Gateway 502s", "sev2", "payment-gateway").await;
    let caused = incident("Checkout errors in staging", "sev3", "checkout-api").await;
    let linked = admin
        .put(
            &format!("/api/v1/incidents/{caused}/links/{landed}"),
            json!({"relation": "caused_by"}),
        )
        .await;
    assert!(linked.status.is_success(), "{}", linked.text);
    for to in ["investigating", "resolved"] {
        let moved = admin
            .post(
                &format!("/api/v1/incidents/{caused}/transition"),
                json!({"to": to}),
            )
            .await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    }

    let dev = admin.as_roles("dana", &["developer"]).await;
    let id = dev
        .create(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "1.2", "to": "prod"}),
        )
        .await["id"]
        .as_i64()
        .expect("id");
    let viewer = admin.as_roles("vic", &["viewer"]).await;
    let r = viewer.get(&format!("/api/v1/promotions/{id}/review")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = r.body;

    let changes = &r["changes"];
    assert_eq!(changes["target_version"], "1.0");
    assert_eq!(changes["direction"], "forward");
    assert_eq!(changes["versions"], json!(["1.1", "1.2"]));
    let shas: Vec<&str> = changes["commits"]
        .as_array()
        .expect("commits")
        .iter()
        .map(|c| c["sha"].as_str().expect("sha"))
        .collect();
    assert_eq!(shas, ["ddd0004", "ccc0003", "bbb0002"]);
    assert_eq!(changes["commits"][2]["version"], "1.1");
    assert_eq!(changes["commits"][0]["message"], "ddd0004: a change");
    assert_eq!(
        changes["authors"],
        json!([{"author": "Ben", "commits": 2}, {"author": "Cy", "commits": 1}])
    );

    let open: Vec<(i64, Value)> = r["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .map(|i| (i["id"].as_i64().expect("id"), i["path"].clone()))
        .collect();
    assert_eq!(
        open,
        [
            (near, json!(["checkout-api", "payment-gateway"])),
            (
                far,
                json!(["checkout-api", "payment-gateway", "search-indexer"])
            ),
        ],
        "worst first; the resolved one is not shown"
    );

    let record = r["record"].as_array().expect("record");
    let envs: Vec<&str> = record
        .iter()
        .map(|e| e["environment"].as_str().expect("env"))
        .collect();
    assert_eq!(
        envs,
        ["dev", "staging"],
        "only where 1.2 went, in pipeline order"
    );
    assert_eq!(
        (
            &record[0]["succeeded"],
            &record[0]["running_now"],
            &record[0]["replaced_by_rollback"],
            &record[0]["is_source"]
        ),
        (&json!(1), &json!(false), &json!(true), &json!(false)),
        "dev rolled back to 1.1"
    );
    assert_eq!(
        (
            &record[1]["succeeded"],
            &record[1]["failed"],
            &record[1]["running_now"],
            &record[1]["is_source"]
        ),
        (&json!(1), &json!(1), &json!(true), &json!(true))
    );
    assert_eq!(record[1]["incidents"][0]["id"], caused);
    assert_eq!(record[1]["incidents"][0]["state"], "resolved");

    // Going back: asking prod for the version it runs changes nothing; a request into staging
    // for 1.1 would take 1.2's commits out.
    let back = dev
        .create(
            "/api/v1/promotions",
            json!({"service": "checkout-api", "version": "1.1", "to": "staging", "from": "dev"}),
        )
        .await["id"]
        .as_i64()
        .expect("id");
    let b = viewer
        .get(&format!("/api/v1/promotions/{back}/review"))
        .await
        .body;
    assert_eq!(b["changes"]["direction"], "back");
    assert_eq!(b["changes"]["total_commits"], 2);
    assert_eq!(
        viewer.get("/api/v1/promotions/999999/review").await.status,
        StatusCode::NOT_FOUND
    );
}
