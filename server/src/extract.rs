//! Extractors that answer bad input in the API's own error envelope, naming the field at fault.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// JSON body. Unlike `axum::Json`, a rejection names the path of the bad field
/// (`changes[1].committed_at`) and uses the JSON error envelope.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let mime = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(AppError::BadRequest(
                "expected a JSON body with the header 'content-type: application/json'".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError::BadRequest(format!("could not read the request body: {e}")))?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| path_error(err, None))
}

/// Reads one part of a document parsed before (`at` is where it sits, e.g. `event.data`); a
/// rejection names the bad field by its whole path (`event.data.id`), as [`parse_json`] does.
pub fn parse_value_at<T: DeserializeOwned>(
    value: &serde_json::Value,
    at: &str,
) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value).map_err(|err| path_error(err, Some(at)))
}

fn path_error(err: serde_path_to_error::Error<serde_json::Error>, at: Option<&str>) -> AppError {
    let path = match (err.path().to_string(), at) {
        (p, Some(at)) if p == "." => at.to_string(),
        (p, Some(at)) => format!("{at}.{p}"),
        (p, None) => p,
    };
    let inner = err.into_inner();
    let message = inner.to_string();
    // Strip serde's " at line 1 column 5" tail: the path says where.
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    if inner.is_syntax() || inner.is_eof() {
        AppError::BadRequest(format!("the body is not valid JSON: {message}"))
    } else if path == "." {
        AppError::field("body", message)
    } else {
        AppError::field(path, message)
    }
}

/// Query string. A rejection names the bad parameter in the error envelope.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded_deserializer(query);
        de.map(ApiQuery)
    }
}

fn serde_urlencoded_deserializer<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    // axum re-exports serde_urlencoded through its Query extractor only; use it via Query's parser.
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| AppError::BadRequest("malformed query string".into()))?,
    )
    .map(|q| q.0)
    .map_err(|e| {
        let text = e.body_text();
        let text = text.trim_start_matches("Failed to deserialize query string: ");
        AppError::BadRequest(format!("invalid query parameter: {text}"))
    })
}
