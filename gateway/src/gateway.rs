//! The gateway core: PEP 3333's state machine, written once.
//!
//! [`Gateway`] holds what a WSGI server holds for one response (the stored status and
//! headers, whether they went out, whether the response ended) and enforces every
//! ordering guard of docs/GATEWAY.md sections 1, 3, 4, 6 and 7.
//! Front ends never check anything themselves: they hand the core a [`Sink`] that
//! knows only how to put bytes on their wire (CGI stdout, an HTTP connection). No
//! wasmtime here either: the host's driver (`wasgi::app`) feeds it what the guest does.

use std::io;
use std::sync::Arc;

use crate::log::LogBudget;
use crate::observe::{Event, Observer};
use crate::response::{ClientFault, ErrorPage, Framing, Head, ResponseLimits};
use crate::rules::Rule;
use crate::validate;

/// A refusal inside the gateway: the rule it enforces (none when the output failed,
/// which is no rule of the application's) and the violation the application gets.
type Refused = (Option<Rule>, Violation);

/// A response header as the guest gave it: name, raw value.
pub type Header = (String, Vec<u8>);

/// Where a response goes. A front end implements this and nothing else: the order of
/// calls, and every decision about the response (its framing, whether a body goes
/// out at all, the error page), is the core's job. `send_headers` is called at most
/// once and always before `send_chunk`; after `finish` or `abort` nothing more is
/// called.
pub trait Sink: Send {
    /// Put the head on the wire: the status line and headers exactly as given, framed
    /// as `head.framing` says.
    fn send_headers(&mut self, head: &Head<'_>) -> io::Result<()>;
    /// Put one non-empty body chunk on the wire and flush it.
    fn send_chunk(&mut self, chunk: &[u8]) -> io::Result<()>;
    /// The response is complete.
    fn finish(&mut self) -> io::Result<()>;
    /// The response cannot complete after its headers went out: end it so that the
    /// client can tell (an aborted connection, an unterminated chunked body).
    fn abort(&mut self);
    /// Whether this is a CGI response, whose bytes go to a web server rather than the
    /// client. Such a sink also gets the body of a response framed
    /// [`Framing::None`], as PEP 3333's own CGI gateway writes it: the server drops it
    /// (RFC 3875 section 4.3.2 says it must). Any other sink never sees those bytes.
    fn is_cgi(&self) -> bool {
        false
    }
}

/// A broken gateway rule, as returned to the guest (the WIT `gateway-error`, which
/// mirrors it case for case: so not `non_exhaustive`, and a new rule is a compile
/// error wherever it is mapped).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
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
    /// How the body is framed, once the headers went out.
    framing: Framing,
    /// The request is HEAD: its response carries no body.
    head_request: bool,
    client_fault: Option<ClientFault>,
    limits: ResponseLimits,
    log: LogBudget,
    /// The body passed `--max-output` (for the host's count of limits hit).
    over_output: bool,
    observer: Option<Arc<dyn Observer>>,
    /// The application returned its body: what it sends now comes from the body.
    body_returned: bool,
}

impl Gateway {
    /// A gateway for one response, writing to `sink`.
    pub fn new(sink: Box<dyn Sink>) -> Self {
        Self {
            sink,
            headers: Headers::None,
            phase: Phase::Open,
            body_bytes: 0,
            framing: Framing::Open,
            head_request: false,
            client_fault: None,
            limits: ResponseLimits::DEFAULT,
            over_output: false,
            log: LogBudget::new(usize::MAX),
            observer: None,
            body_returned: false,
        }
    }

    /// Tells `observer` what the gateway sees (see [`crate::observe`]).
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    fn observe(&self, event: &Event<'_>) {
        if let Some(observer) = &self.observer {
            observer.observe(event);
        }
    }

