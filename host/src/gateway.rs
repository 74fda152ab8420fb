//! The gateway core: PEP 3333's state machine, written once.
//!
//! [`Gateway`] holds what a WSGI server holds for one response (the stored status and
//! headers, whether they went out, whether the response ended) and enforces every
//! ordering guard of `shared/reference/gateway-semantics.md` sections 1, 3, 4 and 6.
//! Front ends never check anything themselves: they hand the core a [`Sink`] that
//! knows only how to put bytes on their wire (CGI stdout, an HTTP connection). No
//! wasmtime here either: the driver in [`crate::app`] feeds it what the guest does.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::validate;

/// A response header as the guest gave it: name, raw value.
pub type Header = (String, Vec<u8>);

/// Where a response goes. A front end implements this and nothing else: the order of
/// calls is the core's job. `send_headers` is called at most once and always before
/// `send_chunk`; after `finish` or `abort` nothing more is called.
pub trait Sink: Send {
    /// Put the status line and headers on the wire, exactly as given.
    fn send_headers(&mut self, status: &[u8], headers: &[Header]) -> io::Result<()>;
    /// Put one non-empty body chunk on the wire and flush it.
    fn send_chunk(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// The response is complete.
    fn finish(&mut self) -> io::Result<()>;
    /// The response cannot complete after its headers went out: end it so that the
    /// client can tell (an aborted connection, an unterminated chunked body).
    fn abort(&mut self);
}

/// A broken gateway rule, as returned to the guest (the WIT `gateway-error`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// `write` or a body chunk before `start-response`.
    #[error("write() before start_response()")]
    WriteBeforeStartResponse,
    /// A second `start-response` without `exc-info`.
    #[error("start_response() called again without exc_info: headers already set")]
    HeadersAlreadySet,
    /// `start-response` with `exc-info` after the headers were sent.
    #[error("start_response() with exc_info after the headers were sent: the response is aborted")]
    HeadersAlreadySent,
    /// The status line breaks a rule.
    #[error("invalid status: {0}")]
    InvalidStatus(String),
    /// A header breaks a rule.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// The response takes no more output.
    #[error("output closed: {0}")]
    OutputClosed(String),
    /// Reading the request body failed.
    #[error("reading the request body failed: {0}")]
    InputFailed(String),
}

/// Why a response failed.
#[derive(Debug)]
pub enum Failure {
    /// The application returned an error (from `call` or `next`).
    App(String),
    /// The guest trapped, or could not be instantiated.
    Trap(String),
    /// The guest broke a gateway rule that ends the response.
    Rule(Violation),
    /// Output failed (the client went away): nothing more can be sent.
    Output(io::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::App(msg) => write!(f, "application error: {msg}"),
            Self::Trap(msg) => write!(f, "guest trapped: {msg}"),
            Self::Rule(v) => write!(f, "guest broke a gateway rule: {v}"),
            Self::Output(e) => write!(f, "failed to write the response: {e}"),
        }
    }
}

/// How a response ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The application's response went out whole.
    Completed,
    /// The application failed before its headers went out: the generic 500 went out
    /// instead.
    Failed,
    /// The response was cut short after its headers went out.
    Aborted,
}

/// The status of the generic error response (gateway-semantics section 6).
pub const ERROR_STATUS: &[u8] = b"500 Internal Server Error";
/// The body of the generic error response: wsgiref's `error_body`. Never the error
/// itself, which goes to the log.
pub const ERROR_BODY: &[u8] = b"A server error occurred.  Please contact the administrator.";

/// A failure the client caused, which the error response names instead of the
/// generic 500 (when it comes before the headers went out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientFault {
    /// The request body stopped arriving: `408 Request Timeout`.
    Timeout,
    /// The request body is larger than the server allows: `413 Content Too Large`.
    TooLarge,
}

