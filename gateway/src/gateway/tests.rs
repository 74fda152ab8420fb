//! Unit tests of the gateway core: each PEP 3333 rule against a recording sink.

use super::*;
use crate::response::ErrorPage;
use std::sync::{Arc, Mutex};

/// A sink that records what it was asked to do, as text, and can fail on demand.
#[derive(Clone, Default)]
struct Recorder {
    log: Arc<Mutex<Vec<String>>>,
    fail_chunks: bool,
    /// Stands for a CGI sink ([`Sink::is_cgi`]).
    cgi: bool,
    /// The framing of each head sent.
    framings: Arc<Mutex<Vec<Framing>>>,
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
    fn send_headers(&mut self, head: &Head<'_>) -> io::Result<()> {
        let Head {
            status,
            headers,
            framing,
        } = *head;
        self.framings.lock().expect("lock").push(framing);
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
    fn is_cgi(&self) -> bool {
        self.cgi
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
    let mut gw = Gateway::new(Box::new(rec.clone())).for_method(b"HEAD");
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

fn limited(limits: ResponseLimits) -> (Gateway, Recorder) {
    let rec = Recorder::default();
    (Gateway::new(Box::new(rec.clone())).with_limits(limits), rec)
}

#[test]
fn headers_past_the_count_cap_are_refused_and_the_response_is_a_500() {
    let (mut gw, rec) = limited(ResponseLimits {
        max_headers: 2,
        ..ResponseLimits::DEFAULT
    });
    let three: Vec<Header> = (0..3).map(|i| (format!("X-{i}"), b"v".to_vec())).collect();
    let refused = gw.start_response(b"200 OK".to_vec(), three.clone(), None);
    assert_eq!(
        refused,
        Err(Violation::InvalidHeader(
            "limit: 3 headers, past --max-response-headers of 2".into()
        ))
    );
    assert_eq!(
        gw.finish(Some(Failure::Rule(refused.expect_err("refused")))),
        Outcome::Failed
    );
    assert_eq!(
        rec.take()[0],
        "headers 500 Internal Server Error [Content-Type=text/plain]"
    );
    let (mut gw, _) = limited(ResponseLimits {
        max_headers: 3,
        ..ResponseLimits::DEFAULT
    });
    gw.start_response(b"200 OK".to_vec(), three, None)
        .expect("three fit");
}

#[test]
fn status_and_headers_past_the_byte_cap_are_refused() {
    let limits = ResponseLimits {
        max_header_bytes: 20,
        ..ResponseLimits::DEFAULT
    };
    // "200 OK" (6) + "X-A" + ": " + 9 bytes = 20: fits exactly.
    let (mut gw, _) = limited(limits);
    gw.start_response(
        b"200 OK".to_vec(),
        vec![("X-A".into(), b"123456789".to_vec())],
        None,
    )
    .expect("20 bytes fit");
    let (mut gw, _) = limited(limits);
    assert_eq!(
        gw.start_response(b"200 OK".to_vec(), vec![("X-A".into(), b"1234567890".to_vec())], None),
        Err(Violation::InvalidHeader(
            "limit: the status line and headers take 21 bytes, past --max-response-header-bytes of 20".into()
        ))
    );
    let (mut gw, _) = limited(limits);
    let status = [b"200 ".as_slice(), &[b'x'; 17]].concat();
    assert_eq!(
        gw.start_response(status, Vec::new(), None),
        Err(Violation::InvalidStatus(
            "limit: the status line is 21 bytes, past --max-response-header-bytes of 20".into()
        ))
    );
}

#[test]
fn output_past_its_cap_is_a_500_before_the_headers_and_an_abort_after() {
    let limits = ResponseLimits {
        max_output: Some(4),
        ..ResponseLimits::DEFAULT
    };
    let over =
        Violation::OutputClosed("limit: the response passed its --max-output of 4 bytes".into());
    let (mut gw, rec) = limited(limits);
    gw.start_response(b"200 OK".to_vec(), ct(), None)
        .expect("ok");
    assert_eq!(gw.write(b"12345"), Err(over.clone()));
    assert_eq!(gw.finish(None), Outcome::Failed);
    let sent = rec.take();
    assert_eq!(
        sent[0],
        "headers 500 Internal Server Error [Content-Type=text/plain]"
    );
    assert_eq!(sent.last().map(String::as_str), Some("finish"));

    let (mut gw, rec) = limited(limits);
    gw.start_response(b"200 OK".to_vec(), ct(), None)
        .expect("ok");
    gw.write(b"1234").expect("at the cap");
    assert_eq!(gw.write(b"5"), Err(over));
    assert!(gw.write(b"6").is_err(), "nothing more is taken");
    assert_eq!(gw.finish(None), Outcome::Aborted);
    assert_eq!(
        rec.take(),
        [
            "headers 200 OK [Content-Type=text/plain]",
            "chunk 1234",
            "abort"
        ]
    );
}

#[test]
fn finish_without_a_failure_still_ends_the_body_by_the_rules() {
    // Found by fuzz/gateway: once sealed, `finish(None)` skipped the end-of-body
    // checks and called a response Completed with no headers, with its stored headers
    // never sent, or with a body short of its Content-Length.
    let (mut gw, rec) = gateway();
    gw.seal();
    assert_eq!(gw.finish(None), Outcome::Failed);
    assert_eq!(
        rec.take()[0],
        "headers 500 Internal Server Error [Content-Type=text/plain]"
    );

    let (mut gw, rec) = gateway();
    gw.start_response(b"204 No Content".to_vec(), vec![], None)
        .expect("ok");
    gw.seal();
    assert_eq!(gw.finish(None), Outcome::Completed);
    assert_eq!(rec.take(), ["headers 204 No Content []", "finish"]);

    let (mut gw, rec) = gateway();
    let length = vec![("Content-Length".to_owned(), b"5".to_vec())];
    gw.start_response(b"200 OK".to_vec(), length, None)
        .expect("ok");
    gw.write(b"ab").expect("ab");
    gw.seal();
    assert_eq!(gw.finish(None), Outcome::Aborted);
    assert_eq!(
        rec.take(),
        ["headers 200 OK [Content-Length=5]", "chunk ab", "abort"]
    );
}

#[test]
fn guest_text_in_the_log_draws_on_the_log_budget() {
    let budget = LogBudget::new(10);
    assert_eq!(budget.clip("12345"), "12345");
    assert_eq!(budget.clip("6789é"), "6789... (2 bytes dropped)");
    assert_eq!(budget.clip("more"), "... (4 bytes dropped)");
    assert_eq!(budget.take(3), 0);
    let shared = LogBudget::new(4);
    assert_eq!(shared.clone().take(3), 3);
    assert_eq!(shared.take(3), 1, "clones share one budget");
}

/// A gateway for a `method` request whose sink is (or is not) a CGI response.
fn for_request(method: &[u8], cgi: bool) -> (Gateway, Recorder) {
    let rec = Recorder {
        cgi,
        ..Recorder::default()
    };
    (Gateway::new(Box::new(rec.clone())).for_method(method), rec)
}

#[test]
fn the_gateway_decides_the_framing_once_from_the_request_and_the_head() {
    /// Method, status, Content-Length, the framing the gateway must decide.
    type Case = (&'static [u8], &'static [u8], Option<&'static str>, Framing);
    let cases: [Case; 7] = [
        (b"GET", b"200 OK", None, Framing::Open),
        (b"GET", b"200 OK", Some("5"), Framing::Length(5)),
        (b"HEAD", b"200 OK", Some("5"), Framing::None),
        (b"HEAD", b"200 OK", None, Framing::None),
        (b"GET", b"204 No Content", None, Framing::None),
        (b"GET", b"304 Not Modified", Some("5"), Framing::None),
        (b"GET", b"103 Early Hints", None, Framing::None),
    ];
    for (method, status, length, want) in cases {
        let (mut gw, rec) = for_request(method, false);
        let headers = length.map_or_else(ct, with_length);
        gw.start_response(status.to_vec(), headers, None)
            .expect("valid");
        gw.finish(None);
        assert_eq!(*rec.framings.lock().expect("lock"), [want], "{status:?}");
    }
}

#[test]
fn a_response_without_a_body_sends_none_of_the_apps_bytes_except_to_cgi() {
    for (cgi, want_chunks) in [(false, 0), (true, 1)] {
        for (method, status) in [(&b"HEAD"[..], &b"200 OK"[..]), (b"GET", b"204 No Content")] {
            let (mut gw, rec) = for_request(method, cgi);
            gw.start_response(status.to_vec(), Vec::new(), None)
                .expect("valid");
            gw.write(b"not for the client").expect("taken");
            assert_eq!(gw.finish(None), Outcome::Completed);
            let chunks = rec.take().iter().filter(|l| l.starts_with("chunk")).count();
            assert_eq!(chunks, want_chunks, "cgi {cgi}, {status:?}");
        }
    }
}

#[test]
fn the_error_page_of_a_head_request_has_no_body_but_over_cgi() {
    for (cgi, body) in [(false, false), (true, true)] {
        let (gw, rec) = for_request(b"HEAD", cgi);
        assert_eq!(gw.fail_with(Failure::App("x".into())), Outcome::Failed);
        let page = format!(
            "chunk {}",
            String::from_utf8_lossy(ErrorPage::Internal.body())
        );
        assert_eq!(rec.take().contains(&page), body, "cgi {cgi}");
        assert_eq!(*rec.framings.lock().expect("lock"), [Framing::None]);
    }
}

#[test]
fn an_observer_is_told_each_refusal_with_its_rule_and_what_went_out() {
    use crate::observe::Recorder;
    use crate::rules::Rule;
    let recorder = Recorder::new();
    let (gw, _rec) = gateway();
    let mut gw = gw.with_observer(std::sync::Arc::new(recorder.clone()));
    gw.write(b"early").expect_err("before start_response");
    gw.start_response(b"200 OK".to_vec(), ct(), None)
        .expect("ok");
    gw.start_response(b"200 OK".to_vec(), ct(), None)
        .expect_err("twice");
    gw.write(b"").expect("empty");
    gw.legacy_write(b"body").expect("write");
    assert_eq!(gw.finish(None), Outcome::Completed);
    let record = recorder.record();
    let rules: Vec<Rule> = record.refusals.iter().map(|r| r.0).collect();
    assert_eq!(
        rules,
        [Rule::WriteBeforeStartResponse, Rule::StartResponseTwice]
    );
    assert_eq!(record.legacy_writes, 1);
    assert_eq!(record.empty_chunks_before_headers, 1);
    assert_eq!(record.head, Some((b"200 OK".to_vec(), ct(), Framing::Open)));
    assert_eq!(record.outcome, Some(Outcome::Completed));
    assert_eq!(record.body_bytes, 4);
    assert_eq!(record.failure, None);
}
