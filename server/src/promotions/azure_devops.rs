//! Azure DevOps' "Invoke REST API" check on an environment (or another protected resource):
//! each evaluation asks Portolan for the promotion, idempotently, and reads whether it may go.
//!
//! The check runs in `ApiResponse` mode: Azure Pipelines calls, waits a few seconds for the
//! answer, and passes when its success criterion `eq(root['approved'], true)` holds; otherwise it
//! evaluates again after its "time between evaluations", until its timeout. So every evaluation
//! must answer at once (no long-poll here) and must not open a new request by itself once one was
//! decided: the latest request of the version into the environment answers, whatever its state.
//! A rejected, expired or cancelled request answers `approved: false, final: true` at every
//! evaluation until the check times out (`ApiResponse` checks cannot fail early); asking again
//! (a person, or `portolan gate request`) makes a new pending request that the next evaluation
//! follows.

use axum::Json;
use axum::extract::State;
use portolan_api::{AzureDevOpsCheck, ErrorBody, NewPromotion, Promotion, PromotionState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model;
use super::routes::{Reuse, ask, settled};
use crate::AppState;
use crate::audit::Actor;
use crate::error::AppResult;
use crate::extract::ApiJson;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(azure_devops_check))
}

/// The page of request `id` under `public_url`.
pub fn page_url(public_url: &url::Url, id: i64) -> String {
    format!(
        "{}/promotions/{id}",
        public_url.as_str().trim_end_matches('/')
    )
}

/// What the check reads about a request.
pub fn check_answer(p: &Promotion, public_url: &url::Url) -> AzureDevOpsCheck {
    AzureDevOpsCheck {
        approved: matches!(p.state, PromotionState::Approved | PromotionState::Deployed),
        is_final: p.state.is_decided(),
        state: p.state,
        id: p.id,
        url: page_url(public_url, p.id),
        summary: model::outcome(p),
    }
}

/// Azure DevOps' "Invoke REST API" check (completion event `ApiResponse`, success criterion
/// `eq(root['approved'], true)`): asks for the promotion unless this version was already asked
/// for into this environment (the latest request answers, whatever its state), and says at once
/// whether it may go. Always 200 for a request it could read; `final` tells a decision that will
/// not change.
#[utoipa::path(post, path = "/api/v1/integrations/azure-devops/check", tag = "promotions",
    request_body = NewPromotion,
    responses((status = 200, body = AzureDevOpsCheck), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn azure_devops_check(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(new): ApiJson<NewPromotion>,
) -> AppResult<Json<AzureDevOpsCheck>> {
    let (_, p) = ask(&state, &actor, &new, Reuse::Latest).await?;
    // A check is a read: a soak time that ran out opens the gate, a lapsed request expires.
    let p = if p.state == PromotionState::Pending {
        settled(&state, p.id).await?
    } else {
        p
    };
    Ok(Json(check_answer(&p, &state.config.public_url)))
}
