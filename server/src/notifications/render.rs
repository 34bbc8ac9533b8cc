//! Messages rendered from askama templates (`templates/notifications/*.json`): an Adaptive Card
//! for Microsoft Teams, Block Kit blocks for Slack.
//!
//! Every value a template prints goes through [`JsonString`], the escaper of `.json` templates
//! (see `askama.toml`), so no text (a comment, a reason, a version) can leave its JSON string;
//! the templates print values only inside quotes. Slack reads its text as mrkdwn, where `&`, `<`
//! and `>` make links and mentions (`<!channel>`), so the Slack template passes people's text
//! through the [`filters::mrkdwn`] filter first. Teams reads Markdown in a `TextBlock`, so the card
//! prints people's text only in `TextRun`s, which Teams shows as it is. A rendered message is
//! parsed back before it is kept: what is stored is valid JSON.

use std::fmt::{self, Write};

use askama::Template;
use portolan_api::{ConditionStatus, NotificationChannel, Promotion};

use super::model::Event;

/// The longest line of text a message carries (longer ones are cut, with `…`): the whole text is
/// one click away, and Slack refuses a section of more than 3000 characters.
const MAX_LINE: usize = 500;
/// The most lines one fact lists (approvals, conditions still waiting).
const MAX_LINES: usize = 5;

/// The escaper of `.json` templates: what is printed becomes the inside of a JSON string.
#[derive(Debug, Clone, Copy)]
pub struct JsonString;

impl askama::filters::Escaper for JsonString {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        for c in string.chars() {
            match c {
                '"' => dest.write_str("\\\"")?,
                '\\' => dest.write_str("\\\\")?,
                '\n' => dest.write_str("\\n")?,
                '\r' => dest.write_str("\\r")?,
                '\t' => dest.write_str("\\t")?,
                c if c.is_control() => write!(dest, "\\u{:04x}", u32::from(c))?,
                c => dest.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Text for Slack's mrkdwn, where only `&`, `<` and `>` are taken as control characters
/// (<https://docs.slack.dev/messaging/formatting-message-text>): escaped, they cannot form a
/// link or a mention.
pub fn mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

mod filters {
    /// `{{ text|mrkdwn }}`: see [`super::mrkdwn`].
    pub fn mrkdwn<T: std::fmt::Display>(text: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::mrkdwn(&text.to_string()))
    }
}

/// One labelled piece of a message: one line, or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub label: &'static str,
    pub lines: Vec<String>,
}

/// What a message says, whatever the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Breaking the glass: said loudly.
    pub break_glass: bool,
    /// `Approval needed`, `Approved`, …
    pub headline: &'static str,
    /// `Checkout API 1.2.0: staging → prod`.
    pub summary: String,
    pub facts: Vec<Fact>,
    /// The request's page.
    pub link: String,
    /// The Slack emoji before the headline.
    slack_icon: &'static str,
    /// The Adaptive Card container style of the heading.
    teams_style: &'static str,
}

