//! Postmortem Markdown: to safe HTML ([`render`]) and to plain text ([`plain_text`]).
//!
//! The dialect is CommonMark with tables, strikethrough (`~~`), task lists (`- [x]`) and links
//! made of bare `http://`, `https://` and `www.` addresses. Raw HTML in the Markdown is
//! allowed only as far as the sanitiser keeps it: the HTML that comes out is built from an
//! allow list, never from a deny list.
//!
//! # What the HTML may contain
//! - Elements: headings, paragraphs, line breaks, emphasis, strong, strikethrough, lists (with
//!   task-list checkboxes, always disabled), code blocks and inline code, blockquotes, tables,
//!   horizontal rules, links and images. Everything else is dropped, keeping its text, except
//!   elements whose content is code or markup of its own (`script`, `style`, `iframe`, `object`,
//!   `embed`, `svg`, `math`, `template`, …), which are dropped whole.
//! - Attributes: `href` and `title` on links, `src`, `alt` and `title` on images, a
//!   `language-…` class on `code`, `start` on ordered lists, `checked` on checkboxes. No `style`,
//!   no event handlers, no `id`.
//! - Links: `http`, `https` and `mailto` addresses, and relative ones; every link carries
//!   `rel="noopener noreferrer nofollow"`. Images: `https` or relative addresses only. Any other
//!   scheme (`javascript:`, `data:`, `vbscript:`, …) loses its attribute, whatever its case,
//!   entities, or embedded whitespace and control characters, since addresses are judged after
//!   HTML decoding and as a browser parses them.
//! - Table column alignment is not kept (it would need `style`).
//!
//! # Size
//! Nothing is refused. Callers bound the size of the input: a postmortem section is expected
//! to stay under 200 KB, and endpoints should refuse larger bodies before calling these
//! functions. Within that, the work stays close to linear: Markdown nested deeper than
//! [`MAX_NESTING`] is flattened and raw HTML past [`MAX_RAW_HTML_TAGS`] tags is shown as text,
//! since the cost of parsing HTML grows with the depth of its open elements. Pathological
//! input of 200 KB (100,000 nested quotes or list items, 100,000 `*`, 40,000 raw `<div>`s)
//! renders in under a tenth of a second in a release build; `cargo run --release -p
//! portolan-server --example markdown_timing` measures it.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd, TextMergeStream, html};
use regex::Regex;

/// The value every link's `rel` is set to.
pub const LINK_REL: &str = "noopener noreferrer nofollow";

/// Renders postmortem Markdown to HTML that is safe to embed in a page as it is.
pub fn render(markdown: &str) -> String {
    let events = link_bare_urls(TextMergeStream::new(Parser::new_ext(markdown, options())));
    let events = bound_nesting(events);
    let mut unsafe_html = String::with_capacity(markdown.len() + markdown.len() / 2);
    html::push_html(&mut unsafe_html, events.into_iter());
    SANITIZER.clean(&unsafe_html).to_string()
}

/// The text of postmortem Markdown without its markup: for search, previews and the language
/// check. Each block (paragraph, heading, list item, table row, code block line) is on a line of
/// its own; list items start with `- ` or their number, task items with `[ ] ` or `[x] `, and
/// table cells are joined by ` | `. Soft line breaks inside a paragraph become spaces, so a
/// sentence wrapped in the source stays on one line. Raw HTML is left out. The result is text,
/// not HTML: escape it before putting it in a page.
pub fn plain_text(markdown: &str) -> String {
    let mut out = PlainText::default();
    for event in Parser::new_ext(markdown, options()) {
        out.event(event);
    }
    let kept = out.text.trim_end().len();
    out.text.truncate(kept);
    out.text
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

#[derive(Default)]
struct PlainText {
    text: String,
    /// Whether the current line holds more than a list marker.
    line_has_text: bool,
    /// For each open list, the number of its next item (`None` for bullets).
    lists: Vec<Option<u64>>,
}

impl PlainText {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                self.push(&t)
            }
            Event::SoftBreak => self.push(" "),
            Event::HardBreak => self.end_line(),
            Event::TaskListMarker(done) => self.text.push_str(if done { "[x] " } else { "[ ] " }),
            Event::Start(Tag::List(first)) => {
                self.end_line();
                self.lists.push(first);
            }
            Event::End(TagEnd::List(_)) => {
                self.lists.pop();
                self.end_line();
            }
            Event::Start(Tag::Item) => {
                self.end_line();
                if !self.text.is_empty() && !self.text.ends_with('\n') {
                    self.text.push('\n');
                }
                match self.lists.last_mut() {
                    Some(Some(n)) => {
                        self.text.push_str(&format!("{n}. "));
                        *n = n.saturating_add(1);
                    }
                    _ => self.text.push_str("- "),
                }
            }
            Event::Start(Tag::TableCell) if self.line_has_text => self.text.push_str(" | "),
            Event::Start(
                Tag::Paragraph
                | Tag::Heading { .. }
                | Tag::CodeBlock(_)
                | Tag::BlockQuote(_)
                | Tag::Table(_),
            )
            | Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::CodeBlock
                | TagEnd::BlockQuote(_)
                | TagEnd::Table
                | TagEnd::TableHead
                | TagEnd::TableRow
                | TagEnd::Item,
            )
            | Event::Rule => self.end_line(),
            _ => {}
        }
    }

    fn push(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        self.text.push_str(s);
        self.line_has_text = !self.text.ends_with('\n');
        if s.ends_with('\n') {
            // Code blocks end their lines themselves.
            self.line_has_text = false;
        }
    }

    fn end_line(&mut self) {
        if self.line_has_text {
            self.text.push('\n');
            self.line_has_text = false;
        }
    }
}

