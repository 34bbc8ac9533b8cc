//! API tokens for pipelines: created by a person for the rights they hold, shown once, stored as a
//! hash, scoped, expiring, revocable, with their last use recorded.

use std::collections::BTreeSet;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portolan_api::{ApiToken, CreatedApiToken, ErrorBody, NewApiToken, TokenStatus};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::session::{SignedIn, random_token};
use crate::AppState;
use crate::access::{self, Access, Scope};
use crate::audit::repo::Change;
use crate::audit::{self, Actor};
use crate::error::{AppError, AppResult, Problems};
use crate::extract::ApiJson;
use crate::respond::{Created, created};

/// Every token starts with this, so secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "ptl_";
pub const DEFAULT_DAYS: u32 = 90;
pub const MAX_DAYS: u32 = 366;

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// A checked request for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub name: String,
    pub scopes: BTreeSet<Scope>,
    pub days: u32,
}

/// Validates a new token against what the person may hand out.
pub fn check(new: &NewApiToken, access: &Access) -> AppResult<TokenRequest> {
    let mut problems = Problems::default();
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        problems.add("name", "must be 1–100 characters");
    }
    let mut scopes = BTreeSet::new();
    if new.scopes.is_empty() {
        problems.add(
            "scopes",
            "name at least one scope: read, catalog:write, deployments:write, promotions:write",
        );
    }
    for (i, s) in new.scopes.iter().enumerate() {
        match Scope::parse(s) {
            Some(scope) => {
                scopes.insert(scope);
            }
            None => problems.add(
                format!("scopes[{i}]"),
                format!(
                    "'{s}' is not a scope; use read, catalog:write, deployments:write or promotions:write"
                ),
            ),
        }
    }
    let days = new.expires_in_days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        problems.add(
            "expires_in_days",
            format!("must be between 1 and {MAX_DAYS}"),
        );
    }
    problems.finish()?;
    access::may_delegate(access, &scopes).map_err(|m| AppError::field("scopes", m))?;
    Ok(TokenRequest { name, scopes, days })
}

type TokenRow = (
    i64,
    String,
    String,
    Vec<String>,
    String,
    OffsetDateTime,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
);

const TOKEN_COLUMNS: &str = "t.id, t.name, t.prefix, t.scopes, u.display_name, t.created_at, \
     t.expires_at, t.revoked_at, t.last_used_at";

fn to_api(r: TokenRow) -> ApiToken {
    let status = if r.7.is_some() {
        TokenStatus::Revoked
    } else if r.6 <= OffsetDateTime::now_utc() {
        TokenStatus::Expired
    } else {
        TokenStatus::Active
    };
    ApiToken {
        status,
        id: r.0,
        name: r.1,
        prefix: r.2,
        scopes: r.3,
        owner_name: r.4,
        created_at: r.5,
        expires_at: r.6,
        revoked_at: r.7,
        last_used_at: r.8,
    }
}

/// Creates the token in the caller's transaction and records it in the audit log. Returns the
/// secret (this is the only time it exists outside the caller's hands).
pub async fn create(
    conn: &mut PgConnection,
    actor: &Actor,
    user_id: i64,
    req: &TokenRequest,
) -> AppResult<CreatedApiToken> {
    let secret = format!("{TOKEN_PREFIX}{}", random_token());
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 8).collect();
    let scopes: Vec<String> = req.scopes.iter().map(|s| s.as_str().to_string()).collect();
    let row: TokenRow = sqlx::query_as(&format!(
        "WITH t AS (
           INSERT INTO api_tokens (user_id, name, prefix, token_hash, scopes, expires_at)
           VALUES ($1, $2, $3, $4, $5, now() + make_interval(days => $6))
           RETURNING *)
         SELECT {TOKEN_COLUMNS} FROM t JOIN users u ON u.id = t.user_id"
    ))
    .bind(user_id)
    .bind(&req.name)
    .bind(&prefix)
    .bind(hash(&secret))
    .bind(&scopes)
    .bind(req.days as i32)
    .fetch_one(&mut *conn)
    .await?;
    let info = to_api(row);
    audit::record(
        conn,
        actor,
        "api_token.create",
        ("api_token", &info.id.to_string()),
        Change::created(&info),
    )
    .await?;
    Ok(CreatedApiToken {
        token: secret,
        info,
    })
}

