//! What the gateway decides about a response before a front end writes a byte of it:
//! the head it hands the sink (status, headers, and how the body is framed), which
//! statuses and requests carry no body, and the error pages the gateway and the
//! servers answer with. Decided here once, so no front end re-derives any of it
//! (wsgiref's handlers likewise only override how bytes are written).

use crate::gateway::{Header, Violation};
use crate::validate;

/// A response's head as the gateway hands it to a [`crate::Sink`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head<'a> {
    /// The status line, e.g. `200 OK` (validated).
    pub status: &'a [u8],
    /// The headers, in the application's order (validated).
    pub headers: &'a [Header],
    /// How the body is framed on the wire.
    pub framing: Framing,
}

/// How a response's body is framed, decided once from the request and the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body goes to the client: the request is HEAD, or the status is 1xx, 204 or
    /// 304 (RFC 9110 sections 6.4.1 and 9.3.2). A Content-Length among the headers
    /// describes a body not sent. The gateway hands such a body's bytes only to a
    /// sink behind a web server that drops them itself ([`crate::Sink::is_cgi`]).
    None,
    /// The application declared the body's length with a Content-Length: exactly that
    /// many bytes follow, and the gateway holds the application to it.
    Length(u64),
    /// The length is known only at the end: the front end frames it (chunked, a
    /// length given at the end, or the end of the connection).
    Open,
}

impl Framing {
    /// The framing of a response with `status` and `headers` to a request that was
    /// (`head_request`) or was not HEAD. The headers are validated, so a Content-Length
    /// among them is one decimal number.
    pub fn of(status: &[u8], headers: &[Header], head_request: bool) -> Self {
        if head_request || !has_body(status) {
            return Self::None;
        }
        headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| validate::content_length(value))
            .map_or(Self::Open, Self::Length)
    }
}

/// Whether a response with `status` may carry a body at all: not 1xx, 204 or 304
/// (RFC 9110 sections 15.2, 15.3.5, 15.4.5). wsgiref.validate's Content-Type rule uses
/// the same list.
pub fn has_body(status: &[u8]) -> bool {
    !status.starts_with(b"1") && !status.starts_with(b"204") && !status.starts_with(b"304")
}

/// The responses that wasgi itself writes, never the application: the generic error
/// page and the refusals of the servers. One place for their status lines and
/// bodies, plain text. (`wasgi serve`'s 400 for a request head it refuses says why in
/// its body instead: each refusal has its own reason.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorPage {
    /// The application failed before its headers went out (docs/GATEWAY.md section
    /// 6): wsgiref's `error_body`, never the error itself, which goes to the log.
    Internal,
    /// The request body's framing broke (a bad chunk size) or it was cut short.
    MalformedBody,
    /// The request head or body stopped arriving.
    RequestTimeout,
    /// The request body is larger than the server allows.
    ContentTooLarge,
    /// Every slot and the queue are taken.
    Busy,
}

impl ErrorPage {
    /// The status line.
    pub fn status(self) -> &'static [u8] {
        match self {
            Self::Internal => b"500 Internal Server Error",
            Self::MalformedBody => b"400 Bad Request",
            Self::RequestTimeout => b"408 Request Timeout",
            Self::ContentTooLarge => b"413 Content Too Large",
            Self::Busy => b"503 Service Unavailable",
        }
    }

    /// The status code alone.
    pub fn code(self) -> u16 {
        match self {
            Self::Internal => 500,
            Self::MalformedBody => 400,
            Self::RequestTimeout => 408,
            Self::ContentTooLarge => 413,
            Self::Busy => 503,
        }
    }

    /// The body (plain text, no newline).
    pub fn body(self) -> &'static [u8] {
        match self {
            Self::Internal => b"A server error occurred.  Please contact the administrator.",
            Self::MalformedBody => b"The request body is malformed.",
            Self::RequestTimeout => b"The request body took too long to arrive.",
            Self::ContentTooLarge => b"The request body is larger than this server accepts.",
            Self::Busy => b"The server is busy. Try again later.",
        }
    }

    /// The headers of the page: its Content-Type.
    pub fn headers() -> [Header; 1] {
        [("Content-Type".to_owned(), b"text/plain".to_vec())]
    }
}

/// A failure the client caused, which the error response names instead of the
/// generic 500 (when it comes before the headers went out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientFault {
    /// The request body stopped arriving: `408 Request Timeout`.
    Timeout,
    /// The request body is larger than the server allows: `413 Content Too Large`.
    TooLarge,
    /// The request body's framing broke (a bad chunk size) or it was cut short:
    /// `400 Bad Request`.
    Malformed,
}

impl ClientFault {
    /// The error page that says so.
    pub fn page(self) -> ErrorPage {
        match self {
            Self::Timeout => ErrorPage::RequestTimeout,
            Self::TooLarge => ErrorPage::ContentTooLarge,
            Self::Malformed => ErrorPage::MalformedBody,
        }
    }
}

/// Caps on one response, beyond the rules: how many headers, how many bytes of status
/// line and headers, how many body bytes. Each is named after the flag that sets it,
/// and a response past one fails as section 6 says (500 before its headers went out,
/// aborted after), with a log line naming the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Headers one `start-response` may set (`--max-response-headers`).
    pub max_headers: usize,
    /// Bytes of the status line plus every `name: value` (`--max-response-header-bytes`).
    pub max_header_bytes: usize,
    /// Body bytes (`--max-output`); `None`, no limit.
    pub max_output: Option<u64>,
}

impl ResponseLimits {
    /// The defaults, in every mode: 100 headers, 64 KiB of them, any body length.
    pub const DEFAULT: Self = Self {
        max_headers: 100,
        max_header_bytes: 64 * 1024,
        max_output: None,
    };

    /// Refuses a status line and header list over the caps, before any rule is
    /// checked (a 100 000-header list is not validated one by one).
    pub(crate) fn check(&self, status: &[u8], headers: &[Header]) -> Result<(), Violation> {
        let max = self.max_header_bytes;
        if status.len() > max {
            return Err(Violation::InvalidStatus(format!(
                "limit: the status line is {} bytes, past --max-response-header-bytes of {max}",
                status.len()
            )));
        }
        if headers.len() > self.max_headers {
            return Err(Violation::InvalidHeader(format!(
                "limit: {} headers, past --max-response-headers of {}",
                headers.len(),
                self.max_headers
            )));
        }
        let bytes = headers.iter().fold(status.len(), |sum, (n, v)| {
            sum.saturating_add(n.len() + 2 + v.len())
        });
        if bytes > max {
            return Err(Violation::InvalidHeader(format!(
                "limit: the status line and headers take {bytes} bytes, past --max-response-header-bytes of {max}"
            )));
        }
        Ok(())
    }
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