/// How deep elements from Markdown may nest: deeper ones are flattened into their parent.
pub const MAX_NESTING: usize = 32;

/// How many tags raw HTML may open in one document: raw HTML past them is shown as text.
pub const MAX_RAW_HTML_TAGS: usize = 500;

/// Keeps the HTML handed to the sanitiser shallow. Parsing HTML costs time in proportion to the
/// depth of the open elements for each element, so thousands of nested quotes or list items
/// (or raw `<div>`s) would take seconds to minutes. Elements deeper than [`MAX_NESTING`] lose
/// their tags and keep their content (a block leaves a line break), and raw HTML past
/// [`MAX_RAW_HTML_TAGS`] tags is shown as text.
fn bound_nesting(events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    let mut out = Vec::with_capacity(events.len());
    let mut open: Vec<bool> = Vec::new(); // for each open element: whether its tags are kept
    let mut depth = 0;
    let mut raw_tags = 0usize;
    for event in events {
        match event {
            Event::Start(tag) => {
                let keep = depth < MAX_NESTING;
                open.push(keep);
                if keep {
                    depth += 1;
                    out.push(Event::Start(tag));
                } else if !is_inline(&tag) {
                    out.push(Event::SoftBreak);
                }
            }
            Event::End(end) => {
                if open.pop().unwrap_or(false) {
                    depth -= 1;
                    out.push(Event::End(end));
                }
            }
            Event::Html(ref html) | Event::InlineHtml(ref html) => {
                raw_tags = raw_tags.saturating_add(html.matches('<').count());
                if raw_tags > MAX_RAW_HTML_TAGS {
                    out.push(Event::Text(html.clone()));
                } else {
                    out.push(event);
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn is_inline(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Link { .. }
            | Tag::Image { .. }
    )
}

/// Bare addresses in text: linked, without their trailing punctuation.
static BARE_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:https?://|www\.)[^\s<>]+").expect("the bare address pattern is valid")
});

/// Turns bare addresses in text into links, outside links, images and code.
fn link_bare_urls<'a>(events: impl Iterator<Item = Event<'a>>) -> Vec<Event<'a>> {
    let mut out = Vec::new();
    let mut in_link = 0usize;
    let mut in_code = false;
    for event in events {
        match event {
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => {
                in_link += 1;
                out.push(event);
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                in_link = in_link.saturating_sub(1);
                out.push(event);
            }
            Event::Start(Tag::CodeBlock(_)) => {
                in_code = true;
                out.push(event);
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = false;
                out.push(event);
            }
            Event::Text(text) if in_link == 0 && !in_code && BARE_URL.is_match(&text) => {
                let mut rest = 0;
                for found in BARE_URL.find_iter(&text) {
                    let url = trim_url(found.as_str());
                    if found.start() < rest || !url_has_host(url) {
                        continue;
                    }
                    if found.start() > rest {
                        out.push(Event::Text(text[rest..found.start()].to_string().into()));
                    }
                    let href = if url.len() >= 4 && url[..4].eq_ignore_ascii_case("www.") {
                        format!("http://{url}")
                    } else {
                        url.to_string()
                    };
                    out.push(Event::Start(Tag::Link {
                        link_type: LinkType::Autolink,
                        dest_url: href.into(),
                        title: "".into(),
                        id: "".into(),
                    }));
                    out.push(Event::Text(url.to_string().into()));
                    out.push(Event::End(TagEnd::Link));
                    rest = found.start() + url.len();
                }
                if rest < text.len() {
                    out.push(Event::Text(text[rest..].to_string().into()));
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Leaves out the trailing punctuation and unbalanced closing parentheses that end a sentence
/// rather than an address.
fn trim_url(candidate: &str) -> &str {
    let mut open = candidate.matches('(').count();
    let mut close = candidate.matches(')').count();
    let mut end = candidate.len();
    while let Some(last) = candidate[..end].chars().next_back() {
        if matches!(
            last,
            '?' | '!' | '.' | ',' | ':' | ';' | '*' | '_' | '~' | '\'' | '"'
        ) {
            end -= last.len_utf8();
        } else if last == ')' && close > open {
            end -= 1;
            close -= 1;
        } else {
            break;
        }
        if last == '(' {
            open -= 1;
        }
    }
    &candidate[..end]
}

/// Whether an address has something alphanumeric right after its `https://` or `www.`.
fn url_has_host(url: &str) -> bool {
    let host = match url.find("://") {
        Some(i) => url.get(i + 3..),
        None => url.get(4..),
    };
    host.and_then(|h| h.chars().next())
        .is_some_and(char::is_alphanumeric)
}

static SANITIZER: LazyLock<Builder<'static>> = LazyLock::new(sanitizer);

fn sanitizer() -> Builder<'static> {
    let tags: HashSet<&str> = [
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "p",
        "br",
        "em",
        "strong",
        "del",
        "ul",
        "ol",
        "li",
        "input",
        "pre",
        "code",
        "blockquote",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "hr",
        "a",
        "img",
    ]
    .into_iter()
    .collect();
    // Dropped with everything inside them: their content is script, style or foreign markup.
    let dropped_whole: HashSet<&str> = [
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg",
        "math", "template", "noscript", "noembed", "noframes", "textarea", "select", "xmp",
        "title", "head",
    ]
    .into_iter()
    .collect();
    let tag_attributes: HashMap<&str, HashSet<&str>> = [
        ("a", &["href", "title"][..]),
        ("img", &["src", "alt", "title"]),
        ("code", &["class"]),
        ("ol", &["start"]),
        ("input", &["checked"]),
    ]
    .into_iter()
    .map(|(tag, attributes)| (tag, attributes.iter().copied().collect()))
    .collect();
    let mut builder = Builder::empty();
    builder
        .tags(tags)
        .clean_content_tags(dropped_whole)
        .generic_attributes(HashSet::new())
        .tag_attributes(tag_attributes)
        // Any `<input>` that survives is disabled, and a checkbox unless raw HTML made it
        // something else: then it loses its type, and is an empty, disabled text box. (One
        // forced attribute only: the sanitiser keeps them in a hash map, and two would come
        // out in an order that changes from one process to the next.)
        .tag_attribute_values(
            [(
                "input",
                [("type", ["checkbox"].into_iter().collect())].into(),
            )]
            .into(),
        )
        .set_tag_attribute_value("input", "disabled", "")
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .url_relative(UrlRelative::PassThrough)
        .link_rel(Some(LINK_REL))
        .strip_comments(true)
        .id_prefix(None)
        .attribute_filter(filter_attribute);
    builder
}

/// The finer rules on attribute values, after the allow lists and the scheme check.
fn filter_attribute<'v>(element: &str, attribute: &str, value: &'v str) -> Option<Cow<'v, str>> {
    match (element, attribute) {
        ("code", "class") => {
            let kept: Vec<&str> = value
                .split_ascii_whitespace()
                .filter(|class| is_language_class(class))
                .collect();
            (!kept.is_empty()).then(|| Cow::Owned(kept.join(" ")))
        }
        ("img", "src") => is_image_source(value).then_some(Cow::Borrowed(value)),
        ("ol", "start") => value
            .trim()
            .parse::<u32>()
            .ok()
            .map(|n| Cow::Owned(n.to_string())),
        _ => Some(Cow::Borrowed(value)),
    }
}

fn is_language_class(class: &str) -> bool {
    class.len() <= 64
        && class.strip_prefix("language-").is_some_and(|language| {
            !language.is_empty()
                && language
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '#' | '.'))
        })
}

