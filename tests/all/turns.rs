//! `wasgi serve --max-running` (issue #18): of the requests in flight, only so many run
//! guest code at once, and a request whose guest waits (on a client slow to send its
//! body or to take its response, or asleep in a host call) gives its turn up, so that
//! neither a slow client nor a sleeping guest holds the server. Each test runs with one
//! turn, holds it with one request, and checks that another is answered meanwhile:
//! without the turn given up, that request would wait for the first (an hour, or the
//! client) and the test would fail at its deadline.

use std::collections::BTreeSet;
use std::io::Write as _;

use crate::guests::*;
use crate::reuse::{count, hold};
use crate::util::*;

#[test]
fn a_request_waiting_for_its_body_gives_its_turn_up() {
    // The client's deadlines are far off: only the turn given up lets the other in.
    let server = Server::start(
        COUNTER,
        &[
            "--max-running",
            "1",
            "--read-timeout",
            "600",
            "--body-timeout",
            "600",
        ],
    );
    // Its guest ran (it answered its count) and now waits for the body.
    let (mut waiting, _) = hold(&server);
    let seen = server.get("/other");
    assert_eq!(seen.text(), "count=1 path=/other query=\n");
    // The first request takes its turn again once its body arrives, and ends.
    waiting.write_all(b"x").expect("send the body");
    read_until(&mut waiting, b"done\n\r\n0\r\n\r\n");
}

#[test]
fn a_response_the_client_does_not_take_gives_its_turn_up() {
    let server = Server::start(STREAM, &["--max-running", "1", "--write-timeout", "600"]);
    let mut stalled = server.connect();
    stalled
        .write_all(b"GET /?n=100000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    // Its guest runs; the client reads no more, and the guest soon waits on it.
    read_until(&mut stalled, b"line 1\n");
    assert_bytes(
        &server.exchange(b"GET /?n=2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n7\r\nline 1\n\r\n7\r\nline 2\n\r\n0\r\n\r\n",
    );
}

#[test]
fn a_guest_asleep_in_a_host_call_gives_its_turn_up() {
    let server = Server::start(
        SLEEPS_IN_HOST_CALL,
        &["--max-running", "1", "--timeout", "0"],
    );
    let mut sleeping = server.connect();
    sleeping
        .write_all(b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    server.wait_for_log("sleeps-in-host-call: sleeping");
    assert_bytes(
        &server.exchange(b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\n\r\n",
    );
}

#[test]
fn with_one_turn_concurrent_requests_run_one_at_a_time() {
    // Reused instances count the requests they served: one turn means one instance
    // at a time, so all 200 requests of 4 concurrent clients are served by a single
    // instance, counting 1 to 200. With a turn per client they would run at once on
    // several instances, each counting from 1.
    let server = Server::start(COUNTER, &["--reuse", "--max-running", "1"]);
    let counts: Vec<u64> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..4)
            .map(|_| s.spawn(|| (0..50).map(|_| count(&server.get("/"))).collect::<Vec<_>>()))
            .collect();
        clients
            .into_iter()
            .flat_map(|client| client.join().expect("client"))
            .collect()
    });
    let distinct: BTreeSet<u64> = counts.iter().copied().collect();
    assert_eq!(distinct, (1..=200).collect::<BTreeSet<u64>>(), "{counts:?}");
}

#[test]
fn max_running_is_checked_and_listed_in_help() {
    let out = output(wasgi().args(["serve", "--help"]));
    assert!(stderr(&out).is_empty() && code(&out) == 0);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--max-running <N>"), "{help}");
    let out = output(wasgi().args(["serve", "--max-running", "0", STREAM]));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--max-running"), "{}", stderr(&out));
}
