//! How times and durations read to people. Pure, so server and browser render the same text.

use time::OffsetDateTime;
use time::macros::format_description;

/// "just now", "12 min", "3 h", "5 d", "7 wk".
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => "just now".into(),
        60..3_600 => format!("{} min", s / 60),
        3_600..86_400 => format!("{} h", s / 3_600),
        86_400..1_209_600 => format!("{} d", s / 86_400),
        _ => format!("{} wk", s / 604_800),
    }
}

/// "2026-11-21 14:03 UTC".
pub fn datetime(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

/// RFC 3339, for `<time datetime>`.
pub fn machine(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The value of an `<input type="datetime-local">` showing `t` in UTC (`2026-11-21T13:03`).
pub fn local_input(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!("[year]-[month]-[day]T[hour]:[minute]"))
        .unwrap_or_default()
}

/// An `<input type="datetime-local">` value read as UTC, as RFC 3339 for the API; `None` when
/// empty. Anything else is passed on as typed, for the API to refuse with its reason.
pub fn from_local_input(value: &str) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    // Browsers send minutes, or seconds when a step asks for them.
    Some(match v.len() {
        16 => format!("{v}:00Z"),
        19 => format!("{v}Z"),
        _ => v.to_string(),
    })
}

/// "4 min 10 s", "1 h 02 min".
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    if s < 60 {
        format!("{s} s")
    } else if s < 3_600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3_600, (s % 3_600) / 60)
    }
}

/// The first 8 characters of a commit id.
pub fn short_sha(sha: &str) -> String {
    sha.chars().take(8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(-5), "just now");
        assert_eq!(age(59), "just now");
        assert_eq!(age(60), "1 min");
        assert_eq!(age(7_200), "2 h");
        assert_eq!(age(86_400 * 3), "3 d");
        assert_eq!(age(86_400 * 30), "4 wk");
    }

    #[test]
    fn datetimes_and_durations() {
        assert_eq!(
            datetime(datetime!(2026-11-21 14:03:59 +01:00)),
            "2026-11-21 13:03 UTC"
        );
        assert_eq!(
            local_input(datetime!(2026-11-21 14:03:59 +01:00)),
            "2026-11-21T13:03"
        );
        assert_eq!(
            from_local_input("2026-11-21T13:03"),
            Some("2026-11-21T13:03:00Z".into())
        );
        assert_eq!(
            from_local_input("2026-11-21T13:03:09"),
            Some("2026-11-21T13:03:09Z".into())
        );
        assert_eq!(from_local_input("  "), None);
        assert_eq!(from_local_input("yesterday"), Some("yesterday".into()));
        assert_eq!(duration(250), "4 min 10 s");
        assert_eq!(duration(3_720), "1 h 02 min");
        assert_eq!(short_sha("0123456789abcdef"), "01234567");
    }
}
