//! Who sent a delivery: the shared secret of each receiver, checked in constant time. No I/O.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Compares two byte strings of the same length in time independent of their content.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether an `Authorization` header value is `Bearer <token>` with the expected token. The two
/// tokens are compared by their SHA-256, so neither their content nor their length shows in the
/// time taken.
pub fn bearer_matches(header: Option<&str>, expected: &str) -> bool {
    let Some((scheme, sent)) = header.and_then(|h| h.trim().split_once(' ')) else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && same_bytes(
            &Sha256::digest(sent.trim().as_bytes()),
            &Sha256::digest(expected.as_bytes()),
        )
}

/// The 32 bytes written as 64 hexadecimal digits (either case), or `None`.
fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digit = |b: u8| char::from(b).to_digit(16);
        let (hi, lo) = (digit(pair[0])?, digit(pair[1])?);
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// Whether one of the signatures of an `X-PagerDuty-Signature` header (`v1=<hex>`, several
/// separated by commas while a secret is being rotated) is the HMAC-SHA256 of the raw `body`
/// under `secret`. Signatures of other versions are passed over; every candidate is compared.
pub fn pagerduty_signed(header: Option<&str>, body: &[u8], secret: &str) -> bool {
    let Some(header) = header else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    header
        .split(',')
        .filter_map(|s| s.trim().strip_prefix("v1="))
        .filter_map(decode_hex32)
        .fold(false, |found, sig| same_bytes(&sig, &expected) | found)
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The identity of a delivery that carries none (Alertmanager's): the SHA-256 of its raw body. The
/// same body sent again is the same delivery; a new state of the group is a new one.
pub fn body_digest(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What PagerDuty would send for `body` signed with `secret`.
    fn sign(body: &[u8], secret: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(body);
        format!("v1={}", hex(&mac.finalize().into_bytes()))
    }

    #[test]
    fn the_bearer_token_must_match_exactly() {
        let t = "s3cret-token-0123456789";
        assert!(bearer_matches(Some("Bearer s3cret-token-0123456789"), t));
        assert!(bearer_matches(Some("bearer s3cret-token-0123456789"), t));
        for wrong in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Basic s3cret-token-0123456789"),
            Some("Bearer s3cret-token-012345678"),
            Some("Bearer s3cret-token-01234567890"),
            Some("Bearer S3CRET-TOKEN-0123456789"),
            Some("s3cret-token-0123456789"),
        ] {
            assert!(!bearer_matches(wrong, t), "{wrong:?}");
        }
    }

    #[test]
    fn a_pagerduty_signature_is_the_hmac_of_the_raw_body() {
        let body = br#"{"event":{"id":"e1"}}"#;
        let secret = "pd-secret-0123456789abcdef";
        let good = sign(body, secret);
        // A known value, so that the scheme itself (HMAC-SHA256, hex) is pinned.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").expect("key");
        mac.update(b"The quick brown fox jumps over the lazy dog");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert!(pagerduty_signed(Some(&good), body, secret));
        assert!(pagerduty_signed(
            Some(&good.to_uppercase().replace("V1=", "v1=")),
            body,
            secret
        ));
        // The body as sent, byte for byte: re-serialised JSON is another body.
        assert!(!pagerduty_signed(
            Some(&good),
            br#"{"event": {"id": "e1"}}"#,
            secret
        ));
        assert!(!pagerduty_signed(
            Some(&good),
            body,
            "another-secret-0123456789"
        ));
        assert!(!pagerduty_signed(None, body, secret));
        assert!(!pagerduty_signed(Some(""), body, secret));
        assert!(!pagerduty_signed(
            Some(&good.replace("v1=", "v2=")),
            body,
            secret
        ));
        assert!(!pagerduty_signed(
            Some(&good[..good.len() - 2]),
            body,
            secret
        ));
        assert!(!pagerduty_signed(Some("v1=zz"), body, secret));
    }

    #[test]
    fn during_a_rotation_any_one_signature_will_do() {
        let body = b"{}";
        let (old, new) = ("old-secret-0123456789", "new-secret-0123456789");
        let header = format!("{},{}", sign(body, old), sign(body, new));
        assert!(pagerduty_signed(Some(&header), body, old));
        assert!(pagerduty_signed(Some(&header), body, new));
        let spaced = format!("{}, {}", sign(body, old), sign(body, new));
        assert!(pagerduty_signed(Some(&spaced), body, new));
        assert!(!pagerduty_signed(
            Some(&header),
            body,
            "third-secret-0123456789"
        ));
    }

    #[test]
    fn a_body_is_known_by_its_digest() {
        assert_eq!(
            body_digest(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(body_digest(b"{}"), body_digest(b"{ }"));
        assert_eq!(decode_hex32(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(decode_hex32(&"ab".repeat(31)), None);
        assert_eq!(decode_hex32(&"g0".repeat(32)), None);
    }
}