impl ClientFault {
    /// The status and body of the error response.
    fn response(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Self::Timeout => (
                b"408 Request Timeout",
                b"The request body took too long to arrive.",
            ),
            Self::TooLarge => (
                b"413 Content Too Large",
                b"The request body is larger than this server accepts.",
            ),
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
    fn check(&self, status: &[u8], headers: &[Header]) -> Result<(), Violation> {
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

/// The guest's share of the host's log for one request (`--max-log`): what it writes
/// to stdout and stderr and the text it hands the gateway (error messages, exc_info)
/// all draw on it. Past it the rest is dropped, with one log line saying so. Clones
/// share the budget.
#[derive(Clone, Debug)]
pub struct LogBudget(Arc<Budget>);

#[derive(Debug)]
struct Budget {
    left: AtomicUsize,
    max: usize,
    /// Something was dropped (and that was logged, once).
    dropped: AtomicBool,
}

impl LogBudget {
    /// A budget of `max` bytes.
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Budget {
            left: AtomicUsize::new(max),
            max,
            dropped: AtomicBool::new(false),
        }))
    }

    /// Refills the budget to its `max` bytes, for the next request of a reused
    /// instance.
    pub fn refill(&self) {
        self.0.left.store(self.0.max, Ordering::Relaxed);
        self.0.dropped.store(false, Ordering::Relaxed);
    }

    /// Takes up to `len` bytes from the budget and returns how many may be logged;
    /// the first shortfall is logged.
    pub fn take(&self, len: usize) -> usize {
        let budget = &self.0;
        let left = budget
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                Some(left.saturating_sub(len))
            })
            .unwrap_or_default();
        let allowed = left.min(len);
        if allowed < len && !budget.dropped.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "limit: the guest wrote more than its --max-log of {} bytes to the log; the rest is dropped",
                budget.max
            );
        }
        allowed
    }

    /// `text` as much as the budget allows of it, for a log line.
    pub fn clip(&self, text: &str) -> String {
        let mut end = self.take(text.len());
        if end == text.len() {
            return text.to_owned();
        }
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes dropped)", &text[..end], text.len() - end)
    }
}

/// Whether a response's Content-Length is the length of the body sent with it (RFC
/// 9110 section 8.6): not for HEAD and 304, where it is that of a body not sent, nor
/// for 1xx and 204, which have no body at all.
pub fn length_describes_body(status: &[u8], head_request: bool) -> bool {
    !head_request
        && !status.starts_with(b"1")
        && !status.starts_with(b"204")
        && !status.starts_with(b"304")
}

/// What became of the status and headers.
enum Headers {
    /// No `start-response` yet.
    None,
    /// Stored, not sent.
    Stored {
        status: Vec<u8>,
        headers: Vec<Header>,
    },
    /// On the wire: the status can no longer change.
    Sent,
}

/// Whether guest output is still taken.
enum Phase {
    /// The application is producing its response.
    Open,
    /// The body ended or failed and is being closed: no guest output is taken.
    Sealed,
    /// The response is over.
    Done(Outcome),
}

/// One response's state machine. See the module docs.
pub struct Gateway {
    sink: Box<dyn Sink>,
    headers: Headers,
    phase: Phase,
    body_bytes: u64,
    /// The Content-Length the application declared, once its headers went out, when
    /// it is the length of this body (not for HEAD, 1xx, 204 or 304).
    declared_length: Option<u64>,
    /// The request is HEAD: its response's Content-Length describes a body not sent.
    head_request: bool,
    client_fault: Option<ClientFault>,
    limits: ResponseLimits,
    log: LogBudget,
}

impl Gateway {
    /// A gateway for one response, writing to `sink`.
    pub fn new(sink: Box<dyn Sink>) -> Self {
        Self {
            sink,
            headers: Headers::None,
            phase: Phase::Open,
            body_bytes: 0,
            declared_length: None,
            head_request: false,
            client_fault: None,
            limits: ResponseLimits::DEFAULT,
            log: LogBudget::new(usize::MAX),
        }
    }

    /// Logs the text the guest hands over (exc_info) within `log`.
    pub fn with_log_budget(mut self, log: LogBudget) -> Self {
        self.log = log;
        self
    }

