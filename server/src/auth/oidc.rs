//! The OpenID Connect relying party: discovery, the authorization URL, and the checked answer.

use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse, reqwest,
};
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::graph::GraphGroups;
use super::session::Identity;
use crate::config::OidcConfig;

/// Why a sign-in failed, in words for the person and without secrets.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the identity provider could not be reached; try again in a moment")]
    ProviderUnreachable(#[source] anyhow::Error),
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    #[error("the identity provider's answer could not be trusted: {0}")]
    Untrusted(String),
}

pub struct Oidc {
    pub config: OidcConfig,
    http: reqwest::Client,
    metadata: OnceCell<ProviderMetadataWithLogout>,
    /// Groups looked up in Microsoft Graph for ID tokens with the overage marker, when configured.
    graph: Option<GraphGroups>,
}

/// The client built from the provider's discovery document.
pub(super) type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Extra claims Entra ID puts in the ID token, read after the token has been verified.
#[derive(Debug, Deserialize)]
struct EntraClaims {
    oid: Option<String>,
    tid: Option<String>,
    name: Option<String>,
    preferred_username: Option<String>,
    email: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(rename = "_claim_names", default)]
    claim_names: Option<serde_json::Map<String, serde_json::Value>>,
}

pub struct Started {
    pub url: url::Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl Oidc {
    pub fn new(config: OidcConfig) -> anyhow::Result<Self> {
        let http = reqwest::ClientBuilder::new()
            // Following redirects from the provider's endpoints opens the door to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        let graph = config.graph.clone().map(GraphGroups::new);
        Ok(Self {
            config,
            http,
            metadata: OnceCell::new(),
            graph,
        })
    }

    pub fn redirect_uri(&self) -> String {
        let base = self.config.public_url.as_str().trim_end_matches('/');
        format!("{base}/auth/callback")
    }

    /// Discovery, done once and kept (a failure is retried on the next sign-in).
    async fn metadata(&self) -> Result<&ProviderMetadataWithLogout, SignInError> {
        self.metadata
            .get_or_try_init(|| async {
                let issuer = IssuerUrl::new(self.config.issuer.clone())
                    .map_err(|e| SignInError::ProviderUnreachable(e.into()))?;
                ProviderMetadataWithLogout::discover_async(issuer, &self.http)
                    .await
                    .map_err(|e| {
                        SignInError::ProviderUnreachable(anyhow::anyhow!("discovery failed: {e}"))
                    })
            })
            .await
    }

    async fn client(&self) -> Result<Client, SignInError> {
        let metadata = self.metadata().await?.clone();
        let redirect = RedirectUrl::new(self.redirect_uri())
            .map_err(|e| SignInError::ProviderUnreachable(e.into()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose().to_string(),
            )),
        )
        .set_redirect_uri(redirect))
    }

    /// The URL to send the browser to, with fresh state, nonce and PKCE challenge.
    pub async fn start(&self, login_hint: Option<&str>) -> Result<Started, SignInError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge);
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and verifies the ID token (signature, issuer, audience, expiry, nonce).
    /// An ID token with the groups-overage marker has the person's groups looked up in Microsoft
    /// Graph when that is configured; if that fails, they sign in all the same, without them.
    pub async fn finish(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Identity, SignInError> {
        let client = self.client().await?;
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| SignInError::Refused(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| match &e {
                // The provider answered with an OAuth error: it refused.
                openidconnect::RequestTokenError::ServerResponse(_) => {
                    SignInError::Refused(token_error_text(&e))
                }
                // It could not be reached, or did not answer in time.
                openidconnect::RequestTokenError::Request(_) => {
                    SignInError::ProviderUnreachable(anyhow::anyhow!(token_error_text(&e)))
                }
                _ => SignInError::Untrusted(token_error_text(&e)),
            })?;
        let id_token = token
            .id_token()
            .ok_or_else(|| SignInError::Untrusted("no ID token in the answer".into()))?;
        id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_string()))
            .map_err(|e| SignInError::Untrusted(e.to_string()))?;
        // Verified above: now read the claims the standard types do not model.
        let payload = id_token.to_string();
        let claims: EntraClaims = payload
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| {
                SignInError::Untrusted("the ID token's claims could not be read".into())
            })?;
        let mut who = identity_from(claims)?;
        if who.groups_overage
            && let Some(graph) = &self.graph
        {
            match graph
                .member_objects(&client, &self.http, &who.object_id)
                .await
            {
                Ok(groups) => {
                    who.groups = groups;
                    who.groups_overage = false;
                }
                Err(e) => tracing::warn!(
                    tid = %who.tenant_id,
                    oid = %who.object_id,
                    error = %e,
                    "looking the person's groups up in Microsoft Graph failed; they sign in \
                     without roles given through groups"
                ),
            }
        }
        Ok(who)
    }

    pub async fn end_session_url(&self) -> Option<url::Url> {
        let metadata = self.metadata().await.ok()?;
        let end = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()?;
        let mut url = end.url().clone();
        let back = self
            .config
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_string()
            + "/";
        url.query_pairs_mut()
            .append_pair("client_id", &self.config.client_id)
            .append_pair("post_logout_redirect_uri", &back);
        Some(url)
    }
}

pub(super) fn token_error_text<E: std::error::Error>(e: &E) -> String {
    // The provider's error code and description; never the request (it carries the secret).
    match e.source() {
        Some(s) => s.to_string(),
        None => e.to_string(),
    }
}

fn identity_from(c: EntraClaims) -> Result<Identity, SignInError> {
    let (Some(object_id), Some(tenant_id)) = (c.oid, c.tid) else {
        return Err(SignInError::Untrusted(
            "the ID token has no oid and tid claims; Portolan identifies people by them".into(),
        ));
    };
    let groups_overage = c
        .claim_names
        .as_ref()
        .is_some_and(|names| names.contains_key("groups"));
    Ok(Identity {
        display_name: c
            .name
            .or_else(|| c.preferred_username.clone())
            .unwrap_or_else(|| object_id.clone()),
        email: c.email.or(c.preferred_username),
        tenant_id,
        object_id,
        roles: c.roles,
        groups: c.groups,
        groups_overage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: serde_json::Value) -> EntraClaims {
        serde_json::from_value(json).expect("claims")
    }

    #[test]
    fn people_are_their_tenant_and_object_ids() {
        let who = identity_from(claims(serde_json::json!({
            "oid": "o-1", "tid": "t-1", "name": "Ana", "preferred_username": "ana@acme.example",
            "roles": ["developer"], "groups": ["g-1"]
        })))
        .expect("identity");
        assert_eq!(
            (who.tenant_id.as_str(), who.object_id.as_str()),
            ("t-1", "o-1")
        );
        assert_eq!(who.email.as_deref(), Some("ana@acme.example"));
        assert!(!who.groups_overage);
        assert!(
            identity_from(claims(
                serde_json::json!({"name": "no ids", "email": "x@y"})
            ))
            .is_err()
        );
    }

    #[test]
    fn the_groups_overage_marker_is_noticed_not_taken_as_no_groups() {
        let who = identity_from(claims(serde_json::json!({
            "oid": "o", "tid": "t", "roles": ["developer"],
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {"src1": {"endpoint": "https://graph.example/getMemberObjects"}}
        })))
        .expect("identity");
        assert!(who.groups_overage);
        assert!(who.groups.is_empty());
        assert_eq!(who.roles, vec!["developer"]);
    }
}