/// Images load without a click, so only `https` and same-site addresses may: no `http`, and no
/// scheme-relative `//host` (nor its `\\host` spellings, which browsers read the same way).
fn is_image_source(value: &str) -> bool {
    match url::Url::parse(value) {
        Ok(url) => url.scheme() == "https",
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let start: Vec<char> = value
                .trim_start_matches(|c: char| c.is_ascii_whitespace() || c.is_control())
                .chars()
                .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                .take(2)
                .collect();
            !(start.len() == 2 && start.iter().all(|c| matches!(c, '/' | '\\')))
        }
        Err(_) => false,
    }
}

/// `count` texts of `length` pieces each, picked from `pieces` by a fixed-seed generator (and
/// every other piece followed by a space): odd input that is the same on every run.
#[cfg(test)]
pub(crate) fn jumbles(pieces: &[&str], count: usize, length: usize) -> Vec<String> {
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state
    };
    (0..count)
        .map(|_| {
            let mut text = String::new();
            for _ in 0..length {
                let r = next();
                text.push_str(pieces[(r >> 33) as usize % pieces.len()]);
                if r & 1 == 0 {
                    text.push(' ');
                }
            }
            text
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An element of sanitised output, as a browser would read it.
    #[derive(Debug)]
    struct Element {
        name: String,
        attributes: Vec<(String, String)>,
    }

    /// Reads the start tags of serialised HTML. The sanitiser escapes every `<` in text, so each
    /// `<` left starts a tag.
    fn elements(html: &str) -> Vec<Element> {
        let mut found = Vec::new();
        let bytes = html.as_bytes();
        let mut i = 0;
        while let Some(offset) = html[i..].find('<') {
            i += offset + 1;
            let name_len = html[i..]
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(html.len() - i);
            if name_len == 0 {
                continue; // an end tag or a comment
            }
            let name = html[i..i + name_len].to_ascii_lowercase();
            i += name_len;
            let mut attributes = Vec::new();
            loop {
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i >= bytes.len() || bytes[i] == b'>' || bytes[i] == b'/' {
                    break;
                }
                let name_len = html[i..]
                    .find(|c: char| c.is_ascii_whitespace() || matches!(c, '=' | '>' | '/'))
                    .unwrap_or(html.len() - i);
                let attribute = html[i..i + name_len].to_ascii_lowercase();
                i += name_len;
                let mut value = String::new();
                if bytes.get(i) == Some(&b'=') {
                    i += 1;
                    if bytes.get(i) == Some(&b'"') {
                        let len = html[i + 1..].find('"').unwrap_or(html.len() - i - 1);
                        value = decode_entities(&html[i + 1..i + 1 + len]);
                        i += len + 2;
                    } else {
                        let len = html[i..]
                            .find(|c: char| c.is_ascii_whitespace() || c == '>')
                            .unwrap_or(html.len() - i);
                        value = decode_entities(&html[i..i + len]);
                        i += len;
                    }
                }
                attributes.push((attribute, value));
            }
            found.push(Element { name, attributes });
        }
        found
    }

    fn decode_entities(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            rest = &rest[amp..];
            let Some(semi) = rest.find(';') else { break };
            let entity = &rest[1..semi];
            let decoded = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "colon" => Some(':'),
                "Tab" => Some('\t'),
                "NewLine" => Some('\n'),
                "nbsp" => Some('\u{a0}'),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            match decoded {
                Some(c) => {
                    out.push(c);
                    rest = &rest[semi + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The scheme of an address as a browser sees it: entities decoded, whitespace and control
    /// characters ignored, case folded. `None` for a relative address.
    fn scheme(url: &str) -> Option<String> {
        let folded: String = url
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control())
            .collect::<String>()
            .to_lowercase();
        let end = folded.find([':', '/', '?', '#'])?;
        let scheme = &folded[..end];
        // Anything else before the colon makes the address relative.
        let valid = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        (folded[end..].starts_with(':') && valid).then(|| scheme.to_string())
    }

    const ALLOWED: &[(&str, &[&str])] = &[
        ("h1", &[]),
        ("h2", &[]),
        ("h3", &[]),
        ("h4", &[]),
        ("h5", &[]),
        ("h6", &[]),
        ("p", &[]),
        ("br", &[]),
        ("em", &[]),
        ("strong", &[]),
        ("del", &[]),
        ("ul", &[]),
        ("ol", &["start"]),
        ("li", &[]),
        ("input", &["type", "disabled", "checked"]),
        ("pre", &[]),
        ("code", &["class"]),
        ("blockquote", &[]),
        ("table", &[]),
        ("thead", &[]),
        ("tbody", &[]),
        ("tr", &[]),
        ("th", &[]),
        ("td", &[]),
        ("hr", &[]),
        ("a", &["href", "title", "rel"]),
        ("img", &["src", "alt", "title"]),
    ];

    /// Fails unless the HTML holds nothing that can run script, style the page, load from an
    /// unsafe address, or break out of the allow list.
    fn assert_inert(input: &str, html: &str) {
        let lower = html.to_lowercase();
        for forbidden in [
            "<script",
            "<iframe",
            "<svg",
            "<object",
            "<embed",
            "<form",
            "<style",
            "<math",
            "<base",
            "<meta",
            "<link",
            "<body",
            "<textarea",
            "<button",
            "<details",
        ] {
            assert!(
                !lower.contains(forbidden),
                "{forbidden} in {html:?} from {input:?}"
            );
        }
        for element in elements(html) {
            let allowed = ALLOWED
                .iter()
                .find(|(name, _)| *name == element.name)
                .unwrap_or_else(|| panic!("<{}> in {html:?} from {input:?}", element.name))
                .1;
            for (name, value) in &element.attributes {
                assert!(
                    allowed.contains(&name.as_str()),
                    "{name} on <{}> in {html:?} from {input:?}",
                    element.name
                );
                assert!(
                    !name.starts_with("on") && name != "style",
                    "{name} in {html:?}"
                );
                match (element.name.as_str(), name.as_str()) {
                    ("a", "href") => {
                        if let Some(s) = scheme(value) {
                            assert!(
                                ["http", "https", "mailto"].contains(&s.as_str()),
                                "href scheme {s} in {html:?} from {input:?}"
                            );
                        }
                    }
                    ("img", "src") => {
                        let s = scheme(value);
                        assert!(
                            s.as_deref().is_none_or(|s| s == "https"),
                            "src scheme {s:?} in {html:?} from {input:?}"
                        );
                        assert!(!value.trim_start().starts_with("//"), "{html:?}");
                    }
                    ("a", "rel") => assert_eq!(value, LINK_REL),
                    ("code", "class") => assert!(
                        value.split(' ').all(is_language_class),
                        "class {value:?} in {html:?} from {input:?}"
                    ),
                    ("input", "type") => assert_eq!(value, "checkbox", "{html:?}"),
                    _ => {}
                }
            }
            if element.name == "a" {
                assert!(
                    element.attributes.iter().any(|(n, _)| n == "rel"),
                    "a link without rel in {html:?}"
                );
            }
            if element.name == "input" {
                assert!(
                    element.attributes.iter().any(|(n, _)| n == "disabled"),
                    "an enabled input in {html:?}"
                );
            }
        }
    }

    /// Payloads in the manner of the well-known XSS filter-evasion lists, in raw HTML and in
    /// Markdown syntax.
    const XSS: &[&str] = &[
        "<script>alert(1)</script>",
        "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
        "<scr<script>ipt>alert(1)</scr</script>ipt>",
        "<img src=x onerror=alert(1)>",
        "<IMG SRC=JaVaScRiPt:alert('XSS')>",
        "<img src=`javascript:alert(1)`>",
        "<img src=\"x\" onerror=\"alert(1)\"",
        "<svg onload=alert(1)>",
        "<svg><script>alert(1)</script></svg>",
        "<svg><a xlink:href=\"javascript:alert(1)\"><text y=20>x</text></a></svg>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
        "<textarea><script>alert(1)</script></textarea>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
        "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
        "<a href=\"jav&#x0A;ascript:alert(1)\">x</a>",
        "<a href=\"jav\tascript:alert(1)\">x</a>",
        "<a href=\" &#14; javascript:alert(1)\">x</a>",
        "<a href=\"&#x6A;avascript&colon;alert(1)\">x</a>",
        "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
        "<a href=\"java\0script:alert(1)\">x</a>",
        "<a href=\"vbscript:msgbox(1)\">x</a>",
        "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
        "<a href=\"https://ok.example\" onclick=\"alert(1)\" style=\"color:red\">x</a>",
        "<iframe src=\"javascript:alert(1)\"></iframe>",
        "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
        "<object data=\"javascript:alert(1)\"></object>",
        "<embed src=\"javascript:alert(1)\">",
        "<form action=\"javascript:alert(1)\"><button formaction=javascript:alert(1)>x</button></form>",
        "<input type=\"image\" src=\"javascript:alert(1)\" onfocus=alert(1) autofocus>",
        "<div style=\"background:url(javascript:alert(1))\">x</div>",
        "<p style=\"width: expression(alert(1))\">x</p>",
        "<style>@import 'javascript:alert(1)';</style>",
        "<BODY ONLOAD=alert('XSS')>",
        "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
        "<base href=\"javascript:alert(1)//\">",
        "<link rel=\"stylesheet\" href=\"javascript:alert(1)\">",
        "<details open ontoggle=alert(1)>x</details>",
        "<!--><script>alert(1)</script>-->",
        "<!-- --!><script>alert(1)</script> -->",
        "\"><script>alert(1)</script>",
        "'><img src=x onerror=alert(1)>",
        "<a href=\"https://ok.example\"\"onmouseover=\"alert(1)\">x</a>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
        "[click](javascript&colon;alert(1))",
        "[click](<javascript:alert(1)>)",
        "[click](java\tscript:alert(1))",
        "[click](data:text/html,<script>alert(1)</script>)",
        "[click](vbscript:msgbox(1))",
        "[click](https://ok.example \"\\\" onmouseover=\\\"alert(1)\")",
        "![x](javascript:alert(1))",
        "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
        "![x](http://plain.example/x.png)",
        "![x](//evil.example/x.png)",
        "![x](\\\\evil.example/x.png)",
        "![x\" onerror=\"alert(1)](https://ok.example/x.png)",
        "<javascript:alert(1)>",
        "<JAVASCRIPT:alert(1)>",
        "<data:text/html;base64,PHNjcmlwdD4=>",
        "[x][ref]\n\n[ref]: javascript:alert(1)",
        "[x][ref]\n\n[ref]: <data:text/html,x> \"title\"",
        "https://ok.example/\"onmouseover=\"alert(1)",
        "www.ok.example/<script>alert(1)</script>",
        "```\\\"><script>alert(1)</script>\ncode\n```",
        "```rust onload=alert(1)\ncode\n```",
        "<code class=\"language-rust x\" onclick=alert(1)>x</code>",
        "<ol start=\"1 onload=alert(1)\"><li>x</li></ol>",
        "- [x] <input type=\"text\" name=\"q\">",
        "<a href=\"https://ok.example\" rel=\"opener\" target=\"_blank\">x</a>",
        "<h1 id=\"main\" class=\"x\">x</h1>",
        "> <script>alert(1)</script>\n> [x](javascript:alert(1))",
        "| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) |",
    ];

    #[test]
    fn xss_payloads_render_inert() {
        assert!(XSS.len() >= 25);
        for payload in XSS {
            let html = render(payload);
            assert_inert(payload, &html);
        }
    }

    #[test]
    fn xss_payloads_inside_markdown_blocks_render_inert() {
        for payload in XSS {
            for wrapped in [
                format!("- {payload}"),
                format!("> {payload}"),
                format!("# {payload}"),
                format!("*{payload}*"),
                format!("[{payload}](https://ok.example)"),
                format!("| h |\n|---|\n| {payload} |"),
            ] {
                assert_inert(&wrapped, &render(&wrapped));
            }
        }
    }

    #[test]
    fn the_inertness_check_catches_unsafe_html() {
        // The check itself must be able to fail.
        for unsafe_html in [
            "<script>alert(1)</script>",
            "<a href=\"jav&#x09;ascript:alert(1)\" rel=\"noopener noreferrer nofollow\">x</a>",
            "<img src=\"x\" onerror=\"alert(1)\">",
            "<p style=\"color:red\">x</p>",
            "<img src=\"http://x.example/a.png\">",
            "<a href=\"https://x.example\">no rel</a>",
            "<div>x</div>",
        ] {
            let caught = std::panic::catch_unwind(|| assert_inert("", unsafe_html));
            assert!(caught.is_err(), "not caught: {unsafe_html}");
        }
    }

    #[test]
    fn dangerous_links_keep_their_text_but_lose_their_address() {
        assert_eq!(
            render("[click](javascript:alert(1))"),
            format!("<p><a rel=\"{LINK_REL}\">click</a></p>\n")
        );
        assert_eq!(render("<script>alert(1)</script>after"), "after");
        assert_eq!(render("<img src=x onerror=alert(1)>"), "<img src=\"x\">");
        assert_eq!(
            render("Look: <img src=x onerror=alert(1)>"),
            "<p>Look: <img src=\"x\"></p>\n"
        );
    }

    #[test]
    fn headings_emphasis_and_strikethrough() {
        assert_eq!(
            render("# Summary\n\nSome *impact*, **a lot**, ~~none~~."),
            "<h1>Summary</h1>\n<p>Some <em>impact</em>, <strong>a lot</strong>, <del>none</del>.</p>\n"
        );
    }

    #[test]
    fn tables_render_without_alignment_styles() {
        let html = render("| Time | Event |\n|:-----|------:|\n| 14:02 | Alert fired |");
        assert_eq!(
            html,
            "<table><thead><tr><th>Time</th><th>Event</th></tr></thead><tbody>\n\
             <tr><td>14:02</td><td>Alert fired</td></tr>\n</tbody></table>\n"
        );
    }

    #[test]
    fn code_blocks_keep_their_language_class() {
        assert_eq!(
            render("```rust\nfn main() {}\n```"),
            "<pre><code class=\"language-rust\">fn main() {}\n</code></pre>\n"
        );
        assert_eq!(
            render("```\nplain\n```"),
            "<pre><code>plain\n</code></pre>\n"
        );
        assert_eq!(render("`x < y`"), "<p><code>x &lt; y</code></p>\n");
    }

    #[test]
    fn task_lists_render_disabled_checkboxes() {
        assert_eq!(
            render("- [x] Roll back\n- [ ] Add an alert"),
            "<ul>\n<li><input type=\"checkbox\" checked=\"\" disabled=\"\">\nRoll back</li>\n\
             <li><input type=\"checkbox\" disabled=\"\">\nAdd an alert</li>\n</ul>\n"
        );
    }

    #[test]
    fn links_get_rel_and_safe_schemes_survive() {
        assert_eq!(
            render("[runbook](https://wiki.example/runbook \"Runbook\")"),
            format!(
                "<p><a href=\"https://wiki.example/runbook\" title=\"Runbook\" rel=\"{LINK_REL}\">runbook</a></p>\n"
            )
        );
        assert_eq!(
            render(
                "[mail](mailto:sre@example.com) [rel](/services/payments) [http](http://x.example)"
            ),
            format!(
                "<p><a href=\"mailto:sre@example.com\" rel=\"{LINK_REL}\">mail</a> \
                 <a href=\"/services/payments\" rel=\"{LINK_REL}\">rel</a> \
                 <a href=\"http://x.example\" rel=\"{LINK_REL}\">http</a></p>\n"
            )
        );
    }

    #[test]
    fn autolinks_bracketed_and_bare() {
        assert_eq!(
            render("<https://status.example/incidents/42>"),
            format!(
                "<p><a href=\"https://status.example/incidents/42\" rel=\"{LINK_REL}\">https://status.example/incidents/42</a></p>\n"
            )
        );
        assert_eq!(
            render("See https://grafana.example/d/abc?x=1. Or www.example.com/a_(b))."),
            format!(
                "<p>See <a href=\"https://grafana.example/d/abc?x=1\" rel=\"{LINK_REL}\">https://grafana.example/d/abc?x=1</a>. \
                 Or <a href=\"http://www.example.com/a_(b)\" rel=\"{LINK_REL}\">www.example.com/a_(b)</a>).</p>\n"
            )
        );
        // Not inside code, nor inside an existing link.
        assert_eq!(
            render("`https://x.example` [https://y.example](https://z.example)"),
            format!(
                "<p><code>https://x.example</code> <a href=\"https://z.example\" rel=\"{LINK_REL}\">https://y.example</a></p>\n"
            )
        );
        assert_eq!(render("https:// and www."), "<p>https:// and www.</p>\n");
    }

    #[test]
    fn images_only_from_https_or_relative_addresses() {
        assert_eq!(
            render("![graph](https://grafana.example/g.png) ![local](/static/g.png)"),
            "<p><img src=\"https://grafana.example/g.png\" alt=\"graph\"> \
             <img src=\"/static/g.png\" alt=\"local\"></p>\n"
        );
        assert_eq!(
            render("![graph](http://grafana.example/g.png)"),
            "<p><img alt=\"graph\"></p>\n"
        );
    }

    #[test]
    fn blockquotes_rules_and_ordered_lists() {
        assert_eq!(
            render("> quoted\n\n---\n\n3. third\n4. fourth"),
            "<blockquote>\n<p>quoted</p>\n</blockquote>\n<hr>\n<ol start=\"3\">\n<li>third</li>\n<li>fourth</li>\n</ol>\n"
        );
    }

    #[test]
    fn harmless_raw_html_is_kept_and_the_rest_reduced_to_text() {
        assert_eq!(
            render("<strong>bold</strong> <span class=\"x\">plain</span> <kbd>k</kbd>"),
            "<p><strong>bold</strong> plain k</p>\n"
        );
        assert_eq!(
            render("Type: <input type=\"text\" value=\"x\"> <input type=checkbox checked>"),
            "<p>Type: <input disabled=\"\"> <input type=\"checkbox\" checked=\"\" disabled=\"\"></p>\n"
        );
    }

    #[test]
    fn deep_nesting_is_flattened_and_raw_html_is_budgeted() {
        let depth = |html: &str| {
            let (mut open, mut deepest) = (0usize, 0usize);
            for (i, _) in html.match_indices('<') {
                let void = ["<br>", "<hr>", "<img", "<input"]
                    .iter()
                    .any(|t| html[i..].starts_with(t));
                if html[i + 1..].starts_with('/') {
                    open = open.saturating_sub(1);
                } else if !void {
                    open += 1;
                }
                deepest = deepest.max(open);
            }
            deepest
        };
        let quotes = render(&format!("{} deep", ">".repeat(1_000)));
        assert_eq!(depth(&quotes), MAX_NESTING, "{quotes}");
        assert_eq!(quotes.matches("<blockquote>").count(), MAX_NESTING);
        assert!(quotes.contains("deep"));
        let lists = render(&("- ".repeat(1_000) + "last"));
        assert_eq!(depth(&lists), MAX_NESTING);
        assert!(lists.contains("last"));
        // Shallow documents are untouched.
        let shallow = "> - a\n>   > *b*";
        let mut expected = String::new();
        html::push_html(&mut expected, Parser::new_ext(shallow, options()));
        assert_eq!(render(shallow), SANITIZER.clean(&expected).to_string());

        // Counted per piece of raw HTML: a block of them is kept or shown whole.
        let inline = "x <em>".repeat(MAX_RAW_HTML_TAGS + 10);
        let html = render(&inline);
        assert!(html.contains("x <em>x <em>"));
        assert_eq!(html.matches("&lt;em&gt;").count(), 10);
        let block = "<div>".repeat(MAX_RAW_HTML_TAGS + 10) + "end";
        assert_eq!(
            render(&block),
            format!("{}end", "&lt;div&gt;".repeat(MAX_RAW_HTML_TAGS + 10))
        );
        assert_eq!(
            render("a <strong>b</strong>"),
            "<p>a <strong>b</strong></p>\n"
        );
    }

    #[test]
    fn plain_text_drops_markup_and_keeps_sentences_whole() {
        let text = plain_text(
            "# Summary\n\nThe *deploy* of `v1.2.3` failed\nat the migration step.\n\n\
             - [x] Roll back\n- [ ] Add an [alert](https://x.example)\n\n\
             3. third\n4. fourth\n\n\
             | Time | Event |\n|---|---|\n| 14:02 | Alert fired |\n\n\
             > Quoted ![graph](https://x.example/g.png)\n\n\
             ```\nERROR failed to connect\n```\n\n\
             <div>raw <b>html</b></div>\n\nLast line.  \nHard break.",
        );
        assert_eq!(
            text,
            "Summary\n\
             The deploy of v1.2.3 failed at the migration step.\n\
             - [x] Roll back\n\
             - [ ] Add an alert\n\
             3. third\n\
             4. fourth\n\
             Time | Event\n\
             14:02 | Alert fired\n\
             Quoted graph\n\
             ERROR failed to connect\n\
             Last line.\n\
             Hard break."
        );
    }

    #[test]
    fn plain_text_of_nested_and_loose_lists() {
        assert_eq!(
            plain_text("- one\n\n  still one\n- two\n  - nested\n- \n- three"),
            "- one\nstill one\n- two\n- nested\n- \n- three"
        );
        assert_eq!(plain_text("<p>only html</p>"), "");
        assert_eq!(plain_text(""), "");
    }

    /// Deterministic odd input, from a fixed seed.
    fn odd_inputs() -> Vec<String> {
        let mut inputs: Vec<String> = [
            "",
            " ",
            "\n\n\t \r\n",
            "\0",
            "🔥 The outage 🚒 burned for 2 h. 事故は人為的ミスではない。",
            "ｅ．ｇ． ℌ𝔢𝔩𝔩𝔬 \u{202e}reversed\u{202c} \u{feff}bom",
            "[](<>)",
            "![](",
            "<",
            "&#0; &#xD800; &#x110000; &;",
            "**_~~`",
            "| |\n|-|\n| |",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let pieces = [
            "*", "_", "`", "[", "]", "(", ")", "<", ">", "!", "#", "-", "|", "~", "\\", "&", "\n",
            " ", "a", "é", "😀", "中", "http://", "www.", "<a href=", "\"", "'", "1.", "- [ ]",
            "```", "> ",
        ];
        inputs.extend(jumbles(&pieces, 200, 64));
        inputs
    }

    #[test]
    fn odd_input_never_panics_and_stays_inert() {
        for input in odd_inputs() {
            assert_inert(&input, &render(&input));
            let text = plain_text(&input);
            assert!(text.len() <= input.len() * 3 + 16, "{input:?} -> {text:?}");
        }
    }

    #[test]
    fn pathological_input_renders() {
        // No timing is asserted here; `examples/markdown_timing.rs` measures it.
        let stars = "*".repeat(100_000);
        assert_eq!(render(&stars), "<hr>\n"); // a thematic break, however long
        let delimiters = format!("a{stars}b");
        assert!(render(&delimiters).starts_with("<p>a***"));
        assert_eq!(plain_text(&delimiters), delimiters);
        let emphasis = "*a ".repeat(33_000);
        assert!(plain_text(&emphasis).contains("*a *a"));
        let quotes = format!("{} deep", ">".repeat(100_000));
        assert!(render(&quotes).contains("deep"));
        assert!(plain_text(&quotes).contains("deep"));
        let lists: String = (0..1_000)
            .map(|i| format!("{}- item\n", "  ".repeat(i)))
            .collect();
        assert!(render(&lists).matches("<li>").count() >= 1);
        let markers = "- ".repeat(100_000) + "x";
        assert!(render(&markers).contains("x</li>"));
        let divs = "<div>".repeat(40_000);
        assert!(render(&divs).contains("&lt;div&gt;"));
        let brackets = "[".repeat(50_000) + &"]".repeat(50_000);
        assert!(!render(&brackets).is_empty());
        let huge = "The deploy failed. ".repeat(10_000);
        assert_eq!(plain_text(&huge), huge.trim_end());
    }
}
