//! The blameless language check: flags sentences that put blame on people, each with a reason
//! and a suggestion for wording about the system. It informs and never blocks; callers show the
//! flags beside the text.
//!
//! It reads plain text: [`super::markdown::plain_text`] of a section, or text typed without
//! markup. Sentences end at `.`, `!` or `?` followed by a space (not after abbreviations such as
//! "e.g." or "i.e.", nor inside version numbers such as "v1.2.3", nor when the next word starts
//! in lower case), and at line breaks, except a break inside a sentence (the next line starts in
//! lower case and is not a list item).
//!
//! # Rules and their limits
//! - [`Rule::PersonAsCause`]: a person as the subject of a blame verb ("Bob broke prod", "@dana
//!   deployed the bad config", "Mei pushed the wrong tag"), a person after "caused by",
//!   "triggered by" or "broken by", and "Name's mistake / fault / error". A person is an
//!   `@mention`, a pronoun (I, we, you, he, she, they, someone, whoever), a role (the engineer,
//!   the on-call, the reviewer, the DBA, the team, …) or a capitalised name that is not a common
//!   word at the start of a sentence nor a known product. Neutral actions by named people
//!   ("Alice rolled back the deploy", "@erik restarted the pods") are not flagged: an action
//!   verb counts as blame only with a sign of error in the sentence ("the wrong", "by mistake",
//!   "instead of", "untested", "without review", …).
//! - [`Rule::HumanError`]: "human error" (or mistake), unless negated ("not human error").
//! - [`Rule::Counterfactual`]: "should have", "should've", "shouldn't have", "ought to have",
//!   "could have prevented/avoided/caught", "would have known better", and "if Kim had
//!   reviewed" / "had Diego followed", **only with a person as subject**. "The service should
//!   have retried" and the passive "should have been caught by the canary" are about the
//!   system, and are not flagged: a counterfactual about a system is a finding.
//! - [`Rule::Judgement`]: careless, negligent, sloppy, lazy, incompetent, stupid, reckless,
//!   idiot, foolish, irresponsible, thoughtless, "asleep at the wheel", and their forms, wherever
//!   they stand: in a postmortem they judge the people behind the work even when they qualify the
//!   work. Technical uses ("lazy loading", "lazily initialised") are not flagged.
//! - [`Rule::Blame`]: "to blame", "blame" as a verb or noun, "at fault", "the fault lies with",
//!   "whose/my/their fault", "responsible for the outage". Statements of the blameless stance
//!   are not flagged: negated ones ("no one is to blame", "nobody was at fault", "we don't
//!   assign blame"), "blameless", "blame-free" and `git blame`. "Fault" as a technical word
//!   (fault tolerance, fault domain, fault injection, faulty, default) never matches.
//! - [`Rule::FailedTo`] and [`Rule::ForgotTo`]: "failed to", "forgot to/about" with a person as
//!   subject; "the job failed to start" and "the cache forgot …" are not flagged.
//! - [`Rule::DidNotBother`]: "didn't bother", "never bothered", "nobody bothered", ….
//!
//! Text in quotation marks or backticks (a quoted log line, a command) is not checked.
//!
//! # How well it does
//! `corpus/blameful.txt` and `corpus/blameless.txt` hold the sentences the rules were written
//! against; `corpus/holdout_*.txt` were written after the rules, to see how they do on wording
//! they were not shaped by. `cargo run -p portolan-server --example language_check` prints
//! precision, recall, the misses and the false positives of both, and the test
//! `corpus_precision_and_recall` keeps them above floors.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// Why a sentence was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A person named, mentioned or described as the cause.
    PersonAsCause,
    /// "Human error".
    HumanError,
    /// Hindsight about what a person should have done.
    Counterfactual,
    /// Judgemental words: careless, sloppy, lazy, ….
    Judgement,
    /// Fault and blame.
    Blame,
    /// "Failed to" about a person.
    FailedTo,
    /// "Forgot to" about a person.
    ForgotTo,
    /// "Didn't bother".
    DidNotBother,
}

impl Rule {
    pub const ALL: [Rule; 8] = [
        Rule::PersonAsCause,
        Rule::HumanError,
        Rule::Counterfactual,
        Rule::Judgement,
        Rule::Blame,
        Rule::FailedTo,
        Rule::ForgotTo,
        Rule::DidNotBother,
    ];

    /// Why wording of this kind works against a blameless review.
    pub fn why(self) -> &'static str {
        match self {
            Rule::PersonAsCause => {
                "Naming a person as the cause turns a review of the system into a verdict on \
                 someone, and people stop telling the whole story."
            }
            Rule::HumanError => {
                "\"Human error\" marks where the inquiry stopped, not why the error was easy to \
                 make and hard to catch."
            }
            Rule::Counterfactual => {
                "What someone should have done is hindsight: it judges with knowledge nobody had \
                 at the time."
            }
            Rule::Judgement => {
                "Judgemental words describe a person's character, not the conditions that made \
                 the action likely."
            }
            Rule::Blame => {
                "Looking for fault or blame is what a blameless review sets aside; it hides the \
                 contributing factors."
            }
            Rule::FailedTo => {
                "\"Failed to\" about a person frames the incident as a personal failing rather \
                 than a gap in the process or the tools."
            }
            Rule::ForgotTo => {
                "\"Forgot to\" puts the weight on someone's memory; a step that depends on memory \
                 is the thing to fix."
            }
            Rule::DidNotBother => {
                "\"Didn't bother\" assumes indifference; steps get skipped when they seem slow, \
                 unclear or pointless, and that is worth finding out."
            }
        }
    }
}

/// One flagged wording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// Byte offset in the checked text where the flagged words start (a char boundary).
    pub start: usize,
    /// Byte offset in the checked text just past the flagged words (a char boundary).
    pub end: usize,
    /// The sentence the words are in (in a sentence over 600 bytes, only the 200 bytes either
    /// side of the words, with `…` where it was cut).
    pub sentence: String,
    /// The flagged words: `text[start..end]`.
    pub matched: String,
    pub rule: Rule,
    /// Why the wording is flagged: [`Rule::why`].
    pub why: &'static str,
    /// Wording about the system to consider instead.
    pub suggestion: String,
}

/// Flags the blaming wordings in `text`, in the order they appear. Never fails; any text,
/// however long or odd, gives a (possibly empty) list.
pub fn check(text: &str) -> Vec<Flag> {
    let mut flags = Vec::new();
    for range in sentences(text) {
        let sentence = Sentence::new(&text[range.clone()], range.start);
        flags.extend(sentence.check());
    }
    flags
}

