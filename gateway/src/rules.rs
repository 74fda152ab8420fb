//! The rules a wasgi application is held to, each with its name, severity and source:
//! the catalogue behind the gateway's refusals and `wasgi check`'s diagnostics, listed
//! once (docs/CHECK.md lists the same, and a test holds the two together).
//!
//! Errors are what the gateway refuses or what makes a response fail; warnings are what
//! it lets through but a careful server would warn about (as `wsgiref.validate` warns
//! of, or asserts where wasgi is more lenient).

/// How bad breaking a rule is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The gateway refuses it, or the response fails: fix it.
    Error,
    /// The gateway lets it through, but it is wrong or not portable.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// Declares [`Rule`] and its table: variant, name, severity, source, what it asks.
macro_rules! rules {
    ($($(#[$doc:meta])* $variant:ident $name:literal $severity:ident $source:literal $summary:literal;)*) => {
        /// A rule, named after what it asks (see [`Rule::name`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule {
            $($(#[$doc])* $variant,)*
        }

        impl Rule {
            /// Every rule, errors first.
            pub const ALL: &'static [Rule] = &[$(Self::$variant),*];

            /// Its name, as diagnostics show it (`start-response-twice`).
            pub fn name(self) -> &'static str {
                match self { $(Self::$variant => $name,)* }
            }

            /// Error or warning.
            pub fn severity(self) -> Severity {
                match self { $(Self::$variant => Severity::$severity,)* }
            }

            /// Where the rule comes from: PEP 3333, wsgiref.validate, RFC 9110, or
            /// wasgi's own limits.
            pub fn source(self) -> &'static str {
                match self { $(Self::$variant => $source,)* }
            }

            /// What the rule asks, in one sentence.
            pub fn summary(self) -> &'static str {
                match self { $(Self::$variant => $summary,)* }
            }
        }
    };
}

