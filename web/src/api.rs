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
}

impl ClientError {
    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }

    fn from_response(status: u16, body: &[u8]) -> Self {
        let message = serde_json::from_slice::<ErrorBody>(body)
            .map(|e| e.error.message)
            .unwrap_or_else(|_| format!("the server answered {status}"));
        Self { status, message }
    }
}

fn decode<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, ClientError> {
    if !(200..300).contains(&status) {
        return Err(ClientError::from_response(status, body));
    }
    serde_json::from_slice(body).map_err(|e| ClientError {
        status: 0,
        message: format!("the answer could not be read: {e}"),
    })
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
                    return Err(ClientError {
                        status: 0,
                        message: "no API is available while rendering".into(),
                    });
                };
                let (status, body) = transport
                    .get(path, headers)
                    .await
                    .map_err(|message| ClientError { status: 0, message })?;
                decode(status, &body)
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
                let (status, body) = fetch(&path)
                    .await
                    .map_err(|message| ClientError { status: 0, message })?;
                decode(status, body.as_bytes())
            })
        }
    }

    #[cfg(feature = "hydrate")]
    async fn fetch(path: &str) -> Result<(u16, String), String> {
        use wasm_bindgen::JsCast;
        use wasm_bindgen_futures::JsFuture;
        let window = web_sys::window().ok_or("no window")?;
        let init = web_sys::RequestInit::new();
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        let request = web_sys::Request::new_with_str_and_init(path, &init)
            .map_err(|_| "bad request".to_string())?;
        let _ = request.headers().set("accept", "application/json");
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
    async fn fetch(_path: &str) -> Result<(u16, String), String> {
        Err("the API client needs the ssr or hydrate feature".into())
    }
}

#[cfg(not(feature = "ssr"))]
pub use browser_side::{Api, use_api};
#[cfg(feature = "ssr")]
pub use server_side::{Api, BoxFuture, InProcessApi, Transport, use_api};

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