/// The byte ranges of the sentences of `text`, trimmed of surrounding whitespace.
pub fn sentences(text: &str) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '\n' if line_break_ends_sentence(text, i) => Some(i),
            '.' | '!' | '?' | '…' => {
                // Take the run of closing punctuation: "?!", "...", a closing quote or bracket.
                let mut end = i + c.len_utf8();
                while let Some(&(j, next)) = chars.peek() {
                    if matches!(
                        next,
                        '.' | '!' | '?' | '…' | '"' | '\'' | '”' | '’' | ')' | ']'
                    ) {
                        end = j + next.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                full_stop_ends_sentence(text, i, end).then_some(end)
            }
            '。' | '！' | '？' => Some(i + c.len_utf8()),
            _ => None,
        };
        if let Some(end) = end {
            push_trimmed(&mut found, text, start..end);
            start = end;
        }
    }
    push_trimmed(&mut found, text, start..text.len());
    found
}

fn push_trimmed(found: &mut Vec<Range<usize>>, text: &str, range: Range<usize>) {
    let slice = &text[range.clone()];
    let trimmed = slice.trim_start();
    let start = range.start + (slice.len() - trimmed.len());
    let end = start + trimmed.trim_end().len();
    if end > start {
        found.push(start..end);
    }
}

/// Abbreviations after which a full stop does not end a sentence, even before a capital.
const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "vs", "cf", "approx", "incl", "esp", "resp", "viz", "mr", "mrs", "dr", "fig",
    "ca", "dept",
];

/// Whether the stop at `stop` (with its closing punctuation up to `end`) ends a sentence.
fn full_stop_ends_sentence(text: &str, stop: usize, end: usize) -> bool {
    let after = &text[end..];
    let Some(next) = after.chars().next() else {
        return true;
    };
    if !next.is_whitespace() {
        // "v1.2.3", "example.com", "3.5".
        return false;
    }
    if after
        .trim_start()
        .chars()
        .next()
        .is_some_and(char::is_lowercase)
    {
        // "etc. and", "a.m. on Sunday": a sentence does not start in lower case.
        return false;
    }
    if text[stop..end].starts_with('.') {
        // The longest abbreviation has six letters: look no further back.
        let floor = floor_char_boundary(text, stop.saturating_sub(8));
        let word_start = text[floor..stop]
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_alphanumeric() || c == '.'))
            .map_or(floor, |(i, c)| floor + i + c.len_utf8());
        let word = text[word_start..stop].to_lowercase();
        if ABBREVIATIONS.contains(&word.as_str()) {
            return false;
        }
    }
    true
}

/// Whether the line break at `at` ends a sentence: unless the text goes on in lower case on the
/// next line, as a sentence wrapped in the middle does.
fn line_break_ends_sentence(text: &str, at: usize) -> bool {
    // Back to the previous line break at most, so that runs of blank lines stay linear.
    let before = text[..at].trim_end_matches([' ', '\t', '\r']);
    if before.is_empty() || before.ends_with(['\n', ':', ';', '.', '!', '?']) {
        return true;
    }
    let next = text[at + 1..].trim_start_matches([' ', '\t', '\r']);
    let Some(first) = next.chars().next() else {
        return true;
    };
    if !first.is_lowercase() {
        return true;
    }
    // A list item in lower case is a new item, not a wrapped line.
    next.starts_with("- ") || next.starts_with("* ") || next.starts_with("+ ")
}

/// A sentence being checked: its text, where it starts in the whole text, its words, and the
/// spans that are quoted.
struct Sentence<'t> {
    text: &'t str,
    offset: usize,
    words: Vec<Range<usize>>,
    quoted: Vec<Range<usize>>,
}

static WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"@?[\p{L}\p{N}]+(?:['’\-_.][\p{L}\p{N}]+)*").expect("the word pattern is valid")
});

impl<'t> Sentence<'t> {
    fn new(text: &'t str, offset: usize) -> Self {
        Self {
            text,
            offset,
            words: WORD.find_iter(text).map(|m| m.range()).collect(),
            quoted: quoted_spans(text),
        }
    }

    fn is_quoted(&self, at: usize) -> bool {
        self.quoted.iter().any(|q| q.contains(&at))
    }

    fn flag(&self, flags: &mut Vec<Flag>, span: Range<usize>, rule: Rule, suggestion: String) {
        let flag = Flag {
            start: self.offset + span.start,
            end: self.offset + span.end,
            sentence: self.excerpt(span.clone()),
            matched: self.text[span].to_string(),
            rule,
            why: rule.why(),
            suggestion,
        };
        flags.push(flag);
    }

    /// Flags each match of `pattern` whose subject is a person, from the subject to the match's
    /// end.
    fn flag_with_subject(
        &self,
        flags: &mut Vec<Flag>,
        pattern: &Regex,
        rule: Rule,
        suggest: fn(&str) -> String,
    ) {
        for m in pattern.find_iter(self.text) {
            if let Some(subject) = self.subject_before(m.start()) {
                let suggestion = suggest(&self.text[subject..m.end()]);
                self.flag(flags, subject..m.end(), rule, suggestion);
            }
        }
    }

    /// The sentence, or around `span` in a very long one: a flag's copy stays small however
    /// long the text runs without a full stop.
    fn excerpt(&self, span: Range<usize>) -> String {
        if self.text.len() <= LONG_SENTENCE {
            return self.text.to_string();
        }
        let start = floor_char_boundary(self.text, span.start.saturating_sub(WINDOW));
        let end = ceil_char_boundary(self.text, span.end + WINDOW);
        let mut excerpt = String::with_capacity(end - start + 6);
        if start > 0 {
            excerpt.push('…');
        }
        excerpt.push_str(&self.text[start..end]);
        if end < self.text.len() {
            excerpt.push('…');
        }
        excerpt
    }