/// At most [`MAX_LINE`] characters, on one line.
fn clip(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_LINE {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(MAX_LINE - 1).collect();
    cut.push('…');
    cut
}

impl Message {
    /// The message about `event` on request `p`, whose page is under `public_url`.
    pub fn of(event: Event, p: &Promotion, public_url: &url::Url) -> Self {
        let (headline, slack_icon, teams_style) = match event {
            Event::Requested => ("Approval needed", ":hourglass_flowing_sand:", "emphasis"),
            Event::Approved => ("Approved", ":white_check_mark:", "good"),
            Event::Rejected => ("Rejected", ":x:", "warning"),
            Event::Expired => ("Expired", ":alarm_clock:", "warning"),
            Event::Cancelled => ("Cancelled", ":no_entry_sign:", "warning"),
            Event::BreakGlass => (
                "BREAK-GLASS: the gate was overridden",
                ":rotating_light:",
                "attention",
            ),
        };
        let mut facts = Vec::new();
        let mut fact = |label: &'static str, lines: Vec<String>| {
            let mut lines: Vec<String> = lines
                .iter()
                .map(|l| clip(l))
                .filter(|l| !l.is_empty())
                .collect();
            if lines.len() > MAX_LINES {
                let more = lines.len() - (MAX_LINES - 1);
                lines.truncate(MAX_LINES - 1);
                lines.push(format!("and {more} more"));
            }
            if !lines.is_empty() {
                facts.push(Fact { label, lines });
            }
        };
        fact(
            "Service",
            vec![format!("{} ({})", p.service.name, p.service.slug)],
        );
        fact(
            "Version",
            vec![if p.hotfix {
                format!("{} (hotfix)", p.version)
            } else {
                p.version.clone()
            }],
        );
        fact("From → to", vec![format!("{} → {}", p.from, p.to)]);
        fact("Requested by", vec![p.requester.clone()]);
        fact("Reason", vec![p.reason.clone()]);
        fact("State", vec![p.state.as_str().to_string()]);
        if let Some(by) = &p.decided_by {
            fact("Decided by", vec![by.clone()]);
        }
        match (&p.break_glass, event) {
            (Some(why), _) => fact("Break-glass", vec![why.clone()]),
            (None, Event::Requested) => {}
            (None, _) => fact("Decision", vec![p.decision_note.clone()]),
        }
        fact(
            "Decisions",
            p.approvals
                .iter()
                .map(|a| {
                    let verb = if a.decision == "reject" {
                        "rejected"
                    } else {
                        "approved"
                    };
                    match a.comment.trim() {
                        "" => format!("{} {verb}", a.person.name),
                        c => format!("{} {verb}: {c}", a.person.name),
                    }
                })
                .collect(),
        );
        if event == Event::Requested {
            fact(
                "Still needed",
                p.conditions
                    .iter()
                    .filter(|c| c.status != ConditionStatus::Pass)
                    .map(|c| c.reason.clone())
                    .collect(),
            );
        }
        Self {
            break_glass: event == Event::BreakGlass,
            headline,
            summary: clip(&format!(
                "{} {}: {} → {}",
                p.service.name, p.version, p.from, p.to
            )),
            facts,
            link: format!(
                "{}/promotions/{}",
                public_url.as_str().trim_end_matches('/'),
                p.id
            ),
            slack_icon,
            teams_style,
        }
    }
}

#[derive(Template)]
#[template(path = "notifications/teams.json")]
struct Teams<'a> {
    m: &'a Message,
}

#[derive(Template)]
#[template(path = "notifications/slack.json")]
struct Slack<'a> {
    m: &'a Message,
}

/// The body to post to `channel`, as JSON.
pub fn render(channel: NotificationChannel, m: &Message) -> anyhow::Result<serde_json::Value> {
    let text = match channel {
        NotificationChannel::Teams => Teams { m }.render()?,
        NotificationChannel::Slack => Slack { m }.render()?,
    };
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "the {} message is not JSON ({e}): a template bug",
            channel.as_str()
        )
    })
}

#[cfg(test)]
mod tests {
    use portolan_api::{
        Condition, PersonRef, PromotionApproval, PromotionState, ServiceRef, Verdict,
    };
    use serde_json::Value;
    use time::macros::datetime;

    use super::*;

    const HOSTILE: &str = "\"quoted\" \\ back\nnew line\t<script>alert('x')</script> *bold* & <!channel> <https://evil.example|click> {\"x\":1}";

    pub(crate) fn request(text: &str) -> Promotion {
        Promotion {
            id: 42,
            service: ServiceRef {
                slug: "checkout-api".into(),
                name: format!("Checkout {text}"),
            },
            version: format!("1.2.0-{text}"),
            from: "staging".into(),
            to: "prod".into(),
            hotfix: false,
            state: PromotionState::Pending,
            reason: format!("Card retries {text}"),
            requester: format!("Dana {text}"),
            created_at: datetime!(2026-11-20 10:00 UTC),
            expires_at: datetime!(2026-11-23 10:00 UTC),
            decided_at: None,
            decided_by: None,
            decision_note: String::new(),
            policy_version: 1,
            break_glass: None,
            approvals: vec![PromotionApproval {
                person: PersonRef {
                    id: "t:ann".into(),
                    name: "Ann".into(),
                },
                decision: "approve".into(),
                comment: format!("fine {text}"),
                at: datetime!(2026-11-20 11:00 UTC),
            }],
            conditions: vec![
                Condition {
                    key: "previous_environment".into(),
                    status: ConditionStatus::Pass,
                    reason: "succeeded in staging".into(),
                },
                Condition {
                    key: "approvals:Release managers".into(),
                    status: ConditionStatus::Waiting,
                    reason: format!("needs 1 more approval from Release managers {text}"),
                },
            ],
            verdict: Verdict::Waiting,
        }
    }

    fn public() -> url::Url {
        "https://portolan.example.com/".parse().expect("url")
    }

