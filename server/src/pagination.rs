//! Keyset pagination: a page is "the next `limit` rows after this key" in a stable order, so
//! pages never skip or repeat rows while others write. The cursor is opaque to clients.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portolan_api::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

use crate::error::{AppError, AppResult};

pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

pub fn decode_cursor(cursor: Option<&str>) -> AppResult<Option<String>> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(Some)
        .ok_or_else(|| AppError::field("cursor", "is not a cursor this API handed out"))
}

pub fn decode_id_cursor(cursor: Option<&str>) -> AppResult<Option<i64>> {
    match decode_cursor(cursor)? {
        None => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AppError::field("cursor", "is not a cursor this API handed out")),
    }
}

pub fn page_size(limit: Option<u32>) -> AppResult<i64> {
    match limit {
        None => Ok(i64::from(DEFAULT_PAGE_SIZE)),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(i64::from(n)),
        Some(_) => Err(AppError::field(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        )),
    }
}

/// Trims a fetched `limit + 1` rows to `limit` and builds the cursor for the next page.
pub fn finish_page<T>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> String,
) -> portolan_api::Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| encode_cursor(&key(r)))
    } else {
        None
    };
    portolan_api::Page {
        items: rows,
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = encode_cursor("checkout-api");
        assert_eq!(
            decode_cursor(Some(&c)).ok().flatten().as_deref(),
            Some("checkout-api")
        );
        assert!(decode_cursor(Some("%%%")).is_err());
        assert!(decode_id_cursor(Some(&encode_cursor("abc"))).is_err());
        assert_eq!(
            decode_id_cursor(Some(&encode_cursor("42"))).ok().flatten(),
            Some(42)
        );
    }

    #[test]
    fn page_size_is_bounded() {
        assert_eq!(page_size(None).ok(), Some(50));
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(201)).is_err());
        assert_eq!(page_size(Some(200)).ok(), Some(200));
    }

    #[test]
    fn finish_page_sets_cursor_only_when_more_rows_exist() {
        let p = finish_page(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!(
            decode_cursor(p.next_cursor.as_deref())
                .ok()
                .flatten()
                .as_deref(),
            Some("2")
        );
        let p = finish_page(vec![1, 2], 2, |n| n.to_string());
        assert!(p.next_cursor.is_none());
    }
}
