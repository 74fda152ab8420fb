//! Status-line and header checks, at `wsgiref.validate` grade.
//!
//! Each refusal is a message that names the rule it enforces, so a guest author reading
//! the log knows what to fix. The rules and their sources are in
//! docs/GATEWAY.md section 3 (wsgiref `handlers.py`,
//! `headers.py`, `util.py` and `validate.py`).

use std::fmt::Write as _;

use crate::rules::Rule;

/// A refusal: the rule broken, and a message naming what broke it.
pub type Refusal = (Rule, String);

/// Headers a WSGI application must not send: the server owns the connection
/// (PEP 3333, "Other HTTP Features"; wsgiref `util.is_hop_by_hop`).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// Checks a status line: three digits with the first 1-9, a space, then the reason
/// phrase, with no control characters.
pub fn check_status(status: &[u8]) -> Result<(), Refusal> {
    if let Some(at) = status.iter().position(|&b| b < 0x20 || b == 0x7f) {
        return Err((
            Rule::StatusControlCharacter,
            format!(
                "status {} holds control character {} at byte {at}: a status line may not hold control characters",
                quote(status),
                hex(status[at]),
            ),
        ));
    }
    let code_ok = status.len() >= 4
        && status[..3].iter().all(u8::is_ascii_digit)
        && status[0] != b'0'
        && status[3] == b' ';
    if !code_ok {
        return Err((
            Rule::StatusForm,
            format!(
                "status {} must be a three-digit code from 100 to 999, a space and a reason phrase, as \"200 OK\"",
                quote(status),
            ),
        ));
    }
    Ok(())
}

/// Checks one header: the name is a token as `wsgiref.validate` narrows it, not
/// `Status`, not hop-by-hop; the value holds no control character but HTAB.
pub fn check_header(name: &str, value: &[u8]) -> Result<(), Refusal> {
    let bytes = name.as_bytes();
    let token = bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !token {
        return Err((
            Rule::HeaderName,
            format!(
                "header name {} is not a token: it must match [A-Za-z][A-Za-z0-9_-]*",
                quote(bytes),
            ),
        ));
    }
    if name.ends_with(['-', '_']) {
        return Err((
            Rule::HeaderName,
            format!("header name {} may not end in '-' or '_'", quote(bytes)),
        ));
    }
    if name.eq_ignore_ascii_case("status") {
        return Err((
            Rule::StatusHeader,
            "header \"Status\" is not allowed: the status goes to start-response, the gateway writes the Status line"
                .to_owned(),
        ));
    }
    if HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h)) {
        return Err((
            Rule::HopByHopHeader,
            format!(
                "header {} is hop-by-hop: the server owns the connection, an application may not send it (PEP 3333)",
                quote(bytes),
            ),
        ));
    }
    // The number must fit in 64 bits, or the gateway could not hold the body to it.
    if name.eq_ignore_ascii_case("content-length") && content_length(value).is_none() {
        return Err((
            Rule::ContentLengthValue,
            format!(
                "header \"Content-Length\" value {} is not a decimal number of bytes (at most {})",
                quote(value),
                u64::MAX,
            ),
        ));
    }
    if let Some(at) = value
        .iter()
        .position(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err((
            Rule::HeaderValueControlCharacter,
            format!(
                "header {} value holds control character {} at byte {at}: CR, LF, NUL and other controls would split or corrupt the response",
                quote(bytes),
                hex(value[at]),
            ),
        ));
    }
    Ok(())
}

