//! One error type for the HTTP layer, answered as the JSON envelope of `portolan_api::ErrorBody`.
//!
//! Client mistakes (4xx) say what was wrong and where. Server faults (5xx) are logged with their
//! details and answered with a bare message and the request id: internals never reach a response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portolan_api::{ErrorBody, ErrorDetail, FieldError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request body or query is well-formed but some fields are invalid (422).
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// The request cannot be understood at all: bad JSON, wrong content type (400).
    #[error("{0}")]
    BadRequest(String),
    /// The request needs a signed-in person or a token, and has neither (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this; the message says why (403).
    #[error("{0}")]
    Forbidden(String),
    /// The named resource does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with the current state: a duplicate slug, an illegal transition (409).
    #[error("{0}")]
    Conflict(String),
    /// The request refers to something that does not exist or cannot be used (422).
    #[error("{0}")]
    Unprocessable(String),
    /// The request body is larger than the endpoint takes (413).
    #[error("{0}")]
    TooLarge(String),
    /// The endpoint is switched off by the configuration; the message names the setting (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: a bug or an outage. Logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn not_found(what: &str, key: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{what} '{key}' does not exist"))
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<sqlx::Error> for AppError {
    /// Constraint violations that slip past validation still become 409/422 with a reason,
    /// named after the constraint; everything else is internal.
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if let Some(mapped) = db.constraint().and_then(constraint_error) {
                return mapped;
            }
            match db.code().as_deref() {
                Some("40001" | "40P01") => {
                    return Self::Conflict("the change raced another one; try again".into());
                }
                // Text Postgres cannot store (a NUL character), from any field or parameter.
                Some("22021" | "22P05") => {
                    return Self::BadRequest(
                        "text must not contain NUL (\\u0000) characters".into(),
                    );
                }
                Some("22001" | "22003") => {
                    return Self::BadRequest("a value is too long or out of range".into());
                }
                _ => {}
            }
        }
        Self::Internal(err.into())
    }
}

fn constraint_error(constraint: &str) -> Option<AppError> {
    let e = match constraint {
        "teams_slug_key" => AppError::Conflict("a team with this slug already exists".into()),
        "systems_slug_key" => AppError::Conflict("a system with this slug already exists".into()),
        "services_slug_key" => AppError::Conflict("a service with this slug already exists".into()),
        "environments_slug_key" => {
            AppError::Conflict("an environment with this slug already exists".into())
        }
        "deployments_source_external_id_key" => AppError::Conflict(
            "a deployment with this source and external_id already exists".into(),
        ),
        "service_dependencies_pkey" => AppError::Conflict("this dependency already exists".into()),
        "service_dependencies_no_self_loop" => {
            AppError::field("to", "a service cannot depend on itself")
        }
        "deployments_finished_after_started" => {
            AppError::field("finished_at", "must not be before started_at")
        }
        "deployment_changes_pkey" => AppError::field("changes", "the same sha appears twice"),
        // Reopening an incident while a newer one opened by the same alert is open.
        "incidents_live_external_key" => AppError::Conflict(
            "another open incident follows the same alert; merge this one into it instead of \
             reopening it"
                .into(),
        ),
        _ => return None,
    };
    Some(e)
}

tokio::task_local! {
    /// The id of the request being served, for error bodies; set by the request-id middleware.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let request_id = current_request_id();
        let (message, fields) = match self {
            Self::Validation(fields) => {
                let message = match fields.as_slice() {
                    [one] => format!("{}: {}", one.field, one.message),
                    _ => format!("{} fields are invalid", fields.len()),
                };
                (message, fields)
            }
            Self::Internal(err) => {
                tracing::error!(error = ?err, request_id = request_id.as_deref().unwrap_or("-"), "internal error");
                (
                    "something went wrong on our side; it has been logged".to_string(),
                    vec![],
                )
            }
            Self::BadRequest(m)
            | Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::Unprocessable(m)
            | Self::TooLarge(m)
            | Self::Unavailable(m) => (m, vec![]),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
                fields,
                request_id,
            },
        };
        let mut res = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"portolan\""),
            );
        }
        res
    }
}

impl AppError {
    /// Nobody is signed in and no token was sent.
    pub fn sign_in_first() -> Self {
        Self::Unauthenticated(
            "sign in first: no session cookie or API token was sent (see /api/docs, Authentication)"
                .into(),
        )
    }
}

/// Collects field errors while validating an input, then fails once with all of them.
#[derive(Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
    /// Records the error of a parse, keeping the value when it is fine.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(m) => {
                self.add(field, m);
                None
            }
        }
    }
    pub fn finish(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}