    fn check(&self) -> Vec<Flag> {
        let p = &*PATTERNS;
        let mut flags = Vec::new();
        let flags = &mut flags;

        // Blame verbs, "by <person>", and "<person>'s mistake".
        self.flag_with_subject(flags, &p.blame_verb, Rule::PersonAsCause, suggest_person);
        for m in p.action_verb.find_iter(self.text) {
            let Some(subject) = self.subject_before(m.start()) else {
                continue;
            };
            let reach = ceil_char_boundary(self.text, subject + WINDOW);
            if p.error_sign.is_match(&self.text[subject..reach]) {
                let end = self.clause_end(m.end());
                let suggestion = suggest_person(&self.text[subject..end]);
                self.flag(flags, subject..end, Rule::PersonAsCause, suggestion);
            }
        }
        for m in p.caused_by.find_iter(self.text) {
            if let Some(who) = self.person_after(m.end()) {
                let span = m.start()..who.end;
                let suggestion = suggest_person(&self.text[span.clone()]);
                self.flag(flags, span, Rule::PersonAsCause, suggestion);
            }
        }
        for c in p.possessive_blame.captures_iter(self.text) {
            let (Some(all), Some(who)) = (c.get(0), c.get(1)) else {
                continue;
            };
            if self.is_person_at(who.range()) {
                let suggestion = suggest_person(all.as_str());
                self.flag(flags, all.range(), Rule::PersonAsCause, suggestion);
            }
        }

        for m in p.human_error.find_iter(self.text) {
            if !self.negated_before(m.start()) {
                self.flag(flags, m.range(), Rule::HumanError, suggest_human_error());
            }
        }

        self.flag_with_subject(
            flags,
            &p.counterfactual,
            Rule::Counterfactual,
            suggest_hindsight,
        );
        for m in p.if_had.find_iter(self.text) {
            let Some(who) = self.person_after(m.end()) else {
                continue;
            };
            if let Some(verb) = p.had_done.find(&self.text[who.end..]) {
                let span = m.start()..who.end + verb.end();
                let suggestion = suggest_hindsight(&self.text[span.clone()]);
                self.flag(flags, span, Rule::Counterfactual, suggestion);
            }
        }

        for m in p.judgement.find_iter(self.text) {
            if !p.technical_lazy.is_match(&self.text[m.start()..]) {
                let suggestion = suggest_judgement(m.as_str());
                self.flag(flags, m.range(), Rule::Judgement, suggestion);
            }
        }

        for m in p.blame.find_iter(self.text) {
            // A compound ("our fault-injection tests", "blame-free") is another word.
            let compound = self.text[m.end()..]
                .strip_prefix('-')
                .is_some_and(|rest| rest.starts_with(char::is_alphabetic));
            let excused = compound
                || self.negated_before(m.start())
                || p.blame_excused.is_match(&self.text[m.start()..])
                || self.text.as_bytes()[m.start().saturating_sub(4)..m.start()]
                    .eq_ignore_ascii_case(b"git ");
            if !excused {
                self.flag(flags, m.range(), Rule::Blame, suggest_blame(m.as_str()));
            }
        }

        for (pattern, rule) in [
            (&p.failed_to, Rule::FailedTo),
            (&p.forgot_to, Rule::ForgotTo),
        ] {
            for m in pattern.find_iter(self.text) {
                if let Some(subject) = self.subject_before(m.start()) {
                    let rest = self.rest_of_clause(m.end());
                    let suggestion = if rule == Rule::FailedTo {
                        suggest_failed(&self.text[subject..m.end()], rest)
                    } else {
                        suggest_forgot(m.as_str(), rest)
                    };
                    self.flag(flags, subject..m.end(), rule, suggestion);
                }
            }
        }

        for m in p.did_not_bother.find_iter(self.text) {
            let rest = self.rest_of_clause(m.end());
            self.flag(
                flags,
                m.range(),
                Rule::DidNotBother,
                suggest_bother(m.as_str(), rest),
            );
        }

        // Quoted text is not checked.
        flags.retain(|f| !self.is_quoted(f.start - self.offset));
        flags.sort_by_key(|f| (f.start, f.end));
        flags.dedup_by(|a, b| (a.start, a.end, a.rule) == (b.start, b.end, b.rule));
        std::mem::take(flags)
    }

    /// The start of the person who is the subject of the verb at `verb`: the nearest word
    /// before it in the same clause, past adverbs and auxiliaries ("Sam just", "he had"), or
    /// the person a relative clause is about ("the engineer who wrote this should have",
    /// "whoever approved it should have").
    fn subject_before(&self, verb: usize) -> Option<usize> {
        let clause = self.clause_start(verb);
        let before = self.words.partition_point(|w| w.end <= verb);
        let candidates: Vec<&Range<usize>> = self.words[..before]
            .iter()
            .rev()
            .take_while(|w| w.start >= clause)
            .take(8)
            .collect();
        let mut i = 0;
        while i < candidates.len() {
            let word = candidates[i].clone();
            let lower = self.text[word.clone()].to_lowercase();
            if SKIPPED.contains(lower.as_str()) {
                i += 1;
                continue;
            }
            // "the person on call", "the SRE on duty".
            if matches!(lower.as_str(), "call" | "duty" | "shift" | "site")
                && candidates
                    .get(i + 1)
                    .is_some_and(|w| self.text[(*w).clone()].eq_ignore_ascii_case("on"))
            {
                i += 2;
                continue;
            }
            if self.is_person_at(word.clone()) {
                return Some(word.start);
            }
            break;
        }
        // A relative clause: "<person> who …" or "whoever …" earlier in the clause.
        for (j, word) in candidates.iter().enumerate() {
            let lower = self.text[(*word).clone()].to_lowercase();
            if lower == "whoever" {
                return Some(word.start);
            }
            if lower == "who"
                && let Some(antecedent) = candidates.get(j + 1)
                && self.is_person_at((*antecedent).clone())
            {
                return Some(antecedent.start);
            }
        }
        None
    }

    /// The person named right after `at` ("by Alice", "by the new hire", "if the engineer"):
    /// past an article or possessive and at most one more word.
    fn person_after(&self, at: usize) -> Option<Range<usize>> {
        let end = self.clause_end(at);
        let first = self.words.partition_point(|w| w.start < at);
        let mut described = false;
        for word in self.words[first..]
            .iter()
            .take_while(|w| w.end <= end)
            .take(3)
        {
            let lower = self.text[word.clone()].to_lowercase();
            if ARTICLES.contains(lower.as_str()) && !described {
                described = true;
                continue;
            }
            if self.is_person_at(word.clone()) {
                return Some(word.clone());
            }
            if !described {
                return None;
            }
            described = false; // one adjective after the article: "the new hire"
        }
        None
    }

    /// Where the clause holding `at` starts: after the last clause punctuation before it, and
    /// no further back than [`WINDOW`] bytes.
    fn clause_start(&self, at: usize) -> usize {
        let floor = floor_char_boundary(self.text, at.saturating_sub(WINDOW));
        self.text[floor..at]
            .char_indices()
            .rev()
            .find(|&(_, c)| CLAUSE_MARKS.contains(&c))
            .map_or(floor, |(i, c)| floor + i + c.len_utf8())
    }

    /// Where the clause holding `at` ends: at the next clause punctuation or the sentence end,
    /// and no further on than [`WINDOW`] bytes.
    fn clause_end(&self, at: usize) -> usize {
        let rest = &self.text[at..ceil_char_boundary(self.text, at + WINDOW)];
        let end = rest
            .find(|c: char| CLAUSE_MARKS.contains(&c) || matches!(c, '.' | '!' | '?'))
            .unwrap_or(rest.len());
        at + rest[..end].trim_end().len()
    }

    /// The words after `at` up to the end of the clause, at most eight of them.
    fn rest_of_clause(&self, at: usize) -> &str {
        let end = self.clause_end(at);
        let rest = self.text[at..end].trim();
        let mut words = 0;
        let mut in_word = false;
        for (i, c) in rest.char_indices() {
            if c.is_whitespace() {
                in_word = false;
            } else if !in_word {
                in_word = true;
                words += 1;
                if words > 8 {
                    return rest[..i].trim_end();
                }
            }
        }
        rest
    }

