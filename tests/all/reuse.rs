//! `wasgi serve --reuse` (issue #6 §2): a clean request's instance serves later
//! requests, so the guest's own state survives, while each request still gets its own
//! environ, input and response; a failure drops the instance; concurrent requests
//! never share one. The `counter` guest counts the requests its instance served.

use std::io::Write as _;
use std::net::TcpStream;

use crate::guests::*;
use crate::util::*;

/// The count the instance reported.
pub(crate) fn count(seen: &Seen) -> u64 {
    let count = seen.header("x-count");
    assert_eq!(count.len(), 1, "one X-Count: {:?}", seen.headers);
    count[0].parse().expect("a count")
}

#[test]
fn without_reuse_every_request_gets_a_fresh_instance() {
    let server = Server::start(COUNTER, &[]);
    for _ in 0..3 {
        let seen = server.get("/");
        assert_eq!(seen.text(), "count=1 path=/ query=\n");
        assert_eq!(count(&seen), 1);
    }
}

/// The server's minor page faults so far (`/proc/PID/stat`, field 10).
fn minor_faults(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server's stat");
    // The fields after the command, which is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')').expect("a command") + 2..];
    after
        .split(' ')
        .nth(7)
        .expect("minflt")
        .parse()
        .expect("a count")
}

#[test]
fn a_fresh_instance_starts_with_none_of_the_pages_the_last_one_dirtied() {
    // Reused, an instance sees its own marks: the check does see dirty pages.
    let reused = Server::start(COUNTER, &["--reuse"]);
    assert_eq!(reused.get("/scatter").text(), "scatter seen=0\n");
    assert_eq!(reused.get("/scatter").text(), "scatter seen=128\n");
    // Fresh, every instance starts clean, though each request dirtied 128 runs of
    // pages in the slot before it.
    let server = Server::start(COUNTER, &["--max-concurrency", "1"]);
    for _ in 0..3 {
        assert_eq!(server.get("/scatter").text(), "scatter seen=0\n");
    }
    // The pool reset those pages in place and kept them mapped (vendor/README.md): the
    // next instance writes to them without faulting them in again (0 faults a request
    // measured; about 300 with wasmtime's own reset, which decommits them).
    let before = minor_faults(server.pid());
    for _ in 0..10 {
        assert_eq!(server.get("/scatter").text(), "scatter seen=0\n");
    }
    let per_request = (minor_faults(server.pid()) - before) / 10;
    assert!(
        per_request < 48,
        "{per_request} page faults per request: the pool decommitted the pages a request dirtied"
    );
}

#[test]
fn with_reuse_the_guests_state_survives_between_requests() {
    let server = Server::start(COUNTER, &["--reuse"]);
    for want in 1..=5 {
        assert_eq!(count(&server.get("/")), want);
    }
}

#[test]
fn each_reused_request_gets_its_own_environ() {
    let server = Server::start(COUNTER, &["--reuse"]);
    assert_eq!(
        server.get("/first/page?a=1&b=2").text(),
        "count=1 path=/first/page query=a=1&b=2\n"
    );
    assert_eq!(
        server.get("/second").text(),
        "count=2 path=/second query=\n"
    );
    assert_eq!(
        server.get("/third%20one?q=x").text(),
        "count=3 path=/third one query=q=x\n"
    );
}

#[test]
fn each_reused_request_gets_its_own_input() {
    let server = Server::start(COUNTER, &["--reuse"]);
    let long: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let bodies: [&[u8]; 4] = [b"five!", &long, b"", b"abc"];
    for body in bodies {
        let seen = server.post("/echo", body);
        assert_eq!(seen.status, 200);
        assert_eq!(seen.body.as_deref().expect("body"), body);
    }
    // A request that leaves its body unread: the next one reads only its own.
    let unread = server.post("/skip", &long[..70_000]);
    assert_eq!(unread.text(), "skipped\n");
    let after = server.post("/echo", b"mine alone");
    assert_eq!(after.body.as_deref().expect("body"), b"mine alone");
    assert_eq!(count(&after), 6, "one instance served all six");
}

#[test]
fn a_reused_instance_starts_each_response_clean() {
    let server = Server::start(COUNTER, &["--reuse"]);
    let tagged = server.get("/tag?secret");
    assert_eq!(tagged.header("x-tag"), ["secret"]);
    let next = server.get("/");
    assert_eq!(count(&next), 2, "the same instance");
    assert!(next.header("x-tag").is_empty(), "{:?}", next.headers);
    assert_eq!(
        next.headers,
        [
            ("content-type".to_owned(), "text/plain".to_owned()),
            ("x-count".to_owned(), "2".to_owned()),
            ("transfer-encoding".to_owned(), "chunked".to_owned()),
        ]
    );
    assert_eq!(next.text(), "count=2 path=/ query=\n");
}

#[test]
fn a_failure_after_headers_drops_the_instance_and_the_next_response_is_clean() {
    let server = Server::start(COUNTER, &["--reuse"]);
    assert_eq!(count(&server.get("/")), 1);
    let failed = server.get("/fail-after-headers");
    assert_eq!(failed.status, 200);
    assert!(failed.body.is_err(), "the response was aborted");
    let next = server.get("/");
    assert_eq!(next.text(), "count=1 path=/ query=\n", "a fresh instance");
}

#[test]
fn after_a_trap_the_next_request_gets_a_fresh_instance() {
    let server = Server::start(COUNTER, &["--reuse"]);
    assert_eq!(count(&server.get("/")), 1);
    assert_eq!(count(&server.get("/")), 2);
    let trapped = server.get("/trap");
    assert_eq!(trapped.status, 500);
    assert_eq!(trapped.body.as_deref().expect("body"), GENERIC_500_BODY);
    server.wait_for_log("counter: trapped on request 3");
    assert_eq!(server.get("/").text(), "count=1 path=/ query=\n");
    assert_eq!(count(&server.get("/")), 2);
}

/// Starts `POST /hold` with a one-byte body not yet sent, and waits until the guest
/// reported its count (it then holds its instance until the body arrives).
pub(crate) fn hold(server: &Server) -> (TcpStream, u64) {
    let mut stream = server.connect();
    stream
        .write_all(
            b"POST /hold HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\n",
        )
        .expect("send the head");
    let got = read_until(&mut stream, b" holding\n");
    let text = String::from_utf8_lossy(&got);
    let count = text
        .rsplit("count=")
        .next()
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {text:?}"));
    (stream, count)
}

#[test]
fn concurrent_reused_requests_each_get_their_own_instance() {
    let server = Server::start(COUNTER, &["--reuse"]);
    // Four requests in flight at once, each holding an instance: four fresh ones.
    let held: Vec<(TcpStream, u64)> = (0..4).map(|_| hold(&server)).collect();
    for (_, count) in &held {
        assert_eq!(*count, 1, "no two requests share an instance");
    }
    for (mut stream, _) in held {
        stream.write_all(b"x").expect("send the body");
        // The last chunk: the response has ended, so the instance is a spare again.
        read_until(&mut stream, b"done\n\r\n0\r\n\r\n");
    }
    // Now each instance is a spare, having served one request.
    assert_eq!(count(&server.get("/")), 2);
}

#[test]
fn run_refuses_reuse_and_says_why() {
    let out = wasgi_run(COUNTER, &["--reuse"], &[]);
    assert_one_line_error(
        &out,
        2,
        "--reuse is a `wasgi serve` flag: `wasgi run` handles one request",
    );
}
