//! Field rules shared by every domain. Each parser returns the cleaned value or a message that
//! says what a valid value looks like; callers collect messages per field with `Problems`.

pub const MAX_NAME: usize = 100;
pub const MAX_DESCRIPTION: usize = 2_000;
pub const MAX_TAGS: usize = 20;

/// Lower-case letters, digits and dashes, 1–63 characters, starting with a letter or digit.
pub fn slug(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-');
    if ok {
        Ok(value.to_string())
    } else {
        Err("must be 1–63 lower-case letters, digits or dashes, not starting with a dash (e.g. checkout-api)".into())
    }
}

pub fn name(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        Err("must not be empty".into())
    } else if v.chars().count() > MAX_NAME {
        Err(format!("must be at most {MAX_NAME} characters"))
    } else if v.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(v.to_string())
    }
}

pub fn description(value: &str) -> Result<String, String> {
    let v = value.trim();
    if v.chars().count() > MAX_DESCRIPTION {
        Err(format!("must be at most {MAX_DESCRIPTION} characters"))
    } else {
        Ok(v.to_string())
    }
}

/// An absolute http(s) URL: links shown to people must be safe to click.
pub fn http_url(value: &str) -> Result<String, String> {
    let v = value.trim();
    match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(v.to_string()),
        Ok(_) => Err("must be an http:// or https:// URL".into()),
        Err(_) => Err("must be an absolute URL such as https://code.example.com/team/repo".into()),
    }
}

/// A short free-text token (version, sha, source, person): trimmed, non-empty, bounded, no
/// control characters.
pub fn token(value: &str, max: usize) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        Err("must not be empty".into())
    } else if v.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else if v.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(v.to_string())
    }
}

/// A git commit id: 7–64 hexadecimal characters, stored lower-case.
pub fn commit_sha(value: &str) -> Result<String, String> {
    let v = value.trim();
    if (7..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err("must be a git commit id: 7–64 hexadecimal characters".into())
    }
}

pub fn tags(values: &[String]) -> Result<Vec<String>, String> {
    if values.len() > MAX_TAGS {
        return Err(format!("at most {MAX_TAGS} tags"));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for t in values {
        let t = t.trim().to_lowercase();
        let ok = !t.is_empty()
            && t.len() <= 40
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b));
        if !ok {
            return Err(format!(
                "'{t}' is not a tag: use 1–40 lower-case letters, digits, '-', '_', '.' or ':'"
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

pub fn tier(value: i16) -> Result<i16, String> {
    if (1..=4).contains(&value) {
        Ok(value)
    } else {
        Err("must be 1, 2, 3 or 4 (1 is the most critical)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(slug("checkout-api").is_ok());
        assert!(slug("a").is_ok());
        for bad in ["", "-x", "Checkout", "with space", "ü", &"a".repeat(64)] {
            assert!(slug(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("  Checkout API ").as_deref(), Ok("Checkout API"));
        assert!(name("   ").is_err());
        assert!(name(&"x".repeat(101)).is_err());
        assert!(name("a\u{0}b").is_err());
    }

    #[test]
    fn urls_must_be_http() {
        assert!(http_url("https://code.example.com/acme/x").is_ok());
        assert!(http_url("javascript:alert(1)").is_err());
        assert!(http_url("ftp://x.example").is_err());
        assert!(http_url("/relative").is_err());
    }

    #[test]
    fn shas_and_tags() {
        assert_eq!(commit_sha("ABCDEF1").as_deref(), Ok("abcdef1"));
        assert!(commit_sha("xyz1234").is_err());
        assert!(commit_sha("abc").is_err());
        assert_eq!(
            tags(&["Go".into(), "go".into(), "pci".into()]),
            Ok(vec!["go".into(), "pci".into()])
        );
        assert!(tags(&["has space".into()]).is_err());
        assert!(tier(0).is_err() && tier(5).is_err() && tier(4).is_ok());
    }
}