    /// Every string in a JSON document, wherever it sits.
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }

    fn all_text(v: &Value) -> String {
        let mut out = Vec::new();
        strings(v, &mut out);
        out.join("\n")
    }

    #[test]
    fn the_json_escaper_keeps_text_inside_its_string() {
        let mut out = String::new();
        askama::filters::Escaper::write_escaped_str(
            &JsonString,
            &mut out,
            "a\"b\\c\nd\re\tf\u{1}g</h>",
        )
        .expect("write");
        assert_eq!(out, "a\\\"b\\\\c\\nd\\re\\tf\\u0001g</h>");
        let back: String = serde_json::from_str(&format!("\"{out}\"")).expect("a JSON string");
        assert_eq!(back, "a\"b\\c\nd\re\tf\u{1}g</h>");
    }

    #[test]
    fn mrkdwn_defuses_links_and_mentions_only() {
        assert_eq!(
            mrkdwn("<!channel> & <https://evil|x> *bold*"),
            "&lt;!channel&gt; &amp; &lt;https://evil|x&gt; *bold*"
        );
    }

    #[test]
    fn hostile_text_cannot_break_either_message() {
        let mut p = request(HOSTILE);
        p.state = PromotionState::Rejected;
        p.decided_by = Some(format!("Ben {HOSTILE}"));
        p.decision_note = format!("rejected by Ben: {HOSTILE}");
        for event in [Event::Requested, Event::Rejected] {
            let m = Message::of(event, &p, &public());
            let teams = render(NotificationChannel::Teams, &m).expect("teams renders JSON");
            let slack = render(NotificationChannel::Slack, &m).expect("slack renders JSON");

            // Teams shows the text as it is (TextRuns are not Markdown), cut to one line.
            let text = all_text(&teams);
            assert!(
                text.contains("Card retries \"quoted\" \\ back new line <script>alert('x')</script> *bold* & <!channel>"),
                "{text}"
            );
            assert!(text.contains("Dana \"quoted\""), "{text}");
            let card = &teams["attachments"][0];
            assert_eq!(
                card["contentType"],
                "application/vnd.microsoft.card.adaptive"
            );
            assert_eq!(card["content"]["type"], "AdaptiveCard");
            // People's text sits in TextRuns only, never in a (Markdown) TextBlock.
            assert!(
                !teams.to_string().contains("\"type\":\"TextBlock\""),
                "{teams}"
            );
            assert_eq!(
                card["content"]["actions"][0],
                serde_json::json!({"type": "Action.OpenUrl", "title": "Open request",
                                   "url": "https://portolan.example.com/promotions/42"})
            );

            // Slack: no raw <, > or & from anyone's text survives to make a link or mention.
            let text = all_text(&slack);
            for raw in ["<script>", "<!channel>", "<https://evil", " & "] {
                assert!(!text.contains(raw), "{raw} in {text}");
            }
            assert!(
                text.contains(
                    "&lt;script&gt;alert('x')&lt;/script&gt; *bold* &amp; &lt;!channel&gt;"
                ),
                "{text}"
            );
            assert!(text.contains("\"quoted\" \\ back new line"), "{text}");
            assert!(slack["text"].as_str().is_some_and(|t| !t.is_empty()));
            let blocks = slack["blocks"].as_array().expect("blocks");
            let button = &blocks.last().expect("a block")["elements"][0];
            assert_eq!(button["url"], "https://portolan.example.com/promotions/42");
            assert_eq!(button["text"]["text"], "Open request");
            for b in blocks.iter().filter(|b| b["type"] == "section") {
                let t = b["text"]["text"].as_str().expect("section text");
                assert!(t.chars().count() <= 3000, "Slack's limit: {t}");
                assert_eq!(b["text"]["type"], "mrkdwn");
            }
        }
    }

    #[test]
    fn a_request_says_what_it_still_needs_and_a_decision_who_made_it() {
        let p = request("now");
        let m = Message::of(Event::Requested, &p, &public());
        assert_eq!(m.headline, "Approval needed");
        assert_eq!(m.summary, "Checkout now 1.2.0-now: staging → prod");
        let labels: Vec<&str> = m.facts.iter().map(|f| f.label).collect();
        assert_eq!(
            labels,
            [
                "Service",
                "Version",
                "From → to",
                "Requested by",
                "Reason",
                "State",
                "Decisions",
                "Still needed"
            ]
        );
        assert_eq!(
            m.facts.last().map(|f| f.lines.clone()),
            Some(vec![
                "needs 1 more approval from Release managers now".to_string()
            ]),
            "only what does not pass yet"
        );

        let mut done = request("now");
        done.state = PromotionState::Approved;
        done.decided_by = Some("Ann".into());
        done.decision_note = "approved; the gate is open (1 approvals)".into();
        let m = Message::of(Event::Approved, &done, &public());
        let decision = m
            .facts
            .iter()
            .find(|f| f.label == "Decision")
            .expect("decision");
        assert_eq!(decision.lines, ["approved; the gate is open (1 approvals)"]);
        assert!(
            m.facts
                .iter()
                .any(|f| f.label == "Decided by" && f.lines == ["Ann"])
        );
        assert!(!m.facts.iter().any(|f| f.label == "Still needed"));
        assert!(!m.break_glass);
    }

    #[test]
    fn breaking_the_glass_is_loud_in_both_channels() {
        let mut p = request("now");
        p.state = PromotionState::Approved;
        p.decided_by = Some("Ada Admin".into());
        p.break_glass = Some("Ada Admin: card outage".into());
        p.decision_note = "BREAK-GLASS: card outage".into();
        let m = Message::of(Event::BreakGlass, &p, &public());
        assert!(m.break_glass);
        let teams = render(NotificationChannel::Teams, &m).expect("teams");
        let heading = &teams["attachments"][0]["content"]["body"][0];
        assert_eq!(heading["style"], "attention");
        assert_eq!(heading["items"][0]["inlines"][0]["color"], "Attention");
        assert!(all_text(&teams).contains("BREAK-GLASS"));
        assert!(all_text(&teams).contains("Ada Admin: card outage"));
        let slack = render(NotificationChannel::Slack, &m).expect("slack");
        assert!(
            slack["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("BREAK-GLASS"))
        );
        let blocks = slack["blocks"].as_array().expect("blocks");
        assert!(
            blocks[0]["text"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with(":rotating_light: *BREAK-GLASS")),
            "{slack}"
        );
        assert_eq!(
            blocks.last().expect("actions")["elements"][0]["style"],
            "danger"
        );
    }

    #[test]
    fn long_text_is_cut_and_long_lists_summed_up() {
        let mut p = request("now");
        p.reason = "x".repeat(5_000);
        p.conditions = (0..9)
            .map(|n| Condition {
                key: format!("c{n}"),
                status: ConditionStatus::Waiting,
                reason: format!("waiting {n}"),
            })
            .collect();
        let m = Message::of(Event::Requested, &p, &public());
        let reason = m
            .facts
            .iter()
            .find(|f| f.label == "Reason")
            .expect("reason");
        assert_eq!(reason.lines[0].chars().count(), MAX_LINE);
        assert!(reason.lines[0].ends_with('…'));
        let needed = m
            .facts
            .iter()
            .find(|f| f.label == "Still needed")
            .expect("needed");
        assert_eq!(needed.lines.len(), MAX_LINES);
        assert_eq!(needed.lines.last().map(String::as_str), Some("and 5 more"));
        render(NotificationChannel::Slack, &m).expect("still JSON");
    }

    #[test]
    fn what_each_change_tells() {
        let mut p = request("now");
        assert_eq!(Event::of("promotion.request", &p), Some(Event::Requested));
        p.verdict = Verdict::Open;
        assert_eq!(
            Event::of("promotion.request", &p),
            None,
            "a gate that needs nobody opens at once: nobody to ask"
        );
        p.verdict = Verdict::Blocked;
        assert_eq!(Event::of("promotion.request", &p), Some(Event::Requested));
        assert_eq!(
            Event::of("promotion.approve", &p),
            None,
            "an approval that leaves the request pending"
        );
        p.state = PromotionState::Approved;
        assert_eq!(Event::of("promotion.approve", &p), Some(Event::Approved));
        assert_eq!(
            Event::of("promotion.break_glass", &p),
            Some(Event::BreakGlass)
        );
        assert_eq!(Event::of("promotion.deployed", &p), None);
        p.state = PromotionState::Rejected;
        assert_eq!(Event::of("promotion.reject", &p), Some(Event::Rejected));
        p.state = PromotionState::Expired;
        assert_eq!(Event::of("promotion.expire", &p), Some(Event::Expired));
        p.state = PromotionState::Cancelled;
        assert_eq!(Event::of("promotion.cancel", &p), Some(Event::Cancelled));
        assert!(Event::Approved.follows_request() && !Event::BreakGlass.follows_request());
    }
}
