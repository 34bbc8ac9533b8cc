//! The SQL of live updates: announcing changes on the Postgres channel.

use sqlx::PgConnection;

use super::CHANNEL;
use crate::error::AppResult;

/// `pg_notify` each payload in the caller's transaction: Postgres delivers them to every
/// listener when it commits, in order, and drops them when it rolls back.
pub async fn notify(conn: &mut PgConnection, payloads: &[String]) -> AppResult<()> {
    if payloads.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, n) ORDER BY n",
    )
    .bind(CHANNEL)
    .bind(payloads)
    .execute(conn)
    .await?;
    Ok(())
}
