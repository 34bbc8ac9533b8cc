//! The rules of postmortems that need no database: which sections exist and how long they may
//! be, what a review needs, when policy wants one published, and what the language check says
//! about a text.

use std::collections::BTreeMap;

use portolan_api::{LanguageFlag, PostmortemState, REVIEW_QUESTIONS, SECTIONS, Severity};
use time::{Duration, OffsetDateTime};

use super::{language, markdown};
use crate::error::Problems;

/// The longest a section may be: a long postmortem is a few thousand words.
pub const MAX_SECTION_CHARS: usize = 100_000;

pub fn is_section(key: &str) -> bool {
    SECTIONS.iter().any(|(k, _, _)| *k == key)
}

/// Every known section, empty where nothing was written, so readers always get all of them.
pub fn complete(mut sections: BTreeMap<String, String>) -> BTreeMap<String, String> {
    for (key, _, _) in SECTIONS {
        sections.entry(key.to_string()).or_default();
    }
    sections.retain(|k, _| is_section(k));
    sections
}

/// Checks the sections of a save: known keys, bounded length.
pub fn check_sections(problems: &mut Problems, sections: &BTreeMap<String, String>) {
    for (key, text) in sections {
        if !is_section(key) {
            problems.add(
                format!("sections.{key}"),
                format!(
                    "'{key}' is not a section; use {}",
                    SECTIONS
                        .iter()
                        .map(|(k, _, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        } else if text.chars().count() > MAX_SECTION_CHARS {
            problems.add(
                format!("sections.{key}"),
                format!("must be at most {MAX_SECTION_CHARS} characters"),
            );
        }
    }
}

/// What an approval needs: every review question confirmed.
pub fn check_checklist(checklist: &[bool]) -> Result<(), String> {
    if checklist.len() != REVIEW_QUESTIONS.len() {
        return Err(format!(
            "answer all {} review questions, in order",
            REVIEW_QUESTIONS.len()
        ));
    }
    let open: Vec<String> = checklist
        .iter()
        .enumerate()
        .filter(|(_, ok)| !**ok)
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    if open.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "to approve, confirm every review question (not yet: {})",
            open.join(", ")
        ))
    }
}

/// By when policy wants a published postmortem: SEV1 and SEV2, `days` after the incident was
/// resolved. `None` when policy does not ask for one (yet).
pub fn due_at(
    severity: Severity,
    resolved_at: Option<OffsetDateTime>,
    days: u32,
) -> Option<OffsetDateTime> {
    let needs = matches!(severity, Severity::Sev1 | Severity::Sev2);
    resolved_at
        .filter(|_| needs)
        .map(|r| r + Duration::days(i64::from(days)))
}

/// Whether a postmortem due at `due` is late at `now` (published ones never are).
pub fn overdue(
    due: Option<OffsetDateTime>,
    state: Option<PostmortemState>,
    now: OffsetDateTime,
) -> bool {
    state != Some(PostmortemState::Published) && due.is_some_and(|d| d < now)
}

/// Sanitised HTML of each section.
pub fn render_all(sections: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    sections
        .iter()
        .map(|(k, v)| (k.clone(), markdown::render(v)))
        .collect()
}

/// What the language check says about one text, as wire flags of `section`.
pub fn flags_of(section: &str, text: &str) -> Vec<LanguageFlag> {
    language::check(&markdown::plain_text(text))
        .into_iter()
        .map(|f| LanguageFlag {
            section: section.to_string(),
            sentence: f.sentence,
            matched: f.matched,
            rule: serde_json::to_value(f.rule)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            why: f.why.to_string(),
            suggestion: f.suggestion,
        })
        .collect()
}

/// The flags of every section, in section order.
pub fn flags_all(sections: &BTreeMap<String, String>) -> Vec<LanguageFlag> {
    SECTIONS
        .iter()
        .filter_map(|(k, _, _)| sections.get(*k).map(|text| flags_of(k, text)))
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sections_are_known_and_bounded() {
        let mut problems = Problems::default();
        let sections: BTreeMap<String, String> = [
            ("summary".to_string(), "fine".to_string()),
            ("gossip".to_string(), "no".to_string()),
            ("impact".to_string(), "x".repeat(MAX_SECTION_CHARS + 1)),
        ]
        .into();
        check_sections(&mut problems, &sections);
        let err = problems.finish().expect_err("two problems");
        let text = format!("{err:?}");
        assert!(text.contains("sections.gossip"), "{text}");
        assert!(text.contains("sections.impact"), "{text}");
        let all = complete(sections);
        assert_eq!(all.len(), SECTIONS.len());
        assert!(!all.contains_key("gossip"));
        assert_eq!(all["summary"], "fine");
        assert_eq!(all["lucky"], "");
    }

    #[test]
    fn approving_needs_every_question_confirmed() {
        assert!(check_checklist(&[true; 6]).is_ok());
        let err = check_checklist(&[true, false, true, true, false, true]).expect_err("open");
        assert!(err.contains("not yet: 2, 5"), "{err}");
        assert!(check_checklist(&[true; 3]).is_err());
    }

    #[test]
    fn policy_wants_sev1_and_sev2_published_in_time() {
        let resolved = datetime!(2026-11-01 12:00 UTC);
        assert_eq!(
            due_at(Severity::Sev2, Some(resolved), 5),
            Some(datetime!(2026-11-06 12:00 UTC))
        );
        assert_eq!(due_at(Severity::Sev3, Some(resolved), 5), None);
        assert_eq!(due_at(Severity::Sev1, None, 5), None, "not resolved yet");
        let due = due_at(Severity::Sev1, Some(resolved), 5);
        let later = datetime!(2026-11-07 00:00 UTC);
        assert!(overdue(due, None, later));
        assert!(overdue(due, Some(PostmortemState::InReview), later));
        assert!(!overdue(due, Some(PostmortemState::Published), later));
        assert!(!overdue(due, Some(PostmortemState::Draft), resolved));
    }

    #[test]
    fn flags_name_their_section_and_rendering_is_safe() {
        let sections: BTreeMap<String, String> = [
            (
                "root_causes".to_string(),
                "The outage was caused by human error.".to_string(),
            ),
            (
                "summary".to_string(),
                "<script>alert(1)</script>\n\n**Checkout** failed.".to_string(),
            ),
        ]
        .into();
        let flags = flags_all(&sections);
        assert!(
            flags.iter().any(|f| f.section == "root_causes"),
            "{flags:?}"
        );
        assert!(
            flags
                .iter()
                .all(|f| !f.rule.is_empty() && !f.suggestion.is_empty())
        );
        let html = render_all(&sections);
        assert!(!html["summary"].contains("<script"), "{}", html["summary"]);
        assert!(html["summary"].contains("<strong>Checkout</strong>"));
    }
}
