//! What an event stream follows, read from its query string. No I/O.

use std::collections::BTreeSet;

use portolan_api::{FieldError, LiveEvent, MAX_TOPICS, is_topic};

/// The topics of `?topic=incident:12&topic=incidents`: at least one, at most [`MAX_TOPICS`]
/// different ones, each a topic (see [`is_topic`]); every problem named.
pub fn topics(query: &str) -> Result<BTreeSet<String>, Vec<FieldError>> {
    let mut problems = Vec::new();
    let mut topics = BTreeSet::new();
    for (i, (key, value)) in url::form_urlencoded::parse(query.as_bytes()).enumerate() {
        if key != "topic" {
            problems.push(FieldError::new(
                key.to_string(),
                "unknown parameter; the only one is topic",
            ));
        } else if !is_topic(&value) {
            problems.push(FieldError::new(
                format!("topic[{i}]"),
                format!(
                    "'{value}' is not a topic: lowercase letters and _, optionally : and a number \
                     (incident:12, incidents)"
                ),
            ));
        } else {
            topics.insert(value.into_owned());
        }
    }
    if topics.is_empty() && problems.is_empty() {
        problems.push(FieldError::new(
            "topic",
            "name at least one topic: ?topic=incident:12&topic=incidents",
        ));
    }
    if topics.len() > MAX_TOPICS {
        problems.push(FieldError::new(
            "topic",
            format!(
                "at most {MAX_TOPICS} topics per stream (you named {})",
                topics.len()
            ),
        ));
    }
    if problems.is_empty() {
        Ok(topics)
    } else {
        Err(problems)
    }
}

/// Whether a stream following `topics` passes `event` on: its topics, and every `resync`.
pub fn follows(topics: &BTreeSet<String>, event: &LiveEvent) -> bool {
    event.is_resync() || topics.contains(&event.topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(query: &str) -> Vec<String> {
        topics(query)
            .expect_err("refused")
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn topics_are_read_and_deduplicated() {
        let t = topics("topic=incident:12&topic=incidents&topic=incident%3A12").expect("fine");
        assert_eq!(
            t.into_iter().collect::<Vec<_>>(),
            ["incident:12", "incidents"]
        );
    }

    #[test]
    fn every_problem_is_named() {
        assert_eq!(fields(""), ["topic"]);
        assert_eq!(fields("topic="), ["topic[0]"]);
        assert_eq!(
            fields("topic=incidents&topic=Incident:1&x=1"),
            ["topic[1]", "x"]
        );
        let many: Vec<String> = (0..=MAX_TOPICS)
            .map(|i| format!("topic=incident:{i}"))
            .collect();
        assert_eq!(fields(&many.join("&")), ["topic"]);
        let at_most: Vec<String> = (0..MAX_TOPICS)
            .map(|i| format!("topic=incident:{i}"))
            .collect();
        assert!(topics(&at_most.join("&")).is_ok());
    }

    #[test]
    fn streams_pass_on_their_topics_and_resyncs() {
        let t = topics("topic=incident:12").expect("fine");
        assert!(follows(
            &t,
            &LiveEvent::new("incident:12", "incident.note", Some(12))
        ));
        assert!(!follows(
            &t,
            &LiveEvent::new("incident:13", "incident.note", Some(13))
        ));
        assert!(!follows(
            &t,
            &LiveEvent::new("incidents", "incident.note", Some(12))
        ));
        assert!(follows(&t, &LiveEvent::resync()));
    }
}
