//! The incident lifecycle and the rules its times obey. No I/O.

use portolan_api::IncidentState;
use time::OffsetDateTime;

use crate::deployments::model::CLOCK_SKEW;

/// What a move does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// Already there: nothing to do (a retried request, a re-sent alert).
    Unchanged,
    /// A move within the lifecycle.
    Step,
    /// Back from resolved to investigating: the fix did not hold.
    Reopen,
}

/// Decides whether an incident may move from `from` to `to`, with a reason a person understands
/// when it may not.
///
/// - While open (triage, investigating, identified, monitoring) it may move to any later open
///   state or back to an earlier one except triage (once someone is on it, it stays acknowledged),
///   and on to resolved.
/// - Resolved moves on to closed, or back to investigating when the fix did not hold.
/// - Declined (not an incident after all) only from triage or investigating.
/// - Merged (into another incident) from any state but the final ones.
/// - Closed, declined and merged are final.
pub fn transition(from: IncidentState, to: IncidentState) -> Result<Move, String> {
    use IncidentState::*;
    if from == to {
        return Ok(Move::Unchanged);
    }
    let refuse = |why: &str| {
        Err(format!(
            "an incident cannot move from {} to {}: {why}",
            from.as_str(),
            to.as_str()
        ))
    };
    if from.is_final() {
        return refuse(&format!("{} is final", from.as_str()));
    }
    match (from, to) {
        (_, Triage) => refuse("triage is only where an incident starts"),
        (Resolved, Investigating) => Ok(Move::Reopen),
        (Resolved, Closed | Merged) => Ok(Move::Step),
        (Resolved, _) => refuse("a resolved incident is closed, or reopened as investigating"),
        (_, Closed) => refuse("it must be resolved first"),
        (Triage | Investigating, Declined) => Ok(Move::Step),
        (_, Declined) => {
            refuse("only an incident still in triage or investigating can be declined")
        }
        (_, Investigating | Identified | Monitoring | Resolved | Merged) => Ok(Move::Step),
    }
}

/// Where an incident in `from` may go next, in lifecycle order.
pub fn moves(from: IncidentState) -> Vec<IncidentState> {
    IncidentState::ALL
        .into_iter()
        .filter(|to| matches!(transition(from, *to), Ok(Move::Step | Move::Reopen)))
        .collect()
}

/// The four times of an incident.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Times {
    pub started_at: Option<OffsetDateTime>,
    pub detected_at: Option<OffsetDateTime>,
    pub mitigated_at: Option<OffsetDateTime>,
    pub resolved_at: Option<OffsetDateTime>,
}

impl Times {
    /// The times of an incident as it stands.
    pub fn of(i: &portolan_api::Incident) -> Self {
        Self {
            started_at: i.started_at,
            detected_at: i.detected_at,
            mitigated_at: i.mitigated_at,
            resolved_at: i.resolved_at,
        }
    }

    /// Every problem, by field: none in the future, and started ≤ detected ≤ mitigated ≤
    /// resolved wherever both are known (impact is noticed after it starts, and stops before, or
    /// when, the incident is resolved).
    pub fn problems(&self, now: OffsetDateTime) -> Vec<(&'static str, String)> {
        let named = [
            ("started_at", self.started_at),
            ("detected_at", self.detected_at),
            ("mitigated_at", self.mitigated_at),
            ("resolved_at", self.resolved_at),
        ];
        let mut problems = Vec::new();
        for (field, t) in named {
            if let Some(t) = t
                && t > now + CLOCK_SKEW
            {
                problems.push((field, "is in the future".to_string()));
            }
        }
        for (i, (later, l)) in named.iter().enumerate() {
            let Some(l) = l else { continue };
            // The nearest earlier time that is known must not be after this one.
            if let Some((earlier, e)) = named[..i]
                .iter()
                .rev()
                .find_map(|(name, t)| t.map(|t| (*name, t)))
                && *l < e
            {
                problems.push((
                    later,
                    format!("must not be before {earlier} ({})", rfc3339(e)),
                ));
            }
        }
        problems
    }

