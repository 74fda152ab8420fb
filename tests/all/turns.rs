//! `wasgi serve --max-running` (issue #18): of the requests in flight, only so many run
//! guest code at once (by default one per core), and a request whose guest waits (on a
//! client slow to send its body or to take its response, or asleep in a host call)
//! gives its turn up, so that neither a slow client nor a sleeping guest holds the
//! server; a guest that spins gives it up at the end of each slice. Each of those tests
//! runs with one turn, holds it with one request, and checks that another is answered
//! meanwhile: without the turn given up, that request would wait for the first (an
//! hour, or the client) and the test would fail at its deadline.

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
    let _sleeping = hold_the_turn(&server, "sleeps-in-host-call: sleeping");
    assert_ok_is_answered(&server);
}

#[test]
fn a_guest_that_spins_gives_its_turn_up_every_slice() {
    // The spinning guest's time limit is far off: only its slice ending lets the
    // other in.
    let server = Server::start(
        INFINITE_LOOP_MID_BODY,
        &["--max-running", "1", "--timeout", "600"],
    );
    let _spinning = hold_the_turn(&server, "infinite-loop-mid-body: spinning");
    for _ in 0..3 {
        assert_ok_is_answered(&server);
    }
}

/// A request for `/hold`, once its guest has logged `says` (it has the turn).
fn hold_the_turn(server: &Server, says: &str) -> std::net::TcpStream {
    let mut held = server.connect();
    held.write_all(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    server.wait_for_log(says);
    held
}

/// `/ok` of a guest that answers it at once is answered, byte for byte.
fn assert_ok_is_answered(server: &Server) {
    assert_bytes(
        &server.exchange(b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\n\r\n",
    );
}

#[test]
fn a_guest_blocked_reading_a_socket_gives_its_turn_up() {
    // An upstream that answers only when told: the guest waits on it, in a blocking
    // read of its TCP stream (wasi-libc's, which polls), while another request is
    // answered. On one core, with the default of one turn per core.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = upstream.local_addr().expect("addr").to_string();
    let server = pinned_to_one_core(SANDBOX_PROBE, &["--allow-connect", &addr]);
    server.wait_for_log("1 of them running guest code");
    let mut waiting = server.connect();
    waiting
        .write_all(format!("GET /recv?{addr} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .expect("send");
    let (mut guest, _) = upstream.accept().expect("the guest connects");
    assert_bytes(
        &server.exchange(b"GET /env?NONE HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n27\r\ndenied: environment variable not found\n\r\n0\r\n\r\n",
    );
    guest.write_all(b"pong\n").expect("answer the guest");
    read_until(&mut waiting, b"received: pong\n");
}

#[test]
fn with_one_turn_concurrent_requests_run_one_at_a_time() {
    let server = Server::start(COUNTER, &["--reuse", "--max-running", "1"]);
    assert_one_at_a_time(&server);
}

#[test]
fn by_default_there_is_one_turn_per_core() {
    // Pinned to one core, the server runs guest code for one request at a time.
    let server = pinned_to_one_core(COUNTER, &["--reuse"]);
    server.wait_for_log("up to 64 requests at once (--max-concurrency), 1 of them running guest code (--max-running)");
    assert_one_at_a_time(&server);
}

/// `wasgi serve APP --addr 127.0.0.1:0 ARGS...` on one core alone (`taskset`, on
/// the first core this test may use: the cores the process may use are what it
/// counts).
fn pinned_to_one_core(app: &str, args: &[&str]) -> Server {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let allowed = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list");
    let first = allowed.trim().split([',', '-']).next().expect("a core");
    // As `wasgi()` does: nothing of the test's environment.
    let mut cmd = std::process::Command::new("/usr/bin/taskset");
    cmd.env_clear()
        .args(["-c", first, env!("CARGO_BIN_EXE_wasgi"), "serve", app])
        .args(["--addr", "127.0.0.1:0"])
        .args(args);
    Server::spawn(cmd)
}

/// Reused instances count the requests they served: 200 requests of 4 concurrent
/// clients, all counted 1 to 200 by a single instance, ran one at a time. With more
/// turns they would run at once on several instances, each counting from 1.
fn assert_one_at_a_time(server: &Server) {
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
