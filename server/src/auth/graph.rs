//! Looking a person's groups up in Microsoft Graph at sign-in (`PORTOLAN_GRAPH_GROUPS`), for an ID
//! token that carries the groups-overage marker instead of a `groups` claim.
//!
//! Portolan asks the identity provider's token endpoint for an app-only access token (the client
//! credentials grant, with the sign-in's client id and secret and the scope `<graph>/.default`),
//! keeps it in memory until shortly before it expires, and asks
//! `POST <graph>/v1.0/users/{oid}/getMemberObjects` for the ids of the person's groups. This needs
//! the application permission `GroupMember.Read.All`, with admin consent. No token or secret is
//! ever part of an error here, so errors may be logged as they are.

use std::time::{Duration, Instant};

use openidconnect::reqwest::{self, header};
use openidconnect::{AccessToken, OAuth2TokenResponse, Scope};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::config::GraphConfig;

/// The app-only token is fetched anew this long before it expires.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(300);
/// The most of Graph's answer Portolan reads: thousands of group ids fit comfortably.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The longest error code from Graph that is reported.
const MAX_CODE_CHARS: usize = 80;

/// Why the lookup failed, for the log (never a token or secret).
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error(
        "no app-only token for Microsoft Graph: the identity provider could not be reached ({0})"
    )]
    TokenUnreachable(String),
    #[error("no app-only token for Microsoft Graph: {0}")]
    TokenRefused(String),
    #[error("Microsoft Graph answered HTTP {status} ({code})")]
    Status { status: u16, code: String },
    #[error("Microsoft Graph could not be reached: {0}")]
    Unreachable(String),
    #[error("Microsoft Graph's answer could not be read: {0}")]
    Malformed(String),
}

struct CachedToken {
    token: AccessToken,
    renew_at: Instant,
}

/// The lookup, with the app-only token it keeps between sign-ins.
pub struct GraphGroups {
    config: GraphConfig,
    token: Mutex<Option<CachedToken>>,
}

impl GraphGroups {
    pub fn new(config: GraphConfig) -> Self {
        Self {
            config,
            token: Mutex::new(None),
        }
    }

    /// The ids of the groups (and other directory objects) `oid` is a member of.
    pub async fn member_objects(
        &self,
        client: &super::oidc::Client,
        http: &reqwest::Client,
        oid: &str,
    ) -> Result<Vec<String>, GraphError> {
        let url = member_objects_url(&self.config.url, oid)?;
        let token = self.token(client, http).await?;
        let res = http
            .post(url)
            .bearer_auth(token.secret())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(serde_json::json!({ "securityEnabledOnly": false }).to_string())
            .send()
            .await
            .map_err(|e| GraphError::Unreachable(e.to_string()))?;
        let status = res.status();
        let body = read_capped(res).await?;
        if !status.is_success() {
            if status == reqwest::StatusCode::UNAUTHORIZED {
                // Revoked or otherwise no longer good: the next sign-in fetches a new one.
                *self.token.lock().await = None;
            }
            return Err(GraphError::Status {
                status: status.as_u16(),
                code: error_code(&body),
            });
        }
        parse_member_objects(&body)
    }

    /// The app-only token: the kept one while it is fresh, else a new one (then kept).
    async fn token(
        &self,
        client: &super::oidc::Client,
        http: &reqwest::Client,
    ) -> Result<AccessToken, GraphError> {
        // Held while fetching, so that sign-ins at the same moment share one request.
        let mut kept = self.token.lock().await;
        let now = Instant::now();
        if let Some(t) = kept.as_ref().filter(|t| now < t.renew_at) {
            return Ok(t.token.clone());
        }
        *kept = None;
        let answer = client
            .exchange_client_credentials()
            .map_err(|_| {
                GraphError::TokenRefused(
                    "the identity provider's discovery document names no token endpoint".into(),
                )
            })?
            .add_scope(Scope::new(self.config.scope()))
            .request_async(http)
            .await
            .map_err(|e| match &e {
                openidconnect::RequestTokenError::Request(_) => {
                    GraphError::TokenUnreachable(super::oidc::token_error_text(&e))
                }
                _ => GraphError::TokenRefused(super::oidc::token_error_text(&e)),
            })?;
        let token = answer.access_token().clone();
        if let Some(renew_at) = answer.expires_in().and_then(|d| renew_at(now, d)) {
            *kept = Some(CachedToken {
                token: token.clone(),
                renew_at,
            });
        }
        Ok(token)
    }
}

/// When a token that lives `lifetime` from `now` is to be renewed; `None`: too short to keep.
fn renew_at(now: Instant, lifetime: Duration) -> Option<Instant> {
    lifetime
        .checked_sub(RENEW_BEFORE_EXPIRY)
        .filter(|d| !d.is_zero())
        .map(|d| now + d)
}

/// `<graph>/v1.0/users/{oid}/getMemberObjects`, the object id as one percent-encoded segment.
fn member_objects_url(base: &url::Url, oid: &str) -> Result<url::Url, GraphError> {
    // The URL builder drops these segments rather than encoding them.
    if matches!(oid, "" | "." | "..") {
        return Err(GraphError::Malformed(format!(
            "'{oid}' is not an object id to ask Graph about"
        )));
    }
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| GraphError::Malformed("the Graph URL cannot take a path".into()))?
        .pop_if_empty()
        .extend(["v1.0", "users", oid, "getMemberObjects"]);
    Ok(url)
}

