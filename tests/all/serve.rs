//! `wasgi serve` end to end: the real binary on 127.0.0.1 port 0, a real HTTP client
//! (ureq) for ordinary traffic, and raw sockets where the test is about the wire:
//! interleaved streaming, clients that vanish or crawl, aborted bodies.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use crate::guests::*;
use crate::util::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

const CHUNKED: (&str, &str) = ("transfer-encoding", "chunked");
const TEXT: (&str, &str) = ("content-type", "text/plain");

#[test]
fn hello_over_http_is_exact() {
    let server = Server::start(HELLO, &[]);
    let r = server.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.headers, pairs(&[TEXT, CHUNKED]));
    assert_eq!(r.body.as_deref(), Ok(&b"Hello, World!\n"[..]));
    // One access-log line per request: id, method, path, status, bytes, time, outcome.
    let log = server.wait_for_log("GET / 200 14B");
    assert!(log.contains("completed"), "{log}");
}

#[test]
fn spine_guests_answer_over_http_exactly_as_in_cgi() {
    /// Guest, path, then the status, headers and body the client must see.
    type Case = (
        &'static str,
        &'static str,
        u16,
        Vec<(String, String)>,
        &'static [u8],
    );
    let cases: [Case; 9] = [
        (
            TWO_SET_COOKIE,
            "/",
            200,
            // Same-name order is kept; fields of different names are grouped by name
            // (hyper's HeaderMap), which HTTP allows (RFC 9110 section 5.3).
            pairs(&[
                ("set-cookie", "theme=dark; Path=/"),
                ("set-cookie", "session=abc123; HttpOnly"),
                TEXT,
                CHUNKED,
            ]),
            b"two cookies\n",
        ),
        (EMPTY, "/", 200, pairs(&[TEXT, CHUNKED]), b""),
        (
            LEGACY_WRITE,
            "/",
            200,
            pairs(&[TEXT, CHUNKED]),
            b"written first\nwritten second\nyielded last\n",
        ),
        (
            STREAM,
            "/?n=3",
            200,
            pairs(&[TEXT, CHUNKED]),
            b"line 1\nline 2\nline 3\n",
        ),
        (
            EXC_INFO_BEFORE_HEADERS,
            "/",
            503,
            pairs(&[TEXT, ("retry-after", "5"), CHUNKED]),
            b"try again soon\n",
        ),
        (
            EMPTY_CHUNKS_FIRST,
            "/",
            404,
            pairs(&[TEXT, CHUNKED]),
            b"not found\n",
        ),
        (
            WRITE_AFTER_CLOSE,
            "/",
            200,
            pairs(&[TEXT, CHUNKED]),
            b"complete body\n",
        ),
        (
            PRINTS_TO_STDOUT,
            "/",
            200,
            pairs(&[TEXT, CHUNKED]),
            b"the real response\n",
        ),
        (
            HELLO,
            "/anything?x=1",
            200,
            pairs(&[TEXT, CHUNKED]),
            b"Hello, World!\n",
        ),
    ];
    for (name, path, status, headers, body) in cases {
        let server = Server::start(name, &[]);
        let r = server.get(path);
        assert_eq!(r.status, status, "{name}");
        assert_eq!(r.headers, headers, "{name}");
        assert_eq!(r.body.as_deref(), Ok(body), "{name}");
    }
}

#[test]
fn guests_that_fail_before_headers_give_the_generic_500() {
    for name in [
        WRITE_BEFORE_START_RESPONSE,
        START_RESPONSE_TWICE,
        BAD_STATUS,
        HEADER_VALUE_CRLF,
        HOP_BY_HOP_HEADER,
        NO_START_RESPONSE,
        ERROR_BEFORE_HEADERS,
        TRAP_BEFORE_HEADERS,
    ] {
        let server = Server::start(name, &[]);
        let r = server.get("/");
        assert_eq!(r.status, 500, "{name}");
        assert_eq!(r.headers, pairs(&[TEXT, CHUNKED]), "{name}");
        assert_eq!(r.body.as_deref(), Ok(GENERIC_500_BODY), "{name}");
    }
}

