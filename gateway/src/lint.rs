//! Diagnostics from what the gateway saw: every refusal it made, with its rule, and
//! what it let through but a careful server warns about (`wsgiref.validate`'s lints
//! and RFC 9110's). Pure: a [`Record`] in, `(rule, message)` pairs out.

use crate::observe::Record;
use crate::response::{Framing, has_body};
use crate::rules::Rule;
use crate::validate::{self, Refusal, quote};

/// Headers that are not lists, so never repeated (RFC 9110 section 5.3; each field's
/// definition: sections 5.6.7, 8.3, 8.6-8.8, 10.2, 14.4; RFC 9111 sections 5.1, 5.3;
/// RFC 6266 for Content-Disposition).
const SINGLETONS: [&str; 13] = [
    "age",
    "content-disposition",
    "content-length",
    "content-location",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expires",
    "last-modified",
    "location",
    "retry-after",
    "server",
];

/// What the diagnostics need to know of the request.
#[derive(Clone, Copy, Debug)]
pub struct RequestFacts<'a> {
    /// REQUEST_METHOD.
    pub method: &'a [u8],
    /// Bytes of request body sent.
    pub body_len: u64,
}

/// Every diagnostic of one request: refusals first, in the order they happened, then
/// the failure, then the warnings.
pub fn diagnose(record: &Record, request: RequestFacts<'_>) -> Vec<Refusal> {
    let mut found = record.refusals.clone();
    found.extend(record.failure.clone());
    if let Some((status, headers, framing)) = &record.head {
        found.extend(validate::lint_content_type(status, headers));
        found.extend(reason_phrase(status));
        found.extend(duplicates(headers));
        found.extend(non_ascii(headers));
        if *framing == Framing::None && record.body_bytes > 0 {
            let why = if has_body(status) {
                format!("the request is {}", String::from_utf8_lossy(request.method))
            } else {
                format!("the status is {}", quote(status))
            };
            found.push((
                Rule::BodyWithoutContent,
                format!(
                    "the application yielded {} bytes of body, but {why}: no body may follow (the gateway dropped it)",
                    record.body_bytes
                ),
            ));
        }
    }
    if record.legacy_writes > 0 {
        found.push((
            Rule::LegacyWrite,
            format!(
                "the application called write() {} times: yield the body instead",
                record.legacy_writes
            ),
        ));
    }
    if record.replaced_after_empty_chunk > 0 {
        found.push((
            Rule::EmptyChunkBeforeHeaders,
            "the body yielded an empty chunk, then start_response replaced the headers (exc_info): wsgiref sends the headers at an empty chunk, so there the replacement would fail".to_owned(),
        ));
    }
    if record.exc_info_calls > 1 {
        found.push((
            Rule::ExcInfoRepeated,
            format!(
                "start_response was given exc_info {} times in one response",
                record.exc_info_calls
            ),
        ));
    }
    if record.reads_after_end > 0 {
        found.push((
            Rule::InputReadPastEnd,
            format!(
                "wsgi.input was read {} more times after it gave the end of the body",
                record.reads_after_end
            ),
        ));
    }
    if request.body_len > 0 && record.reads == 0 && record.head.is_some() {
        found.push((
            Rule::InputUnread,
            "the request had a body and the application answered without reading wsgi.input"
                .to_owned(),
        ));
    }
    found
}

/// A status whose reason phrase is empty.
fn reason_phrase(status: &[u8]) -> Option<Refusal> {
    status
        .get(4..)
        .unwrap_or_default()
        .trim_ascii()
        .is_empty()
        .then(|| {
            (
                Rule::NoReasonPhrase,
                format!("status {} has no reason phrase", quote(status)),
            )
        })
}

/// One diagnostic per header that is not a list and came more than once.
fn duplicates(headers: &[(String, Vec<u8>)]) -> Vec<Refusal> {
    SINGLETONS
        .iter()
        .filter_map(|singleton| {
            let count = headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case(singleton))
                .count();
            let name = headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(singleton))?;
            (count > 1).then(|| {
                (
                    Rule::DuplicateHeader,
                    format!(
                        "header {:?} appears {count} times: it is not a list",
                        name.0
                    ),
                )
            })
        })
        .collect()
}

/// One diagnostic per header whose value holds bytes past ASCII.
fn non_ascii(headers: &[(String, Vec<u8>)]) -> Vec<Refusal> {
    headers
        .iter()
        .filter(|(_, value)| !value.is_ascii())
        .map(|(name, value)| {
            (
                Rule::NonAsciiHeaderValue,
                format!(
                    "header {name:?} value {} holds bytes past ASCII",
                    quote(value)
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: &str, headers: &[(&str, &[u8])], framing: Framing) -> Record {
        Record {
            head: Some((
                status.as_bytes().to_vec(),
                headers
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
                    .collect(),
                framing,
            )),
            ..Record::default()
        }
    }

    fn rules(record: &Record, method: &str, body_len: u64) -> Vec<Rule> {
        let facts = RequestFacts {
            method: method.as_bytes(),
            body_len,
        };
        diagnose(record, facts).into_iter().map(|d| d.0).collect()
    }

    #[test]
    fn a_plain_response_has_no_diagnostic() {
        let ok = head("200 OK", &[("Content-Type", b"text/plain")], Framing::Open);
        assert_eq!(rules(&ok, "GET", 0), []);
    }

    #[test]
    fn each_header_lint_names_its_rule() {
        let record = head(
            "204 ",
            &[
                ("Content-Type", b"text/plain"),
                ("Location", b"/a"),
                ("location", b"/b"),
                ("X-Name", b"caf\xe9"),
                ("Set-Cookie", b"a=1"),
                ("Set-Cookie", b"b=2"),
            ],
            Framing::None,
        );
        assert_eq!(
            rules(&record, "GET", 0),
            [
                Rule::ContentTypeWithoutBody,
                Rule::NoReasonPhrase,
                Rule::DuplicateHeader,
                Rule::NonAsciiHeaderValue
            ]
        );
    }

    #[test]
    fn a_body_where_none_may_go_is_named() {
        let mut record = head("200 OK", &[("Content-Type", b"text/plain")], Framing::None);
        record.body_bytes = 3;
        let found = diagnose(
            &record,
            RequestFacts {
                method: b"HEAD",
                body_len: 0,
            },
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, Rule::BodyWithoutContent);
        assert!(found[0].1.contains("the request is HEAD"), "{}", found[0].1);
    }

    #[test]
    fn input_use_is_linted() {
        let mut record = head("200 OK", &[("Content-Type", b"text/plain")], Framing::Open);
        assert_eq!(rules(&record, "POST", 5), [Rule::InputUnread]);
        record.reads = 3;
        record.reads_after_end = 1;
        assert_eq!(rules(&record, "POST", 5), [Rule::InputReadPastEnd]);
    }
}
