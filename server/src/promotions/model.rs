//! The lifecycle of a promotion request: pending → approved | rejected | expired | cancelled,
//! then deployed once the deployment of an approved one to its target is recorded.

use portolan_api::{Condition, ConditionStatus, Promotion, PromotionState};

/// The states a request in `state` may move to.
pub fn moves(state: PromotionState) -> &'static [PromotionState] {
    use PromotionState::*;
    match state {
        Pending => &[Approved, Rejected, Expired, Cancelled],
        // Approved but not yet deployed: the pipeline may still give up.
        Approved => &[Deployed, Cancelled],
        Rejected | Expired | Cancelled | Deployed => &[],
    }
}

/// Whether `from` may move to `to`, or why not, in words.
pub fn check_move(from: PromotionState, to: PromotionState) -> Result<(), String> {
    if moves(from).contains(&to) {
        Ok(())
    } else if moves(from).is_empty() {
        Err(format!(
            "the request is {}: it no longer changes",
            from.as_str()
        ))
    } else {
        Err(format!(
            "a {} request can only become {}",
            from.as_str(),
            moves(from)
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// The conditions that hold a pending request back: waiting ones and failing ones, in the
/// gate's order.
pub fn holding(p: &Promotion) -> impl Iterator<Item = &Condition> {
    p.conditions
        .iter()
        .filter(|c| c.status != ConditionStatus::Pass)
}

/// Where a request stands, in one line for a pipeline's log: what its gate still waits for, or
/// how it was decided and by whom.
pub fn outcome(p: &Promotion) -> String {
    let by = p.decided_by.as_deref().unwrap_or("Portolan");
    let at = p
        .decided_at
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    match p.state {
        PromotionState::Pending => {
            let reasons: Vec<&str> = holding(p).map(|c| c.reason.as_str()).collect();
            if reasons.is_empty() {
                "pending: every condition passes; the gate opens at the next read".into()
            } else {
                format!("waiting: {}", reasons.join("; "))
            }
        }
        PromotionState::Approved | PromotionState::Deployed => {
            let how = match &p.break_glass {
                Some(glass) => format!("approved by breaking the glass ({glass})"),
                None => format!("approved by {by} ({})", p.decision_note),
            };
            if p.state == PromotionState::Deployed {
                format!("already deployed; {how}")
            } else {
                how
            }
        }
        PromotionState::Rejected => match p.approvals.iter().rev().find(|a| a.decision == "reject")
        {
            Some(a) => format!("rejected by {}: {}", a.person.name, a.comment),
            None => format!("rejected by {by}: {}", p.decision_note),
        },
        PromotionState::Expired => format!("expired at {at} before anyone decided; ask again"),
        PromotionState::Cancelled => format!(
            "cancelled by {by}: {}",
            p.decision_note
                .strip_prefix("cancelled: ")
                .unwrap_or(&p.decision_note)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PromotionState::*;

    fn promotion(state: PromotionState) -> Promotion {
        Promotion {
            id: 7,
            service: portolan_api::ServiceRef {
                slug: "checkout-api".into(),
                name: "Checkout API".into(),
            },
            version: "1.2.0".into(),
            from: "staging".into(),
            to: "prod".into(),
            hotfix: false,
            state,
            reason: String::new(),
            requester: "CI".into(),
            created_at: time::macros::datetime!(2026-11-20 10:00 UTC),
            expires_at: time::macros::datetime!(2026-11-23 10:00 UTC),
            decided_at: None,
            decided_by: None,
            decision_note: String::new(),
            policy_version: 1,
            break_glass: None,
            approvals: vec![],
            conditions: vec![
                Condition {
                    key: "expiry".into(),
                    status: ConditionStatus::Pass,
                    reason: "expires in 2 d".into(),
                },
                Condition {
                    key: "approvals:Release managers".into(),
                    status: ConditionStatus::Waiting,
                    reason: "needs 1 more approval from Release managers".into(),
                },
                Condition {
                    key: "freeze".into(),
                    status: ConditionStatus::Fail,
                    reason: "freeze: audit until 2 Dec".into(),
                },
            ],
            verdict: portolan_api::Verdict::Blocked,
        }
    }

    #[test]
    fn the_outcome_says_what_holds_the_gate_or_who_decided() {
        let p = promotion(Pending);
        assert_eq!(
            outcome(&p),
            "waiting: needs 1 more approval from Release managers; freeze: audit until 2 Dec"
        );
        let mut rejected = promotion(Rejected);
        rejected.decided_by = Some("Rita".into());
        rejected.decision_note = "rejected by Rita: not during the audit".into();
        rejected.approvals.push(portolan_api::PromotionApproval {
            person: portolan_api::PersonRef {
                id: "t:rita".into(),
                name: "Rita".into(),
            },
            decision: "reject".into(),
            comment: "not during the audit".into(),
            at: time::macros::datetime!(2026-11-20 11:00 UTC),
        });
        assert_eq!(outcome(&rejected), "rejected by Rita: not during the audit");
        let mut glass = promotion(Approved);
        glass.decided_by = Some("Ada Admin".into());
        glass.break_glass = Some("Ada Admin: payments are down".into());
        assert_eq!(
            outcome(&glass),
            "approved by breaking the glass (Ada Admin: payments are down)"
        );
        let mut cancelled = promotion(Cancelled);
        cancelled.decided_by = Some("Dana".into());
        cancelled.decision_note = "cancelled: superseded by 1.2.1".into();
        assert_eq!(
            outcome(&cancelled),
            "cancelled by Dana: superseded by 1.2.1"
        );
        let mut expired = promotion(Expired);
        expired.decided_at = Some(time::macros::datetime!(2026-11-23 10:00 UTC));
        expired.decision_note = "expired before a decision".into();
        assert_eq!(
            outcome(&expired),
            "expired at 2026-11-23T10:00:00Z before anyone decided; ask again"
        );
        let mut deployed = promotion(Deployed);
        deployed.decided_by = Some("Ben".into());
        deployed.decision_note = "approved; the gate is open (1 approvals)".into();
        assert_eq!(
            outcome(&deployed),
            "already deployed; approved by Ben (approved; the gate is open (1 approvals))"
        );
    }

    #[test]
    fn a_request_is_decided_once() {
        for to in [Approved, Rejected, Expired, Cancelled] {
            assert!(check_move(Pending, to).is_ok(), "{to:?}");
        }
        assert_eq!(
            check_move(Pending, Deployed).expect_err("not before approval"),
            "a pending request can only become approved, rejected, expired, cancelled"
        );
        assert!(check_move(Approved, Deployed).is_ok());
        assert!(check_move(Approved, Cancelled).is_ok());
        assert!(check_move(Approved, Rejected).is_err(), "a decision stands");
        for done in [Rejected, Expired, Cancelled, Deployed] {
            for to in PromotionState::ALL {
                assert_eq!(
                    check_move(done, to).expect_err("final"),
                    format!("the request is {}: it no longer changes", done.as_str())
                );
            }
        }
        assert!(
            check_move(Pending, Pending).is_err(),
            "staying pending is not a move"
        );
    }
}
