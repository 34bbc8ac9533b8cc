//! The lifecycle of a promotion request: pending → approved | rejected | expired | cancelled,
//! then deployed once the deployment of an approved one to its target is recorded.

use portolan_api::PromotionState;

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

#[cfg(test)]
mod tests {
    use super::*;
    use PromotionState::*;

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
