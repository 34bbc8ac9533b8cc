//! Typed configuration from the environment (and flags), validated at start.
//!
//! A bad setting stops start-up with a message naming the setting and how to fix it. Secrets
//! (the database password) are redacted whenever the configuration is shown.

use std::net::SocketAddr;
use std::path::PathBuf;

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
        Ok(Self {
            addr,
            database_url,
            data_dir,
            site_root,
            static_dir,
        })
    }
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

    #[test]
    fn database_url_errors_name_the_setting() {
        let err = validate_database_url("mysql://x@y/z").expect_err("mysql is refused");
        assert_eq!(err.setting, "DATABASE_URL");
        assert!(err.message.contains("postgres://"));
        assert!(validate_database_url("not a url").is_err());
        assert!(validate_database_url("postgresql://u:p@h/d").is_ok());
    }
}
