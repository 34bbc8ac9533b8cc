//! What a change of a promotion request tells the channels, and when a failed message is tried
//! again. No I/O.

use std::time::Duration;

use portolan_api::{Promotion, PromotionState, Verdict};

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A request that waits for approvers (created pending: its gate did not open at once).
    Requested,
    Approved,
    Rejected,
    Expired,
    Cancelled,
    /// An admin overrode the gate.
    BreakGlass,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "promotion.requested",
            Self::Approved => "promotion.approved",
            Self::Rejected => "promotion.rejected",
            Self::Expired => "promotion.expired",
            Self::Cancelled => "promotion.cancelled",
            Self::BreakGlass => "promotion.break_glass",
        }
    }

    /// The message about a change of a request: `action` is what the audit log calls the
    /// change (`promotion.request`, `promotion.approve`, …) and `after` the request as it
    /// became. `None`: nothing to tell (an approval that does not open the gate yet, a request
    /// whose gate opens at once, a deployment).
    pub fn of(action: &str, after: &Promotion) -> Option<Self> {
        let event = match (action, after.state) {
            // Settling right after asks nobody: a gate that needs nobody opens in the same
            // transaction.
            ("promotion.request", PromotionState::Pending) if after.verdict != Verdict::Open => {
                Self::Requested
            }
            ("promotion.approve", PromotionState::Approved) => Self::Approved,
            ("promotion.reject", PromotionState::Rejected) => Self::Rejected,
            ("promotion.expire", PromotionState::Expired) => Self::Expired,
            ("promotion.cancel", PromotionState::Cancelled) => Self::Cancelled,
            ("promotion.break_glass", PromotionState::Approved) => Self::BreakGlass,
            _ => return None,
        };
        Some(event)
    }

    /// Whether a channel hears of it only when it heard of the request first: how a request
    /// ended means nothing to a channel that never saw it asked (one that opened by itself at
    /// once). Breaking the glass is always told.
    pub fn follows_request(self) -> bool {
        !matches!(self, Self::Requested | Self::BreakGlass)
    }
}

/// How many attempts a message gets before it is given up (`failed`).
pub const MAX_ATTEMPTS: i32 = 8;

/// The pauses after each failed attempt, in multiples of the first: with 30 s, that is 30 s,
/// 2 min, 10 min, 1 h, 2 h, 4 h and 8 h, about 15 h in all.
const PAUSES: [u32; (MAX_ATTEMPTS - 1) as usize] = [1, 4, 20, 120, 240, 480, 960];

/// The pause before the next attempt of a message that has now failed `attempts` times (`first`:
/// the pause after the first failure); `None` once it has had its [`MAX_ATTEMPTS`].
pub fn retry_delay(first: Duration, attempts: i32) -> Option<Duration> {
    let n = usize::try_from(attempts).ok()?.checked_sub(1)?;
    PAUSES.get(n).map(|m| first * *m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_grow_from_thirty_seconds_to_eight_hours_then_give_up() {
        let first = Duration::from_secs(30);
        let schedule: Vec<u64> = (1..=MAX_ATTEMPTS)
            .map_while(|n| retry_delay(first, n))
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(
            schedule,
            [30, 120, 600, 3_600, 7_200, 14_400, 28_800],
            "30 s, 2 min, 10 min, 1 h, 2 h, 4 h, 8 h"
        );
        assert_eq!(
            retry_delay(first, MAX_ATTEMPTS),
            None,
            "the eighth failure is the last"
        );
        assert_eq!(retry_delay(first, 0), None, "nothing failed yet");
        assert_eq!(retry_delay(first, -1), None);
        assert!(
            schedule.windows(2).all(|w| w[1] > w[0]),
            "always longer: {schedule:?}"
        );
        // Tests shorten the first pause; the shape stays.
        assert_eq!(
            retry_delay(Duration::from_millis(2), 3),
            Some(Duration::from_millis(40))
        );
    }
}