/// A Content-Length value as a number of bytes: digits only, fitting in a `u64`.
pub fn content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Rules across the whole header list: at most one Content-Length (two could frame
/// the body two ways, the root of request smuggling).
pub fn check_header_list(headers: &[(String, Vec<u8>)]) -> Result<(), Refusal> {
    let lengths = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .count();
    if lengths > 1 {
        return Err((
            Rule::ContentLengthRepeated,
            format!("{lengths} Content-Length headers: a response has at most one"),
        ));
    }
    Ok(())
}

/// `wsgiref.validate`'s Content-Type rule, as a lint: a diagnostic for the log, never
/// a refusal. Returns the complaint, if any.
pub fn lint_content_type(status: &[u8], headers: &[(String, Vec<u8>)]) -> Option<Refusal> {
    let bodiless = !crate::response::has_body(status);
    let has = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    match (bodiless, has) {
        (false, false) => Some((
            Rule::NoContentType,
            format!(
                "response {} has no Content-Type header (wsgiref.validate wants one unless the status carries no body: 1xx, 204, 304)",
                quote(status),
            ),
        )),
        (true, true) => Some((
            Rule::ContentTypeWithoutBody,
            format!(
                "response {} has a Content-Type header but no body may follow (wsgiref.validate)",
                quote(status),
            ),
        )),
        _ => None,
    }
}

/// A byte string for a message: quoted, with bytes that are not printable ASCII
/// escaped, and cut short if long (a hostile guest may send a megabyte).
pub(crate) fn quote(bytes: &[u8]) -> String {
    const MAX: usize = 80;
    let mut out = String::from("\"");
    for &b in bytes.iter().take(MAX) {
        out.extend(std::ascii::escape_default(b).map(char::from));
    }
    out.push('"');
    if bytes.len() > MAX {
        let _ = write!(out, " (and {} more bytes)", bytes.len() - MAX);
    }
    out
}

fn hex(b: u8) -> String {
    format!("0x{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_status_passes() {
        for ok in [
            "200 OK",
            "404 Not Found",
            "999 Custom",
            "100 Continue",
            "204 ",
        ] {
            assert_eq!(check_status(ok.as_bytes()), Ok(()), "{ok}");
        }
        assert_eq!(check_status(b"200 Caf\xe9"), Ok(()), "latin-1 reason");
    }

    #[test]
    fn status_needs_three_digits_space_and_reason() {
        for bad in [
            "200", "200OK", "20 OK", "2000 OK", "OK", "", "abc OK", "099 Low", "2x0 OK",
        ] {
            let (rule, err) = check_status(bad.as_bytes()).expect_err(bad);
            assert_eq!(rule, Rule::StatusForm);
            assert!(err.contains("three-digit code"), "{bad}: {err}");
        }
    }

    #[test]
    fn status_may_not_hold_control_characters() {
        for bad in [
            &b"200 OK\r\nX: y"[..],
            b"200 OK\0",
            b"200\tOK",
            b"200 O\x7fK",
        ] {
            let (rule, err) = check_status(bad).expect_err("control");
            assert_eq!(rule, Rule::StatusControlCharacter);
            assert!(err.contains("control character"), "{err}");
        }
    }

    #[test]
    fn header_names_must_be_tokens() {
        for bad in ["", "1X", "X Y", "X:Y", "X\nY", "Caf\u{e9}", "-X", "X.Y"] {
            let (rule, err) = check_header(bad, b"v").expect_err(bad);
            assert_eq!(rule, Rule::HeaderName);
            assert!(err.contains("is not a token"), "{bad}: {err}");
        }
        for bad in ["X-", "X_"] {
            let (rule, err) = check_header(bad, b"v").expect_err(bad);
            assert_eq!(rule, Rule::HeaderName);
            assert!(err.contains("may not end in"), "{bad}: {err}");
        }
        assert_eq!(check_header("X-Custom_Header2", b"v"), Ok(()));
    }

    #[test]
    fn a_status_header_is_refused() {
        let (rule, err) = check_header("status", b"200 OK").expect_err("status");
        assert_eq!(rule, Rule::StatusHeader);
        assert!(err.contains("\"Status\" is not allowed"), "{err}");
    }

    #[test]
    fn hop_by_hop_headers_are_refused() {
        for name in [
            "Connection",
            "keep-alive",
            "Proxy-Authenticate",
            "PROXY-AUTHORIZATION",
            "TE",
            "Trailers",
            "Transfer-Encoding",
            "Upgrade",
        ] {
            let (rule, err) = check_header(name, b"x").expect_err(name);
            assert_eq!(rule, Rule::HopByHopHeader);
            assert!(err.contains("is hop-by-hop"), "{name}: {err}");
        }
    }

    #[test]
    fn header_values_may_not_hold_control_characters_but_tab() {
        for bad in [&b"a\rb"[..], b"a\nb", b"a\0b", b"a\x1bb", b"a\x7fb"] {
            let (rule, err) = check_header("X", bad).expect_err("control");
            assert_eq!(rule, Rule::HeaderValueControlCharacter);
            assert!(err.contains("control character"), "{err}");
        }
        assert_eq!(check_header("X", b"a\tb \xe9"), Ok(()));
        assert_eq!(check_header("X", b""), Ok(()));
    }

    #[test]
    fn content_length_must_be_one_decimal_number() {
        assert_eq!(check_header("Content-Length", b"42"), Ok(()));
        for bad in [&b""[..], b"-1", b"4 2", b"0x10", b"1e3"] {
            let (rule, err) = check_header("content-length", bad).expect_err("bad length");
            assert_eq!(rule, Rule::ContentLengthValue);
            assert!(err.contains("not a decimal number"), "{err}");
        }
        let two = [
            ("Content-Length".to_owned(), b"1".to_vec()),
            ("content-length".to_owned(), b"1".to_vec()),
        ];
        let (rule, err) = check_header_list(&two).expect_err("two lengths");
        assert_eq!(rule, Rule::ContentLengthRepeated);
        assert!(err.contains("at most one"), "{err}");
        assert_eq!(check_header_list(&two[..1]), Ok(()));
    }

    #[test]
    fn a_content_length_past_64_bits_is_refused() {
        // Found by fuzz/gateway: a longer one passed, the gateway could not hold the
        // body to it, and a response declaring 7.5e20 bytes completed with none.
        assert_eq!(
            check_header("Content-Length", b"18446744073709551615"),
            Ok(())
        );
        assert_eq!(
            check_header("Content-Length", b"000000000000000000000042"),
            Ok(())
        );
        for bad in [&b"18446744073709551616"[..], b"0752222255550000000000"] {
            let (_, err) = check_header("Content-Length", bad).expect_err("too long");
            assert!(err.contains("not a decimal number"), "{err}");
        }
    }

    #[test]
    fn content_type_is_linted_not_refused() {
        let ct = vec![("Content-Type".to_owned(), b"text/plain".to_vec())];
        assert_eq!(lint_content_type(b"200 OK", &ct), None);
        assert_eq!(
            lint_content_type(b"200 OK", &[]).map(|l| l.0),
            Some(Rule::NoContentType)
        );
        assert_eq!(lint_content_type(b"204 No Content", &[]), None);
        assert_eq!(
            lint_content_type(b"304 Not Modified", &ct).map(|l| l.0),
            Some(Rule::ContentTypeWithoutBody)
        );
    }

    #[test]
    fn long_values_are_cut_short_in_messages() {
        let big = vec![b'a'; 1 << 20];
        let (_, err) = check_status(&big).expect_err("big");
        assert!(err.len() < 300, "{}", err.len());
        assert!(err.contains("more bytes"));
    }
}
