//! The gateway core: PEP 3333's state machine, written once.
//!
//! [`Gateway`] holds what a WSGI server holds for one response (the stored status and
//! headers, whether they went out, whether the response ended) and enforces every
//! ordering guard of `shared/reference/gateway-semantics.md` sections 1, 3, 4 and 6.
//! Front ends never check anything themselves: they hand the core a [`Sink`] that
//! knows only how to put bytes on their wire (CGI stdout, an HTTP connection). No
//! wasmtime here either: the driver in [`crate::app`] feeds it what the guest does.

use std::io;

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
        }
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
        self.send_stored_headers()?;
        let total = self.body_bytes + data.len() as u64;
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
        if matches!(self.phase, Phase::Open) {
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
                tracing::error!("{failure}");
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
                tracing::error!("{failure}");
                self.fail()
            }
        };
        self.phase = Phase::Done(outcome);
        outcome
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
            // RFC 9110 section 8.6: for HEAD and 304 the length is that of a body not
            // sent; 1xx and 204 have no body at all.
            let length_is_this_body = !self.head_request
                && !status.starts_with(b"1")
                && !status.starts_with(b"204")
                && !status.starts_with(b"304");
            self.declared_length = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .filter(|_| length_is_this_body)
                .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok());
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
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A sink that records what it was asked to do, as text, and can fail on demand.
    #[derive(Clone, Default)]
    struct Recorder {
        log: Arc<Mutex<Vec<String>>>,
        fail_chunks: bool,
    }

    impl Recorder {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.log.lock().expect("lock"))
        }
        fn push(&self, s: String) {
            self.log.lock().expect("lock").push(s);
        }
    }

    impl Sink for Recorder {
        fn send_headers(&mut self, status: &[u8], headers: &[Header]) -> io::Result<()> {
            let hs: Vec<String> = headers
                .iter()
                .map(|(n, v)| format!("{n}={}", String::from_utf8_lossy(v)))
                .collect();
            self.push(format!(
                "headers {} [{}]",
                String::from_utf8_lossy(status),
                hs.join(",")
            ));
            Ok(())
        }
        fn send_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
            if self.fail_chunks {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.push(format!("chunk {}", String::from_utf8_lossy(chunk)));
            Ok(())
        }
        fn finish(&mut self) -> io::Result<()> {
            self.push("finish".into());
            Ok(())
        }
        fn abort(&mut self) {
            self.push("abort".into());
        }
    }

    fn gateway() -> (Gateway, Recorder) {
        let rec = Recorder::default();
        (Gateway::new(Box::new(rec.clone())), rec)
    }

    fn ct() -> Vec<Header> {
        vec![("Content-Type".into(), b"text/plain".to_vec())]
    }

    #[test]
    fn start_response_stores_and_sends_nothing() {
        let (mut gw, rec) = gateway();
        gw.start_response(b"200 OK".to_vec(), ct(), None)
            .expect("ok");
        assert!(rec.take().is_empty());
    }

    #[test]
    fn headers_go_out_just_before_the_first_non_empty_chunk() {
        let (mut gw, rec) = gateway();
        gw.start_response(b"200 OK".to_vec(), ct(), None)
            .expect("ok");
        gw.write(b"").expect("empty");
        gw.write(b"").expect("empty");
        assert!(rec.take().is_empty(), "empty chunks send nothing");
        gw.write(b"a").expect("a");
        gw.write(b"b").expect("b");
        gw.end_of_body().expect("end");
        assert_eq!(gw.finish(None), Outcome::Completed);
        assert_eq!(
            rec.take(),
            [
                "headers 200 OK [Content-Type=text/plain]",
                "chunk a",
                "chunk b",
                "finish"
            ]
        );
        assert_eq!(gw.body_bytes(), 2);
    }

    #[test]
    fn an_empty_body_sends_the_headers_at_the_end() {
        let (mut gw, rec) = gateway();
        gw.start_response(b"200 OK".to_vec(), ct(), None)
            .expect("ok");
        gw.end_of_body().expect("end");
        assert_eq!(gw.finish(None), Outcome::Completed);
        assert_eq!(
            rec.take(),
            ["headers 200 OK [Content-Type=text/plain]", "finish"]
        );
    }

    #[test]
    fn write_before_start_response_is_an_error() {
        let (mut gw, rec) = gateway();
        assert_eq!(gw.write(b"x"), Err(Violation::WriteBeforeStartResponse));
        assert_eq!(gw.write(b""), Err(Violation::WriteBeforeStartResponse));
        assert!(rec.take().is_empty());
    }

    #[test]
    fn a_body_that_ends_without_start_response_fails_with_a_500() {
        let (mut gw, rec) = gateway();
        let failure = gw.end_of_body().expect_err("no start_response");
        assert_eq!(gw.finish(Some(failure)), Outcome::Failed);
        assert_eq!(
            rec.take(),
            [
                "headers 500 Internal Server Error [Content-Type=text/plain]",
                "chunk A server error occurred.  Please contact the administrator.",
                "finish"
            ]
        );
    }

    #[test]
    fn a_second_start_response_without_exc_info_is_refused_and_changes_nothing() {
        let (mut gw, rec) = gateway();
        gw.start_response(b"200 OK".to_vec(), ct(), None)
            .expect("ok");
        assert_eq!(
            gw.start_response(b"404 Not Found".to_vec(), ct(), None),
            Err(Violation::HeadersAlreadySet)
        );
        gw.write(b"x").expect("x");
        assert_eq!(
            gw.start_response(b"404 Not Found".to_vec(), ct(), None),
            Err(Violation::HeadersAlreadySet)
        );
        assert_eq!(rec.take()[0], "headers 200 OK [Content-Type=text/plain]");
    }

    #[test]
    fn exc_info_before_headers_replaces_the_stored_response() {
        let (mut gw, rec) = gateway();
        gw.start_response(b"200 OK".to_vec(), ct(), None)
            .expect("ok");
        gw.start_response(b"503 Busy".to_vec(), vec![], Some("boom".into()))
            .expect("replaced");
        gw.write(b"sorry").expect("write");
        assert_eq!(rec.take(), ["headers 503 Busy []", "chunk sorry"]);
    }

    #[test]
    fn exc_info_after_headers_aborts_the_response() {
        let (mut gw, rec) = gateway();
        gw.start_response(b"200 OK".to_vec(), ct(), None)
            .expect("ok");
        gw.write(b"part").expect("write");
        assert_eq!(
            gw.start_response(b"500 Oops".to_vec(), ct(), Some("boom".into())),
            Err(Violation::HeadersAlreadySent)
        );
        assert!(matches!(gw.write(b"more"), Err(Violation::OutputClosed(_))));
        assert_eq!(
            gw.finish(Some(Failure::Rule(Violation::HeadersAlreadySent))),
            Outcome::Aborted
        );
        assert_eq!(
            rec.take(),
            [
                "headers 200 OK [Content-Type=text/plain]",
                "chunk part",
                "abort"
            ]
        );
    }

    #[test]
    fn invalid_status_and_headers_are_refused_and_nothing_is_stored() {
        let (mut gw, _rec) = gateway();
        assert!(matches!(
            gw.start_response(b"OK".to_vec(), ct(), None),
            Err(Violation::InvalidStatus(_))
        ));
        let bad = vec![("X".to_owned(), b"a\r\nSet-Cookie: evil".to_vec())];
        assert!(matches!(
            gw.start_response(b"200 OK".to_vec(), bad, None),
            Err(Violation::InvalidHeader(_))
        ));
        assert_eq!(gw.write(b"x"), Err(Violation::WriteBeforeStartResponse));
    }

    #[test]
    fn header_order_and_duplicates_are_kept() {
        let (mut gw, rec) = gateway();
        let headers = vec![
            ("Set-Cookie".to_owned(), b"a=1".to_vec()),
            ("Content-Type".to_owned(), b"text/plain".to_vec()),
            ("Set-Cookie".to_owned(), b"b=2".to_vec()),
        ];
        gw.start_response(b"200 OK".to_vec(), headers, None)
            .expect("ok");
        gw.end_of_body().expect("end");
        gw.finish(None);
        assert_eq!(
            rec.take()[0],
            "headers 200 OK [Set-Cookie=a=1,Content-Type=text/plain,Set-Cookie=b=2]"
        );
    }

    #[test]
    fn a_failure_before_headers_gives_the_generic_500() {
        let (mut gw, rec) = gateway();
        gw.start_response(b"200 OK".to_vec(), ct(), None)
            .expect("ok");
        let outcome = gw.finish(Some(Failure::Trap("secret trap text".into())));
        assert_eq!(outcome, Outcome::Failed);
        let log = rec.take();
        assert_eq!(
            log[0],
            "headers 500 Internal Server Error [Content-Type=text/plain]"
        );
        assert!(!log.concat().contains("secret"), "{log:?}");
    }

    #[test]
    fn a_failure_the_client_caused_names_it_instead_of_500() {
        let (mut gw, rec) = gateway();
        gw.blame_client(ClientFault::Timeout);
        let outcome = gw.finish(Some(Failure::App("input failed".into())));
        assert_eq!(outcome, Outcome::Failed);
        assert_eq!(
            rec.take()[..2],
            [
                "headers 408 Request Timeout [Content-Type=text/plain]",
                "chunk The request body took too long to arrive."
            ]
        );
    }

    #[test]
    fn a_failure_after_headers_aborts() {
        let (mut gw, rec) = gateway();
        gw.start_response(b"200 OK".to_vec(), ct(), None)
            .expect("ok");
        gw.write(b"x").expect("x");
        assert_eq!(
            gw.finish(Some(Failure::App("mid-body".into()))),
            Outcome::Aborted
        );
        assert_eq!(rec.take().last().map(String::as_str), Some("abort"));
    }

    #[test]
    fn a_failed_write_aborts_and_refuses_everything_after() {
        let rec = Recorder {
            fail_chunks: true,
            ..Recorder::default()
        };
        let mut gw = Gateway::new(Box::new(rec.clone()));
        gw.start_response(b"200 OK".to_vec(), ct(), None)
            .expect("ok");
        assert!(matches!(gw.write(b"x"), Err(Violation::OutputClosed(_))));
        assert!(matches!(gw.write(b"y"), Err(Violation::OutputClosed(_))));
        assert_eq!(gw.finish(None), Outcome::Aborted);
        assert_eq!(
            rec.take(),
            ["headers 200 OK [Content-Type=text/plain]", "abort"]
        );
    }

    fn with_length(n: &str) -> Vec<Header> {
        vec![("Content-Length".into(), n.as_bytes().to_vec())]
    }

    #[test]
    fn a_body_longer_than_its_content_length_is_aborted_not_passed_on() {
        let (mut gw, rec) = gateway();
        gw.start_response(b"200 OK".to_vec(), with_length("3"), None)
            .expect("ok");
        gw.write(b"ab").expect("within");
        assert!(matches!(gw.write(b"cd"), Err(Violation::OutputClosed(_))));
        assert_eq!(gw.finish(None), Outcome::Aborted);
        assert_eq!(
            rec.take(),
            ["headers 200 OK [Content-Length=3]", "chunk ab", "abort"]
        );
    }

    #[test]
    fn a_body_shorter_than_its_content_length_is_aborted() {
        let (mut gw, rec) = gateway();
        gw.start_response(b"200 OK".to_vec(), with_length("3"), None)
            .expect("ok");
        gw.write(b"ab").expect("within");
        let failure = gw.end_of_body().expect_err("short");
        assert_eq!(gw.finish(Some(failure)), Outcome::Aborted);
        assert_eq!(rec.take().last().map(String::as_str), Some("abort"));
        let (mut exact, _) = gateway();
        exact
            .start_response(b"200 OK".to_vec(), with_length("2"), None)
            .expect("ok");
        exact.write(b"ab").expect("exact");
        assert_eq!(exact.finish(None), Outcome::Completed);
    }

    #[test]
    fn a_head_response_declares_a_length_it_does_not_send() {
        let rec = Recorder::default();
        let mut gw = Gateway::new(Box::new(rec.clone())).with_head_request(true);
        gw.start_response(b"200 OK".to_vec(), with_length("14"), None)
            .expect("ok");
        assert_eq!(gw.finish(None), Outcome::Completed);
        let (mut not_modified, _) = gateway();
        not_modified
            .start_response(b"304 Not Modified".to_vec(), with_length("14"), None)
            .expect("ok");
        assert_eq!(not_modified.finish(None), Outcome::Completed);
    }

    #[test]
    fn output_after_the_body_ended_is_refused() {
        let (mut gw, _rec) = gateway();
        gw.start_response(b"200 OK".to_vec(), ct(), None)
            .expect("ok");
        gw.end_of_body().expect("end");
        assert!(matches!(gw.write(b"late"), Err(Violation::OutputClosed(_))));
        assert!(matches!(
            gw.start_response(b"200 OK".to_vec(), ct(), Some("x".into())),
            Err(Violation::OutputClosed(_))
        ));
        assert_eq!(gw.finish(None), Outcome::Completed);
    }
}
