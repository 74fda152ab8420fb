//! Status and header validation against section 3 of docs/GATEWAY.md, stated
//! independently: a check accepts exactly what the rule allows, and whatever it
//! accepts is a safe CGI header line.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasgi_fuzz::{Digits, HOP_BY_HOP, Token, header_is_valid, is_tchar, status_is_valid};
use wasgi_gateway::validate::{check_header, check_header_list, check_status, lint_content_type};

/// Names that reach each rule: any string, a token, or a name with a rule of its own.
#[derive(Arbitrary, Debug)]
enum Name {
    Any(String),
    Token(Token),
    Special(u8, bool),
}

/// Values: any bytes, or a number for Content-Length.
#[derive(Arbitrary, Debug)]
enum Value {
    Any(Vec<u8>),
    Digits(Digits),
}

#[derive(Arbitrary, Debug)]
struct Response {
    status: Vec<u8>,
    code: Option<(u16, String)>,
    headers: Vec<(Name, Value)>,
}

/// Longest refusal message for any input: values are quoted cut short, so a hostile
/// megabyte-long header makes a message of bounded size.
const MAX_MESSAGE: usize = 600;

fuzz_target!(|response: Response| {
    let status = match &response.code {
        Some((code, reason)) => format!("{code:03} {reason}").into_bytes(),
        None => response.status.clone(),
    };
    let verdict = check_status(&status);
    assert_eq!(
        verdict.is_ok(),
        status_is_valid(&status),
        "status {status:?}"
    );
    if let Err((_, message)) = &verdict {
        assert!(
            !message.is_empty() && message.len() < MAX_MESSAGE,
            "{message}"
        );
    } else {
        assert_written_safely("Status", &status);
    }

    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, value) in &response.headers {
        let name = match name {
            Name::Any(s) => s.clone(),
            Name::Token(t) => t.0.clone(),
            Name::Special(i, upper) => {
                let special = [
                    &HOP_BY_HOP[..],
                    &["status", "content-length", "content-type"],
                ]
                .concat();
                let name = special[usize::from(*i) % special.len()];
                if *upper {
                    name.to_ascii_uppercase()
                } else {
                    name.to_owned()
                }
            }
        };
        let value = match value {
            Value::Any(v) => v.clone(),
            Value::Digits(d) => d.0.clone(),
        };
        let verdict = check_header(&name, &value);
        assert_eq!(
            verdict.is_ok(),
            header_is_valid(&name, &value),
            "header {name:?}: {value:?} -> {verdict:?}"
        );
        match verdict {
            Ok(()) => {
                assert_written_safely(&name, &value);
                headers.push((name, value));
            }
            Err((_, message)) => {
                assert!(
                    !message.is_empty() && message.len() < MAX_MESSAGE,
                    "{message}"
                );
            }
        }
    }

    let lengths = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .count();
    assert_eq!(check_header_list(&headers).is_ok(), lengths <= 1);
    // A lint never refuses; it only speaks when Content-Type's presence is wrong.
    let bodiless = status.starts_with(b"204") || status.starts_with(b"304");
    let typed = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    assert_eq!(
        lint_content_type(&status, &headers).is_some(),
        bodiless == typed
    );
});

/// An accepted header, written as CGI does (`Name: value\r\n`), is one line: a token
/// name that is not Status or hop-by-hop, then no CR, LF or NUL before the terminator.
fn assert_written_safely(name: &str, value: &[u8]) {
    let line = [name.as_bytes(), b": ", value, b"\r\n"].concat();
    let body = &line[..line.len() - 2];
    assert!(
        !body.iter().any(|b| matches!(b, b'\r' | b'\n' | b'\0')),
        "{line:?} would split the response"
    );
    assert!(!name.is_empty() && name.bytes().all(is_tchar), "{name:?}");
    if name != "Status" {
        assert!(!name.eq_ignore_ascii_case("status"));
        assert!(!HOP_BY_HOP.contains(&name.to_ascii_lowercase().as_str()));
    }
}
