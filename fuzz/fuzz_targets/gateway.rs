//! The gateway state machine, driven by an arbitrary sequence of what a guest and a
//! front end do, against a recording sink that can fail on demand. Checks the sink's
//! contract (headers at most once and before any chunk, nothing after the end), that
//! only validated headers or the error response go out, the Content-Length and
//! `--max-output` bounds, and that every response ends in one stable outcome.

#![no_main]

use std::io;
use std::sync::{Arc, Mutex};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasgi_fuzz::{Digits, Token, header_is_valid, plain_decimal, status_is_valid};
use wasgi_gateway::Sink;
use wasgi_gateway::gateway::{Failure, Gateway, Header, Outcome, Violation};
use wasgi_gateway::response::{ClientFault, ErrorPage, Head, ResponseLimits};

#[derive(Arbitrary, Debug)]
enum Status {
    Common(u8),
    Any(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Field {
    ContentLength(u8),
    LongContentLength(Digits),
    ContentType,
    Token(Token, Vec<u8>),
    Any(String, Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Fail {
    App,
    Trap,
    Rule,
    Output,
}

#[derive(Arbitrary, Debug)]
enum Op {
    StartResponse {
        status: Status,
        fields: Vec<Field>,
        exc_info: bool,
    },
    Write(Vec<u8>),
    EndOfBody,
    Seal,
    Blame(bool),
    Finish(Option<Fail>),
}

#[derive(Arbitrary, Debug)]
struct Limits {
    max_headers: u8,
    max_header_bytes: u16,
    max_output: Option<u16>,
}

/// Which sink calls fail: `send_headers`, the nth `send_chunk`, `finish`.
#[derive(Arbitrary, Debug)]
struct Faults {
    headers: bool,
    chunk: Option<u8>,
    finish: bool,
}

#[derive(Arbitrary, Debug)]
struct Script {
    head_request: bool,
    limits: Option<Limits>,
    faults: Faults,
    ops: Vec<Op>,
}

/// One call the sink got, and whether it succeeded.
#[derive(Clone, Debug, PartialEq)]
enum Event {
    Headers(Vec<u8>, Vec<Header>, bool),
    Chunk(Vec<u8>, bool),
    Finish(bool),
    Abort,
}

#[derive(Clone)]
struct Recorder {
    log: Arc<Mutex<Vec<Event>>>,
    faults: Arc<Faults>,
}

impl Recorder {
    fn record(&self, event: Event, ok: bool) -> io::Result<()> {
        self.log.lock().expect("lock").push(event);
        if ok {
            Ok(())
        } else {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }
    fn events(&self) -> Vec<Event> {
        self.log.lock().expect("lock").clone()
    }
}

impl Sink for Recorder {
    fn send_headers(&mut self, head: &Head<'_>) -> io::Result<()> {
        let ok = !self.faults.headers;
        self.record(
            Event::Headers(head.status.to_vec(), head.headers.to_vec(), ok),
            ok,
        )
    }
    fn send_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        let sent = self
            .events()
            .iter()
            .filter(|e| matches!(e, Event::Chunk(..)))
            .count();
        let ok = self.faults.chunk.is_none_or(|n| usize::from(n) != sent);
        self.record(Event::Chunk(chunk.to_vec(), ok), ok)
    }
    fn finish(&mut self) -> io::Result<()> {
        let ok = !self.faults.finish;
        self.record(Event::Finish(ok), ok)
    }
    fn abort(&mut self) {
        let _ = self.record(Event::Abort, true);
    }
    /// A CGI sink gets every chunk, a bodiless response's too, which is what the
    /// model expects; a non-CGI sink's dropped bodies are the gateway's unit tests'.
    fn is_cgi(&self) -> bool {
        true
    }
}

const COMMON: [&str; 7] = [
    "200 OK",
    "204 No Content",
    "304 Not Modified",
    "101 Switching Protocols",
    "404 Not Found",
    "500 Internal Server Error",
    "099 Low",
];

fn status(s: &Status) -> Vec<u8> {
    match s {
        Status::Common(i) => COMMON[usize::from(*i) % COMMON.len()].as_bytes().to_vec(),
        Status::Any(bytes) => bytes.clone(),
    }
}

fn field(f: &Field) -> Header {
    match f {
        Field::ContentLength(n) => ("Content-Length".into(), n.to_string().into_bytes()),
        Field::LongContentLength(d) => ("content-length".into(), d.0.clone()),
        Field::ContentType => ("Content-Type".into(), b"text/plain".to_vec()),
        Field::Token(t, v) => (t.0.clone(), v.clone()),
        Field::Any(n, v) => (n.clone(), v.clone()),
    }
}

/// The length a response's headers promise for the body that follows them, if any
/// (RFC 9110 section 8.6: not for HEAD, 1xx, 204 or 304). `Err` when it names a
/// length no body can have.
fn declared(head: bool, status: &[u8], headers: &[Header]) -> Option<Result<u64, Vec<u8>>> {
    if head || status.starts_with(b"1") || status.starts_with(b"204") || status.starts_with(b"304")
    {
        return None;
    }
    let (_, v) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))?;
    Some(plain_decimal(v).ok_or_else(|| v.clone()))
}

/// The error response for a fault, as section 6 and the 408/413 rule give it.
fn error_response(fault: Option<ClientFault>) -> (&'static [u8], &'static [u8]) {
    match fault {
        None => (ErrorPage::Internal.status(), ErrorPage::Internal.body()),
        Some(ClientFault::Timeout) => (
            b"408 Request Timeout",
            b"The request body took too long to arrive.",
        ),
        Some(ClientFault::TooLarge) => (
            b"413 Content Too Large",
            b"The request body is larger than this server accepts.",
        ),
        Some(ClientFault::Malformed) => (b"400 Bad Request", b"The request body is malformed."),
    }
}

fn failure(f: &Fail) -> Failure {
    match f {
        Fail::App => Failure::App("app".into()),
        Fail::Trap => Failure::Trap("trap".into()),
        Fail::Rule => Failure::Rule(Violation::WriteBeforeStartResponse),
        Fail::Output => Failure::Output(io::ErrorKind::BrokenPipe.into()),
    }
}

fuzz_target!(|script: Script| {
    let limits = script
        .limits
        .as_ref()
        .map_or(ResponseLimits::DEFAULT, |l| ResponseLimits {
            max_headers: usize::from(l.max_headers),
            max_header_bytes: usize::from(l.max_header_bytes),
            max_output: l.max_output.map(u64::from),
        });
    let faults = Arc::new(Faults {
        headers: script.faults.headers,
        chunk: script.faults.chunk,
        finish: script.faults.finish,
    });
    let recorder = Recorder {
        log: Arc::default(),
        faults,
    };
    let mut gw = Gateway::new(Box::new(recorder.clone()))
        .with_limits(limits)
        .for_method(if script.head_request { b"HEAD" } else { b"GET" });

    // What the model knows: the last accepted start-response, whether the guest's
    // output may still be taken, the client's fault, the first finish's outcome.
    let mut accepted: Option<(Vec<u8>, Vec<Header>)> = None;
    let mut sealed = false;
    let mut fault = None;
    let mut outcome: Option<(Outcome, bool)> = None;

    for op in script.ops.iter().chain([Op::Finish(None)].iter()) {
        let before = recorder.events();
        let ended = before
            .iter()
            .any(|e| matches!(e, Event::Finish(_) | Event::Abort));
        let open = !sealed && !ended && outcome.is_none();
        let sent = before.iter().any(|e| matches!(e, Event::Headers(..)));
        match op {
            Op::StartResponse {
                status: s,
                fields,
                exc_info,
            } => {
                let status = status(s);
                let headers: Vec<Header> = fields.iter().map(field).collect();
                let exc = exc_info.then(|| "Traceback".to_owned());
                let result = gw.start_response(status.clone(), headers.clone(), exc);
                let bytes = headers
                    .iter()
                    .fold(status.len(), |sum, (n, v)| sum + n.len() + 2 + v.len());
                let lengths = headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .count();
                let valid = status_is_valid(&status)
                    && headers.iter().all(|(n, v)| header_is_valid(n, v))
                    && lengths <= 1
                    && headers.len() <= limits.max_headers
                    && bytes <= limits.max_header_bytes;
                let allowed = open && !sent && (accepted.is_none() || *exc_info);
                assert_eq!(
                    result.is_ok(),
                    allowed && valid,
                    "start_response({status:?}, {headers:?}) open={open} sent={sent}: {result:?}"
                );
                let after = recorder.events();
                if result.is_ok() {
                    accepted = Some((status, headers));
                    assert_eq!(after, before, "start_response sends nothing");
                } else if open && sent && *exc_info {
                    assert_eq!(after[before.len()..], [Event::Abort]);
                    assert_eq!(result, Err(Violation::HeadersAlreadySent));
                } else {
                    assert_eq!(after, before, "a refused start_response sends nothing");
                }
            }
            Op::Write(data) => {
                let result = gw.write(data);
                let after = recorder.events();
                let new = &after[before.len()..];
                if !open {
                    assert!(result.is_err() && new.is_empty(), "write after the end");
                } else if accepted.is_none() {
                    assert_eq!(result, Err(Violation::WriteBeforeStartResponse));
                } else if result.is_ok() && !data.is_empty() {
                    assert_eq!(new.last(), Some(&Event::Chunk(data.clone(), true)));
                } else if result.is_ok() {
                    assert!(new.is_empty(), "an empty chunk sends nothing");
                }
            }
            Op::EndOfBody => {
                let _ = gw.end_of_body();
                sealed = true;
            }
            Op::Seal => {
                gw.seal();
                sealed = true;
                assert_eq!(recorder.events(), before);
            }
            Op::Blame(slow) => {
                let f = if *slow {
                    ClientFault::Timeout
                } else {
                    ClientFault::TooLarge
                };
                gw.blame_client(f);
                // Blame only shapes an error response still to be sent.
                if !sent && outcome.is_none() {
                    fault = Some(f);
                }
            }
            Op::Finish(fail) => {
                let got = gw.finish(fail.as_ref().map(failure));
                match outcome {
                    Some((first, _)) => {
                        assert_eq!(got, first, "finish is stable");
                        assert_eq!(recorder.events(), before, "a second finish sends nothing");
                    }
                    None => outcome = Some((got, fail.is_none())),
                }
            }
        }
        check_log(
            &recorder.events(),
            accepted.as_ref(),
            script.head_request,
            limits,
            fault,
        );
    }

    let (outcome, clean) = outcome.expect("the script always finishes");
    let events = recorder.events();
    let chunks: u64 = events
        .iter()
        .filter_map(|e| match e {
            Event::Chunk(c, true) => Some(c.len() as u64),
            _ => None,
        })
        .sum();
    match outcome {
        Outcome::Completed => {
            assert!(clean, "completed though finish was handed a failure");
            assert_eq!(events.last(), Some(&Event::Finish(true)));
            assert!(!events.contains(&Event::Abort));
            let Some(Event::Headers(status, headers, true)) = events.first() else {
                panic!("completed without headers: {events:?}");
            };
            assert_eq!(accepted.as_ref(), Some(&(status.clone(), headers.clone())));
            if let Some(length) = declared(script.head_request, status, headers) {
                assert_eq!(
                    length,
                    Ok(chunks),
                    "a completed response's body is as long as its Content-Length"
                );
            }
        }
        Outcome::Failed => {
            let (status, body) = error_response(fault);
            let Some(Event::Headers(s, _, _)) = events.first() else {
                panic!("failed without an error response: {events:?}");
            };
            assert_eq!(s, status);
            assert!(
                events.last() == Some(&Event::Finish(true)) || events.last() == Some(&Event::Abort)
            );
            if events.last() == Some(&Event::Finish(true)) {
                assert_eq!(events[1], Event::Chunk(body.to_vec(), true));
            }
        }
        Outcome::Aborted => assert_eq!(events.last(), Some(&Event::Abort)),
    }
});

/// The sink's contract and the bounds, over everything the sink got so far.
fn check_log(
    events: &[Event],
    accepted: Option<&(Vec<u8>, Vec<Header>)>,
    head: bool,
    limits: ResponseLimits,
    fault: Option<ClientFault>,
) {
    let headers = events
        .iter()
        .filter(|e| matches!(e, Event::Headers(..)))
        .count();
    assert!(headers <= 1, "headers sent {headers} times: {events:?}");
    for (i, event) in events.iter().enumerate() {
        let rest = &events[i + 1..];
        match event {
            // A failed call ends the response: only an abort may follow.
            Event::Headers(_, _, false) | Event::Chunk(_, false) | Event::Finish(false) => {
                assert_eq!(rest, [Event::Abort], "after a failed call: {events:?}")
            }
            Event::Finish(true) | Event::Abort => {
                assert!(rest.is_empty(), "called after the end: {events:?}")
            }
            Event::Headers(..) | Event::Chunk(..) => {}
        }
        if matches!(event, Event::Chunk(..)) {
            assert!(
                matches!(events.first(), Some(Event::Headers(_, _, true))),
                "a chunk before the headers: {events:?}"
            );
        }
    }
    let Some(Event::Headers(status, fields, _)) = events.first() else {
        assert!(events.is_empty() || events == [Event::Abort], "{events:?}");
        return;
    };
    let body: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            Event::Chunk(c, _) => Some(c.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let (error_status, error_body) = error_response(fault);
    let is_error = status == error_status
        && *fields == [("Content-Type".to_owned(), b"text/plain".to_vec())]
        && error_body.starts_with(&body);
    if accepted == Some(&(status.clone(), fields.clone())) {
        // The application's own headers: valid, and the body within its bounds.
        assert!(status_is_valid(status));
        assert!(fields.iter().all(|(n, v)| header_is_valid(n, v)));
        if let Some(max) = limits.max_output {
            assert!(body.len() as u64 <= max, "past --max-output: {events:?}");
        }
        if let Some(Ok(length)) = declared(head, status, fields) {
            assert!(
                body.len() as u64 <= length,
                "past its Content-Length: {events:?}"
            );
        }
    } else {
        assert!(
            is_error,
            "headers that are neither the app's nor the error: {events:?}"
        );
    }
}
