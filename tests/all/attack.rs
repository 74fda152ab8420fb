//! `wasgi serve` from the network side, as an attacker and a careful operator would
//! probe it (issue 13): malformed and ambiguous requests sent as raw bytes over real
//! sockets (a client library would refuse to send most of them), slow clients,
//! connection floods, signals. Each test names the rule it checks; docs/SECURITY.md
//! lists them with what wasgi does. The long soak and the connection storm are
//! `bench/probe.sh`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::guests::*;
use crate::util::*;

/// The exact bytes (`date` taken out) of the 400 for a request head refused before
/// the guest runs, closing the connection.
fn refused(reason: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{reason}",
        reason.len()
    )
    .into_bytes()
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.addr).expect("connect");
    stream.set_read_timeout(Some(HANG)).expect("timeout");
    stream
}

// 1. A slow request body.

#[test]
fn a_body_trickling_in_is_cut_at_the_body_timeout_and_its_slot_freed() {
    // One slot. The guest reads the whole body before answering; the client sends a
    // byte every 100 ms, each well within --read-timeout, so only the whole-body bound
    // can cut it.
    let server = Server::start(
        READ_PAST_CONTENT_LENGTH,
        &[
            "--body-timeout",
            "1",
            "--max-concurrency",
            "1",
            "--max-queue",
            "8",
        ],
    );
    let mut slow = connect(&server);
    slow.write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        .expect("send");
    let dripping = std::thread::spawn(move || {
        for _ in 0..1000 {
            if slow.write_all(b"x").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        slow
    });
    server.wait_for_log("took over 1s to arrive (--body-timeout)");
    // The slot is free: a normal request is served while the drip goes on.
    assert_bytes(
        &server.exchange(b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\n\r\n",
    );
    let mut slow = dripping.join().expect("drip");
    let mut got = Vec::new();
    let _ = slow.read_to_end(&mut got);
    let got = without_date(&got);
    assert!(
        got.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    server.wait_for_log(" POST / 408 ");
    assert!(server.log().contains("408 41B"), "{}", server.log());
}

// 2. Out of file descriptors.

#[test]
fn accept_failures_back_off_and_are_logged_at_most_once_a_second() {
    // A server allowed 64 files, with more connections than that: accept fails with
    // EMFILE while they are open.
    let mut cmd = Command::new("bash");
    cmd.env_clear()
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_wasgi"))
        .arg("serve")
        .arg(HELLO)
        .args(["--addr", "127.0.0.1:0", "--max-connections", "1000"]);
    let server = Server::spawn(cmd);
    let held: Vec<TcpStream> = (0..150).map(|_| connect(&server)).collect();
    server.wait_for_log("failed to accept a connection");
    let cpu = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        let fields: Vec<&str> = stat.rsplit(')').next().expect("stat").split(' ').collect();
        fields[12].parse::<u64>().expect("utime") + fields[13].parse::<u64>().expect("stime")
    };
    let before = cpu(server.pid());
    let start = Instant::now();
    // Load held for two seconds: the log must stay a few lines, not millions.
    std::thread::sleep(Duration::from_secs(2));
    let lines = server
        .log()
        .lines()
        .filter(|l| l.contains("failed to accept"))
        .count();
    let spent = cpu(server.pid()) - before;
    assert!(
        lines <= 2 + start.elapsed().as_secs() as usize,
        "{lines} lines: {}",
        server.log()
    );
    assert!(
        server.log().contains("more since the last such line"),
        "{}",
        server.log()
    );
    // Ticks of 10 ms: spinning would spend ~200 in two seconds.
    assert!(spent < 50, "{spent} ticks of CPU while out of descriptors");
    drop(held);
    // Once the load is gone a new client is served (it waits for the back-off).
    assert_bytes(
        &server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\nE\r\nHello, World!\n\r\n0\r\n\r\n",
    );
}

// 3. Header names with underscores.

#[test]
fn header_names_with_underscores_are_dropped_and_logged_once() {
    let server = Server::start(ENVIRON, &[]);
    let got = server.exchange(
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Auth-User: proxy-checked\r\nX_Auth_User: forged\r\nX_Other: forged\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("\"HTTP_X_AUTH_USER\": \"proxy-checked\""),
        "{text}"
    );
    assert!(!text.contains("forged"), "{text}");
    let log = server.wait_for_log("dropped header fields whose names hold '_'");
    assert!(log.contains("(x_auth_user, x_other)"), "{log}");
    assert_eq!(log.matches("dropped header fields").count(), 1, "{log}");
}

#[test]
fn allow_underscore_headers_keeps_them() {
    let server = Server::start(ENVIRON, &["--allow-underscore-headers"]);
    let got = server
        .exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX_Auth_User: kept\r\n\r\n");
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("\"HTTP_X_AUTH_USER\": \"kept\""), "{text}");
}

// 4. Host, as RFC 9112 section 3.2 says.

#[test]
fn host_is_validated_as_rfc_9112_says() {
    let server = Server::start(ENVIRON, &[]);
    for (request, reason) in [
        (
            &b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"[..],
            "more than one Host header",
        ),
        (
            b"GET / HTTP/1.1\r\n\r\n",
            "an HTTP/1.1 request without a Host header",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: evil.example/../x@y\r\n\r\n",
            "the Host header is not a host with an optional port",
        ),
        (
            b"GET ftp://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n",
            "an absolute target whose scheme is not http or https",
        ),
        (
            b"GET http://user@example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n",
            "the absolute target's authority is not a host with an optional port",
        ),
    ] {
        assert_bytes(&server.exchange(request), &refused(reason));
        server.wait_for_log(reason);
    }
    // HTTP/1.0 needs no Host, and an empty Host names none: the server's own address
    // stands in.
    for request in [
        &b"GET / HTTP/1.0\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n",
    ] {
        let got = server.exchange(request);
        let text = String::from_utf8_lossy(&got);
        assert!(text.contains(" 200 OK\r\n"), "{text}");
        assert!(text.contains("\"SERVER_NAME\": \"127.0.0.1\""), "{text}");
    }
}

#[test]
fn an_absolute_form_target_wins_over_host() {
    let server = Server::start(ENVIRON, &[]);
    let got = server.exchange(
        b"GET http://real.example:81/p?q=1 HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&got);
    for want in [
        "\"SERVER_NAME\": \"real.example\"",
        "\"SERVER_PORT\": \"81\"",
        "\"HTTP_HOST\": \"real.example:81\"",
        "\"PATH_INFO\": \"/p\"",
        "\"QUERY_STRING\": \"q=1\"",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
}

// 5. Signals.

/// A server with no guest time limit and `--shutdown-timeout shutdown_timeout`, and
/// its connection whose guest is asleep in a host call for an hour.
fn with_a_guest_asleep(shutdown_timeout: &str) -> (Server, TcpStream) {
    let server = Server::start(
        SLEEPS_IN_HOST_CALL,
        &["--timeout", "0", "--shutdown-timeout", shutdown_timeout],
    );
    let mut sleeping = connect(&server);
    sleeping
        .write_all(b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    server.wait_for_log("sleeps-in-host-call: sleeping");
    (server, sleeping)
}

#[test]
fn a_second_stop_signal_stops_at_once() {
    let (server, _sleeping) = with_a_guest_asleep("600");
    server.signal("TERM");
    server.wait_for_log("shutting down");
    server.signal("INT");
    server.wait_for_log("a second stop signal");
    assert_eq!(server.exit_code(), 130);
}

#[test]
fn shutdown_ends_at_its_timeout_even_with_a_guest_that_never_returns() {
    let (server, _sleeping) = with_a_guest_asleep("1");
    server.signal("TERM");
    server.wait_for_log("shutdown timed out");
    // The guest sleeps for an hour; the server exits now, within the test's deadline.
    assert_eq!(server.exit_code(), 0);
}

// 6. HEAD: a clean request, its body dropped by the gateway, not refused by hyper.

#[test]
fn a_head_request_is_clean_its_body_never_reaches_the_connection() {
    let server = Server::start(STREAM, &[]);
    let response = server.exchange(b"HEAD /?n=20 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(
        String::from_utf8_lossy(&response),
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n"
    );
    let log = server.wait_for_log("HEAD / 200 0B");
    let line = log
        .lines()
        .find(|l| l.contains("HEAD / 200"))
        .expect("access line");
    assert!(line.ends_with("completed"), "{line}");
    assert!(
        !log.contains("WARN") && !log.contains("ERROR"),
        "a HEAD request logs no warning or error:\n{log}"
    );
}

// 7. Bad chunked framing from the client.

#[test]
fn bad_chunked_framing_is_the_clients_400() {
    let server = Server::start(READ_PAST_CONTENT_LENGTH, &[]);
    let got = server.exchange(
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    );
    // The guest was running when the body broke: the 400 takes the place of its
    // response, framed as its response would have been.
    assert_bytes(
        &got,
        b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n1E\r\nThe request body is malformed.\r\n0\r\n\r\n",
    );
    // So is a chunk extension past hyper's 16 KiB.
    let long = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;x={}\r\nhello\r\n0\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_bytes(&server.exchange(long.as_bytes()), &got);
    let log = server.wait_for_log(" POST / 400 ");
    assert!(log.contains("30B"), "{log}");
    assert!(log.contains("ms client"), "{log}");
    assert!(
        log.contains("request body is malformed or cut short"),
        "{log}"
    );
    assert!(!log.contains(" 500 "), "{log}");
    assert!(
        !log.contains("ERROR"),
        "the client's broken body is no error of the app or the server: {log}"
    );
}

// 8. The access log has every response, with the client's address.

#[test]
fn the_access_log_has_every_response_and_the_client_address() {
    let server = Server::start(HELLO, &["--max-headers", "4"]);
    let ok = server.exchange(b"GET /hi HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert!(ok.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let log = server.wait_for_log(" GET /hi 200 14B ");
    assert!(log.contains(" 127.0.0.1:"), "{log}");
    // hyper's own refusals: too many headers (431), a method that is not a token (400).
    let many = server
        .exchange(b"GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n");
    assert_bytes(
        &many,
        b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
    );
    server.wait_for_log(" - - 431 0B - client: message head is too large");
    let bad = server.exchange(b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_bytes(
        &bad,
        b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
    );
    server.wait_for_log(" - - 400 0B - client: invalid HTTP method parsed");
}

// 9. A connection cap.

#[test]
fn connections_past_the_cap_get_503_and_are_closed() {
    let server = Server::start(HELLO, &["--max-connections", "2"]);
    let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut held: Vec<TcpStream> = (0..2).map(|_| connect(&server)).collect();
    for stream in &mut held {
        stream.write_all(request).expect("send");
        read_until(stream, b"0\r\n\r\n");
    }
    let mut third = connect(&server);
    let mut got = Vec::new();
    third.read_to_end(&mut got).expect("read");
    assert_bytes(
        &got,
        b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 38\r\n\r\nToo many connections. Try again later.",
    );
    server.wait_for_log("refused a connection from 127.0.0.1:");
    // A place frees when a connection ends (once the server has seen it end).
    drop(held.pop());
    let deadline = Instant::now() + HANG;
    loop {
        let got = server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        if got.starts_with(b"HTTP/1.1 200 OK\r\n") {
            break;
        }
        assert!(Instant::now() < deadline, "no place freed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// 10. Smaller findings.

#[test]
fn transfer_encoding_other_than_chunked_is_refused() {
    let server = Server::start(READ_PAST_CONTENT_LENGTH, &[]);
    let got = server.exchange(
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_bytes(
        &got,
        &refused("a Transfer-Encoding other than one \"chunked\" is not accepted"),
    );
}

#[test]
fn connect_is_refused_without_running_the_app() {
    let server = Server::start(PRINTS_TO_STDOUT, &[]);
    let got = server.exchange(b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n");
    assert_bytes(
        &got,
        &refused("CONNECT asks for a tunnel, and wasgi is not a proxy"),
    );
    let log = server.wait_for_log(" 400 ");
    assert!(!log.contains("attacker.example"), "the app ran: {log}");
}

#[test]
fn an_http_1_0_keep_alive_request_is_answered_consistently() {
    // hello's body has no length, so HTTP/1.0 can only end it by closing: the response
    // must say so.
    let server = Server::start(HELLO, &[]);
    let got = server.exchange(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_bytes(
        &got,
        b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nHello, World!\n",
    );
}

#[test]
fn a_cache_dir_that_is_a_file_is_reported_clearly() {
    let dir = scratch("cache-file");
    let file = dir.join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let out = wasgi_run(HELLO, &["--cache-dir", file.to_str().expect("utf-8")], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_logged(
        &out,
        &format!(
            "the cache directory {} is not a directory: it is a file",
            file.display()
        ),
    );
    assert!(!stderr(&out).contains("os error"), "{}", stderr(&out));
}

// What the probe did not name.

#[test]
fn smuggling_shapes_are_refused_or_framed_one_way() {
    let server = Server::start(READ_PAST_CONTENT_LENGTH, &[]);
    for (name, request) in [
        (
            "two different Content-Lengths",
            &b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
                [..],
        ),
        (
            "obs-fold",
            b"GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n  folded\r\n\r\n",
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "a space before the colon",
            b"GET / HTTP/1.1\r\nHost : t\r\n\r\n",
        ),
        (
            "a Content-Length that is not a number",
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
        ),
    ] {
        let got = server.exchange(request);
        assert_bytes(
            &got,
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        );
        let _ = name;
    }
    // Content-Length and Transfer-Encoding together: the body is framed by the chunks
    // alone (RFC 9112 section 6.3) and the connection closed after the response, so
    // a smuggled second request is never read.
    let got = server.exchange(
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("read 5 bytes \"hello\""), "{text}");
    assert!(
        !text.contains("ok\n"),
        "a smuggled request was answered: {text}"
    );
    assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = Server::start(READ_PAST_CONTENT_LENGTH, &[]);
    let mut stream = connect(&server);
    stream
        .write_all(b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nonePOST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    let one = text.find("\"one\"").expect(&text);
    let two = text.find("\"two\"").expect(&text);
    let ok = text.rfind("ok\n").expect(&text);
    assert!(one < two && two < ok, "{text}");
}

#[test]
fn expect_100_continue_is_answered_only_for_a_body_that_fits() {
    let server = Server::start(READ_PAST_CONTENT_LENGTH, &["--max-body-bytes", "100"]);
    let mut stream = connect(&server);
    stream
        .write_all(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        )
        .expect("send");
    read_until(&mut stream, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello").expect("send");
    let got = read_until(&mut stream, b"0\r\n\r\n");
    assert!(
        String::from_utf8_lossy(&got).contains("read 5 bytes \"hello\""),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // Over the limit: 413 at once, never 100 Continue.
    let got = server.exchange(
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\nExpect: 100-continue\r\n\r\n",
    );
    assert!(
        got.starts_with(b"HTTP/1.1 413 Content Too Large\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn a_slow_request_head_is_cut_at_the_read_timeout_however_it_trickles() {
    // A byte every 100 ms keeps the connection busy, but the head as a whole must
    // arrive within --read-timeout.
    let server = Server::start(HELLO, &["--read-timeout", "1"]);
    let mut stream = connect(&server);
    let started = Instant::now();
    let head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for byte in head {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if server.log().contains(" 408 ") {
            break;
        }
    }
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    assert_bytes(
        &got,
        b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(started.elapsed() < Duration::from_secs(6));
    server.wait_for_log(" - - 408 0B - client: no whole request head within 1s");
}

#[test]
fn long_uris_and_many_small_headers_get_431() {
    let server = Server::start(HELLO, &[]);
    let long = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(20_000));
    assert_bytes(
        &server.exchange(long.as_bytes()),
        b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
    );
    let mut many = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..101 {
        many.push_str(&format!("a{i}: b\r\n"));
    }
    many.push_str("\r\n");
    assert_bytes(
        &server.exchange(many.as_bytes()),
        b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
    );
}