    /// Whether one of the four words before `at` (in the same clause) negates it: "no one is to
    /// blame", "nobody was at fault", "not human error".
    fn negated_before(&self, at: usize) -> bool {
        let clause = self.clause_start(at);
        let before = self.words.partition_point(|w| w.end <= at);
        self.words[..before]
            .iter()
            .rev()
            .take_while(|w| w.start >= clause)
            .take(4)
            .any(|w| NEGATIONS.contains(self.text[w.clone()].to_lowercase().as_str()))
    }

    /// Whether the word (or word with a possessive) at `span` names or describes a person.
    fn is_person_at(&self, span: Range<usize>) -> bool {
        let word = &self.text[span.clone()];
        let word = strip_possessive(word);
        if let Some(handle) = word.strip_prefix('@') {
            return !handle.is_empty();
        }
        let lower = word.to_lowercase();
        let base = lower.split(['\'', '’']).next().unwrap_or(&lower);
        if PRONOUNS.contains(base) || ROLES.contains(base) {
            return true;
        }
        self.is_name(word, span.start)
    }

    /// A capitalised word that is not a common word starting a sentence, nor a product, nor
    /// after an article ("the Helm chart").
    fn is_name(&self, word: &str, at: usize) -> bool {
        let mut chars = word.chars();
        let Some(first) = chars.next() else {
            return false;
        };
        if !first.is_uppercase() || !chars.clone().all(|c| c.is_lowercase() || c == '-') {
            return false;
        }
        if chars.next().is_none() {
            return false; // a single letter
        }
        let lower = word.to_lowercase();
        if NOT_NAMES.contains(lower.as_str()) {
            return false;
        }
        let previous = self.words.partition_point(|w| w.end <= at);
        if let Some(prev) = previous.checked_sub(1).and_then(|i| self.words.get(i)) {
            let prev = self.text[prev.clone()].to_lowercase();
            if ARTICLES.contains(prev.as_str()) {
                return false;
            }
        }
        let starts_clause = self.text[..at]
            .trim_end()
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == ','));
        if starts_clause {
            let common_ending = [
                "ing", "tion", "sion", "ment", "ness", "ity", "ly", "ance", "ence", "ous", "ive",
                "ful", "less", "able", "ible", "ism", "ics", "ers", "ies",
                // Plurals of common nouns ("Instances are…", "Deployments were…").
                "ments", "tions", "sions", "ings", "nces", "ces", "ses", "ors",
            ]
            .iter()
            .any(|e| lower.ends_with(e))
                || (lower.len() >= 7 && lower.ends_with("ed"));
            if common_ending {
                return false;
            }
        }
        true
    }
}

fn strip_possessive(word: &str) -> &str {
    for suffix in ["'s", "’s", "'", "’"] {
        if let Some(stem) = word.strip_suffix(suffix) {
            return stem;
        }
    }
    word
}

/// How far, in bytes, the check looks around a match for its clause, subject and signs: it
/// keeps the work linear however long a sentence is.
const WINDOW: usize = 200;

/// Sentences longer than this, in bytes, are quoted in flags only around the flagged words.
const LONG_SENTENCE: usize = 600;

const CLAUSE_MARKS: &[char] = &[',', ';', ':', '(', ')', '"', '“', '”', '—', '–'];

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while at > 0 && !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char_boundary(text: &str, mut at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// Spans between double quotes (straight or curly) and between backticks.
fn quoted_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut open: Option<(usize, char)> = None;
    for (i, c) in text.char_indices() {
        match (open, c) {
            (None, '"' | '“' | '`') => open = Some((i, c)),
            (Some((start, '"')), '"') | (Some((start, '“')), '”') | (Some((start, '`')), '`') =>
            {
                spans.push(start..i + c.len_utf8());
                open = None;
            }
            _ => {}
        }
    }
    spans
}

static PRONOUNS: LazyLock<HashSet<&str>> = LazyLock::new(|| {
    word_set("i we you he she they someone somebody whoever everyone everybody anyone anybody ")
});

static ROLES: LazyLock<HashSet<&str>> = LazyLock::new(|| {
    word_set(concat!(
        "engineer engineers developer developers dev devs operator operators on-call oncall ",
        "on-caller sre sres reviewer reviewers approver approvers author authors intern interns ",
        "hire hires dba dbas admin admins administrator administrators manager managers ",
        "contractor contractors team person people employee employees colleague colleagues ",
        "coworker coworkers staff lead owner owners responder responders commander programmer ",
        "programmers tester testers analyst analysts technician technicians idiot ",
    ))
});

/// Words passed over between a subject and its verb.
static SKIPPED: LazyLock<HashSet<&str>> = LazyLock::new(|| {
    word_set(concat!(
        "also then just even never really clearly obviously simply still already probably ",
        "apparently again accidentally mistakenly carelessly completely totally somehow ",
        "basically literally himself herself themselves ourselves myself yourself alone all ",
        "both have has had was were is are did does do not who ",
    ))
});

static NEGATIONS: LazyLock<HashSet<&str>> = LazyLock::new(|| {
    word_set(concat!(
        "no not nobody never don't don’t doesn't doesn’t didn't didn’t isn't isn’t wasn't ",
        "wasn’t aren't aren’t weren't weren’t won't won’t without nor neither none ",
    ))
});

static ARTICLES: LazyLock<HashSet<&str>> =
    LazyLock::new(|| word_set("the a an our their its this that these those his her my your "));

/// Capitalised words that are not people: sentence openers, calendar words, section headings
/// and products that postmortems name.
static NOT_NAMES: LazyLock<HashSet<&str>> = LazyLock::new(|| {
    word_set(concat!(
        // Openers.
        "the a an this that these those it its our your their his her my each every all some no ",
        "any several most many much more few after before when while because since during once ",
        "if then also however later again finally meanwhile what where why how who whose which ",
        "yes thanks given due only even both either neither such there here nobody none instead ",
        "so but and or as at on in by for from with without to of per via unless until whether ",
        "although though still just now soon next first second third last until over under ",
        "about around overall luckily sadly again ideally frankly honestly ",
        // Calendar.
        "today yesterday tonight tomorrow monday tuesday wednesday thursday friday saturday ",
        "sunday january february march april may june july august september october november ",
        "december christmas easter ",
        // Postmortem vocabulary.
        "impact resolution trigger detection summary root cause action item timeline lessons ",
        "human blame fault error errors warning note info debug customers users traffic latency ",
        "requests recovery mitigation monitoring alerting alert alerts retry retries disk cache ",
        "deploy deploys deployment release rollback rollout config database service services ",
        "system systems job jobs pipeline tooling automation caused replication failover outage ",
        "incident postmortem staging production prod canary backup backups load nothing ",
        "everything something ",
        // Products.
        "kubernetes postgres postgresql redis kafka terraform helm linux docker nginx grafana ",
        "prometheus github gitlab slack chrome java python rust sentry vault consul ",
        "elasticsearch mysql mongo mongodb cloudflare fastly jenkins argo ansible puppet chef ",
        "nomad envoy istio lambda portolan windows android ios node excel jira ",
    ))
});

