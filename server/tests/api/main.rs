//! Integration tests: every endpoint through the real router, against a real Postgres.
//! `#[sqlx::test]` gives each test its own freshly migrated database (from DATABASE_URL).

mod actions;
mod audit;
mod auth;
mod azure_devops;
mod catalog;
mod deployments;
mod environments;
mod gate_cli;
mod incidents;
mod live;
mod notifications;
mod permissions;
mod platform;
mod postmortems;
mod promotions;
mod seed;
mod tokens;
mod webhooks;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use portolan_server::auth::session::{self, Identity};
use portolan_server::config::Config;
use portolan_server::{AppState, build_app};
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

/// How a test's requests authenticate.
#[derive(Clone, Debug)]
pub enum Auth {
    Anonymous,
    /// A browser session: the cookie, and the CSRF token that changes carry.
    Session {
        cookie: String,
        csrf: String,
    },
    /// An API token.
    Bearer(String),
}

#[derive(Clone)]
pub struct TestApp {
    pub router: Router,
    pub pool: PgPool,
    pub auth: Auth,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// The names of the fields a validation error points at.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["error"]["fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["field"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Opens a session for someone with these app roles (as sign-in would) and returns the cookie
/// and CSRF token.
pub async fn session_for(pool: &PgPool, login: &str, roles: &[&str], groups: &[&str]) -> Auth {
    let who = Identity {
        tenant_id: "test-tenant".into(),
        object_id: login.into(),
        display_name: format!("Test {login}"),
        email: Some(format!("{login}@test.invalid")),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        groups_overage: false,
    };
    session_of(pool, &who).await
}

/// Opens a session for this person, as signing in would, and returns the cookie and CSRF token.
pub async fn session_of(pool: &PgPool, who: &Identity) -> Auth {
    let token = session::sign_in(pool, who, None).await.expect("sign in");
    let csrf = session::lookup(pool, &token)
        .await
        .expect("lookup")
        .expect("a live session")
        .me
        .csrf_token;
    Auth::Session {
        cookie: format!("{}={token}", portolan_server::auth::SESSION_COOKIE),
        csrf,
    }
}

impl TestApp {
    /// The application with nothing configured, and requests made by a signed-in admin.
    pub async fn new(pool: PgPool) -> Self {
        Self::with_config(pool, Config::default()).await
    }

    pub async fn with_config(pool: PgPool, config: Config) -> Self {
        let router = build_app(AppState::new(pool.clone(), config).expect("state"));
        let auth = session_for(&pool, "admin", &["admin"], &[]).await;
        Self { router, pool, auth }
    }

    /// The same application, with requests made as someone with these app roles.
    pub async fn as_roles(&self, login: &str, roles: &[&str]) -> Self {
        let mut other = self.clone();
        other.auth = session_for(&self.pool, login, roles, &[]).await;
        other
    }

    pub fn with_auth(&self, auth: Auth) -> Self {
        let mut other = self.clone();
        other.auth = auth;
        other
    }

    pub fn anonymous(&self) -> Self {
        self.with_auth(Auth::Anonymous)
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        let body = match body {
            Some(v) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).expect("request")).await
    }

    /// Sends a request as this app's caller (unless it carries its own credentials).
    pub async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.open(req).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// Sends a request as this app's caller and returns the response as it starts, its body
    /// not yet read (for streams).
    pub async fn open(&self, mut req: Request<Body>) -> axum::response::Response {
        let h = req.headers_mut();
        if !h.contains_key(header::COOKIE) && !h.contains_key(header::AUTHORIZATION) {
            match &self.auth {
                Auth::Anonymous => {}
                Auth::Session { cookie, csrf } => {
                    h.insert(header::COOKIE, cookie.parse().expect("cookie"));
                    h.insert("x-csrf-token", csrf.parse().expect("csrf"));
                }
                Auth::Bearer(t) => {
                    h.insert(
                        header::AUTHORIZATION,
                        format!("Bearer {t}").parse().expect("token"),
                    );
                }
            }
        }
        self.router.clone().oneshot(req).await.expect("infallible")
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.request(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.request(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.request(Method::PATCH, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.request(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Answer {
        self.request(Method::DELETE, path, None).await
    }

    /// Posts and insists on 201: for building the scene of a test.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let a = self.post(path, body).await;
        assert_eq!(a.status, StatusCode::CREATED, "POST {path}: {}", a.text);
        a.body
    }

    /// A small organisation: two teams, one system, three services, dev → staging → prod.
    pub async fn scene(&self) {
        self.create(
            "/api/v1/teams",
            json!({"slug": "payments", "name": "Payments"}),
        )
        .await;
        self.create("/api/v1/teams", json!({"slug": "search", "name": "Search"}))
            .await;
        self.create(
            "/api/v1/systems",
            json!({"slug": "checkout", "name": "Checkout", "owner_team": "payments"}),
        )
        .await;
        for (slug, team, tier, tags) in [
            ("checkout-api", "payments", 1, json!(["pci", "go"])),
            ("payment-gateway", "payments", 1, json!(["pci"])),
            ("search-indexer", "search", 3, json!(["rust"])),
        ] {
            self.create(
                "/api/v1/services",
                json!({"slug": slug, "name": title(slug), "owner_team": team, "tier": tier,
                       "lifecycle": "production", "tags": tags,
                       "system": if team == "payments" { json!("checkout") } else { Value::Null },
                       "description": format!("The {slug}")}),
            )
            .await;
        }
        for (slug, prod) in [("dev", false), ("staging", false), ("prod", true)] {
            self.create(
                "/api/v1/environments",
                json!({"slug": slug, "name": title(slug), "is_production": prod}),
            )
            .await;
        }
    }
}

pub fn title(slug: &str) -> String {
    slug.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn slugs(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["slug"].as_str().expect("slug").to_string())
        .collect()
}