    /// Logs a refusal and tells the observer which rule it enforced.
    fn refuse(&self, result: Result<(), Refused>) -> Result<(), Violation> {
        result.map_err(|(rule, violation)| {
            tracing::warn!("refused: {violation}");
            if let Some(rule) = rule {
                self.observe(&Event::Refused {
                    rule,
                    violation: &violation,
                });
            }
            violation
        })
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

    /// The response answers a request made with `method`: for HEAD it carries no body
    /// (its Content-Length is that of the body a GET would get, and no body is held to
    /// it).
    pub fn for_method(mut self, method: &[u8]) -> Self {
        self.head_request = method == b"HEAD";
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
        self.refuse(result)
    }

    fn store(
        &mut self,
        status: Vec<u8>,
        headers: Vec<Header>,
        exc_info: Option<String>,
    ) -> Result<(), Refused> {
        if let Some(exc) = &exc_info {
            let exc = self.log.clip(exc);
            tracing::warn!("application reported an error through exc_info: {exc}");
        }
        if !matches!(self.phase, Phase::Open) {
            return Err((Some(Rule::OutputAfterEnd), self.closed()));
        }
        match (&self.headers, exc_info.is_some()) {
            (Headers::Sent, true) => {
                self.abort();
                return Err((
                    Some(Rule::ExcInfoAfterHeaders),
                    Violation::HeadersAlreadySent,
                ));
            }
            (Headers::Stored { .. } | Headers::Sent, false) => {
                return Err((Some(Rule::StartResponseTwice), Violation::HeadersAlreadySet));
            }
            (Headers::None, _) | (Headers::Stored { .. }, true) => {}
        }
        self.limits
            .check(&status, &headers)
            .map_err(|v| (Some(Rule::ResponseLimit), v))?;
        let invalid_header = |(rule, message)| (Some(rule), Violation::InvalidHeader(message));
        validate::check_status(&status)
            .map_err(|(rule, message)| (Some(rule), Violation::InvalidStatus(message)))?;
        for (name, value) in &headers {
            validate::check_header(name, value).map_err(invalid_header)?;
        }
        validate::check_header_list(&headers).map_err(invalid_header)?;
        if let Some((_, lint)) = validate::lint_content_type(&status, &headers) {
            tracing::info!("lint: {lint}");
        }
        self.observe(&Event::Stored {
            exc_info: exc_info.is_some(),
            first: matches!(self.headers, Headers::None),
        });
        self.headers = Headers::Stored { status, headers };
        Ok(())
    }

    /// PEP 3333's `write`, also used for each chunk the body yields: an empty chunk
    /// is skipped (it does not send the headers); a non-empty one sends the stored
    /// headers first if they have not gone out, then itself, flushed.
    pub fn write(&mut self, data: &[u8]) -> Result<(), Violation> {
        let result = self.send(data);
        self.refuse(result)
    }

    /// PEP 3333's legacy `write()` callable: [`Gateway::write`], which an observer is
    /// told was used while the application was being called (new applications yield
    /// their body instead; some guest SDKs send each chunk the body yields through
    /// `write`, which is not the application's use of it).
    pub fn legacy_write(&mut self, data: &[u8]) -> Result<(), Violation> {
        if !self.body_returned {
            self.observe(&Event::LegacyWrite { bytes: data.len() });
        }
        self.write(data)
    }

    /// The application returned its body: the chunks come from it from now on.
    pub fn body_returned(&mut self) {
        self.body_returned = true;
    }

    fn send(&mut self, data: &[u8]) -> Result<(), Refused> {
        if !matches!(self.phase, Phase::Open) {
            return Err((Some(Rule::OutputAfterEnd), self.closed()));
        }
        if matches!(self.headers, Headers::None) {
            return Err((
                Some(Rule::WriteBeforeStartResponse),
                Violation::WriteBeforeStartResponse,
            ));
        }
        if data.is_empty() {
            if matches!(self.headers, Headers::Stored { .. }) {
                self.observe(&Event::EmptyChunkBeforeHeaders);
            }
            return Ok(());
        }
        let total = self.body_bytes + data.len() as u64;
        if let Some(max) = self.limits.max_output.filter(|&max| total > max) {
            // Ends the response now: a 500 if this chunk would have sent the headers.
            let outcome = self.fail();
            self.phase = Phase::Done(outcome);
            self.over_output = true;
            return Err((
                Some(Rule::ResponseLimit),
                Violation::OutputClosed(format!(
                    "limit: the response passed its --max-output of {max} bytes"
                )),
            ));
        }
        self.send_stored_headers().map_err(|v| (None, v))?;
        if let Framing::Length(declared) = self.framing
            && total > declared
        {
            self.abort();
            return Err((
                Some(Rule::ContentLengthMismatch),
                Violation::OutputClosed(format!(
                    "the body is longer than its Content-Length of {declared} bytes: the response is aborted"
                )),
            ));
        }
        self.send_body(data)
            .map_err(|e| (None, self.output_failed(e)))?;
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
                return Err(self.broken(
                    Rule::WriteBeforeStartResponse,
                    Violation::WriteBeforeStartResponse,
                ));
            }
            self.send_stored_headers().map_err(Failure::Rule)?;
            if let Framing::Length(declared) = self.framing
                && declared != self.body_bytes
            {
                self.seal();
                let short = Violation::OutputClosed(format!(
                    "the body ended after {} bytes, short of its Content-Length of {declared}",
                    self.body_bytes
                ));
                return Err(self.broken(Rule::ContentLengthMismatch, short));
            }
        }
        self.seal();
        Ok(())
    }

    /// The failure of a body that ended breaking `rule`, which the observer is told.
    fn broken(&self, rule: Rule, violation: Violation) -> Failure {
        self.observe(&Event::Refused {
            rule,
            violation: &violation,
        });
        Failure::Rule(violation)
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
        let outcome = self.end(failure.as_ref());
        self.observe(&Event::Ended {
            outcome,
            failure: failure.as_ref(),
            body_bytes: self.body_bytes,
        });
        if let Some(failure) = failure {
            self.log_failure(failure);
        }
        outcome
    }

    /// Ends the response as `failure` says, once; the outcome.
    fn end(&mut self, failure: Option<&Failure>) -> Outcome {
        if let Phase::Done(outcome) = self.phase {
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
            Some(_) => self.fail(),
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

    /// Whether the body passed its `--max-output` (the response was ended for it).
    pub fn passed_max_output(&self) -> bool {
        self.over_output
    }

    /// Bytes of body sent so far.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Logs why the response failed; the application's own message within the log
    /// budget.
    fn log_failure(&self, failure: Failure) {
        let failure = match failure {
            Failure::App(message) => Failure::App(self.log.clip(&message)),
            failure => failure,
        };
        match self.client_fault {
            // The client broke the request (its body too slow, too large or
            // malformed): the app only passed the failed read on. Not an error of
            // the server or the app.
            Some(fault) => tracing::info!("the client's fault ({fault:?}): {failure}"),
            None => tracing::error!("{failure}"),
        }
    }

    fn fail(&mut self) -> Outcome {
        if matches!(self.headers, Headers::Sent) {
            self.sink.abort();
            return Outcome::Aborted;
        }
        let page = self
            .client_fault
            .map_or(ErrorPage::Internal, ClientFault::page);
        let sent = self
            .send_head(page.status(), &ErrorPage::headers())
            .and_then(|()| self.send_body(page.body()))
            .and_then(|()| self.sink.finish());
        if let Err(e) = sent {
            tracing::error!("failed to send the error response: {e}");
            self.sink.abort();
        }
        Outcome::Failed
    }

    fn send_stored_headers(&mut self) -> Result<(), Violation> {
        let stored = std::mem::replace(&mut self.headers, Headers::Sent);
        let Headers::Stored { status, headers } = stored else {
            self.headers = stored;
            return Ok(());
        };
        let sent = self.send_head(&status, &headers);
        self.observe(&Event::Sent(&Head {
            status: &status,
            headers: &headers,
            framing: self.framing,
        }));
        sent.map_err(|e| self.output_failed(e))
    }

    /// Decides the framing of a response with this head and sends the head so framed.
    fn send_head(&mut self, status: &[u8], headers: &[Header]) -> io::Result<()> {
        self.framing = Framing::of(status, headers, self.head_request);
        self.sink.send_headers(&Head {
            status,
            headers,
            framing: self.framing,
        })
    }

    /// Sends body bytes, unless the response carries no body to the client.
    fn send_body(&mut self, data: &[u8]) -> io::Result<()> {
        if self.framing == Framing::None && !self.sink.is_cgi() {
            return Ok(());
        }
        self.sink.send_chunk(data)
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

#[cfg(test)]
mod tests;