fn word_set(words: &'static str) -> HashSet<&'static str> {
    words.split_whitespace().collect()
}

struct Patterns {
    blame_verb: Regex,
    action_verb: Regex,
    error_sign: Regex,
    caused_by: Regex,
    possessive_blame: Regex,
    human_error: Regex,
    counterfactual: Regex,
    if_had: Regex,
    had_done: Regex,
    judgement: Regex,
    technical_lazy: Regex,
    blame: Regex,
    blame_excused: Regex,
    failed_to: Regex,
    forgot_to: Regex,
    did_not_bother: Regex,
}

/// The patterns, in verbose syntax: whitespace in them is not matched (`\s` is).
static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let re = |pattern: &str| Regex::new(pattern).expect("the language check patterns are valid");
    Patterns {
        blame_verb: re(r"(?ix) \b(?:
            broke | breaks | caused | causes | botched | ignored | ignores | misconfigured
            | mistyped | fat[\s-]fingered | crashed | wiped | nuked | skipped | skips
            | (?:took | takes | brought) \s+ (?:\S+\s+){0,3}? down
            | messed \s+ up | screwed \s+ up
            | fell \s+ asleep | (?:was | were) \s+ asleep
            | (?:wasn't | wasn’t | was\s+not | weren't | weren’t | were\s+not)
                \s+ paying \s+ attention
        )\b"),
        action_verb: re(r"(?ix) \b(?:
            pushed | deployed | ran | merged | deleted | dropped | removed | changed | restarted
            | rebooted | edited | applied | shipped | released | committed | typed | scaled
            | disabled | force-pushed | killed | truncated | overwrote | approved
            | rolled \s+ out | turned \s+ off | shut \s+ down
        )\b"),
        error_sign: re(r"(?ix) \b(?:
            (?:the | a) \s+ (?:wrong | bad | broken)
            | by \s+ (?:mistake | accident) | accidentally | mistakenly | instead \s+ of | untested
            | without \s+ (?:any\s+ | a\s+)? (?:review | reviews | testing | tests | approval
                | telling | asking | checking | rollback | permission)
        )\b"),
        caused_by: re(
            r"(?ix) \b(?: caused | triggered | broken | started | introduced ) \s+ by \b",
        ),
        possessive_blame: re(r"(?ix)
            (@?[\p{L}][\p{L}\p{N}_.\-]*) (?:'s | ’s | ' | ’) \s+
            (?:(?: own | bad | big | silly | simple | little | careless | stupid ) \s+)?
            (?: mistake | fault | error | blunder | screw-?up | carelessness | negligence
                | incompetence | laziness | oversight | typo )s? \b"),
        human_error: re(r"(?ix) \b human [\s-]+ (?: error | mistake | failure )s? \b"),
        counterfactual: re(r"(?ix) \b(?:
            should (?:\s+not | n't | n’t)? \s+ have | should(?:'ve | ’ve)
            | shouldn(?:'t | ’t)(?:'ve | ’ve)
            | ought \s+ (?:not\s+)? to \s+ have
            | could (?:\s+have | 've | ’ve) \s+ (?:easily\s+ | simply\s+)?
                (?: prevented | avoided | caught | stopped )
            | would (?:\s+have | 've | ’ve) \s+ known \s+ better
        )\b"),
        if_had: re(r"(?i)\b(?:if|had)\b"),
        had_done: re(r"(?ix) ^ \s+
            (?: had\s+ | hadn't\s+ | hadn’t\s+ | had\s+not\s+ | not\s+ | just\s+ | only\s+ )?
            (?: \w+ed | known | done | read | seen | run | taken | written ) \b"),
        judgement: re(r"(?ix) \b(?:
            careless(?:ly | ness)? | negligen(?:t | tly | ce) | sloppy | sloppily | sloppiness
            | lazy | lazily | laziness | incompeten(?:t | tly | ce) | stupid(?:ly | ity)?
            | reckless(?:ly | ness)? | idiot(?:s | ic)? | foolish(?:ly | ness)?
            | irresponsib(?:le | ly | ility) | thoughtless(?:ly | ness)?
            | asleep \s+ at \s+ the \s+ wheel
        )\b"),
        technical_lazy: re(r"(?ix) ^ (?: lazy | lazily ) [\s-]+ (?:
            load | loaded | loading | loads | evaluat\w* | init\w* | static | iterator | val
            | computed | compute | fetch\w* | parse\w* | allocat\w* | created | sequence
        )\b"),
        blame: re(r"(?ix) \b(?:
            to \s+ blame | blame[ds]? | blaming | at \s+ fault
            | fault \s+ (?: lies | lay | rests | rested | is\s+with | was\s+with | belongs )
            | (?: whose | my | your | his | her | their | our ) \s+ (?:own\s+)?
                (?: fault | mistake | blunder )
            | the \s+ fault \s+ of
            | responsib(?:le | ility) \s+ (?:
                for \s+ (?: the | this | that ) \s+
                    (?: outage | incident | mess | failure | downtime | breakage )
                | (?: lies | rests ) \s+ with )
        )\b"),
        blame_excused: re(r"(?ix) ^ blame (?: -free | -less | less | \s+culture | \s+game )"),
        failed_to: re(r"(?ix) \b fail(?:ed | s)? \s+ to \b"),
        forgot_to: re(r"(?ix) \b forg(?:ot | ets | otten | et) \s+ (?: to | about ) \b"),
        did_not_bother: re(r"(?ix) \b(?:
            (?: didn't | didn’t | did\s+not | don't | don’t | do\s+not | doesn't | doesn’t
                | does\s+not | never | not\s+even | couldn't | couldn’t | could\s+not | can't
                | can’t | won't | won’t | wouldn't | wouldn’t )
            \s+ (?:even\s+)? (?:be\s+)? bother(?:ed | s | ing)?
            | (?: nobody | no\s+one | no-one ) \s+ (?:\S+\s+){0,3}? bother(?:ed | s)?
        )\b"),
    }
});

fn suggest_person(matched: &str) -> String {
    format!(
        "Describe the action and what let it through instead of who did it: e.g. \"A config change \
         reached every region at once; nothing staged the rollout\" rather than \"{matched}\"."
    )
}

fn suggest_human_error() -> String {
    "Say what made the error easy to make and hard to catch, e.g. \"The CLI did not show which \
     cluster it would change\", instead of \"human error\"."
        .to_string()
}

fn suggest_hindsight(matched: &str) -> String {
    format!(
        "Replace \"{matched}\" with what was known at the time and what would have made the \
         safer path the easy one, e.g. \"Nothing in the deploy flow asked for a staging run\"."
    )
}

fn suggest_judgement(word: &str) -> String {
    format!(
        "Leave out \"{word}\" and state the facts: what was done, what was known then, and why \
         it seemed reasonable at the time."
    )
}

fn suggest_blame(matched: &str) -> String {
    format!(
        "A postmortem looks for contributing factors, not someone to blame: replace \"{matched}\" \
         with the conditions that let this happen."
    )
}

fn suggest_failed(matched: &str, rest: &str) -> String {
    if rest.is_empty() {
        return format!(
            "Describe what made the step hard at the time instead of \"{matched}\": was it \
             unclear, slow, or not prompted?"
        );
    }
    format!(
        "Describe what made it hard to {rest} at the time, e.g. \"Nothing prompted anyone to \
         {rest}\", instead of \"{matched}\"."
    )
}

fn suggest_forgot(matched: &str, rest: &str) -> String {
    let particle = if matched.to_lowercase().ends_with("about") {
        "about"
    } else {
        "to"
    };
    if rest.is_empty() {
        return "Name the step that relied on memory and how it could be checked or automated."
            .to_string();
    }
    format!(
        "Name the step that relied on memory, e.g. \"Nothing reminded anyone {particle} {rest}\", \
         and how it could be checked or automated."
    )
}

fn suggest_bother(matched: &str, rest: &str) -> String {
    let lower = rest.to_lowercase();
    let step = if let Some(infinitive) = lower.strip_prefix("to ") {
        format!("anyone to {}", &rest[rest.len() - infinitive.len()..])
    } else if let Some(object) = lower.strip_prefix("with ") {
        rest[rest.len() - object.len()..].to_string()
    } else {
        rest.to_string()
    };
    if step.is_empty() {
        return format!(
            "Instead of \"{matched}\", describe why the step was skipped: was it slow, unclear, \
             or not expected?"
        );
    }
    format!(
        "Instead of \"{matched}\", describe why the step was skipped, e.g. \"Nothing required \
         {step}\": was it slow, unclear, or not expected?"
    )
}

/// Sentences that blame people, one a line: the corpus the check is measured on.
pub const BLAMEFUL_CORPUS: &str = include_str!("corpus/blameful.txt");
/// Sentences about the system, one a line, some close to blaming wordings.
pub const BLAMELESS_CORPUS: &str = include_str!("corpus/blameless.txt");
/// More blaming sentences, written after the rules and never used to shape them: how the check
/// does on wording it was not written against.
pub const HOLDOUT_BLAMEFUL_CORPUS: &str = include_str!("corpus/holdout_blameful.txt");
/// More blameless sentences, written after the rules and never used to shape them.
pub const HOLDOUT_BLAMELESS_CORPUS: &str = include_str!("corpus/holdout_blameless.txt");

/// How well the check separates two sets of sentences.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Of the sentences flagged, the share that blame.
    pub precision: f64,
    /// Of the sentences that blame, the share flagged.
    pub recall: f64,
    /// Blaming sentences with no flag.
    pub misses: Vec<String>,
    /// Blameless sentences with a flag, and the rules that fired.
    pub false_positives: Vec<(String, Vec<Rule>)>,
    pub blameful: usize,
    pub blameless: usize,
}

/// Runs the check over every non-empty line of `blameful` and `blameless`: a blaming line counts
/// as found when any flag lands in it, a blameless line with any flag is a false positive.
pub fn evaluate(blameful: &str, blameless: &str) -> Evaluation {
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };
    let (blameful, blameless) = (lines(blameful), lines(blameless));
    let misses: Vec<String> = blameful
        .iter()
        .filter(|line| check(line).is_empty())
        .cloned()
        .collect();
    let false_positives: Vec<(String, Vec<Rule>)> = blameless
        .iter()
        .filter_map(|line| {
            let flags = check(line);
            (!flags.is_empty()).then(|| (line.clone(), flags.iter().map(|f| f.rule).collect()))
        })
        .collect();
    let found = blameful.len() - misses.len();
    let flagged = found + false_positives.len();
    Evaluation {
        precision: if flagged == 0 {
            0.0
        } else {
            found as f64 / flagged as f64
        },
        recall: if blameful.is_empty() {
            0.0
        } else {
            found as f64 / blameful.len() as f64
        },
        misses,
        false_positives,
        blameful: blameful.len(),
        blameless: blameless.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<Rule> {
        check(text).into_iter().map(|f| f.rule).collect()
    }

    fn flags_rule(text: &str, rule: Rule) -> bool {
        rules(text).contains(&rule)
    }

    #[track_caller]
    fn assert_flags(rule: Rule, positives: &[&str], negatives: &[&str]) {
        for text in positives {
            assert!(
                flags_rule(text, rule),
                "{rule:?} not flagged in {text:?}: {:?}",
                check(text)
            );
        }
        for text in negatives {
            assert!(
                !flags_rule(text, rule),
                "{rule:?} flagged in {text:?}: {:?}",
                check(text)
            );
        }
    }

    /// Prints and checks the figures on the corpus the rules were written against, and on the
    /// held-out one written after them. Floors sit just below the figures reached:
    /// corpus 0.993 / 0.985, holdout 0.981 / 0.850.
    #[test]
    fn corpus_precision_and_recall() {
        for (name, blameful, blameless, precision_floor, recall_floor) in [
            ("corpus", BLAMEFUL_CORPUS, BLAMELESS_CORPUS, 0.98, 0.97),
            (
                "holdout",
                HOLDOUT_BLAMEFUL_CORPUS,
                HOLDOUT_BLAMELESS_CORPUS,
                0.95,
                0.83,
            ),
        ] {
            let e = evaluate(blameful, blameless);
            eprintln!(
                "blameless language {name}: precision {:.3}, recall {:.3} ({} blameful, {} \
                 blameless; {} missed, {} false positives)",
                e.precision,
                e.recall,
                e.blameful,
                e.blameless,
                e.misses.len(),
                e.false_positives.len()
            );
            for miss in &e.misses {
                eprintln!("  missed: {miss}");
            }
            for (line, rules) in &e.false_positives {
                eprintln!("  false positive {rules:?}: {line}");
            }
            assert!(
                e.precision >= precision_floor,
                "{name} precision {:.3}",
                e.precision
            );
            assert!(e.recall >= recall_floor, "{name} recall {:.3}", e.recall);
        }
        let e = evaluate(BLAMEFUL_CORPUS, BLAMELESS_CORPUS);
        assert!(e.blameful >= 120 && e.blameless >= 120);
    }

    #[test]
    fn evaluation_counts_misses_and_false_positives() {
        let e = evaluate(
            "Bob broke prod.\nThe deploy failed.\n\n",
            "The disk filled up.\nWe should not blame Alice.\nShe forgot to renew it.",
        );
        assert_eq!((e.blameful, e.blameless), (2, 3));
        assert_eq!(e.misses, vec!["The deploy failed."]);
        assert_eq!(e.false_positives.len(), 1);
        assert_eq!(e.false_positives[0].0, "She forgot to renew it.");
        assert!((e.recall - 0.5).abs() < 1e-9);
        assert!((e.precision - 0.5).abs() < 1e-9);
    }

    #[test]
    fn person_as_cause() {
        assert_flags(
            Rule::PersonAsCause,
            &[
                "Bob broke prod.",
                "The outage was caused by Alice.",
                "@dana deployed the bad config.",
                "It was Marco's mistake.",
                "Ines' error took the site down.",
                "The incident was triggered by the new hire.",
                "Chris took the payment service down.",
                "Kevin ignored the alert for forty minutes.",
                "They accidentally deleted the bucket.",
                "@mike ran the script against production instead of staging.",
                "The person on call fell asleep.",
            ],
            &[
                "The deploy broke because the schema was incompatible.",
                "Alice rolled back the deploy at 14:32.",
                "@erik restarted the pods, which restored service.",
                "A race condition in the scheduler caused duplicate jobs.",
                "Carol's runbook made the rollback quick.",
                "The legacy script's error handling hid the failure.",
                "The outage was caused by a bad deploy.",
                "Kubernetes evicted the pods.",
                "The Helm chart ignored the override.",
                "Monitoring ignored the queue depth.",
                "I ran the rollback script after confirming the target.",
            ],
        );
    }

    #[test]
    fn human_error() {
        assert_flags(
            Rule::HumanError,
            &[
                "Human error was the root cause.",
                "The root cause was human error.",
                "It was a human-error incident.",
                "Two human mistakes compounded.",
            ],
            &[
                "Human factors such as fatigue contributed.",
                "This was not human error but a missing guard.",
                "The humans erred on the side of caution.",
            ],
        );
    }

    #[test]
    fn counterfactual_needs_a_person() {
        assert_flags(
            Rule::Counterfactual,
            &[
                "Sam should have tested it in staging.",
                "They should've known.",
                "We shouldn't have merged it.",
                "The reviewer ought to have spotted it.",
                "He could have prevented this.",
                "The engineer who wrote this should have known better.",
                "Whoever approved this change should've caught the typo.",
                "If Eva had tested it, this would not have happened.",
                "Had Diego followed the runbook, we would be fine.",
                "The on-call should have rolled back.",
            ],
            &[
                "The service should have retried the request.",
                "The regression should have been caught by the canary.",
                "Automated rollback could have prevented most of the impact.",
                "The automation should not have allowed the delete.",
                "If the cache had been warm, latency would have stayed flat.",
                "We should add a confirmation prompt.",
            ],
        );
    }

    #[test]
    fn judgement() {
        assert_flags(
            Rule::Judgement,
            &[
                "Jorge was careless with the credentials.",
                "Carelessness led to the outage.",
                "The rollout was sloppy.",
                "It was negligent to disable alerts.",
                "The root cause was negligence.",
                "The team was lazy about runbooks.",
                "An incompetent operator ran it.",
                "That was stupid.",
                "The change was reckless.",
                "Some idiot hard-coded the password.",
                "The on-call was asleep at the wheel.",
            ],
            &[
                "Lazy loading of the config meant the error surfaced late.",
                "The value is lazily initialised.",
                "The overhead is negligible.",
                "The careful rollout worked.",
            ],
        );
    }

    #[test]
    fn blame() {
        assert_flags(
            Rule::Blame,
            &[
                "The database team is to blame.",
                "I blame Lucas.",
                "Whose fault was it?",
                "The fault lies with the contractor.",
                "The QA team is at fault.",
                "It's my fault.",
                "Blame for the outage rests with the platform team.",
                "Responsibility for the outage lies with Felix.",
            ],
            &[
                "No one is to blame for this incident.",
                "Nobody was at fault.",
                "We don't assign blame in these reviews.",
                "This review is blameless.",
                "The blame-free format helped.",
                "The git blame output showed the line.",
                "We improved fault tolerance.",
                "Fault injection did not cover it.",
                "The fault domain is a rack.",
                "A faulty disk failed.",
                "The default timeout was too long.",
                "A fault-tolerant design limits the blast radius.",
                "Our fault-injection tests now cover DNS.",
            ],
        );
    }

    #[test]
    fn failed_to_about_people_only() {
        assert_flags(
            Rule::FailedTo,
            &[
                "The engineer failed to follow the runbook.",
                "He failed to check the dashboards.",
                "We failed to notify customers.",
                "Frank failed to escalate.",
                "The on-call engineer failed to respond.",
            ],
            &[
                "The deploy failed.",
                "The job failed to start.",
                "The health check failed to detect the degraded state.",
                "Several requests failed to complete.",
                "We failed over to the secondary region.",
                "The worker logged \"failed to connect\" repeatedly.",
            ],
        );
    }

    #[test]
    fn forgot_to_about_people_only() {
        assert_flags(
            Rule::ForgotTo,
            &[
                "She forgot to renew the certificate.",
                "Kenji forgot to remove the flag.",
                "The team forgot about the status page.",
                "You forgot to check the flag.",
            ],
            &[
                "The retry logic forgot the deadline.",
                "The cache forgot to evict entries.",
                "Nothing reminded anyone to renew it.",
            ],
        );
    }

    #[test]
    fn did_not_bother() {
        assert_flags(
            Rule::DidNotBother,
            &[
                "The on-call didn't bother to acknowledge the page.",
                "He did not bother checking.",
                "Pedro never bothered to set up alerting.",
                "Nobody on the team bothered to check.",
                "They didn’t even bother.",
            ],
            &[
                "Why bother with a canary here?",
                "The noise did not disturb anyone.",
            ],
        );
    }

    #[test]
    fn flags_carry_offsets_sentence_and_why() {
        let text = "Impact: 12% of requests failed. Sam should have tested it.\nAll good.";
        let flags = check(text);
        assert_eq!(flags.len(), 1);
        let flag = &flags[0];
        assert_eq!(flag.rule, Rule::Counterfactual);
        assert_eq!(&text[flag.start..flag.end], "Sam should have");
        assert_eq!(flag.matched, "Sam should have");
        assert_eq!(flag.sentence, "Sam should have tested it.");
        assert_eq!(flag.why, Rule::Counterfactual.why());
    }

    #[test]
    fn suggestions_point_to_the_system() {
        let suggestion = |text: &str, rule: Rule| {
            check(text)
                .into_iter()
                .find(|f| f.rule == rule)
                .map(|f| f.suggestion)
                .unwrap_or_else(|| panic!("{rule:?} not flagged in {text:?}"))
        };
        assert_eq!(
            suggestion("She forgot to renew the certificate.", Rule::ForgotTo),
            "Name the step that relied on memory, e.g. \"Nothing reminded anyone to renew the \
             certificate\", and how it could be checked or automated."
        );
        assert_eq!(
            suggestion(
                "The engineer failed to follow the runbook, sadly.",
                Rule::FailedTo
            ),
            "Describe what made it hard to follow the runbook at the time, e.g. \"Nothing \
             prompted anyone to follow the runbook\", instead of \"engineer failed to\"."
        );
        assert_eq!(
            suggestion(
                "Somebody didn't bother to run the tests.",
                Rule::DidNotBother
            ),
            "Instead of \"didn't bother\", describe why the step was skipped, e.g. \"Nothing \
             required anyone to run the tests\": was it slow, unclear, or not expected?"
        );
        assert_eq!(
            suggestion("We didn't bother with a rollback plan.", Rule::DidNotBother),
            "Instead of \"didn't bother\", describe why the step was skipped, e.g. \"Nothing \
             required a rollback plan\": was it slow, unclear, or not expected?"
        );
        assert!(
            suggestion("Sam should have tested it.", Rule::Counterfactual)
                .starts_with("Replace \"Sam should have\" with what was known at the time")
        );
        assert!(
            suggestion("Jorge was sloppy.", Rule::Judgement).starts_with("Leave out \"sloppy\"")
        );
        assert!(suggestion("Human error again.", Rule::HumanError).contains("CLI did not show"));
        assert!(suggestion("I blame Lucas.", Rule::Blame).contains("replace \"blame\""));
        assert!(
            suggestion("Bob broke prod.", Rule::PersonAsCause)
                .ends_with("rather than \"Bob broke\".")
        );
        for rule in Rule::ALL {
            assert!(!rule.why().is_empty());
        }
    }

    #[test]
    fn rules_serialize_in_snake_case() {
        let json = serde_json::to_string(&Rule::ALL).expect("rules serialize");
        assert_eq!(
            json,
            r#"["person_as_cause","human_error","counterfactual","judgement","blame","failed_to","forgot_to","did_not_bother"]"#
        );
        let flag = &check("Bob broke prod.")[0];
        let value = serde_json::to_value(flag).expect("flags serialize");
        assert_eq!(value["rule"], "person_as_cause");
        assert_eq!(value["start"], 0);
        assert_eq!(value["matched"], "Bob broke");
    }

    #[test]
    fn sentence_splitting() {
        let split = |text: &str| -> Vec<String> {
            sentences(text)
                .into_iter()
                .map(|r| text[r].to_string())
                .collect()
        };
        assert_eq!(
            split("We use e.g. the billing API. Then i.e. The one. Upgraded to v1.2.3. Done!"),
            [
                "We use e.g. the billing API.",
                "Then i.e. The one.",
                "Upgraded to v1.2.3.",
                "Done!"
            ]
        );
        assert_eq!(
            split("At 3 a.m. on Sunday it failed. \"Why?\" she asked.  Really?!  Yes…"),
            [
                "At 3 a.m. on Sunday it failed.",
                "\"Why?\" she asked.",
                "Really?!",
                "Yes…"
            ]
        );
        assert_eq!(
            split(
                "The engineer\nfailed to follow the runbook\nBob broke prod\n- a list item\n- another"
            ),
            [
                "The engineer\nfailed to follow the runbook",
                "Bob broke prod",
                "- a list item",
                "- another"
            ]
        );
        assert_eq!(
            split("Summary:\nnothing.\n\n\n  "),
            ["Summary:", "nothing."]
        );
        assert_eq!(
            split("障害が発生した。原因は設定だ。"),
            ["障害が発生した。", "原因は設定だ。"]
        );
        assert!(split("").is_empty());
        assert!(split(" \n\t ").is_empty());
    }

    #[test]
    fn quoted_text_is_not_checked() {
        assert!(check("The log said \"Bob broke prod because he forgot to\".").is_empty());
        assert!(check("Run `human error` to see.").is_empty());
        assert_eq!(
            rules("He said “fine”, then Bob broke prod."),
            [Rule::PersonAsCause]
        );
    }

    #[test]
    fn plain_text_of_markdown_can_be_checked() {
        let markdown = "## What went wrong\n\n- **Bob** broke\n  prod.\n- The *deploy* failed.";
        let text = crate::postmortems::markdown::plain_text(markdown);
        let flags = check(&text);
        assert_eq!(flags.len(), 1);
        assert_eq!(&text[flags[0].start..flags[0].end], "Bob broke");
    }

    /// Deterministic odd input, from a fixed seed.
    fn odd_inputs() -> Vec<String> {
        let mut inputs: Vec<String> = [
            "",
            " ",
            "\n\n\t \r\n",
            ".",
            "...!!!???",
            "\"",
            "“unclosed",
            "@",
            "@ broke",
            "'s fault",
            "🔥 Bob 🔥 broke 🔥 prod 🔥. 事故は人為的ミスではない。",
            "Ｂｏｂ broke prod. Ünal broke prod. Øyvind should have known.",
            "Bob\u{301} broke prod. e\u{301}.g. the thing",
            "caused by",
            "if",
            "had",
            "failed to",
            "The engineer who",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let pieces = [
            "Bob",
            "broke",
            "should",
            "have",
            "failed",
            "to",
            "forgot",
            "blame",
            "fault",
            "human",
            "error",
            "the",
            "engineer",
            "who",
            "if",
            "had",
            "'s",
            "’",
            "\"",
            "`",
            ".",
            "?",
            "!",
            ",",
            " ",
            "\n",
            "e.g.",
            "v1.2",
            "😀",
            "中",
            "é",
            "@x",
            "didn't",
            "bother",
            "on",
            "call",
            "lazy",
            "careless",
            "caused by",
        ];
        inputs.extend(crate::postmortems::markdown::jumbles(&pieces, 300, 40));
        inputs.push("Bob broke prod. ".repeat(20_000));
        inputs.push("a".repeat(200_000));
        inputs.push("should have ".repeat(20_000));
        inputs.push(format!("Bob {} broke", "😀".repeat(50_000)));
        inputs.push("\"".repeat(10_000) + &"Bob broke it ".repeat(1_000));
        inputs
    }

    #[test]
    fn odd_input_never_panics_and_offsets_are_char_boundaries() {
        for input in odd_inputs() {
            for flag in check(&input) {
                assert!(flag.start < flag.end && flag.end <= input.len(), "{flag:?}");
                assert!(input.is_char_boundary(flag.start) && input.is_char_boundary(flag.end));
                assert_eq!(input[flag.start..flag.end], flag.matched);
                assert!(flag.sentence.contains(&flag.matched));
            }
            for range in sentences(&input) {
                assert!(input.is_char_boundary(range.start) && input.is_char_boundary(range.end));
            }
        }
        assert_eq!(check(&"Bob broke prod. ".repeat(20_000)).len(), 20_000);
        // One sentence of 300 KB: each flag quotes only the words around it.
        let long = "Bob broke prod and ".repeat(16_000);
        let flags = check(&long);
        assert_eq!(flags.len(), 16_000);
        assert!(flags.iter().all(|f| f.sentence.len() <= 2 * WINDOW + 16));
        assert!(flags[100].sentence.starts_with('…') && flags[100].sentence.ends_with('…'));
    }
}
