//! The one typed client the UI uses to reach data, over the REST contract (`/api/v1`).
//!
//! In the browser it calls the API with `fetch`. During server-side rendering the server puts an
//! [`InProcessApi`] into Leptos context: it calls the same API router in-process, forwarding the
//! viewer's own headers (so the same session and permissions apply), with no network hop.

use std::future::Future;

use portolan_api::ErrorBody;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Why a call failed, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientError {
    /// HTTP status, or 0 when the API could not be reached at all.
    pub status: u16,
    pub message: String,
    /// For a refused change: each bad field and what is wrong with it.
    #[serde(default)]
    pub fields: Vec<portolan_api::FieldError>,
}

impl ClientError {
    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }

    /// A failure before any answer arrived.
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self {
            status: 0,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    fn from_response(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(e) => Self {
                status,
                message: e.error.message,
                fields: e.error.fields,
            },
            Err(_) => Self {
                status,
                message: format!("the server answered {status}"),
                fields: Vec::new(),
            },
        }
    }
}

fn decode<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, ClientError> {
    if !(200..300).contains(&status) {
        return Err(ClientError::from_response(status, body));
    }
    serde_json::from_slice(body)
        .map_err(|e| ClientError::unreachable(format!("the answer could not be read: {e}")))
}

#[cfg(feature = "ssr")]
mod server_side {
    use std::pin::Pin;
    use std::sync::Arc;

    use super::*;

    pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

    /// Implemented by the server: answers an API GET in-process.
    pub trait Transport: Send + Sync + 'static {
        /// `path_and_query` starts with `/api/`. Returns the status and the body.
        fn get(
            &self,
            path_and_query: String,
            headers: http::HeaderMap,
        ) -> BoxFuture<Result<(u16, Vec<u8>), String>>;
    }

    /// Put into Leptos context by the server for every server-side render.
    #[derive(Clone)]
    pub struct InProcessApi(pub Arc<dyn Transport>);

    #[derive(Clone)]
    pub struct Api {
        pub(super) transport: Option<Arc<dyn Transport>>,
        pub(super) headers: http::HeaderMap,
    }

    /// Headers of the viewer's request that the API needs to act as them.
    const FORWARDED: [http::HeaderName; 3] = [
        http::header::COOKIE,
        http::header::AUTHORIZATION,
        http::header::ACCEPT_LANGUAGE,
    ];

    pub fn use_api() -> Api {
        let transport = leptos::prelude::use_context::<InProcessApi>().map(|a| a.0);
        let mut headers = http::HeaderMap::new();
        if let Some(parts) = leptos::prelude::use_context::<http::request::Parts>() {
            for name in FORWARDED {
                if let Some(v) = parts.headers.get(&name) {
                    headers.insert(name, v.clone());
                }
            }
        }
        Api { transport, headers }
    }

    impl Api {
        pub fn get<T: DeserializeOwned + Send + 'static>(
            &self,
            path: String,
        ) -> impl Future<Output = Result<T, ClientError>> + Send + use<T> {
            let transport = self.transport.clone();
            let headers = self.headers.clone();
            async move {
                let Some(transport) = transport else {
                    return Err(ClientError::unreachable(
                        "no API is available while rendering",
                    ));
                };
                let (status, body) = transport
                    .get(path, headers)
                    .await
                    .map_err(ClientError::unreachable)?;
                decode(status, &body)
            }
        }

        /// Changes are made from the browser only; while rendering there is nothing to change.
        pub fn send<T: DeserializeOwned + Send + 'static>(
            &self,
            _change: Change,
        ) -> impl Future<Output = Result<T, ClientError>> + Send + use<T> {
            async move {
                Err(ClientError::unreachable(
                    "changes are made from the browser",
                ))
            }
        }
    }
}

#[cfg(not(feature = "ssr"))]
mod browser_side {
    use super::*;

    #[derive(Clone, Default)]
    pub struct Api;

    pub fn use_api() -> Api {
        Api
    }

    impl Api {
        pub fn get<T: DeserializeOwned + Send + 'static>(
            &self,
            path: String,
        ) -> impl Future<Output = Result<T, ClientError>> + Send + use<T> {
            // Browser futures are not Send; the UI runs on one thread, so wrapping is sound.
            send_wrapper::SendWrapper::new(async move {
                let (status, body) = fetch("GET", &path, None, None)
                    .await
                    .map_err(ClientError::unreachable)?;
                decode(status, body.as_bytes())
            })
        }

