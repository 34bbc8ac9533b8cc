//! The audit log's SQL. The chain itself (seq, hashes) is computed by the database on insert.

use portolan_api::{ActorKind, AuditRecord};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool};
use time::OffsetDateTime;

use super::model::{Actor, ChainCheck, ChainRow, Finding};
use crate::error::{AppResult, current_request_id};

/// What a change did to its target, as JSON snapshots.
pub struct Change {
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

fn snapshot(v: &impl Serialize) -> Option<serde_json::Value> {
    // Our wire types always serialise; a failure would only lose the snapshot, not the record.
    serde_json::to_value(v).ok()
}

impl Change {
    pub fn created(after: &impl Serialize) -> Self {
        Self {
            before: None,
            after: snapshot(after),
        }
    }
    pub fn changed(before: &impl Serialize, after: &impl Serialize) -> Self {
        Self {
            before: snapshot(before),
            after: snapshot(after),
        }
    }
    pub fn removed(before: &impl Serialize) -> Self {
        Self {
            before: snapshot(before),
            after: None,
        }
    }
}

/// Records a change, in the caller's transaction: it commits or rolls back with the change.
pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    (target_kind, target_id): (&str, &str),
    change: Change,
) -> AppResult<()> {
    if !portolan_api::TARGET_KINDS.contains(&target_kind) {
        // A bug: the audit filters offer exactly the known kinds.
        return Err(crate::error::AppError::Internal(anyhow::anyhow!(
            "audit target kind '{target_kind}' is missing from TARGET_KINDS"
        )));
    }
    sqlx::query(
        "INSERT INTO audit_log (seq, actor_kind, actor_id, actor_name, action, target_kind, target_id,
                                before, after, request_id, prev_hash, hash)
         VALUES (0, $1, $2, $3, $4, $5, $6, $7, $8, $9, '\\x', '\\x')",
    )
    .bind(actor.kind_str())
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(action)
    .bind(target_kind)
    .bind(target_id)
    .bind(change.before)
    .bind(change.after)
    .bind(current_request_id())
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct AuditRow {
    seq: i64,
    at: OffsetDateTime,
    actor_kind: String,
    actor_id: String,
    actor_name: String,
    action: String,
    target_kind: String,
    target_id: String,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    request_id: Option<String>,
    hash: Vec<u8>,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        AuditRecord {
            seq: r.seq,
            at: r.at,
            actor_kind: match r.actor_kind.as_str() {
                "user" => ActorKind::User,
                "token" => ActorKind::Token,
                "system" => ActorKind::System,
                _ => ActorKind::Anonymous,
            },
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            action: r.action,
            target_kind: r.target_kind,
            target_id: r.target_id,
            before: r.before,
            after: r.after,
            request_id: r.request_id,
            hash: r.hash.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    /// At or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Before this instant.
    pub until: Option<OffsetDateTime>,
}

/// Which way a list walks the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Newest first, from before this seq (or from the newest): the paged list.
    Back(Option<i64>),
    /// Oldest first, after this seq (0 for the start): the export.
    Forward(i64),
}

/// Records matching `f`, `limit` at most, in the order `walk` says.
pub async fn list(
    conn: &mut PgConnection,
    f: &AuditFilter,
    walk: Walk,
    limit: i64,
) -> AppResult<Vec<AuditRecord>> {
    let (after, before, order) = match walk {
        Walk::Back(before) => (None, before, "DESC"),
        Walk::Forward(after) => (Some(after), None, "ASC"),
    };
    let rows: Vec<AuditRow> = sqlx::query_as(&format!(
        "SELECT seq, at, actor_kind, actor_id, actor_name, action, target_kind, target_id, before, after,
                request_id, hash
           FROM audit_log
          WHERE ($1::bigint IS NULL OR seq > $1)
            AND ($2::bigint IS NULL OR seq < $2)
            AND ($3::text IS NULL OR actor_id = $3)
            AND ($4::text IS NULL OR action = $4)
            AND ($5::text IS NULL OR target_kind = $5)
            AND ($6::text IS NULL OR target_id = $6)
            AND ($7::timestamptz IS NULL OR at >= $7)
            AND ($8::timestamptz IS NULL OR at < $8)
          ORDER BY seq {order} LIMIT $9"
    ))
    .bind(after)
    .bind(before)
    .bind(f.actor_id.as_deref())
    .bind(f.action.as_deref())
    .bind(f.target_kind.as_deref())
    .bind(f.target_id.as_deref())
    .bind(f.since)
    .bind(f.until)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(AuditRecord::from).collect())
}

/// The outcome of walking the whole chain.
pub struct Verification {
    pub rows: u64,
    /// Hex hash of the last record: keep it elsewhere to detect a removed tail later.
    pub head: Option<String>,
    pub findings: Vec<Finding>,
}

/// Recomputes every record's hash in the database and checks the chain.
pub async fn verify(pool: &PgPool) -> anyhow::Result<Verification> {
    use futures_util::TryStreamExt;
    let mut conn = pool.acquire().await?;
    let mut stream = sqlx::query_as::<_, (i64, i64, Vec<u8>, Vec<u8>, Vec<u8>)>(
        "SELECT id, seq, prev_hash, hash, audit_log_row_hash(a) FROM audit_log a ORDER BY seq",
    )
    .fetch(&mut *conn);
    let mut check = ChainCheck::default();
    let mut rows: u64 = 0;
    let mut head = None;
    while let Some((id, seq, prev_hash, hash, recomputed)) = stream.try_next().await? {
        rows += 1;
        head = Some(hash.clone());
        check.push(ChainRow {
            id,
            seq,
            prev_hash,
            hash,
            recomputed,
        });
    }
    let head = head.map(|h: Vec<u8>| h.iter().map(|b| format!("{b:02x}")).collect());
    Ok(Verification {
        rows,
        head,
        findings: check.finish(),
    })
}