/// `portolan token create`: a token for someone who has signed in before (`<tid>:<oid>`), with
/// scopes their roles allow, recorded in the audit log as made from the command line.
pub async fn create_for(
    pool: &PgPool,
    config: &crate::config::Config,
    user: &str,
    new: &NewApiToken,
) -> anyhow::Result<CreatedApiToken> {
    let Some((tenant, object)) = user.split_once(':') else {
        anyhow::bail!("--user must be <tenant id>:<object id>, e.g. development:developer");
    };
    let row: Option<(i64, String, Vec<String>, Vec<String>)> = sqlx::query_as(
        "SELECT id, display_name, roles, groups FROM users WHERE tenant_id = $1 AND object_id = $2",
    )
    .bind(tenant)
    .bind(object)
    .fetch_optional(pool)
    .await?;
    let Some((user_id, name, roles, groups)) = row else {
        anyhow::bail!(
            "nobody with the account id {user} has signed in to Portolan yet; they must sign in once first"
        );
    };
    let access = Access::of(&roles, &groups, &config.group_roles);
    let req = check(new, &access).map_err(|e| match e {
        AppError::Validation(fields) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    })?;
    let actor = Actor {
        kind: portolan_api::ActorKind::System,
        id: "cli".into(),
        name: format!("portolan token create (for {name})"),
    };
    let mut tx = pool.begin().await?;
    let made = create(&mut tx, &actor, user_id, &req)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tx.commit().await?;
    Ok(made)
}

