//! The rules of action items that need no database: the moves between states, due dates, what
//! counts as overdue, and the follow-through figures (ages, the weekly trend, on-time share).

use std::collections::BTreeMap;

use portolan_api::{ActionFigures, ActionPriority, ActionState, AgeBucket, TrendWeek};
use time::{Date, Duration, OffsetDateTime, Weekday};

/// The longest a due date may lie ahead: further than this is most likely a typo.
pub const MAX_DUE_YEARS: i64 = 3;
/// Weeks in the trend.
pub const TREND_WEEKS: usize = 12;

/// The states an item in `state` may move to.
pub fn moves(state: ActionState) -> Vec<ActionState> {
    use ActionState::*;
    match state {
        Open => vec![InProgress, Done, WontDo],
        InProgress => vec![Open, Done, WontDo],
        Done | WontDo => vec![Open],
    }
}

/// Whether `from` may move to `to`, with the note the move needs (a reason to drop an item).
pub fn check_move(from: ActionState, to: ActionState, note: &str) -> Result<(), String> {
    if from == to {
        return Ok(());
    }
    if !moves(from).contains(&to) {
        return Err(format!(
            "from {} it can only move to {}",
            from.as_str(),
            moves(from)
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    if to == ActionState::WontDo && note.trim().is_empty() {
        return Err("say why it will not be done (state_note)".into());
    }
    Ok(())
}

/// The due date when none is given.
pub fn default_due(priority: ActionPriority, today: Date) -> Date {
    today + Duration::days(priority.default_due_days())
}

/// A due date someone chose: not in the past, not absurdly far ahead.
pub fn check_due(due: Date, today: Date) -> Result<(), String> {
    if due < today {
        return Err(format!("{due} is in the past (today is {today}, UTC)"));
    }
    if due > today + Duration::days(365 * MAX_DUE_YEARS) {
        return Err(format!(
            "{due} is more than {MAX_DUE_YEARS} years ahead; choose a nearer date"
        ));
    }
    Ok(())
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| format!("'{text}' is not a date (YYYY-MM-DD)"))
}

/// Open (or in progress) after its due day has passed, in UTC.
pub fn overdue(state: ActionState, due_on: Date, now: OffsetDateTime) -> bool {
    !state.is_closed() && due_on < now.date()
}

/// Whole days from creation until closing (or now, while open).
pub fn age_days(
    created_at: OffsetDateTime,
    closed_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> i64 {
    (closed_at.unwrap_or(now) - created_at).whole_days().max(0)
}

/// What the follow-through figures need of one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub team: i64,
    pub state: ActionState,
    pub created_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    pub due_on: Date,
}

impl Facts {
    fn open_at(&self, t: OffsetDateTime) -> bool {
        self.created_at < t && self.closed_at.is_none_or(|c| c >= t)
    }
}

/// The age buckets of open items.
pub const AGE_BUCKETS: [(&str, i64); 4] = [
    ("under 7 days", 7),
    ("7–30 days", 30),
    ("30–90 days", 90),
    ("90 days or more", i64::MAX),
];

pub fn figures(items: &[&Facts], now: OffsetDateTime) -> ActionFigures {
    let today = now.date();
    let open: Vec<&&Facts> = items.iter().filter(|f| !f.state.is_closed()).collect();
    let mut ages: Vec<i64> = open
        .iter()
        .map(|f| age_days(f.created_at, None, now))
        .collect();
    ages.sort_unstable();
    let done_recently: Vec<&&Facts> = items
        .iter()
        .filter(|f| {
            f.state == ActionState::Done
                && f.closed_at.is_some_and(|c| c > now - Duration::days(90))
        })
        .collect();
    let mut to_done: Vec<i64> = done_recently
        .iter()
        .map(|f| age_days(f.created_at, f.closed_at, now))
        .collect();
    to_done.sort_unstable();
    let on_time = done_recently
        .iter()
        .filter(|f| f.closed_at.is_some_and(|c| c.date() <= f.due_on))
        .count() as i64;
    ActionFigures {
        open: open.len() as i64,
        in_progress: open
            .iter()
            .filter(|f| f.state == ActionState::InProgress)
            .count() as i64,
        overdue: open.iter().filter(|f| f.due_on < today).count() as i64,
        due_soon: open
            .iter()
            .filter(|f| f.due_on >= today && f.due_on <= today + Duration::days(7))
            .count() as i64,
        closed_last_30_days: items
            .iter()
            .filter(|f| {
                f.state.is_closed() && f.closed_at.is_some_and(|c| c > now - Duration::days(30))
            })
            .count() as i64,
        median_open_age_days: median(&ages),
        oldest_open_days: ages.last().copied(),
        median_days_to_done: median(&to_done),
        on_time_percent: percent(on_time, done_recently.len() as i64),
    }
}

/// Open items counted into [`AGE_BUCKETS`].
pub fn age_buckets(items: &[&Facts], now: OffsetDateTime) -> Vec<AgeBucket> {
    let mut counts = [0i64; AGE_BUCKETS.len()];
    for f in items.iter().filter(|f| !f.state.is_closed()) {
        let age = age_days(f.created_at, None, now);
        let i = AGE_BUCKETS
            .iter()
            .position(|(_, below)| age < *below)
            .unwrap_or(AGE_BUCKETS.len() - 1);
        counts[i] += 1;
    }
    AGE_BUCKETS
        .iter()
        .zip(counts)
        .map(|((label, _), open)| AgeBucket {
            label: (*label).to_string(),
            open,
        })
        .collect()
}

/// The last [`TREND_WEEKS`] weeks (Monday to Sunday, UTC), oldest first; the last one is the
/// week of `now`, counted up to `now`. An item reopened later counts as open since it was
/// created (its earlier closing is not kept).
pub fn trend(items: &[&Facts], now: OffsetDateTime) -> Vec<TrendWeek> {
    let this_monday = now.date() - Duration::days(now.weekday().number_days_from_monday() as i64);
    debug_assert_eq!(this_monday.weekday(), Weekday::Monday);
    (0..TREND_WEEKS)
        .rev()
        .map(|back| {
            let week_start = this_monday - Duration::weeks(back as i64);
            let start = week_start.midnight().assume_utc();
            let end = (start + Duration::weeks(1)).min(now);
            let within = |t: OffsetDateTime| t >= start && t < end;
            let open_at_end: Vec<&&Facts> = items.iter().filter(|f| f.open_at(end)).collect();
            TrendWeek {
                week_start,
                opened: items.iter().filter(|f| within(f.created_at)).count() as i64,
                closed: items
                    .iter()
                    .filter(|f| f.closed_at.is_some_and(within))
                    .count() as i64,
                open_at_end: open_at_end.len() as i64,
                // Overdue on the last day of the week: due before it.
                overdue_at_end: open_at_end.iter().filter(|f| f.due_on < end.date()).count() as i64,
            }
        })
        .collect()
}

/// Items grouped by team.
pub fn by_team(items: &[Facts]) -> BTreeMap<i64, Vec<&Facts>> {
    let mut out: BTreeMap<i64, Vec<&Facts>> = BTreeMap::new();
    for f in items {
        out.entry(f.team).or_default().push(f);
    }
    out
}

/// The middle value of sorted numbers (the lower of the two middle ones for an even count, so
/// that it is a value that happened).
fn median(sorted: &[i64]) -> Option<i64> {
    if sorted.is_empty() {
        None
    } else {
        Some(sorted[(sorted.len() - 1) / 2])
    }
}

fn percent(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| (part * 100 + whole / 2) / whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ActionState::*;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-11-18 12:00 UTC); // a Wednesday

    fn item(
        state: ActionState,
        created: OffsetDateTime,
        closed: Option<OffsetDateTime>,
        due: Date,
    ) -> Facts {
        Facts {
            team: 1,
            state,
            created_at: created,
            closed_at: closed,
            due_on: due,
        }
    }

    #[test]
    fn every_state_can_be_left_and_closed_items_only_reopen() {
        for s in ActionState::ALL {
            assert!(!moves(s).is_empty(), "{s:?} is a dead end");
            assert!(!moves(s).contains(&s));
        }
        assert_eq!(moves(Done), vec![Open]);
        assert_eq!(moves(WontDo), vec![Open]);
        assert!(check_move(Open, Done, "").is_ok());
        assert!(check_move(InProgress, Open, "").is_ok());
        assert!(check_move(Done, Open, "").is_ok());
        assert!(
            check_move(Done, Done, "").is_ok(),
            "staying put changes nothing"
        );
        let e = check_move(Done, InProgress, "").expect_err("refused");
        assert_eq!(e, "from done it can only move to open");
        let e = check_move(WontDo, Done, "").expect_err("refused");
        assert_eq!(e, "from wont_do it can only move to open");
    }

    #[test]
    fn dropping_an_item_needs_a_reason() {
        assert!(
            check_move(Open, WontDo, "  ")
                .expect_err("refused")
                .contains("why")
        );
        assert!(check_move(Open, WontDo, "covered by AI-4").is_ok());
        // Finishing one needs none.
        assert!(check_move(InProgress, Done, "").is_ok());
    }

    #[test]
    fn due_dates_default_by_priority_and_must_be_sensible() {
        let today = date!(2026 - 11 - 18);
        assert_eq!(
            default_due(ActionPriority::P1, today),
            date!(2026 - 12 - 02)
        );
        assert_eq!(
            default_due(ActionPriority::P2, today),
            date!(2026 - 12 - 18)
        );
        assert_eq!(
            default_due(ActionPriority::P3, today),
            date!(2027 - 02 - 16)
        );
        assert!(check_due(today, today).is_ok());
        assert!(
            check_due(date!(2026 - 11 - 17), today)
                .expect_err("refused")
                .contains("in the past")
        );
        assert!(check_due(date!(2029 - 11 - 16), today).is_ok());
        assert!(
            check_due(date!(2029 - 11 - 18), today)
                .expect_err("refused")
                .contains("3 years")
        );
        assert_eq!(parse_date("2026-12-01"), Ok(date!(2026 - 12 - 01)));
        assert!(
            parse_date("2026-13-01")
                .expect_err("refused")
                .contains("YYYY-MM-DD")
        );
        assert!(parse_date("1/12/2026").is_err());
    }

    #[test]
    fn overdue_means_open_after_the_due_day() {
        assert!(
            !overdue(Open, date!(2026 - 11 - 18), NOW),
            "due today is not late yet"
        );
        assert!(overdue(Open, date!(2026 - 11 - 17), NOW));
        assert!(overdue(InProgress, date!(2026 - 11 - 17), NOW));
        assert!(!overdue(Done, date!(2026 - 01 - 01), NOW));
        assert!(!overdue(WontDo, date!(2026 - 01 - 01), NOW));
    }

    #[test]
    fn ages_count_whole_days_until_closed() {
        let created = datetime!(2026-11-01 13:00 UTC);
        assert_eq!(age_days(created, None, NOW), 16);
        assert_eq!(
            age_days(created, Some(datetime!(2026-11-03 12:59 UTC)), NOW),
            1
        );
        assert_eq!(
            age_days(NOW, None, NOW - Duration::hours(1)),
            0,
            "never negative"
        );
    }

    #[test]
    fn figures_of_a_mixed_team() {
        let d = |days: i64| NOW - Duration::days(days);
        let items = [
            // Open for 40 days, due 10 days ago: overdue.
            item(Open, d(40), None, (NOW - Duration::days(10)).date()),
            // In progress for 5 days, due in 3: due soon.
            item(InProgress, d(5), None, (NOW + Duration::days(3)).date()),
            // Open for 1 day, due in 30.
            item(Open, d(1), None, (NOW + Duration::days(30)).date()),
            // Done 2 days ago after 10 days, on time.
            item(Done, d(12), Some(d(2)), (NOW + Duration::days(5)).date()),
            // Done 20 days ago after 30 days, late.
            item(Done, d(50), Some(d(20)), (NOW - Duration::days(25)).date()),
            // Dropped 3 days ago: closed, but not done.
            item(WontDo, d(9), Some(d(3)), (NOW + Duration::days(9)).date()),
            // Done long ago: outside every window.
            item(
                Done,
                d(200),
                Some(d(150)),
                (NOW - Duration::days(140)).date(),
            ),
        ];
        let refs: Vec<&Facts> = items.iter().collect();
        let f = figures(&refs, NOW);
        assert_eq!(f.open, 3);
        assert_eq!(f.in_progress, 1);
        assert_eq!(f.overdue, 1);
        assert_eq!(f.due_soon, 1);
        assert_eq!(f.closed_last_30_days, 3);
        assert_eq!(f.median_open_age_days, Some(5));
        assert_eq!(f.oldest_open_days, Some(40));
        // Done in the last 90 days: after 10 and 30 days; the lower middle of two is 10.
        assert_eq!(f.median_days_to_done, Some(10));
        assert_eq!(f.on_time_percent, Some(50));

        let ages = age_buckets(&refs, NOW);
        let counts: Vec<i64> = ages.iter().map(|b| b.open).collect();
        assert_eq!(counts, vec![2, 0, 1, 0]);
        assert_eq!(ages[0].label, "under 7 days");
    }

    #[test]
    fn no_items_have_no_medians_rather_than_zero() {
        let f = figures(&[], NOW);
        assert_eq!(f, ActionFigures::default());
        assert_eq!(f.median_open_age_days, None);
        assert_eq!(f.on_time_percent, None);
    }

    #[test]
    fn the_trend_walks_back_twelve_monday_weeks() {
        let created = datetime!(2026-11-03 09:00 UTC); // Tuesday, two weeks back
        let closed = datetime!(2026-11-11 10:00 UTC); // Wednesday, last week
        let items = [
            item(Done, created, Some(closed), date!(2026 - 11 - 05)),
            item(
                Open,
                datetime!(2026-11-16 00:00 UTC),
                None,
                date!(2026 - 12 - 01),
            ),
            // Created before the window and still open and late.
            item(
                Open,
                datetime!(2026-06-01 08:00 UTC),
                None,
                date!(2026 - 07 - 01),
            ),
        ];
        let refs: Vec<&Facts> = items.iter().collect();
        let t = trend(&refs, NOW);
        assert_eq!(t.len(), TREND_WEEKS);
        assert!(t.iter().all(|w| w.week_start.weekday() == Weekday::Monday));
        assert_eq!(t.last().expect("weeks").week_start, date!(2026 - 11 - 16));
        assert_eq!(t[0].week_start, date!(2026 - 08 - 31));
        let week = |d: Date| t.iter().find(|w| w.week_start == d).expect("the week");
        let two_back = week(date!(2026 - 11 - 02));
        assert_eq!((two_back.opened, two_back.closed), (1, 0));
        // At the end of that week (Monday 9 Nov 00:00) the first item is open and past due.
        assert_eq!((two_back.open_at_end, two_back.overdue_at_end), (2, 2));
        let last_week = week(date!(2026 - 11 - 09));
        assert_eq!((last_week.opened, last_week.closed), (0, 1));
        assert_eq!((last_week.open_at_end, last_week.overdue_at_end), (1, 1));
        let this_week = t.last().expect("weeks");
        assert_eq!((this_week.opened, this_week.closed), (1, 0));
        assert_eq!((this_week.open_at_end, this_week.overdue_at_end), (2, 1));
        // Before anything but the old item existed.
        assert_eq!((t[0].open_at_end, t[0].overdue_at_end), (1, 1));
    }
}