    /// The times after moving to `to` at `at`: resolving stamps resolved (and mitigated, if it
    /// was not yet), reopening clears resolved.
    pub fn after_move(mut self, to: IncidentState, how: Move, at: OffsetDateTime) -> Self {
        match (to, how) {
            (_, Move::Unchanged) => {}
            (IncidentState::Resolved, _) => {
                self.resolved_at = Some(at);
                self.mitigated_at = Some(self.mitigated_at.unwrap_or(at));
            }
            (_, Move::Reopen) => self.resolved_at = None,
            _ => {}
        }
        self
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// `INC-<id>`.
pub fn reference(id: i64) -> String {
    format!("INC-{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncidentState::*;
    use time::macros::datetime;

    #[test]
    fn the_lifecycle_moves_forward_and_back_within_reason() {
        for (from, to) in [
            (Triage, Investigating),
            (Triage, Identified),
            (Triage, Resolved),
            (Investigating, Identified),
            (Identified, Monitoring),
            (Monitoring, Investigating),
            (Monitoring, Resolved),
            (Resolved, Closed),
            (Triage, Declined),
            (Investigating, Declined),
            (Triage, Merged),
            (Monitoring, Merged),
            (Resolved, Merged),
        ] {
            assert_eq!(transition(from, to), Ok(Move::Step), "{from:?} → {to:?}");
        }
        assert_eq!(transition(Resolved, Investigating), Ok(Move::Reopen));
        assert_eq!(moves(Resolved), [Investigating, Closed, Merged]);
        assert_eq!(moves(Closed), []);
        for s in IncidentState::ALL {
            assert_eq!(transition(s, s), Ok(Move::Unchanged));
        }
    }

    #[test]
    fn illegal_moves_say_why() {
        let refused = |from, to| transition(from, to).expect_err("refused");
        assert!(refused(Closed, Investigating).contains("closed is final"));
        assert!(refused(Merged, Resolved).contains("merged is final"));
        assert!(refused(Declined, Triage).contains("declined is final"));
        assert!(refused(Investigating, Triage).contains("only where an incident starts"));
        assert!(refused(Monitoring, Closed).contains("resolved first"));
        assert!(refused(Identified, Declined).contains("triage or investigating"));
        assert!(refused(Resolved, Monitoring).contains("reopened as investigating"));
        // Every pair is decided one way or the other, and only the listed ones pass.
        let allowed = IncidentState::ALL
            .iter()
            .flat_map(|a| IncidentState::ALL.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a != b && transition(*a, *b).is_ok())
            .count();
        assert_eq!(allowed, 22);
    }

    #[test]
    fn times_keep_their_order_and_stay_out_of_the_future() {
        let now = datetime!(2026-11-22 12:00 UTC);
        let good = Times {
            started_at: Some(datetime!(2026-11-22 09:00 UTC)),
            detected_at: Some(datetime!(2026-11-22 09:05 UTC)),
            mitigated_at: None,
            resolved_at: Some(datetime!(2026-11-22 10:00 UTC)),
        };
        assert!(good.problems(now).is_empty());
        let bad = Times {
            started_at: Some(datetime!(2026-11-22 09:30 UTC)),
            detected_at: Some(datetime!(2026-11-22 09:05 UTC)),
            mitigated_at: Some(datetime!(2026-11-22 13:00 UTC)),
            resolved_at: Some(datetime!(2026-11-22 11:00 UTC)),
        };
        let fields: Vec<&str> = bad.problems(now).iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            ["mitigated_at", "detected_at", "resolved_at"],
            "{:?}",
            bad.problems(now)
        );
        let msg = &bad.problems(now)[1].1;
        assert!(
            msg.contains("must not be before started_at (2026-11-22T09:30:00Z)"),
            "{msg}"
        );
        // A few minutes of clock drift is not "the future".
        let drift = Times {
            detected_at: Some(now + time::Duration::minutes(3)),
            ..Times::default()
        };
        assert!(drift.problems(now).is_empty());
    }

    #[test]
    fn resolving_stamps_the_times_and_reopening_clears_resolved() {
        let at = datetime!(2026-11-22 10:00 UTC);
        let t = Times::default().after_move(Resolved, Move::Step, at);
        assert_eq!((t.mitigated_at, t.resolved_at), (Some(at), Some(at)));
        let earlier = datetime!(2026-11-22 09:40 UTC);
        let t = Times {
            mitigated_at: Some(earlier),
            ..Times::default()
        }
        .after_move(Resolved, Move::Step, at);
        assert_eq!(t.mitigated_at, Some(earlier), "a known mitigation stays");
        let reopened = t.after_move(Investigating, Move::Reopen, at);
        assert_eq!(reopened.resolved_at, None);
        assert_eq!(reopened.mitigated_at, Some(earlier));
        assert_eq!(reference(42), "INC-42");
    }
}
