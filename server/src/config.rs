//! Typed configuration from the environment (and flags), validated at start.
//!
//! A bad setting stops start-up with a message naming the setting and how to fix it. Secrets
//! (the database password, tokens, webhook URLs) are redacted whenever the configuration is shown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// `None`: run the managed local Postgres in `data_dir`.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    /// Holds `pkg/portolan.js` and `pkg/portolan.wasm`, the browser bundle.
    pub site_root: PathBuf,
    /// The design system and other files served as-is under `/static`.
    pub static_dir: PathBuf,
    /// Sign-in through OpenID Connect; `None` when not configured.
    pub oidc: Option<OidcConfig>,
    /// Where people reach Portolan (`PORTOLAN_PUBLIC_URL`); over https, HSTS is sent and cookies
    /// are `Secure`.
    pub public_url: url::Url,
    /// `PORTOLAN_ENV=production`: refuses the development sign-in.
    pub production: bool,
    /// `PORTOLAN_DEV_SIGN_IN=true`: anyone may sign in as one of the demo people (local work only).
    pub dev_sign_in: bool,
    /// Roles given by group membership (`PORTOLAN_GROUP_ROLES`).
    pub group_roles: crate::access::GroupRoles,
    /// The bearer token Alertmanager sends to `POST /api/v1/webhooks/alertmanager`
    /// (`PORTOLAN_ALERTMANAGER_TOKEN`); `None`: that endpoint answers 503.
    pub alertmanager_token: Option<Secret>,
    /// The signing secret of the PagerDuty webhook subscription, for
    /// `POST /api/v1/webhooks/pagerduty` (`PORTOLAN_PAGERDUTY_SECRET`); `None`: 503.
    pub pagerduty_secret: Option<Secret>,
    /// Days after an incident is resolved by which a SEV1 or SEV2 needs a published postmortem
    /// (`PORTOLAN_POSTMORTEM_DUE_DAYS`).
    pub postmortem_due_days: u32,
    /// The Microsoft Teams incoming webhook that hears about promotion requests
    /// (`PORTOLAN_TEAMS_WEBHOOK_URL`); `None`: nothing goes to Teams.
    pub teams_webhook: Option<WebhookUrl>,
    /// The Slack incoming webhook that hears about promotion requests
    /// (`PORTOLAN_SLACK_WEBHOOK_URL`); `None`: nothing goes to Slack.
    pub slack_webhook: Option<WebhookUrl>,
    /// The pause after a notification's first failed attempt; later pauses grow from it (see
    /// `notifications::model::retry_delay`). Not a setting: [`DEFAULT_NOTIFICATION_RETRY`], which
    /// tests shorten.
    pub notification_retry: Duration,
}

/// The pause after a notification's first failed attempt.
pub const DEFAULT_NOTIFICATION_RETRY: Duration = Duration::from_secs(30);

impl Default for Config {
    /// Local defaults, with nothing configured: what tests start from.
    fn default() -> Self {
        let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let addr: SocketAddr = DEFAULT_ADDR.parse().expect("the default address parses");
        Self {
            addr,
            database_url: None,
            data_dir: std::env::temp_dir(),
            site_root: workspace.join("target/site"),
            static_dir: workspace.join("static"),
            oidc: None,
            public_url: format!("http://{addr}").parse().expect("a URL"),
            production: false,
            dev_sign_in: false,
            group_roles: Default::default(),
            alertmanager_token: None,
            pagerduty_secret: None,
            postmortem_due_days: DEFAULT_POSTMORTEM_DUE_DAYS,
            teams_webhook: None,
            slack_webhook: None,
            notification_retry: DEFAULT_NOTIFICATION_RETRY,
        }
    }
}

/// A secret setting: shown as `REDACTED` wherever the configuration is printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("REDACTED")
    }
}

#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// `https://login.microsoftonline.com/<tenant>/v2.0` for Entra ID.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Where people reach Portolan; the redirect URI is `<public_url>/auth/callback`.
    pub public_url: url::Url,
    /// Groups looked up in Microsoft Graph at sign-in for ID tokens with the groups-overage
    /// marker (`PORTOLAN_GRAPH_GROUPS=true`); `None`: not looked up.
    pub graph: Option<GraphConfig>,
}

/// The Microsoft Graph lookup of groups (`PORTOLAN_GRAPH_GROUPS`, `PORTOLAN_GRAPH_URL`). It uses
/// the sign-in's app registration (client id and secret) for an app-only token.
#[derive(Clone, Debug)]
pub struct GraphConfig {
    /// The Graph base URL (`PORTOLAN_GRAPH_URL`, default [`DEFAULT_GRAPH_URL`]).
    pub url: url::Url,
}

/// Microsoft Graph in the global cloud; national clouds have their own.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