        /// Makes a change as the signed-in person (with their session's CSRF token).
        pub fn send<T: DeserializeOwned + Send + 'static>(
            &self,
            change: Change,
        ) -> impl Future<Output = Result<T, ClientError>> + Send + use<T> {
            send_wrapper::SendWrapper::new(async move {
                let (status, body) = fetch(
                    change.method,
                    &change.path,
                    change.body.as_deref(),
                    Some(&change.csrf_token),
                )
                .await
                .map_err(ClientError::unreachable)?;
                decode(status, body.as_bytes())
            })
        }
    }

    #[cfg(feature = "hydrate")]
    async fn fetch(
        method: &str,
        path: &str,
        body: Option<&str>,
        csrf_token: Option<&str>,
    ) -> Result<(u16, String), String> {
        use wasm_bindgen::JsCast;
        use wasm_bindgen_futures::JsFuture;
        let window = web_sys::window().ok_or("no window")?;
        let init = web_sys::RequestInit::new();
        init.set_method(method);
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        if let Some(body) = body {
            init.set_body(&wasm_bindgen::JsValue::from_str(body));
        }
        let request = web_sys::Request::new_with_str_and_init(path, &init)
            .map_err(|_| "bad request".to_string())?;
        let _ = request.headers().set("accept", "application/json");
        if body.is_some() {
            let _ = request.headers().set("content-type", "application/json");
        }
        if let Some(token) = csrf_token {
            let _ = request.headers().set("x-csrf-token", token);
        }
        let response = JsFuture::from(window.fetch_with_request(&request))
            .await
            .map_err(|_| "the server could not be reached; check your connection".to_string())?;
        let response: web_sys::Response = response
            .dyn_into()
            .map_err(|_| "not a response".to_string())?;
        let status = response.status();
        let text = JsFuture::from(response.text().map_err(|_| "no body".to_string())?)
            .await
            .map_err(|_| "the answer was cut off".to_string())?;
        Ok((status, text.as_string().unwrap_or_default()))
    }

    #[cfg(not(feature = "hydrate"))]
    async fn fetch(
        _method: &str,
        _path: &str,
        _body: Option<&str>,
        _csrf_token: Option<&str>,
    ) -> Result<(u16, String), String> {
        Err("the API client needs the ssr or hydrate feature".into())
    }
}

#[cfg(not(feature = "ssr"))]
pub use browser_side::{Api, use_api};
#[cfg(feature = "ssr")]
pub use server_side::{Api, BoxFuture, InProcessApi, Transport, use_api};

/// A change to make through the API: method, path, JSON body, and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Change {
    pub method: &'static str,
    pub path: String,
    pub body: Option<String>,
    pub csrf_token: String,
}

impl Change {
    pub fn post(path: String, body: &impl Serialize, csrf_token: String) -> Self {
        Self {
            method: "POST",
            path,
            // Our wire types always serialise.
            body: serde_json::to_string(body).ok(),
            csrf_token,
        }
    }

    pub fn patch(path: String, body: &impl Serialize, csrf_token: String) -> Self {
        Self {
            method: "PATCH",
            ..Self::post(path, body, csrf_token)
        }
    }

    pub fn put(path: String, body: &impl Serialize, csrf_token: String) -> Self {
        Self {
            method: "PUT",
            ..Self::post(path, body, csrf_token)
        }
    }

    pub fn delete(path: String, csrf_token: String) -> Self {
        Self {
            method: "DELETE",
            path,
            body: None,
            csrf_token,
        }
    }
}

/// Builds `/api/v1/<path>?<query>` from pairs, skipping empty values.
pub fn api_url(path: &str, query: &[(&str, Option<String>)]) -> String {
    let mut url = format!("/api/v1/{path}");
    let mut first = true;
    for (k, v) in query {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            url.push(if first { '?' } else { '&' });
            first = false;
            url.push_str(k);
            url.push('=');
            url.push_str(&encode(v));
        }
    }
    url
}

/// Percent-encodes a query value.
pub fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_skip_empty_values_and_encode() {
        assert_eq!(
            api_url(
                "services",
                &[
                    ("q", Some("a b&c".into())),
                    ("team", Some(String::new())),
                    ("tier", None),
                    ("limit", Some("50".into()))
                ]
            ),
            "/api/v1/services?q=a%20b%26c&limit=50"
        );
        assert_eq!(api_url("teams", &[]), "/api/v1/teams");
    }

    #[test]
    fn errors_carry_the_envelope_message() {
        let body = br#"{"error":{"code":"not_found","message":"service 'x' does not exist"}}"#;
        let err = decode::<serde_json::Value>(404, body).expect_err("404 is an error");
        assert!(err.is_not_found());
        assert_eq!(err.message, "service 'x' does not exist");
        let err = decode::<serde_json::Value>(502, b"<html>").expect_err("502 is an error");
        assert_eq!(err.message, "the server answered 502");
    }
}