/// Reads the answer, refusing more than [`MAX_ANSWER_BYTES`].
async fn read_capped(mut res: reqwest::Response) -> Result<Vec<u8>, GraphError> {
    let too_large = || {
        GraphError::Malformed(format!(
            "the answer is larger than {MAX_ANSWER_BYTES} bytes"
        ))
    };
    if res
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| GraphError::Unreachable(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: GraphErrorDetail,
}

#[derive(Deserialize)]
struct GraphErrorDetail {
    code: String,
}

/// Graph's error code (`{"error": {"code": …}}`), made safe to log; a placeholder without one.
fn error_code(body: &[u8]) -> String {
    let code: String = serde_json::from_slice::<GraphErrorBody>(body)
        .map(|b| b.error.code)
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(MAX_CODE_CHARS)
        .collect();
    if code.is_empty() {
        "no Graph error code".into()
    } else {
        code
    }
}

#[derive(Deserialize)]
struct MemberObjects {
    value: Vec<String>,
}

/// The ids in `{"value": [...]}`: directory object ids, which are GUIDs.
fn parse_member_objects(body: &[u8]) -> Result<Vec<String>, GraphError> {
    let answer: MemberObjects = serde_json::from_slice(body)
        .map_err(|e| GraphError::Malformed(format!("not {{\"value\": [<object id>, …]}} ({e})")))?;
    if let Some(bad) = answer.value.iter().find(|id| {
        id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    }) {
        let shown: String = bad.chars().take(MAX_CODE_CHARS).collect();
        return Err(GraphError::Malformed(format!(
            "'{}' is not an object id",
            shown.escape_default()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    Ok(answer
        .value
        .into_iter()
        .filter(|id| seen.insert(id.to_ascii_lowercase()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_id_is_one_encoded_path_segment_below_the_base() {
        let global: url::Url = "https://graph.microsoft.com".parse().expect("url");
        assert_eq!(
            member_objects_url(&global, "aaaaaaaa-0000-4000-8000-000000000009")
                .expect("url")
                .as_str(),
            "https://graph.microsoft.com/v1.0/users/aaaaaaaa-0000-4000-8000-000000000009/getMemberObjects"
        );
        let below: url::Url = "http://127.0.0.1:9/graph/".parse().expect("url");
        assert_eq!(
            member_objects_url(&below, "a/b?c#d e%")
                .expect("url")
                .as_str(),
            "http://127.0.0.1:9/graph/v1.0/users/a%2Fb%3Fc%23d%20e%25/getMemberObjects"
        );
        for bad in ["", ".", ".."] {
            assert!(member_objects_url(&global, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn graph_error_codes_are_read_and_made_safe_to_log() {
        assert_eq!(
            error_code(br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}"#),
            "Authorization_RequestDenied"
        );
        assert_eq!(
            error_code(br#"{"error":{"code":"evil\n2026 INFO forged line"}}"#),
            "evil2026INFOforgedline"
        );
        assert_eq!(error_code(&[b'x'; 300]), "no Graph error code");
        assert_eq!(
            error_code(b"<html>Bad gateway</html>"),
            "no Graph error code"
        );
        let long = format!(r#"{{"error":{{"code":"{}"}}}}"#, "A".repeat(500));
        assert_eq!(error_code(long.as_bytes()).len(), MAX_CODE_CHARS);
    }

    #[test]
    fn the_answer_is_a_list_of_object_ids() {
        assert_eq!(
            parse_member_objects(
                br#"{"@odata.context":"x","value":["bbbbbbbb-0000-4000-8000-000000000001","BBBBBBBB-0000-4000-8000-000000000002"]}"#
            )
            .expect("ids"),
            vec![
                "bbbbbbbb-0000-4000-8000-000000000001",
                "BBBBBBBB-0000-4000-8000-000000000002"
            ]
        );
        assert!(
            parse_member_objects(br#"{"value":[]}"#)
                .expect("none")
                .is_empty()
        );
        for bad in [
            &br#"{"values":[]}"#[..],
            br#"{"value":"bbbbbbbb"}"#,
            br#"{"value":[1,2]}"#,
            br#"{"value":[""]}"#,
            br#"{"value":["<script>"]}"#,
            b"[]",
            b"",
        ] {
            assert!(
                matches!(parse_member_objects(bad), Err(GraphError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn a_token_is_kept_until_shortly_before_it_expires() {
        let now = Instant::now();
        assert_eq!(
            renew_at(now, Duration::from_secs(3600)),
            Some(now + Duration::from_secs(3300))
        );
        assert_eq!(
            renew_at(now, RENEW_BEFORE_EXPIRY),
            None,
            "too short to keep"
        );
        assert_eq!(renew_at(now, Duration::from_secs(30)), None);
    }

    #[test]
    fn errors_say_what_failed() {
        let e = GraphError::Status {
            status: 403,
            code: "Authorization_RequestDenied".into(),
        };
        assert_eq!(
            e.to_string(),
            "Microsoft Graph answered HTTP 403 (Authorization_RequestDenied)"
        );
    }
}