impl GraphConfig {
    /// The base URL without a trailing slash.
    pub fn base(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    /// The scope of the app-only token: `<base>/.default` (Graph's application permissions).
    pub fn scope(&self) -> String {
        format!("{}/.default", self.base())
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("data_dir", &self.data_dir)
            .field("site_root", &self.site_root)
            .field("static_dir", &self.static_dir)
            .field("oidc", &self.oidc)
            .field("public_url", &self.public_url.as_str())
            .field("production", &self.production)
            .field("dev_sign_in", &self.dev_sign_in)
            .field("group_roles", &self.group_roles)
            .field("alertmanager_token", &self.alertmanager_token)
            .field("pagerduty_secret", &self.pagerduty_secret)
            .field("postmortem_due_days", &self.postmortem_due_days)
            .field("teams_webhook", &self.teams_webhook)
            .field("slack_webhook", &self.slack_webhook)
            .field("notification_retry", &self.notification_retry)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error in {setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

fn config_error(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

/// Reads an environment variable, treating an empty value as unset.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

impl Config {
    /// `addr_flag` is `--addr`, which wins over `PORTOLAN_ADDR`.
    pub fn from_env(addr_flag: Option<&str>) -> Result<Self, ConfigError> {
        let (addr_setting, addr_text) = match addr_flag {
            Some(a) => ("--addr", a.to_string()),
            None => (
                "PORTOLAN_ADDR",
                env("PORTOLAN_ADDR").unwrap_or_else(|| DEFAULT_ADDR.into()),
            ),
        };
        let addr = addr_text.parse::<SocketAddr>().map_err(|_| {
            config_error(
                addr_setting,
                format!("'{addr_text}' is not an address to listen on; use host:port, e.g. {DEFAULT_ADDR} or 0.0.0.0:8080"),
            )
        })?;

        let database_url = env("DATABASE_URL");
        if let Some(url) = &database_url {
            validate_database_url(url)?;
        }

        let data_dir = match env("PORTOLAN_DATA_DIR") {
            Some(d) => PathBuf::from(d),
            None => default_data_dir(),
        };
        let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let site_root = env("PORTOLAN_SITE_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target/site"));
        let static_dir = env("PORTOLAN_STATIC_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("static"));
        if !static_dir.join("portolan.css").is_file() {
            return Err(config_error(
                "PORTOLAN_STATIC_DIR",
                format!(
                    "{} has no portolan.css; point PORTOLAN_STATIC_DIR at the static/ folder of Portolan",
                    static_dir.display()
                ),
            ));
        }
        let mut oidc = oidc_settings(&env, addr)?;
        let access = access_settings(&env)?;
        let graph = graph_settings(&env, access.production, oidc.is_some())?;
        if let Some(o) = oidc.as_mut() {
            o.graph = graph;
        }
        let webhooks = webhook_settings(&env)?;
        let notifications = notification_settings(&env, access.production)?;
        Ok(Self {
            addr,
            database_url,
            data_dir,
            site_root,
            static_dir,
            public_url: public_url(&env, addr)?,
            oidc,
            production: access.production,
            dev_sign_in: access.dev_sign_in,
            group_roles: access.group_roles,
            alertmanager_token: webhooks.alertmanager_token,
            pagerduty_secret: webhooks.pagerduty_secret,
            postmortem_due_days: postmortem_due_days(&env)?,
            teams_webhook: notifications.teams,
            slack_webhook: notifications.slack,
            notification_retry: DEFAULT_NOTIFICATION_RETRY,
        })
    }

    /// Portolan is served over https: HSTS is sent and cookies are `Secure`.
    pub fn serves_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Groups are looked up in Microsoft Graph at sign-in for ID tokens with the overage marker.
    pub fn graph_groups(&self) -> bool {
        self.oidc.as_ref().is_some_and(|o| o.graph.is_some())
    }

    /// What `serve` needs beyond a valid configuration: some way for people to sign in.
    pub fn check_sign_in_possible(&self) -> Result<(), ConfigError> {
        if self.oidc.is_none() && !self.dev_sign_in {
            return Err(config_error(
                "PORTOLAN_OIDC_*",
                "nobody could sign in: configure the identity provider (PORTOLAN_OIDC_TENANT, \
                 PORTOLAN_OIDC_CLIENT_ID, PORTOLAN_OIDC_CLIENT_SECRET; see the README, \"Signing in\"), \
                 or for local work set PORTOLAN_DEV_SIGN_IN=true",
            ));
        }
        Ok(())
    }
}

struct AccessSettings {
    production: bool,
    dev_sign_in: bool,
    group_roles: crate::access::GroupRoles,
}

pub const DEFAULT_POSTMORTEM_DUE_DAYS: u32 = 5;

fn postmortem_due_days(env: &dyn Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    match env("PORTOLAN_POSTMORTEM_DUE_DAYS") {
        None => Ok(DEFAULT_POSTMORTEM_DUE_DAYS),
        Some(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| {
                config_error(
                    "PORTOLAN_POSTMORTEM_DUE_DAYS",
                    format!("'{text}' is not a number of days from 1 to 365 (default {DEFAULT_POSTMORTEM_DUE_DAYS})"),
                )
            }),
    }
}

fn flag(env: &dyn Fn(&str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    match env(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(other) => Err(config_error(
            name,
            format!("'{other}' is not true or false"),
        )),
    }
}

fn access_settings(env: &dyn Fn(&str) -> Option<String>) -> Result<AccessSettings, ConfigError> {
    let production = match env("PORTOLAN_ENV")
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("development") => false,
        Some("production") => true,
        Some(other) => {
            return Err(config_error(
                "PORTOLAN_ENV",
                format!("'{other}' is neither production nor development"),
            ));
        }
    };
    let dev_sign_in = flag(env, "PORTOLAN_DEV_SIGN_IN")?;
    if dev_sign_in && production {
        return Err(config_error(
            "PORTOLAN_DEV_SIGN_IN",
            "the development sign-in lets anyone act as anyone, so it is refused when \
             PORTOLAN_ENV=production; unset PORTOLAN_DEV_SIGN_IN and sign in through the identity provider",
        ));
    }
    let group_roles = match env("PORTOLAN_GROUP_ROLES") {
        None => Default::default(),
        Some(text) => crate::access::GroupRoles::parse(&text).map_err(|e| {
            config_error(
                "PORTOLAN_GROUP_ROLES",
                format!("{e}; write <group-object-id>=<role> entries separated by ';', e.g. 1b2c…=approver@prod"),
            )
        })?,
    };
    Ok(AccessSettings {
        production,
        dev_sign_in,
        group_roles,
    })
}

fn public_url(
    env: &dyn Fn(&str) -> Option<String>,
    addr: SocketAddr,
) -> Result<url::Url, ConfigError> {
    let public = env("PORTOLAN_PUBLIC_URL").unwrap_or_else(|| format!("http://{addr}"));
    url::Url::parse(&public)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
        .ok_or_else(|| {
            config_error(
                "PORTOLAN_PUBLIC_URL",
                format!("'{public}' is not an http(s) URL like https://portolan.example.com"),
            )
        })
}

/// Sign-in settings (read through `env`): all of them or none. A tenant gives the Entra ID issuer.
fn oidc_settings(
    env: &dyn Fn(&str) -> Option<String>,
    addr: SocketAddr,
) -> Result<Option<OidcConfig>, ConfigError> {
    let issuer = env("PORTOLAN_OIDC_ISSUER").or_else(|| {
        env("PORTOLAN_OIDC_TENANT").map(|t| format!("https://login.microsoftonline.com/{t}/v2.0"))
    });
    let client_id = env("PORTOLAN_OIDC_CLIENT_ID");
    let secret = secret_setting(
        env,
        "PORTOLAN_OIDC_CLIENT_SECRET",
        "PORTOLAN_OIDC_CLIENT_SECRET_FILE",
    )?;
    let (issuer, client_id, secret) = match (issuer, client_id, secret) {
        (None, None, None) => return Ok(None),
        (Some(i), Some(c), Some(s)) => (i, c, s),
        (i, c, _) => {
            let missing = if i.is_none() {
                "PORTOLAN_OIDC_TENANT (or PORTOLAN_OIDC_ISSUER)"
            } else if c.is_none() {
                "PORTOLAN_OIDC_CLIENT_ID"
            } else {
                "PORTOLAN_OIDC_CLIENT_SECRET (or PORTOLAN_OIDC_CLIENT_SECRET_FILE)"
            };
            return Err(config_error(
                "PORTOLAN_OIDC_*",
                format!(
                    "sign-in is partly configured: {missing} is missing; set all three or none"
                ),
            ));
        }
    };
    if !url::Url::parse(&issuer).is_ok_and(|u| matches!(u.scheme(), "https" | "http")) {
        return Err(config_error(
            "PORTOLAN_OIDC_ISSUER",
            format!("'{issuer}' is not an http(s) URL"),
        ));
    }
    let public_url = public_url(env, addr)?;
    Ok(Some(OidcConfig {
        issuer,
        client_id,
        client_secret: Secret(secret),
        public_url,
        graph: None,
    }))
}

/// A secret given either in `name` or in the file named by `file_name` (without the file's
/// surrounding white space), not both.
fn secret_setting(
    env: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    file_name: &'static str,
) -> Result<Option<String>, ConfigError> {
    match (env(name), env(file_name)) {
        (Some(s), None) => Ok(Some(s)),
        (None, Some(path)) => Ok(Some(
            std::fs::read_to_string(&path)
                .map_err(|e| config_error(file_name, format!("cannot read {path}: {e}")))?
                .trim()
                .to_string(),
        )),
        (Some(_), Some(_)) => Err(config_error(
            name,
            format!("set either {name} or {file_name}, not both"),
        )),
        (None, None) => Ok(None),
    }
}

/// The shortest webhook secret accepted: anything shorter could be guessed.
pub const MIN_WEBHOOK_SECRET: usize = 16;

/// The secrets of the alert receivers (read through `env`): each one turns its endpoint on.
fn webhook_settings(env: &dyn Fn(&str) -> Option<String>) -> Result<WebhookSecrets, ConfigError> {
    let checked = |name: &'static str,
                   file_name: &'static str|
     -> Result<Option<Secret>, ConfigError> {
        let Some(value) = secret_setting(env, name, file_name)? else {
            return Ok(None);
        };
        // Never shown: only what is wrong with it.
        if value.chars().count() < MIN_WEBHOOK_SECRET {
            return Err(config_error(
                name,
                format!(
                    "the secret is too short to be safe; use at least {MIN_WEBHOOK_SECRET} random characters (32 or more is better)"
                ),
            ));
        }
        if !value.chars().all(|c| c.is_ascii_graphic()) {
            return Err(config_error(
                name,
                "the secret must be printable ASCII without spaces (it travels in an HTTP header or keys a signature)",
            ));
        }
        Ok(Some(Secret(value)))
    };
    Ok(WebhookSecrets {
        alertmanager_token: checked(
            "PORTOLAN_ALERTMANAGER_TOKEN",
            "PORTOLAN_ALERTMANAGER_TOKEN_FILE",
        )?,
        pagerduty_secret: checked(
            "PORTOLAN_PAGERDUTY_SECRET",
            "PORTOLAN_PAGERDUTY_SECRET_FILE",
        )?,
    })
}

struct WebhookSecrets {
    alertmanager_token: Option<Secret>,
    pagerduty_secret: Option<Secret>,
}

/// An incoming webhook's URL. It is a secret (whoever has it may post to the channel: it carries
/// a signature or a token), so it is shown, logged and reported only as its scheme and host.
#[derive(Clone)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    /// An absolute https URL (http only outside production, for a local receiver), without
    /// credentials or fragment. The error never repeats the URL beyond its scheme and host.
    pub fn parse(text: &str, production: bool) -> Result<Self, String> {
        let url = url::Url::parse(text.trim()).map_err(|_| {
            "it is not an absolute URL; paste the whole https://… URL the Teams workflow or Slack \
             app gave you"
                .to_string()
        })?;
        let shown = Self(url.clone()).redacted();
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return Err(format!(
                "'{shown}' is not an http(s) URL with a host; paste the https://… URL the Teams \
                 workflow or Slack app gave you"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(format!(
                "'{shown}' carries a user name, password or #fragment; an incoming webhook URL \
                 has none"
            ));
        }
        if production && url.scheme() != "https" {
            return Err(format!(
                "'{shown}' is plain http, and the URL is the channel's secret; with \
                 PORTOLAN_ENV=production it must be https"
            ));
        }
        Ok(Self(url))
    }

    /// The URL to post to. Never log or return it.
    pub fn expose(&self) -> &url::Url {
        &self.0
    }

    /// What may be shown: `https://hooks.slack.com/…`.
    pub fn redacted(&self) -> String {
        let host = self.0.host_str().unwrap_or("");
        match self.0.port() {
            Some(port) => format!("{}://{host}:{port}/…", self.0.scheme()),
            None => format!("{}://{host}/…", self.0.scheme()),
        }
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

struct NotificationUrls {
    teams: Option<WebhookUrl>,
    slack: Option<WebhookUrl>,
}

/// The incoming webhooks that hear about promotion requests (read through `env`): each URL in
/// its setting or in the file named by `…_FILE`.
fn notification_settings(
    env: &dyn Fn(&str) -> Option<String>,
    production: bool,
) -> Result<NotificationUrls, ConfigError> {
    let checked = |name: &'static str,
                   file_name: &'static str,
                   example: &str|
     -> Result<Option<WebhookUrl>, ConfigError> {
        let Some(value) = secret_setting(env, name, file_name)? else {
            return Ok(None);
        };
        WebhookUrl::parse(&value, production)
            .map(Some)
            .map_err(|why| {
                config_error(
                    name,
                    format!("{why} (e.g. {example}…), or unset {name} to send nothing there"),
                )
            })
    };
    Ok(NotificationUrls {
        teams: checked(
            "PORTOLAN_TEAMS_WEBHOOK_URL",
            "PORTOLAN_TEAMS_WEBHOOK_URL_FILE",
            "https://prod-00.westeurope.logic.azure.com:443/workflows/",
        )?,
        slack: checked(
            "PORTOLAN_SLACK_WEBHOOK_URL",
            "PORTOLAN_SLACK_WEBHOOK_URL_FILE",
            "https://hooks.slack.com/services/",
        )?,
    })
}

/// The Graph lookup of groups (read through `env`). `PORTOLAN_GRAPH_URL` is checked whenever it
/// is set; the lookup needs sign-in configured (`oidc_configured`): it uses its app registration.
fn graph_settings(
    env: &dyn Fn(&str) -> Option<String>,
    production: bool,
    oidc_configured: bool,
) -> Result<Option<GraphConfig>, ConfigError> {
    let on = flag(env, "PORTOLAN_GRAPH_GROUPS")?;
    let text = env("PORTOLAN_GRAPH_URL").unwrap_or_else(|| DEFAULT_GRAPH_URL.into());
    let text = text.trim();
    let url = url::Url::parse(text)
        .ok()
        .filter(|u| {
            matches!(u.scheme(), "https" | "http")
                && u.host().is_some()
                && u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none()
                && u.fragment().is_none()
        })
        .ok_or_else(|| {
            // Shown without a password, should the URL carry one.
            let shown = match url::Url::parse(text) {
                Ok(_) => redact_url(text),
                Err(_) => text.to_string(),
            };
            config_error(
                "PORTOLAN_GRAPH_URL",
                format!(
                    "'{shown}' is not an absolute http(s) URL without credentials, query or \
                     fragment; use {DEFAULT_GRAPH_URL} (or the Graph URL of your national cloud)"
                ),
            )
        })?;
    if production && url.scheme() != "https" {
        return Err(config_error(
            "PORTOLAN_GRAPH_URL",
            format!(
                "'{url}' is plain http, and an access token travels with every request; with \
                 PORTOLAN_ENV=production it must be https, e.g. {DEFAULT_GRAPH_URL}"
            ),
        ));
    }
    if !on {
        return Ok(None);
    }
    if !oidc_configured {
        return Err(config_error(
            "PORTOLAN_GRAPH_GROUPS",
            "looking groups up in Microsoft Graph uses the sign-in's app registration, and sign-in \
             is not configured: set PORTOLAN_OIDC_TENANT (or PORTOLAN_OIDC_ISSUER), \
             PORTOLAN_OIDC_CLIENT_ID and PORTOLAN_OIDC_CLIENT_SECRET (or \
             PORTOLAN_OIDC_CLIENT_SECRET_FILE), or unset PORTOLAN_GRAPH_GROUPS",
        ));
    }
    Ok(Some(GraphConfig { url }))
}

fn validate_database_url(url: &str) -> Result<(), ConfigError> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "postgres" | "postgresql") => Ok(()),
        Ok(u) => Err(config_error(
            "DATABASE_URL",
            format!(
                "scheme '{}' is not supported; use postgres://user:password@host:5432/database",
                u.scheme()
            ),
        )),
        Err(e) => Err(config_error(
            "DATABASE_URL",
            format!(
                "not a URL ({e}); use postgres://user:password@host:5432/database, or unset it to run a managed local Postgres"
            ),
        )),
    }
}

/// Where the managed local Postgres keeps its data. Root's home is closed to the `postgres` user
/// that the database must run as, so root gets a system location.
fn default_data_dir() -> PathBuf {
    if crate::db::running_as_root() {
        return PathBuf::from("/var/lib/portolan");
    }
    if let Some(d) = env("XDG_DATA_HOME") {
        return PathBuf::from(d).join("portolan");
    }
    match env("HOME") {
        Some(h) => PathBuf::from(h).join(".local/share/portolan"),
        None => PathBuf::from(".portolan"),
    }
}

/// The URL with its password replaced, for logs and messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("REDACTED"));
            }
            u.to_string()
        }
        Err(_) => "(unparseable URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password_only() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/portolan"),
            "postgres://app:REDACTED@db:5432/portolan"
        );
        assert_eq!(
            redact_url("postgres://app@db/portolan"),
            "postgres://app@db/portolan"
        );
    }

    fn settings(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    /// Complete sign-in settings, with `hunter2` as the client secret.
    fn complete_oidc(addr: SocketAddr) -> OidcConfig {
        oidc_settings(
            &settings(&[
                ("PORTOLAN_OIDC_TENANT", "t-1"),
                ("PORTOLAN_OIDC_CLIENT_ID", "c"),
                ("PORTOLAN_OIDC_CLIENT_SECRET", "hunter2"),
            ]),
            addr,
        )
        .expect("complete")
        .expect("some")
    }

    #[test]
    fn sign_in_settings_go_together_and_name_what_is_missing() {
        let addr: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        assert!(
            oidc_settings(&settings(&[]), addr)
                .expect("none is fine")
                .is_none()
        );
        let err = oidc_settings(
            &settings(&[
                ("PORTOLAN_OIDC_TENANT", "t"),
                ("PORTOLAN_OIDC_CLIENT_SECRET", "s"),
            ]),
            addr,
        )
        .expect_err("partial");
        assert!(
            err.message.contains("PORTOLAN_OIDC_CLIENT_ID"),
            "{}",
            err.message
        );
        let c = complete_oidc(addr);
        assert_eq!(c.issuer, "https://login.microsoftonline.com/t-1/v2.0");
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:8080/");
        assert!(
            !format!("{c:?}").contains("hunter2"),
            "the secret never prints"
        );
        let err = oidc_settings(
            &settings(&[
                ("PORTOLAN_OIDC_TENANT", "t"),
                ("PORTOLAN_OIDC_CLIENT_ID", "c"),
                ("PORTOLAN_OIDC_CLIENT_SECRET", "s"),
                ("PORTOLAN_PUBLIC_URL", "ftp://x"),
            ]),
            addr,
        )
        .expect_err("bad public url");
        assert_eq!(err.setting, "PORTOLAN_PUBLIC_URL");
    }

    #[test]
    fn development_sign_in_is_explicit_and_never_in_production() {
        assert_eq!(postmortem_due_days(&settings(&[])).expect("default"), 5);
        assert_eq!(
            postmortem_due_days(&settings(&[("PORTOLAN_POSTMORTEM_DUE_DAYS", " 10 ")]))
                .expect("10"),
            10
        );
        for bad in [
            settings(&[("PORTOLAN_POSTMORTEM_DUE_DAYS", "0")]),
            settings(&[("PORTOLAN_POSTMORTEM_DUE_DAYS", "a week")]),
            settings(&[("PORTOLAN_POSTMORTEM_DUE_DAYS", "400")]),
        ] {
            let err = postmortem_due_days(&bad).expect_err("refused");
            assert_eq!(err.setting, "PORTOLAN_POSTMORTEM_DUE_DAYS");
        }
        let off = access_settings(&settings(&[])).expect("nothing set");
        assert!(!off.dev_sign_in && !off.production && off.group_roles.is_empty());
        let on = access_settings(&settings(&[("PORTOLAN_DEV_SIGN_IN", "true")])).expect("on");
        assert!(on.dev_sign_in);
        let err = access_settings(&settings(&[
            ("PORTOLAN_DEV_SIGN_IN", "1"),
            ("PORTOLAN_ENV", "Production"),
        ]))
        .err()
        .expect("refused in production");
        assert_eq!(err.setting, "PORTOLAN_DEV_SIGN_IN");
        assert!(
            err.message.contains("PORTOLAN_ENV=production"),
            "{}",
            err.message
        );
        let err = access_settings(&settings(&[("PORTOLAN_DEV_SIGN_IN", "maybe")]))
            .err()
            .expect("not a flag");
        assert_eq!(err.setting, "PORTOLAN_DEV_SIGN_IN");
        let err = access_settings(&settings(&[("PORTOLAN_ENV", "prod")]))
            .err()
            .expect("unknown environment");
        assert_eq!(err.setting, "PORTOLAN_ENV");
        let err = access_settings(&settings(&[("PORTOLAN_GROUP_ROLES", "abc=boss")]))
            .err()
            .expect("bad mapping");
        assert_eq!(err.setting, "PORTOLAN_GROUP_ROLES");
        assert!(err.message.contains("entry 1"), "{}", err.message);
        let mut c = Config::default();
        assert!(c.check_sign_in_possible().is_err(), "no way to sign in");
        c.dev_sign_in = true;
        assert!(c.check_sign_in_possible().is_ok());
    }

    #[test]
    fn the_graph_lookup_is_off_by_default_and_needs_sign_in() {
        let off = graph_settings(&settings(&[]), false, true).expect("nothing set");
        assert!(off.is_none());
        let off = graph_settings(
            &settings(&[("PORTOLAN_GRAPH_GROUPS", "false")]),
            true,
            false,
        )
        .expect("off");
        assert!(off.is_none());
        let on = graph_settings(&settings(&[("PORTOLAN_GRAPH_GROUPS", "true")]), true, true)
            .expect("on")
            .expect("some");
        assert_eq!(on.base(), "https://graph.microsoft.com");
        assert_eq!(on.scope(), "https://graph.microsoft.com/.default");
        let err = graph_settings(&settings(&[("PORTOLAN_GRAPH_GROUPS", "yes")]), false, false)
            .expect_err("no sign-in");
        assert_eq!(err.setting, "PORTOLAN_GRAPH_GROUPS");
        for missing in [
            "PORTOLAN_OIDC_TENANT",
            "PORTOLAN_OIDC_CLIENT_ID",
            "PORTOLAN_OIDC_CLIENT_SECRET",
        ] {
            assert!(err.message.contains(missing), "{}", err.message);
        }
        let err = graph_settings(
            &settings(&[("PORTOLAN_GRAPH_GROUPS", "sometimes")]),
            false,
            true,
        )
        .expect_err("not a flag");
        assert_eq!(err.setting, "PORTOLAN_GRAPH_GROUPS");
        assert!(err.message.contains("'sometimes'"), "{}", err.message);
    }

    #[test]
    fn the_graph_url_is_an_absolute_http_url_and_https_in_production() {
        let with_url = |url: &str| {
            let url = url.to_string();
            move |name: &str| match name {
                "PORTOLAN_GRAPH_GROUPS" => Some("true".to_string()),
                "PORTOLAN_GRAPH_URL" => Some(url.clone()),
                _ => None,
            }
        };
        let us = graph_settings(&with_url("https://graph.microsoft.us/"), true, true)
            .expect("a national cloud")
            .expect("some");
        assert_eq!(us.scope(), "https://graph.microsoft.us/.default");
        let local = graph_settings(&with_url("http://127.0.0.1:9/graph"), false, true)
            .expect("http outside production")
            .expect("some");
        assert_eq!(local.base(), "http://127.0.0.1:9/graph");
        assert_eq!(local.scope(), "http://127.0.0.1:9/graph/.default");
        let err = graph_settings(&with_url("http://graph.example"), true, true)
            .expect_err("http in production");
        assert_eq!(err.setting, "PORTOLAN_GRAPH_URL");
        assert!(
            err.message.contains("PORTOLAN_ENV=production"),
            "{}",
            err.message
        );
        for bad in [
            "graph.microsoft.com",
            "/v1.0",
            "ftp://graph.example",
            "https://graph.example/?x=1",
            "https://graph.example/#x",
            "https://user:hunter2@graph.example",
        ] {
            let err = graph_settings(&with_url(bad), false, true).expect_err(bad);
            assert_eq!(err.setting, "PORTOLAN_GRAPH_URL", "{bad}");
            assert!(!err.message.contains("hunter2"), "{}", err.message);
        }
        // Checked whenever it is set, so a mistake shows before the lookup is turned on.
        let err = graph_settings(&settings(&[("PORTOLAN_GRAPH_URL", "nope")]), false, true)
            .expect_err("bad URL, lookup off");
        assert_eq!(err.setting, "PORTOLAN_GRAPH_URL");
    }

    #[test]
    fn the_configuration_shows_the_graph_lookup_but_no_secret() {
        let mut oidc = complete_oidc("127.0.0.1:8080".parse().expect("addr"));
        assert!(oidc.graph.is_none(), "off unless asked for");
        oidc.graph =
            graph_settings(&settings(&[("PORTOLAN_GRAPH_GROUPS", "on")]), false, true).expect("on");
        let config = Config {
            oidc: Some(oidc),
            ..Config::default()
        };
        assert!(config.graph_groups());
        let shown = format!("{config:?}");
        assert!(shown.contains("graph.microsoft.com"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!Config::default().graph_groups());
    }

    #[test]
    fn webhook_secrets_are_optional_checked_and_never_shown() {
        let none = webhook_settings(&settings(&[])).expect("nothing set");
        assert!(none.alertmanager_token.is_none() && none.pagerduty_secret.is_none());
        let on = webhook_settings(&settings(&[
            ("PORTOLAN_ALERTMANAGER_TOKEN", "am-0123456789abcdef"),
            ("PORTOLAN_PAGERDUTY_SECRET", "pd-0123456789abcdef"),
        ]))
        .expect("both");
        assert_eq!(
            on.alertmanager_token.as_ref().map(Secret::expose),
            Some("am-0123456789abcdef")
        );
        assert_eq!(
            on.pagerduty_secret.as_ref().map(Secret::expose),
            Some("pd-0123456789abcdef")
        );
        let config = Config {
            alertmanager_token: on.alertmanager_token,
            pagerduty_secret: on.pagerduty_secret,
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(
            shown.contains("alertmanager_token: Some(REDACTED)"),
            "{shown}"
        );
        assert!(!shown.contains("0123456789abcdef"), "{shown}");

        for (value, words) in [
            ("hunter2", "too short"),
            ("hunter2 hunter2 hunter2", "printable ASCII without spaces"),
        ] {
            let err = webhook_settings(&|name: &str| {
                (name == "PORTOLAN_PAGERDUTY_SECRET").then(|| value.to_string())
            })
            .err()
            .expect("refused");
            assert_eq!(err.setting, "PORTOLAN_PAGERDUTY_SECRET");
            assert!(err.message.contains(words), "{}", err.message);
            assert!(!err.message.contains("hunter2"), "{}", err.message);
        }
        let err = webhook_settings(&settings(&[
            ("PORTOLAN_ALERTMANAGER_TOKEN", "am-0123456789abcdef"),
            ("PORTOLAN_ALERTMANAGER_TOKEN_FILE", "/nowhere"),
        ]))
        .err()
        .expect("both ways");
        assert!(err.message.contains("not both"), "{}", err.message);
        let err = webhook_settings(&settings(&[(
            "PORTOLAN_ALERTMANAGER_TOKEN_FILE",
            "/nowhere/portolan-token",
        )]))
        .err()
        .expect("no such file");
        assert_eq!(err.setting, "PORTOLAN_ALERTMANAGER_TOKEN_FILE");

        let file = std::env::temp_dir().join(format!("portolan-am-token-{}", std::process::id()));
        std::fs::write(&file, "am-from-a-file-0123456789\n").expect("write");
        let path = file.display().to_string();
        let from_file = webhook_settings(&|name: &str| {
            (name == "PORTOLAN_ALERTMANAGER_TOKEN_FILE").then(|| path.clone())
        })
        .expect("read");
        let _ = std::fs::remove_file(&file);
        assert_eq!(
            from_file.alertmanager_token.as_ref().map(Secret::expose),
            Some("am-from-a-file-0123456789"),
            "the file's end of line is not part of the secret"
        );
    }

    #[test]
    fn notification_webhooks_are_https_urls_checked_at_start_and_never_shown() {
        let none = notification_settings(&settings(&[]), true).expect("nothing set");
        assert!(none.teams.is_none() && none.slack.is_none());
        let secret = "https://hooks.slack.com/services/T0/B0/hunter2hunter2";
        let teams = "https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/\
                     paths/invoke?api-version=2016-06-01&sig=hunter2sig";
        let both = notification_settings(
            &|name: &str| match name {
                "PORTOLAN_SLACK_WEBHOOK_URL" => Some(secret.to_string()),
                "PORTOLAN_TEAMS_WEBHOOK_URL" => Some(teams.to_string()),
                _ => None,
            },
            true,
        )
        .expect("both, in production");
        let slack = both.slack.expect("slack");
        assert_eq!(slack.expose().as_str(), secret);
        assert_eq!(slack.redacted(), "https://hooks.slack.com/…");
        let teams = both.teams.expect("teams");
        assert_eq!(
            teams.redacted(),
            "https://prod-01.westeurope.logic.azure.com/…",
            "the default port is not shown"
        );
        assert_eq!(teams.expose().query_pairs().count(), 2, "the query is kept");
        let config = Config {
            slack_webhook: Some(slack),
            teams_webhook: Some(teams),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(shown.contains("hooks.slack.com/…"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");

        let local = |production| {
            notification_settings(
                &settings(&[(
                    "PORTOLAN_TEAMS_WEBHOOK_URL",
                    "http://127.0.0.1:9/teams/hunter2",
                )]),
                production,
            )
        };
        let teams = local(false).expect("http outside production").teams;
        assert_eq!(
            teams.expect("teams").redacted(),
            "http://127.0.0.1:9/…",
            "a port that is not the default is shown"
        );
        let err = local(true).err().expect("http in production");
        assert_eq!(err.setting, "PORTOLAN_TEAMS_WEBHOOK_URL");
        assert!(
            err.message.contains("PORTOLAN_ENV=production"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("hunter2"), "{}", err.message);

        for bad in [
            "hooks.slack.com/services/hunter2",
            "/services/hunter2",
            "ftp://hooks.slack.com/hunter2",
            "https://user:hunter2@hooks.slack.com/services",
            "https://hooks.slack.com/services#hunter2",
            "mailto:hunter2@example.com",
        ] {
            let err = notification_settings(
                &|name: &str| (name == "PORTOLAN_SLACK_WEBHOOK_URL").then(|| bad.to_string()),
                false,
            )
            .err()
            .expect(bad);
            assert_eq!(err.setting, "PORTOLAN_SLACK_WEBHOOK_URL", "{bad}");
            assert!(!err.message.contains("hunter2"), "{bad}: {}", err.message);
            assert!(
                err.message.contains("unset PORTOLAN_SLACK_WEBHOOK_URL"),
                "says how to fix it: {}",
                err.message
            );
        }
        let err = notification_settings(
            &settings(&[
                (
                    "PORTOLAN_SLACK_WEBHOOK_URL",
                    "https://hooks.slack.com/services/x",
                ),
                ("PORTOLAN_SLACK_WEBHOOK_URL_FILE", "/nowhere"),
            ]),
            false,
        )
        .err()
        .expect("both ways");
        assert!(err.message.contains("not both"), "{}", err.message);

        let file = std::env::temp_dir().join(format!("portolan-slack-url-{}", std::process::id()));
        std::fs::write(&file, format!("{secret}\n")).expect("write");
        let path = file.display().to_string();
        let from_file = notification_settings(
            &|name: &str| (name == "PORTOLAN_SLACK_WEBHOOK_URL_FILE").then(|| path.clone()),
            true,
        )
        .expect("read");
        let _ = std::fs::remove_file(&file);
        assert_eq!(
            from_file.slack.expect("slack").expose().as_str(),
            secret,
            "the file's end of line is not part of the URL"
        );
    }

    #[test]
    fn database_url_errors_name_the_setting() {
        let err = validate_database_url("mysql://x@y/z").expect_err("mysql is refused");
        assert_eq!(err.setting, "DATABASE_URL");
        assert!(err.message.contains("postgres://"));
        assert!(validate_database_url("not a url").is_err());
        assert!(validate_database_url("postgresql://u:p@h/d").is_ok());
    }
}
