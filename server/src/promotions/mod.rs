//! Promotions between environments: each environment's gate policy, promotion requests and
//! their approvals, and the gate evaluator ([`gate::evaluate`], a pure function) that says, for
//! every condition of the policy, whether it passes, is still to come, or cannot pass.

pub mod azure_devops;
pub mod gate;
pub mod model;
pub mod repo;
pub mod review;
pub mod routes;

use portolan_api::{Deployment, DeploymentStatus};
use sqlx::PgConnection;

use crate::audit::{self, Actor, repo::Change};
use crate::error::AppResult;

/// Marks the approved promotions a succeeded deployment carried out as `deployed`, in the
/// deployment's transaction (each with an audit record).
pub async fn deployed(conn: &mut PgConnection, actor: &Actor, d: &Deployment) -> AppResult<()> {
    if d.status != DeploymentStatus::Succeeded {
        return Ok(());
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "UPDATE promotions p SET state = 'deployed', deployment_id = $1, updated_at = now(),
                row_version = row_version + 1
           FROM services s, environments e
          WHERE p.state = 'approved' AND s.id = p.service_id AND e.id = p.to_environment_id
            AND s.slug = $2 AND e.slug = $3 AND p.version = $4
          RETURNING p.id",
    )
    .bind(d.id)
    .bind(&d.service.slug)
    .bind(&d.environment.slug)
    .bind(&d.version)
    .fetch_all(&mut *conn)
    .await?;
    for id in ids {
        audit::record(
            conn,
            actor,
            "promotion.deployed",
            ("promotion", &id.to_string()),
            Change::created(&serde_json::json!({"state": "deployed", "deployment": d.id})),
        )
        .await?;
        crate::live::promotion_changed(conn, id, "promotion.deployed").await?;
    }
    Ok(())
}
