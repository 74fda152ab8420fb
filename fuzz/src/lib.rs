//! Shared pieces of the fuzz targets: input generators that reach the interesting
//! cases often, and oracles that state each rule of
//! docs/GATEWAY.md on their own, from the RFCs and wsgiref,
//! so a target checks the crate against the rule rather than against itself.

use arbitrary::{Arbitrary, Unstructured};

/// RFC 9110 section 5.6.2: the characters of a token.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The hop-by-hop headers an application may not send (wsgiref `util.is_hop_by_hop`).
pub const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// A control character as section 3 forbids it in a status or header value.
fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// Section 3's status rule: three digits, the first 1-9, a space, a reason phrase, no
/// control characters.
pub fn status_is_valid(status: &[u8]) -> bool {
    match status {
        [b'1'..=b'9', b, c, b' ', reason @ ..] => {
            b.is_ascii_digit() && c.is_ascii_digit() && !reason.iter().copied().any(is_control)
        }
        _ => false,
    }
}

/// Section 3's header rule: the name matches `^[a-zA-Z][a-zA-Z0-9\-_]*$`, does not end
/// in `-` or `_`, is not `Status` or hop-by-hop; the value holds no control character
/// but HTAB; a Content-Length is a decimal number of bytes that fits in 64 bits.
pub fn header_is_valid(name: &str, value: &[u8]) -> bool {
    let n = name.as_bytes();
    let name_ok = match (n.first(), n.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphabetic()
                && last.is_ascii_alphanumeric()
                && n.iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        _ => false,
    };
    let lower = name.to_ascii_lowercase();
    let length_ok = lower != "content-length" || plain_decimal(value).is_some();
    name_ok
        && lower != "status"
        && !HOP_BY_HOP.contains(&lower.as_str())
        && length_ok
        && value.iter().all(|&b| b == b'\t' || !is_control(b))
}

/// A plain decimal number (digits only, at least one) that fits a `u64`.
pub fn plain_decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| {
        let digit = u64::from(b.checked_sub(b'0').filter(|d| *d < 10)?);
        n.checked_mul(10)?.checked_add(digit)
    })
}

/// RFC 3986 percent-decoding to raw bytes: `%` and two hex digits is that byte; any
/// other `%` stays as it is.
pub fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', h, l]) => hex(*h).zip(hex(*l)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// Section 2: the environ name of a request header — `CONTENT_TYPE` and
/// `CONTENT_LENGTH` for those two, else `HTTP_` and the name upper-cased with `-` as
/// `_`.
pub fn header_key(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| match c {
            '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    if upper == "CONTENT_TYPE" || upper == "CONTENT_LENGTH" {
        upper
    } else {
        format!("HTTP_{upper}")
    }
}

/// Asserts that an environ names each variable once.
pub fn assert_names_unique(variables: &[(String, Vec<u8>)]) {
    for (i, (name, _)) in variables.iter().enumerate() {
        assert!(
            variables[..i].iter().all(|(n, _)| n != name),
            "{name} appears twice"
        );
    }
}

/// A non-empty RFC 9110 token: the header names an HTTP parser lets through.
#[derive(Clone, Debug)]
pub struct Token(pub String);

impl<'a> Arbitrary<'a> for Token {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        const TCHARS: &[u8] =
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&'*+.^`|~";
        let len = u.int_in_range(1..=12)?;
        let name = (0..len)
            .map(|_| u.choose(TCHARS).map(|&b| char::from(b)))
            .collect::<arbitrary::Result<String>>()?;
        Ok(Self(name))
    }
}

/// A string of ASCII digits, possibly longer than a `u64` holds.
#[derive(Clone, Debug)]
pub struct Digits(pub Vec<u8>);

impl<'a> Arbitrary<'a> for Digits {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let len = u.int_in_range(0..=24)?;
        let digits = (0..len)
            .map(|_| u.int_in_range(b'0'..=b'9'))
            .collect::<arbitrary::Result<Vec<u8>>>()?;
        Ok(Self(digits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracles_agree_with_the_reference_examples() {
        assert!(status_is_valid(b"200 OK"));
        assert!(status_is_valid(b"204 "));
        assert!(!status_is_valid(b"099 Low"));
        assert!(!status_is_valid(b"200 OK\r\n"));
        assert!(header_is_valid("X-Custom_Header2", b"a\tb \xe9"));
        assert!(!header_is_valid("X-", b""));
        assert!(!header_is_valid("Keep-Alive", b""));
        assert!(!header_is_valid("Content-Length", b"-1"));
        assert!(!header_is_valid("Content-Length", b"18446744073709551616"));
        assert_eq!(plain_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(plain_decimal(b"18446744073709551616"), None);
        assert_eq!(percent_decode(b"/a%20b%zz%4"), b"/a b%zz%4");
        assert_eq!(header_key("x-forwarded-for"), "HTTP_X_FORWARDED_FOR");
        assert_eq!(header_key("Content-Type"), "CONTENT_TYPE");
    }
}