#[test]
fn guests_that_fail_after_headers_abort_the_connection() {
    // The client must never see a complete response: the body stops short.
    for (name, prefix) in [
        (ERROR_MID_BODY, &b"first\n"[..]),
        (TRAP_MID_BODY, b"first\n"),
        (EXC_INFO_AFTER_HEADERS, b"partial\n"),
        (TRAP_IN_CLOSE, b"all of the body\n"),
        (CONTENT_LENGTH_MISMATCH, b"short body\n"),
    ] {
        let server = Server::start(name, &[]);
        let raw = raw_exchange(&server, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(raw.starts_with(b"HTTP/1.1 200 OK\r\n"), "{name}");
        let text = String::from_utf8_lossy(&raw);
        assert!(
            raw.windows(prefix.len()).any(|w| w == prefix),
            "{name}: {text}"
        );
        if text.contains("transfer-encoding: chunked") {
            assert!(!raw.ends_with(b"0\r\n\r\n"), "{name} ended cleanly: {text}");
        } else {
            assert!(text.contains("content-length: 100"), "{name}: {text}");
        }
        assert!(
            server.get("/").status == 200,
            "{name}: the server is still up"
        );
    }
}

/// Asserts that a raw response starts with `status_line`.
#[track_caller]
fn assert_status_line(raw: &[u8], status_line: &str) {
    let text = String::from_utf8_lossy(raw);
    assert!(
        text.starts_with(&format!("{status_line}\r\n")),
        "expected {status_line:?}, got: {text}"
    );
}

/// Sends `request` on a fresh connection and reads until the server closes it.
fn raw_exchange(server: &Server, request: &[u8]) -> Vec<u8> {
    let mut stream = server.connect();
    stream.write_all(request).expect("send");
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    got
}

#[test]
fn the_environ_comes_from_the_http_request() {
    let server = Server::start(ENVIRON, &[]);
    let r = seen(
        agent()
            .get(&server.url("/caf%C3%A9/%FF?q=a%20b"))
            .header("X-Tag", "one")
            .header("Host", "example.org:8443")
            .call(),
    );
    assert_eq!(r.status, 200);
    let json: serde_json::Value = serde_json::from_slice(&r.body.expect("body")).expect("json");
    let var = |name: &str| variable(&json, name).map(|v| String::from_utf8_lossy(&v).into_owned());
    assert_eq!(
        variable(&json, "PATH_INFO").as_deref(),
        Some(&b"/caf\xc3\xa9/\xff"[..])
    );
    assert_eq!(var("SCRIPT_NAME").as_deref(), Some(""));
    assert_eq!(var("QUERY_STRING").as_deref(), Some("q=a%20b"));
    assert_eq!(var("SERVER_NAME").as_deref(), Some("example.org"));
    assert_eq!(var("SERVER_PORT").as_deref(), Some("8443"));
    assert_eq!(var("REMOTE_ADDR").as_deref(), Some("127.0.0.1"));
    assert_eq!(var("SERVER_PROTOCOL").as_deref(), Some("HTTP/1.1"));
    assert_eq!(var("HTTP_X_TAG").as_deref(), Some("one"));
    assert!(var("REMOTE_PORT").is_some());
    assert_eq!(json["wsgi.multithread"], true);
    assert_eq!(json["wsgi.run_once"], false);
    assert_eq!(json["wsgi.input_terminated"], true);
}

#[test]
fn a_hundred_concurrent_requests_are_all_answered_correctly() {
    let server = Arc::new(Server::start(ECHO, &[]));
    let threads: Vec<_> = (0..100)
        .map(|i| {
            let server = server.clone();
            std::thread::spawn(move || {
                let body = format!("request {i} {}", "x".repeat(i * 100));
                let r = seen(
                    agent()
                        .post(&server.url("/"))
                        .header("Content-Type", "text/plain")
                        .send(body.as_bytes()),
                );
                assert_eq!(r.status, 200, "request {i}");
                assert_eq!(r.body.as_deref(), Ok(body.as_bytes()), "request {i}");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a request thread failed");
    }
}

/// Starts a chunked POST to echo and waits until the guest echoed `first` back: the
/// request is then running guest code.
fn start_echo(server: &Server, first: &str) -> TcpStream {
    let mut stream = server.connect();
    let head = "POST / HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
    write!(stream, "{head}{:x}\r\n{first}\r\n", first.len()).expect("send");
    read_until(&mut stream, first.as_bytes());
    stream
}

#[test]
fn the_first_chunk_reaches_the_client_before_the_guest_produces_the_next() {
    // echo answers each piece of the request body as it arrives. The second piece is
    // sent only after the first came back: buffering anywhere would hang here.
    let server = Server::start(ECHO, &[]);
    let mut stream = start_echo(&server, "ping");
    stream.write_all(b"4\r\npong\r\n").expect("send");
    read_until(&mut stream, b"pong");
    stream.write_all(b"0\r\n\r\n").expect("send");
    read_until(&mut stream, b"0\r\n\r\n");
}

#[test]
fn a_client_that_disconnects_mid_body_leaves_the_server_up() {
    let server = Server::start(STREAM, &[]);
    let mut stream = server.connect();
    stream
        .write_all(b"GET /?n=100000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    read_until(&mut stream, b"line 1\n");
    drop(stream);
    // The guest's next writes fail; its body is closed and the instance torn down.
    let log = server.wait_for_log("stream: closed after");
    assert!(!log.contains("closed after 100000000 of"), "{log}");
    server.wait_for_log("aborted");
    assert_eq!(
        server.get("/?n=2").body.as_deref(),
        Ok(&b"line 1\nline 2\n"[..])
    );
}

#[test]
fn too_many_request_headers_get_431() {
    let server = Server::start(HELLO, &["--max-headers", "8"]);
    let mut request = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..20 {
        request.push_str(&format!("X-H{i}: v\r\n"));
    }
    request.push_str("\r\n");
    let raw = raw_exchange(&server, request.as_bytes());
    assert_status_line(&raw, "HTTP/1.1 431 Request Header Fields Too Large");
}

#[test]
fn oversized_request_headers_get_431() {
    let server = Server::start(HELLO, &["--max-header-bytes", "2048"]);
    let request = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(4096)
    );
    let raw = raw_exchange(&server, request.as_bytes());
    assert_status_line(&raw, "HTTP/1.1 431 Request Header Fields Too Large");
}

#[test]
fn a_declared_body_over_the_limit_gets_413_before_the_guest_runs() {
    let server = Server::start(ECHO, &["--max-body-bytes", "100"]);
    let raw = raw_exchange(
        &server,
        b"POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 101\r\n\r\n",
    );
    assert_status_line(&raw, "HTTP/1.1 413 Content Too Large");
    let small = server.post("/", &[b'y'; 100]);
    assert_eq!(small.body.as_deref(), Ok(&[b'y'; 100][..]));
}

#[test]
fn a_chunked_body_over_the_limit_gets_413() {
    let server = Server::start(ECHO, &["--max-body-bytes", "100"]);
    let request = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        200,
        "z".repeat(200)
    );
    let mut stream = server.connect();
    stream.write_all(request.as_bytes()).expect("send");
    let raw = read_until(&mut stream, b"\r\n\r\n");
    assert_status_line(&raw, "HTTP/1.1 413 Content Too Large");
}

#[test]
fn a_body_that_stops_arriving_gets_408() {
    let server = Server::start(ECHO, &["--read-timeout", "0.5"]);
    let mut stream = server.connect();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n")
        .expect("send");
    let raw = read_until(&mut stream, b"\r\n\r\n");
    assert_status_line(&raw, "HTTP/1.1 408 Request Timeout");
    drop(stream);
}

#[test]
fn a_request_head_that_stops_arriving_gets_408() {
    let server = Server::start(HELLO, &["--read-timeout", "0.5"]);
    let raw = raw_exchange(&server, b"GET / HTTP/1.1\r\nHost: t\r\n");
    assert_status_line(&raw, "HTTP/1.1 408 Request Timeout");
}

#[test]
fn requests_past_the_queue_get_503() {
    let server = Server::start(ECHO, &["--max-concurrency", "1", "--max-queue", "0"]);
    let mut busy = start_echo(&server, "hold");
    let r = server.get("/");
    assert_eq!(r.status, 503);
    busy.write_all(b"0\r\n\r\n").expect("finish");
    read_until(&mut busy, b"0\r\n\r\n");
    let after = server.post("/", b"free again");
    assert_eq!(after.body.as_deref(), Ok(&b"free again"[..]));
}

#[test]
fn sigterm_stops_accepting_and_lets_requests_in_flight_finish() {
    let server = Server::start(ECHO, &[]);
    let mut in_flight = start_echo(&server, "before");
    server.signal("TERM");
    server.wait_for_log("shutting down");
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "new connections are refused"
    );
    in_flight
        .write_all(b"5\r\nafter\r\n0\r\n\r\n")
        .expect("send");
    let rest = read_until(&mut in_flight, b"0\r\n\r\n");
    assert!(rest.windows(5).any(|w| w == b"after"));
    assert_eq!(server.exit_code(), 0);
}

#[test]
fn bad_flags_are_refused_before_binding() {
    for args in [
        &["--max-concurrency", "0"][..],
        &["--read-timeout", "-1"],
        &["--addr", "not-an-address"],
        &["--max-header-bytes", "10"],
    ] {
        let out = output(wasgi().arg("serve").arg("x.wasm").args(args));
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("listening"), "{args:?}");
    }
}

#[test]
fn a_looping_guest_is_stopped_at_its_time_limit_while_others_are_served() {
    let server = Server::start(INFINITE_LOOP_BEFORE_HEADERS, &["--timeout", "1"]);
    let looping = {
        let url = server.url("/spin");
        std::thread::spawn(move || get(&url))
    };
    server.wait_for_log("infinite-loop-before-headers: spinning");
    // While the loop holds its thread, a well-behaved request is answered.
    let ok = server.get("/ok");
    assert_eq!(ok.body.as_deref(), Ok(&b"ok\n"[..]));
    let stopped = looping.join().expect("the looping request");
    assert_eq!(stopped.status, 500);
    server.wait_for_log("ran past its time limit (--timeout)");
}

#[test]
fn serve_caps_guest_memory_by_default() {
    // The default cap (256 MiB) stops a guest that would take 16 GiB.
    let server = Server::start(MEMORY_BOMB, &[]);
    assert_eq!(server.get("/").status, 500);
    server.wait_for_log("past its --max-memory of 268435456");
    assert_eq!(server.get("/").status, 500, "the server is still up");
}

#[test]
fn a_client_that_stops_reading_has_its_response_aborted_and_frees_its_slot() {
    // One slot: the stalled response must give it back for /ok to be answered.
    let server = Server::start(
        BODY_FOREVER,
        &[
            "--write-timeout",
            "1",
            "--max-concurrency",
            "1",
            "--max-queue",
            "4",
        ],
    );
    let mut stalled = server.connect();
    stalled
        .write_all(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    // The client reads nothing: the socket buffers fill, the guest's next chunk waits,
    // and after --write-timeout its response is aborted.
    server.wait_for_log("took no response data for 1s (--write-timeout)");
    let ok = server.get("/ok");
    assert_eq!(ok.body.as_deref(), Ok(&b"ok\n"[..]));
    // What the stalled client does get is never a complete response: no final chunk.
    let mut got = Vec::new();
    let _ = stalled.read_to_end(&mut got);
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(
        !got.ends_with(b"\r\n0\r\n\r\n"),
        "a stalled response ended cleanly"
    );
}