/// A token as presented: whose it is and whether it may be used.
pub struct Presented {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: BTreeSet<Scope>,
    pub owner_tenant: String,
    pub owner_object: String,
    pub owner_name: String,
    pub owner_roles: Vec<String>,
    pub owner_groups: Vec<String>,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Looks a presented token up by its hash and, when it is usable, notes its use (at most once a
/// minute, to spare writes). Unknown tokens are `None`.
pub async fn present(pool: &PgPool, secret: &str) -> AppResult<Option<Presented>> {
    type Row = (
        i64,
        String,
        String,
        Vec<String>,
        String,
        String,
        String,
        Vec<String>,
        Vec<String>,
        OffsetDateTime,
        Option<OffsetDateTime>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT t.id, t.name, t.prefix, t.scopes, u.tenant_id, u.object_id, u.display_name,
                u.roles, u.groups, t.expires_at, t.revoked_at
           FROM api_tokens t JOIN users u ON u.id = t.user_id
          WHERE t.token_hash = $1",
    )
    .bind(hash(secret))
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let usable = r.10.is_none() && r.9 > OffsetDateTime::now_utc();
    if usable {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = now()
              WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        )
        .bind(r.0)
        .execute(pool)
        .await?;
    }
    Ok(Some(Presented {
        id: r.0,
        name: r.1,
        prefix: r.2,
        scopes: r.3.iter().filter_map(|s| Scope::parse(s)).collect(),
        owner_tenant: r.4,
        owner_object: r.5,
        owner_name: r.6,
        owner_roles: r.7,
        owner_groups: r.8,
        expires_at: r.9,
        revoked_at: r.10,
    }))
}

/// API tokens: yours (an admin sees everyone's), newest first, revoked and expired ones included.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth",
    responses((status = 200, body = Vec<ApiToken>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn list_tokens(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
) -> AppResult<Json<Vec<ApiToken>>> {
    let all = state.access_of(&me).is_admin();
    let rows: Vec<TokenRow> = sqlx::query_as(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
          WHERE $1 OR t.user_id = $2 ORDER BY t.id DESC LIMIT 500"
    ))
    .bind(all)
    .bind(me.user_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows.into_iter().map(to_api).collect()))
}

/// Creates an API token with scopes your own roles allow. The answer holds the secret, once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", request_body = NewApiToken,
    responses((status = 201, body = CreatedApiToken), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
    actor: Actor,
    ApiJson(new): ApiJson<NewApiToken>,
) -> AppResult<Created<CreatedApiToken>> {
    let req = check(&new, &state.access_of(&me))?;
    let mut tx = state.pool.begin().await?;
    let made = create(&mut tx, &actor, me.user_id, &req).await?;
    tx.commit().await?;
    let location = format!("/api/v1/tokens/{}", made.info.id);
    Ok(created(location, made))
}

/// Revokes a token at once (yours; an admin may revoke anyone's). Revoking twice changes nothing.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth",
    params(("id" = i64, Path, description = "The token's id")),
    responses((status = 200, body = ApiToken), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    Extension(me): Extension<SignedIn>,
    actor: Actor,
    Path(id): Path<i64>,
) -> AppResult<(StatusCode, Json<ApiToken>)> {
    let admin = state.access_of(&me).is_admin();
    let mut tx = state.pool.begin().await?;
    let before: Option<TokenRow> = sqlx::query_as(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
          WHERE t.id = $1 AND ($2 OR t.user_id = $3) FOR UPDATE OF t"
    ))
    .bind(id)
    .bind(admin)
    .bind(me.user_id)
    .fetch_optional(&mut *tx)
    .await?;
    // Someone else's token is as good as absent: its existence is not yours to learn.
    let before = to_api(before.ok_or_else(|| AppError::not_found("API token", id))?);
    if before.revoked_at.is_some() {
        return Ok((StatusCode::OK, Json(before)));
    }
    let after: TokenRow = sqlx::query_as(&format!(
        "WITH t AS (UPDATE api_tokens SET revoked_at = now() WHERE id = $1 RETURNING *)
         SELECT {TOKEN_COLUMNS} FROM t JOIN users u ON u.id = t.user_id"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let after = to_api(after);
    audit::record(
        &mut tx,
        &actor,
        "api_token.revoke",
        ("api_token", &id.to_string()),
        Change::changed(&before, &after),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::OK, Json(after)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::tests::access;

    fn new(name: &str, scopes: &[&str], days: Option<u32>) -> NewApiToken {
        NewApiToken {
            name: name.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_in_days: days,
        }
    }

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::Validation(f) => f.into_iter().map(|f| f.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_is_trimmed_and_defaults_to_ninety_days() {
        let r = check(
            &new(" ci ", &["deployments:write", "read", "read"], None),
            &access(&["developer"]),
        )
        .expect("fine");
        assert_eq!(r.name, "ci");
        assert_eq!(r.days, 90);
        assert_eq!(
            r.scopes.into_iter().collect::<Vec<_>>(),
            vec![Scope::Read, Scope::DeploymentsWrite]
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let e = check(
            &new("", &["read", "deploy"], Some(0)),
            &access(&["developer"]),
        )
        .expect_err("refused");
        assert_eq!(fields(e), vec!["name", "scopes[1]", "expires_in_days"]);
        let e = check(&new("x", &[], Some(367)), &access(&["admin"])).expect_err("refused");
        assert_eq!(fields(e), vec!["scopes", "expires_in_days"]);
    }

    #[test]
    fn nobody_hands_out_more_than_they_hold() {
        let e = check(
            &new("x", &["deployments:write"], None),
            &access(&["viewer"]),
        )
        .expect_err("refused");
        assert_eq!(fields(e), vec!["scopes"]);
        assert!(check(&new("x", &["read"], None), &access(&["viewer"])).is_ok());
    }
}
