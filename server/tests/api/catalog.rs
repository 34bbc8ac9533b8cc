//! Teams, systems, services and dependencies.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::{TestApp, slugs};

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn teams_lifecycle(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let a = app
        .post(
            "/api/v1/teams",
            json!({"slug": "payments", "name": "  Payments ", "description": "Money"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.headers["location"], "/api/v1/teams/payments");
    assert_eq!(a.body["name"], "Payments", "names are trimmed");

    let dup = app
        .post(
            "/api/v1/teams",
            json!({"slug": "payments", "name": "Again"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.error_code(), "conflict");

    let bad = app
        .post("/api/v1/teams", json!({"slug": "Bad Slug", "name": ""}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), vec!["slug", "name"]);

    let unknown = app
        .post(
            "/api/v1/teams",
            json!({"slug": "x", "name": "X", "colour": "red"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.error_fields(), vec!["colour"]);

    let missing = app.post("/api/v1/teams", json!({"name": "X"})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.text.contains("slug"));

    assert_eq!(
        app.get("/api/v1/teams/nobody").await.status,
        StatusCode::NOT_FOUND
    );
    let p = app
        .patch(
            "/api/v1/teams/payments",
            json!({"description": "Payments and refunds"}),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(
        (p.body["name"].as_str(), p.body["description"].as_str()),
        (Some("Payments"), Some("Payments and refunds"))
    );
    assert_eq!(
        app.patch("/api/v1/teams/nobody", json!({"name": "N"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let p = app
        .patch("/api/v1/teams/payments", json!({"name": " "}))
        .await;
    assert_eq!(p.error_fields(), vec!["name"]);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn lists_page_through_every_row_once_in_a_stable_order(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for s in ["delta", "alpha", "echo", "charlie", "bravo"] {
        app.create("/api/v1/teams", json!({"slug": s, "name": s}))
            .await;
    }
    let mut seen = Vec::new();
    let mut url = "/api/v1/teams?limit=2".to_string();
    loop {
        let page = app.get(&url).await;
        assert_eq!(page.status, StatusCode::OK);
        seen.extend(slugs(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/teams?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, vec!["alpha", "bravo", "charlie", "delta", "echo"]);
    let bad = app.get("/api/v1/teams?cursor=!!!").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), vec!["cursor"]);
    assert_eq!(
        app.get("/api/v1/teams?limit=0").await.error_fields(),
        vec!["limit"]
    );
    assert_eq!(
        app.get("/api/v1/teams?limit=500").await.error_fields(),
        vec!["limit"]
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn a_team_with_live_services_cannot_be_archived(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let a = app.post("/api/v1/teams/search/archive", json!({})).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.text.contains("1 live service"));
    assert_eq!(
        app.post("/api/v1/services/search-indexer/archive", json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let a = app.post("/api/v1/teams/search/archive", json!({})).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["archived"], true);
    // Archived teams leave the list, and take no new services.
    assert!(!slugs(&app.get("/api/v1/teams").await.body).contains(&"search".to_string()));
    assert!(
        slugs(&app.get("/api/v1/teams?include_archived=true").await.body)
            .contains(&"search".to_string())
    );
    let s = app.post("/api/v1/services", json!({"slug": "x", "name": "X", "owner_team": "search", "tier": 2, "lifecycle": "experimental"})).await;
    assert_eq!(s.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.error_fields(), vec!["owner_team"]);
    // A service cannot come back into an archived team.
    assert_eq!(
        app.post("/api/v1/services/search-indexer/restore", json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.post("/api/v1/teams/search/restore", json!({}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post("/api/v1/services/search-indexer/restore", json!({}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post("/api/v1/teams/nobody/archive", json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn systems_reference_teams(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let s = app.get("/api/v1/systems/checkout").await;
    assert_eq!(s.body["owner_team"]["slug"], "payments");
    assert_eq!(s.body["service_count"], 2);
    let bad = app
        .post(
            "/api/v1/systems",
            json!({"slug": "ops", "name": "Ops", "owner_team": "ghosts"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), vec!["owner_team"]);
    let p = app
        .patch("/api/v1/systems/checkout", json!({"owner_team": null}))
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body["owner_team"].is_null(), "null clears the owner");
    let p = app
        .patch(
            "/api/v1/systems/checkout",
            json!({"name": "Checkout & Pay"}),
        )
        .await;
    assert!(
        p.body["owner_team"].is_null(),
        "an absent field stays as it was"
    );
    assert_eq!(
        app.post("/api/v1/systems/checkout/archive", json!({}))
            .await
            .body["archived"],
        true
    );
    assert_eq!(
        app.get("/api/v1/systems/nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            "/api/v1/systems",
            json!({"slug": "checkout", "name": "Dup"})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn services_validate_every_field(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let a = app
        .post(
            "/api/v1/services",
            json!({"slug": "-bad", "name": "", "owner_team": "payments", "tier": 0, "lifecycle": "production",
                   "repository_url": "javascript:alert(1)", "runbook_url": "not a url", "tags": ["ok", "not ok"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        a.error_fields(),
        vec![
            "slug",
            "name",
            "tier",
            "repository_url",
            "runbook_url",
            "tags"
        ]
    );
    let a = app.post("/api/v1/services", json!({"slug": "x", "name": "X", "owner_team": "payments", "tier": 2, "lifecycle": "retired"})).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.error_fields(), vec!["lifecycle"]);
    let a = app.post("/api/v1/services", json!({"slug": "x", "name": "X", "owner_team": "payments", "system": "nope", "tier": 2, "lifecycle": "production"})).await;
    assert_eq!(a.error_fields(), vec!["system"]);
    let a = app.post("/api/v1/services", json!({"slug": "checkout-api", "name": "X", "owner_team": "payments", "tier": 2, "lifecycle": "production"})).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn service_search_and_filters(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let all = |q: &'static str| {
        let app = &app;
        async move { slugs(&app.get(&format!("/api/v1/services{q}")).await.body) }
    };
    assert_eq!(
        all("").await,
        vec!["checkout-api", "payment-gateway", "search-indexer"]
    );
    assert_eq!(
        all("?q=GATE").await,
        vec!["payment-gateway"],
        "case-insensitive, in the slug"
    );
    assert_eq!(
        all("?q=pci").await,
        vec!["checkout-api", "payment-gateway"],
        "tags are searched"
    );
    assert_eq!(
        all("?q=pci%20go").await,
        vec!["checkout-api"],
        "every word must match"
    );
    assert_eq!(
        all("?q=100%25").await,
        Vec::<String>::new(),
        "wildcards are literal"
    );
    assert_eq!(all("?team=search").await, vec!["search-indexer"]);
    assert_eq!(
        all("?system=checkout&tier=1").await,
        vec!["checkout-api", "payment-gateway"]
    );
    assert_eq!(all("?tag=rust").await, vec!["search-indexer"]);
    assert_eq!(all("?lifecycle=experimental").await, Vec::<String>::new());
    assert_eq!(
        app.get("/api/v1/services?tier=7").await.error_fields(),
        vec!["tier"]
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn service_patch_changes_only_what_is_sent(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let p = app
        .patch("/api/v1/services/checkout-api", json!({"tier": 2, "system": null, "runbook_url": "https://runbooks.example.com/checkout", "tags": ["PCI", "pci", "java"]}))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert_eq!(p.body["tier"], 2);
    assert!(p.body["system"].is_null());
    assert_eq!(
        p.body["tags"],
        json!(["pci", "java"]),
        "tags are lower-cased and de-duplicated"
    );
    assert_eq!(p.body["name"], "Checkout Api", "untouched fields stay");
    let p = app
        .patch(
            "/api/v1/services/checkout-api",
            json!({"owner_team": "search"}),
        )
        .await;
    assert_eq!(p.body["owner_team"]["slug"], "search");
    let p = app
        .patch(
            "/api/v1/services/checkout-api",
            json!({"owner_team": "ghosts", "tier": 9}),
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p.error_fields(), vec!["tier"]);
    assert_eq!(
        app.patch("/api/v1/services/nope", json!({"tier": 2}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.patch("/api/v1/services/checkout-api", json!({"slug": "renamed"}))
            .await
            .error_fields(),
        vec!["slug"],
        "slugs never change"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn archived_services_leave_the_catalog_but_stay_readable(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let a = app
        .post("/api/v1/services/search-indexer/archive", json!({}))
        .await;
    assert_eq!(a.body["archived"], true);
    assert_eq!(
        slugs(&app.get("/api/v1/services").await.body),
        vec!["checkout-api", "payment-gateway"]
    );
    assert_eq!(
        slugs(&app.get("/api/v1/services?include_archived=true").await.body).len(),
        3
    );
    assert_eq!(
        app.get("/api/v1/services/search-indexer").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.post("/api/v1/services/search-indexer/archive", json!({}))
            .await
            .status,
        StatusCode::OK,
        "archiving twice is harmless"
    );
}

#[sqlx::test(migrator = "portolan_server::db::MIGRATOR")]
async fn dependencies_in_both_directions_with_cycles(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.scene().await;
    let put = |from: &'static str, to: &'static str, kind: &'static str| {
        let app = &app;
        async move {
            app.put(
                &format!("/api/v1/services/{from}/dependencies/{to}"),
                json!({"kind": kind}),
            )
            .await
        }
    };
    assert_eq!(
        put("checkout-api", "payment-gateway", "sync").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        put("checkout-api", "payment-gateway", "async").await.status,
        StatusCode::OK,
        "a second PUT changes the kind"
    );
    assert_eq!(
        put("checkout-api", "search-indexer", "data").await.status,
        StatusCode::CREATED
    );

    let d = app
        .get("/api/v1/services/checkout-api/dependencies")
        .await
        .body;
    let deps: Vec<(&str, &str)> = d["dependencies"]
        .as_array()
        .expect("deps")
        .iter()
        .map(|e| {
            (
                e["service"]["slug"].as_str().expect("slug"),
                e["kind"].as_str().expect("kind"),
            )
        })
        .collect();
    assert_eq!(
        deps,
        vec![("payment-gateway", "async"), ("search-indexer", "data")]
    );
    assert!(d["cycles"].as_array().expect("cycles").is_empty());
    let g = app
        .get("/api/v1/services/payment-gateway/dependencies")
        .await
        .body;
    assert_eq!(g["dependents"][0]["service"]["slug"], "checkout-api");

    // Close a loop: checkout → gateway → indexer → checkout.
    assert_eq!(
        put("payment-gateway", "search-indexer", "async")
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        put("search-indexer", "checkout-api", "sync").await.status,
        StatusCode::CREATED
    );
    let d = app
        .get("/api/v1/services/checkout-api/dependencies")
        .await
        .body;
    assert_eq!(
        d["cycles"],
        json!([
            ["checkout-api", "search-indexer", "checkout-api"],
            [
                "checkout-api",
                "payment-gateway",
                "search-indexer",
                "checkout-api"
            ]
        ])
    );

    let selfloop = put("checkout-api", "checkout-api", "sync").await;
    assert_eq!(selfloop.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(selfloop.error_fields(), vec!["to"]);
    assert_eq!(
        put("checkout-api", "ghost", "sync").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        put("ghost", "checkout-api", "sync").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.put(
            "/api/v1/services/checkout-api/dependencies/search-indexer",
            json!({"kind": "rpc"})
        )
        .await
        .error_fields(),
        vec!["kind"]
    );

    assert_eq!(
        app.delete("/api/v1/services/checkout-api/dependencies/search-indexer")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete("/api/v1/services/checkout-api/dependencies/search-indexer")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/services/ghost/dependencies").await.status,
        StatusCode::NOT_FOUND
    );
}