    /// Holds the response to `limits`.
    pub fn with_limits(mut self, limits: ResponseLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Marks the request as HEAD (or not): then the response's Content-Length is the
    /// length of the body a GET would get, and no body is held to it.
    pub fn with_head_request(mut self, head: bool) -> Self {
        self.head_request = head;
        self
    }

    /// PEP 3333's `start_response`: validate and store; send nothing.
    pub fn start_response(
        &mut self,
        status: Vec<u8>,
        headers: Vec<Header>,
        exc_info: Option<String>,
    ) -> Result<(), Violation> {
        let result = self.store(status, headers, exc_info);
        log_refusal(&result);
        result
    }

    fn store(
        &mut self,
        status: Vec<u8>,
        headers: Vec<Header>,
        exc_info: Option<String>,
    ) -> Result<(), Violation> {
        if let Some(exc) = &exc_info {
            let exc = self.log.clip(exc);
            tracing::warn!("application reported an error through exc_info: {exc}");
        }
        if !matches!(self.phase, Phase::Open) {
            return Err(self.closed());
        }
        match (&self.headers, exc_info.is_some()) {
            (Headers::Sent, true) => {
                self.abort();
                return Err(Violation::HeadersAlreadySent);
            }
            (Headers::Stored { .. } | Headers::Sent, false) => {
                return Err(Violation::HeadersAlreadySet);
            }
            (Headers::None, _) | (Headers::Stored { .. }, true) => {}
        }
        self.limits.check(&status, &headers)?;
        validate::check_status(&status).map_err(Violation::InvalidStatus)?;
        for (name, value) in &headers {
            validate::check_header(name, value).map_err(Violation::InvalidHeader)?;
        }
        validate::check_header_list(&headers).map_err(Violation::InvalidHeader)?;
        if let Some(lint) = validate::lint_content_type(&status, &headers) {
            tracing::info!("lint: {lint}");
        }
        self.headers = Headers::Stored { status, headers };
        Ok(())
    }

    /// PEP 3333's `write`, also used for each chunk the body yields: an empty chunk
    /// is skipped (it does not send the headers); a non-empty one sends the stored
    /// headers first if they have not gone out, then itself, flushed.
    pub fn write(&mut self, data: &[u8]) -> Result<(), Violation> {
        let result = self.send(data);
        log_refusal(&result);
        result
    }

    fn send(&mut self, data: &[u8]) -> Result<(), Violation> {
        if !matches!(self.phase, Phase::Open) {
            return Err(self.closed());
        }
        if matches!(self.headers, Headers::None) {
            return Err(Violation::WriteBeforeStartResponse);
        }
        if data.is_empty() {
            return Ok(());
        }
        let total = self.body_bytes + data.len() as u64;
        if let Some(max) = self.limits.max_output.filter(|&max| total > max) {
            // Ends the response now: a 500 if this chunk would have sent the headers.
            let outcome = self.fail();
            self.phase = Phase::Done(outcome);
            return Err(Violation::OutputClosed(format!(
                "limit: the response passed its --max-output of {max} bytes"
            )));
        }
        self.send_stored_headers()?;
        if let Some(declared) = self.declared_length.filter(|&d| total > d) {
            self.abort();
            return Err(Violation::OutputClosed(format!(
                "the body is longer than its Content-Length of {declared} bytes: the response is aborted"
            )));
        }
        if let Err(e) = self.sink.send_chunk(data) {
            return Err(self.output_failed(e));
        }
        self.body_bytes += data.len() as u64;
        Ok(())
    }

    /// The body is exhausted: send the stored headers if no chunk did (the PEP's final
    /// `write('')`), then take no more guest output. The response is not finished
    /// until [`Gateway::finish`], after the body was closed.
    pub fn end_of_body(&mut self) -> Result<(), Failure> {
        // Sealed too: `finish(None)` after a `seal` that no good end of body preceded
        // must not pass for a complete response (the checks repeat harmlessly).
        if !matches!(self.phase, Phase::Done(_)) {
            if matches!(self.headers, Headers::None) {
                self.seal();
                return Err(Failure::Rule(Violation::WriteBeforeStartResponse));
            }
            self.send_stored_headers().map_err(Failure::Rule)?;
            if let Some(declared) = self.declared_length.filter(|&d| d != self.body_bytes) {
                self.seal();
                return Err(Failure::Rule(Violation::OutputClosed(format!(
                    "the body ended after {} bytes, short of its Content-Length of {declared}",
                    self.body_bytes
                ))));
            }
        }
        self.seal();
        Ok(())
    }

    /// Take no more output from the guest: its body is being closed.
    pub fn seal(&mut self) {
        if matches!(self.phase, Phase::Open) {
            self.phase = Phase::Sealed;
        }
    }

    /// End the response: cleanly if the body ended and was closed without a failure,
    /// else as section 6 says (500 before headers, aborted after). Returns the outcome.
    pub fn finish(&mut self, failure: Option<Failure>) -> Outcome {
        let failure = match failure {
            None => self.end_of_body().err(),
            some => some,
        };
        if let Phase::Done(outcome) = self.phase {
            if let Some(failure) = failure {
                self.log_failure(failure);
            }
            return outcome;
        }
        let outcome = match failure {
            None => match self.sink.finish() {
                Ok(()) => Outcome::Completed,
                Err(e) => {
                    tracing::error!("{}", Failure::Output(e));
                    self.sink.abort();
                    Outcome::Aborted
                }
            },
            Some(failure) => {
                self.log_failure(failure);
                self.fail()
            }
        };
        self.phase = Phase::Done(outcome);
        outcome
    }

    /// Ends a response that never reached the guest (its instance could not be set
    /// up): the failure is logged and the generic 500 sent.
    pub fn fail_with(mut self, failure: Failure) -> Outcome {
        self.finish(Some(failure))
    }

    /// Records that the client caused the failure, if the response fails: its error
    /// response then says so (408, 413) instead of the generic 500.
    pub fn blame_client(&mut self, fault: ClientFault) {
        self.client_fault = Some(fault);
    }

    /// Bytes of body sent so far.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Logs why the response failed; the application's own message within the log
    /// budget.
    fn log_failure(&self, failure: Failure) {
        match failure {
            Failure::App(message) => {
                tracing::error!("{}", Failure::App(self.log.clip(&message)));
            }
            failure => tracing::error!("{failure}"),
        }
    }

    fn fail(&mut self) -> Outcome {
        if matches!(self.headers, Headers::Sent) {
            self.sink.abort();
            return Outcome::Aborted;
        }
        let (status, body) = self
            .client_fault
            .map_or((ERROR_STATUS, ERROR_BODY), ClientFault::response);
        let headers = [("Content-Type".to_owned(), b"text/plain".to_vec())];
        let sent = self
            .sink
            .send_headers(status, &headers)
            .and_then(|()| self.sink.send_chunk(body))
            .and_then(|()| self.sink.finish());
        if let Err(e) = sent {
            tracing::error!("failed to send the error response: {e}");
            self.sink.abort();
        }
        Outcome::Failed
    }

    fn send_stored_headers(&mut self) -> Result<(), Violation> {
        if let Headers::Stored { status, headers } = &self.headers {
            let length_is_this_body = length_describes_body(status, self.head_request);
            self.declared_length = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .filter(|_| length_is_this_body)
                .and_then(|(_, v)| validate::content_length(v));
            if let Err(e) = self.sink.send_headers(status, headers) {
                return Err(self.output_failed(e));
            }
            self.headers = Headers::Sent;
        }
        Ok(())
    }

    fn abort(&mut self) {
        self.sink.abort();
        self.phase = Phase::Done(Outcome::Aborted);
    }

    fn output_failed(&mut self, e: io::Error) -> Violation {
        tracing::error!("{}", Failure::Output(e));
        self.abort();
        self.closed()
    }

    fn closed(&self) -> Violation {
        Violation::OutputClosed(
            match self.phase {
                Phase::Sealed => "the body has ended and is being closed",
                Phase::Done(Outcome::Aborted) => "the response was aborted",
                _ => "the response has ended",
            }
            .to_owned(),
        )
    }
}

fn log_refusal(result: &Result<(), Violation>) {
    if let Err(v) = result {
        tracing::warn!("refused: {v}");
    }
}

#[cfg(test)]
mod tests;
