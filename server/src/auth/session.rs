//! Users, sessions and sign-in attempts: the SQL.

use portolan_api::Me;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use time::Duration;

use crate::error::AppResult;

pub const IDLE_TIMEOUT: Duration = Duration::hours(8);
pub const ABSOLUTE_TIMEOUT: Duration = Duration::days(7);
/// How long someone may take at the identity provider before the attempt is void.
pub const ATTEMPT_TIMEOUT: Duration = Duration::minutes(10);

/// A random URL-safe token of 32 bytes.
pub fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The person behind a live session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: i64,
    pub me: Me,
}

/// What the identity provider said about a person at sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub tenant_id: String,
    pub object_id: String,
    pub display_name: String,
    pub email: Option<String>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub groups_overage: bool,
}

pub async fn save_attempt(
    pool: &PgPool,
    state: &str,
    nonce: &str,
    verifier: &str,
    return_to: &str,
) -> AppResult<()> {
    // Old, abandoned attempts go as new ones come.
    sqlx::query("DELETE FROM sign_in_attempts WHERE created_at < now() - $1::interval")
        .bind(ATTEMPT_TIMEOUT)
        .execute(pool)
        .await?;
    sqlx::query("INSERT INTO sign_in_attempts (state, nonce, pkce_verifier, return_to) VALUES ($1, $2, $3, $4)")
        .bind(state)
        .bind(nonce)
        .bind(verifier)
        .bind(return_to)
        .execute(pool)
        .await?;
    Ok(())
}

pub struct Attempt {
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
}

/// Takes the attempt for `state` (it can be used once), if it exists and is recent.
pub async fn take_attempt(pool: &PgPool, state: &str) -> AppResult<Option<Attempt>> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "DELETE FROM sign_in_attempts WHERE state = $1 AND created_at >= now() - $2::interval
         RETURNING nonce, pkce_verifier, return_to",
    )
    .bind(state)
    .bind(ATTEMPT_TIMEOUT)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(nonce, pkce_verifier, return_to)| Attempt {
        nonce,
        pkce_verifier,
        return_to,
    }))
}

/// Records the person (keyed by tid + oid) and opens a new session; returns the session token.
/// `replaces` is the token of a session the browser already had: it ends, so the id rotates.
pub async fn sign_in(pool: &PgPool, who: &Identity, replaces: Option<&str>) -> AppResult<String> {
    let mut tx = pool.begin().await?;
    let user_id: i64 = sqlx::query_scalar(
        "INSERT INTO users (tenant_id, object_id, display_name, email, roles, groups, groups_overage)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT ON CONSTRAINT users_identity_key DO UPDATE SET
           display_name = EXCLUDED.display_name, email = EXCLUDED.email, roles = EXCLUDED.roles,
           groups = EXCLUDED.groups, groups_overage = EXCLUDED.groups_overage, last_sign_in_at = now()
         RETURNING id",
    )
    .bind(&who.tenant_id)
    .bind(&who.object_id)
    .bind(&who.display_name)
    .bind(&who.email)
    .bind(&who.roles)
    .bind(&who.groups)
    .bind(who.groups_overage)
    .fetch_one(&mut *tx)
    .await?;
    if let Some(old) = replaces {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash(old))
            .execute(&mut *tx)
            .await?;
    }
    let token = random_token();
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, now() + $4::interval)",
    )
    .bind(hash(&token))
    .bind(user_id)
    .bind(random_token())
    .bind(ABSOLUTE_TIMEOUT)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The person behind a session token, if the session is live; marks it as seen.
pub async fn lookup(pool: &PgPool, token: &str) -> AppResult<Option<SignedIn>> {
    type Row = (
        i64,
        String,
        String,
        String,
        Option<String>,
        Vec<String>,
        Vec<String>,
        bool,
        String,
    );
    let row: Option<Row> = sqlx::query_as(
        "UPDATE sessions s SET last_seen_at = now()
           FROM users u
          WHERE s.token_hash = $1 AND u.id = s.user_id
            AND s.expires_at > now() AND s.last_seen_at > now() - $2::interval
         RETURNING u.id, u.tenant_id, u.object_id, u.display_name, u.email, u.roles, u.groups, u.groups_overage,
                   s.csrf_token",
    )
    .bind(hash(token))
    .bind(IDLE_TIMEOUT)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(
            user_id,
            tenant_id,
            object_id,
            display_name,
            email,
            roles,
            groups,
            groups_overage,
            csrf_token,
        )| {
            SignedIn {
                user_id,
                me: Me {
                    display_name,
                    email,
                    tenant_id,
                    object_id,
                    roles,
                    groups,
                    groups_overage,
                    csrf_token,
                    // Filled in by the caller, who knows the configuration.
                    grants: vec![],
                    permissions: vec![],
                    token_scopes: vec![],
                    notices: vec![],
                    development_sign_in: false,
                },
            }
        },
    ))
}

pub async fn sign_out(pool: &PgPool, token: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(hash(token))
        .execute(pool)
        .await?;
    Ok(())
}

/// Records the development sign-in's made-up people, so that tokens can be made for them before
/// they first sign in (`portolan token create --user development:developer`).
pub async fn add_development_people(pool: &PgPool) -> anyhow::Result<()> {
    for p in super::dev::PERSONAS {
        let who = p.identity();
        sqlx::query(
            "INSERT INTO users (tenant_id, object_id, display_name, email, roles)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT ON CONSTRAINT users_identity_key DO UPDATE SET
               display_name = EXCLUDED.display_name, roles = EXCLUDED.roles",
        )
        .bind(&who.tenant_id)
        .bind(&who.object_id)
        .bind(&who.display_name)
        .bind(&who.email)
        .bind(&who.roles)
        .execute(pool)
        .await?;
    }
    Ok(())
}