rules! {
    /// `write` or a non-empty body chunk before `start_response`.
    WriteBeforeStartResponse "write-before-start-response" Error
        "PEP 3333 (the start_response() callable)"
        "start_response must be called before the body's first non-empty chunk or write()";
    /// A second `start_response` without `exc_info`.
    StartResponseTwice "start-response-twice" Error
        "PEP 3333 (the start_response() callable)"
        "start_response may be called again only with exc_info, as an error handler does";
    /// `start_response` with `exc_info` once the headers went out.
    ExcInfoAfterHeaders "exc-info-after-headers" Error
        "PEP 3333 (error handling)"
        "once the headers are sent the status cannot change: start_response with exc_info then fails and the response is aborted";
    /// A status line with a control character.
    StatusControlCharacter "status-control-character" Error
        "PEP 3333 (the start_response() callable); wsgiref.handlers"
        "the status may not hold control characters (CR and LF would split the response)";
    /// A status line that is not `NNN reason`.
    StatusForm "status-form" Error
        "wsgiref.validate (check_status)"
        "the status is a three-digit code from 100 up, a space and a reason phrase, as \"200 OK\"";
    /// A header name that is not a token, or ends in `-` or `_`.
    HeaderName "header-name" Error
        "wsgiref.validate (check_headers); RFC 9110 section 5.1"
        "a header name matches [A-Za-z][A-Za-z0-9_-]* and does not end in '-' or '_'";
    /// A header named `Status`.
    StatusHeader "status-header" Error
        "wsgiref.validate (check_headers)"
        "no header may be named Status: the status goes to start_response";
    /// A hop-by-hop header.
    HopByHopHeader "hop-by-hop-header" Error
        "PEP 3333 (other HTTP features); wsgiref.util.is_hop_by_hop"
        "an application may not send hop-by-hop headers (Connection, Keep-Alive, Transfer-Encoding, ...): the server owns the connection";
    /// A header value with a control character.
    HeaderValueControlCharacter "header-value-control-character" Error
        "PEP 3333 (the start_response() callable); wsgiref.validate (check_headers)"
        "a header value may not hold control characters other than tab (CR and LF would split the response)";
    /// A Content-Length that is not a decimal number.
    ContentLengthValue "content-length-value" Error
        "RFC 9110 section 8.6"
        "Content-Length is one decimal number of bytes";
    /// More than one Content-Length.
    ContentLengthRepeated "content-length-repeated" Error
        "RFC 9110 section 8.6; RFC 9112 section 6.3"
        "a response has at most one Content-Length (two could frame the body two ways)";
    /// A body longer or shorter than its Content-Length.
    ContentLengthMismatch "content-length-mismatch" Error
        "RFC 9110 section 8.6"
        "a body is exactly as long as its Content-Length says: the gateway aborts one that is not";
    /// Output after the body ended (from close(), or after an abort).
    OutputAfterEnd "output-after-end" Error
        "PEP 3333 (the start_response() callable)"
        "nothing may be written once the body has ended or the response was aborted";
    /// A response past `--max-response-headers`, `--max-response-header-bytes` or
    /// `--max-output`.
    ResponseLimit "response-limit" Error
        "wasgi (--max-response-headers, --max-response-header-bytes, --max-output)"
        "the response stays within the server's caps on header count, header bytes and body bytes";
    /// The application returned an error.
    AppError "app-error" Error
        "PEP 3333 (error handling)"
        "the application returned an error (raised an exception): the client got a 500 or an aborted response";
    /// The guest trapped.
    Trap "trap" Error
        "wasgi (docs/GATEWAY.md section 6)"
        "the guest trapped (a panic, an uncaught exception, unreachable code): the client got a 500 or an aborted response";
    /// The guest was stopped by a limit.
    GuestLimit "guest-limit" Error
        "wasgi (--timeout, --max-memory, --fuel, --max-resources)"
        "the guest stays within its time, memory, CPU and resource limits";
    /// A component that does not implement the wasgi world.
    World "wasgi-world" Error
        "wasgi (wit/gateway.wit)"
        "the component exports wasgi:gateway/application and imports only what wasgi provides (the wasgi contract, WASI p2)";
    /// No Content-Type on a response that has a body.
    NoContentType "no-content-type" Warning
        "wsgiref.validate (check_content_type)"
        "a response that can have a body has a Content-Type (CGI may default one, WSGI does not)";
    /// A Content-Type on a 1xx, 204 or 304 response.
    ContentTypeWithoutBody "content-type-without-body" Warning
        "wsgiref.validate (check_content_type); RFC 9110 sections 15.3.5, 15.4.5"
        "a 1xx, 204 or 304 response, which has no body, has no Content-Type";
    /// A body on a response that cannot have one.
    BodyWithoutContent "body-without-content" Warning
        "RFC 9110 sections 9.3.2, 15.3.5, 15.4.5"
        "a response to HEAD, and a 1xx, 204 or 304 response, yields no body (the gateway drops it)";
    /// A status with no reason phrase.
    NoReasonPhrase "no-reason-phrase" Warning
        "PEP 3333 (the start_response() callable); wsgiref.validate (check_status)"
        "the status has a reason phrase after its code, as \"200 OK\"";
    /// A header that may appear once given twice.
    DuplicateHeader "duplicate-header" Warning
        "RFC 9110 section 5.3"
        "a header that is not a list (Content-Type, Location, ETag, ...) appears at most once";
    /// A header value with bytes past ASCII.
    NonAsciiHeaderValue "non-ascii-header-value" Warning
        "RFC 9110 section 5.5; PEP 3333 (unicode issues)"
        "header values are ASCII: other bytes (obs-text) are read differently by different clients";
    /// The legacy `write()` callable was used.
    LegacyWrite "legacy-write" Warning
        "PEP 3333 (the write() callable)"
        "write() is for legacy frameworks; new applications yield their body instead";
    /// An empty chunk came before the headers went out, and they were replaced after.
    EmptyChunkBeforeHeaders "empty-chunk-before-headers" Warning
        "PEP 3333 (buffering and streaming); wsgiref.handlers"
        "headers are replaced (exc_info) only before any chunk: wsgiref sends them at an empty chunk, where PEP 3333 and wasgi wait for a non-empty one";
    /// wsgi.input read again after it gave its end.
    InputReadPastEnd "input-read-past-end" Warning
        "PEP 3333 (input and error streams)"
        "an application does not read wsgi.input past CONTENT_LENGTH: once a read gave the end, it stops";
    /// A request body left unread.
    InputUnread "input-unread" Warning
        "PEP 3333 (input and error streams); RFC 9112 section 9.3"
        "an application that answers a request with a body reads it (or knows it may ignore it): an unread body costs the connection";
    /// `exc_info` more than once in one response.
    ExcInfoRepeated "exc-info-repeated" Warning
        "PEP 3333 (error handling)"
        "one error replaces a response once: exc_info given again and again hides the first error";
    /// A request that took over half of its time limit.
    SlowRequest "slow-request" Warning
        "wasgi (--timeout of wasgi serve)"
        "a request takes well under its time limit (a warning past half of it)";
    /// A request whose memory grew past half of its limit.
    MemoryHeavy "memory-heavy" Warning
        "wasgi (--max-memory of wasgi serve)"
        "a request's memory stays well under its limit (a warning past half of it)";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_check_md_lists_every_rule_with_its_source() {
        let docs = include_str!("../../docs/CHECK.md");
        for rule in Rule::ALL {
            let row = format!("| `{}` | {} |", rule.name(), rule.source());
            assert!(docs.contains(&row), "docs/CHECK.md lacks the row {row}");
        }
        let rows = docs.lines().filter(|l| l.starts_with("| `")).count();
        let key_rows = 6; // the table of --requests keys
        assert_eq!(
            rows,
            Rule::ALL.len() + key_rows,
            "a rule in the docs that is not in Rule"
        );
    }

    #[test]
    fn names_are_unique_and_errors_come_first() {
        let names: std::collections::BTreeSet<_> = Rule::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), Rule::ALL.len());
        let severities: Vec<_> = Rule::ALL.iter().map(|r| r.severity()).collect();
        let mut sorted = severities.clone();
        sorted.sort();
        assert_eq!(severities, sorted);
    }
}
