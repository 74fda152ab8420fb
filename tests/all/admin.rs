//! `wasgi serve` for the operator: the admin listener (probes, exact metrics after
//! known traffic), the JSON log and the request id, and the options taken from the
//! environment.

use std::io::Write as _;

use crate::guests::*;
use crate::util::*;

/// The value of `series` (name and labels, as written) in a metrics text.
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        rest.parse().ok()
    })
}

#[track_caller]
fn assert_metric(metrics: &str, series: &str, want: f64) {
    assert_eq!(value(metrics, series), Some(want), "{series}:\n{metrics}");
}

/// A server with an admin listener on a free port, and `args`.
fn with_admin(app: &str, args: &[&str]) -> Server {
    let mut all = vec!["--admin-addr", "127.0.0.1:0"];
    all.extend_from_slice(args);
    Server::start(app, &all)
}

#[test]
fn metrics_count_known_traffic_exactly() {
    let cache = scratch("metrics-known-traffic");
    let cache = cache.to_str().expect("utf-8 path");
    let server = with_admin(HELLO, &["--cache-dir", cache]);
    for _ in 0..3 {
        assert_eq!(server.get("/").text(), "Hello, World!\n");
    }
    // A response is counted with its access-log line, which may follow the client's
    // last byte by a moment.
    server.wait_for_lines(" GET / 200 14B ", 3);
    let metrics = server.metrics();
    assert_metric(
        &metrics,
        r#"wasgi_requests_total{class="2xx",outcome="completed"}"#,
        3.0,
    );
    assert_metric(&metrics, "wasgi_request_duration_seconds_count", 3.0);
    assert_metric(&metrics, "wasgi_instances_created_total", 3.0);
    assert_metric(&metrics, "wasgi_instances_reused_total", 0.0);
    assert_metric(&metrics, "wasgi_response_body_bytes_total", 42.0);
    assert_metric(&metrics, "wasgi_request_body_bytes_total", 0.0);
    assert_metric(&metrics, "wasgi_requests_in_flight", 0.0);
    assert_metric(&metrics, "wasgi_requests_queued", 0.0);
    // A fresh cache: the first load compiled.
    assert_metric(&metrics, "wasgi_compile_cache_misses_total", 1.0);
    assert_metric(&metrics, "wasgi_compile_cache_hits_total", 0.0);
    let digest = blake3::hash(&std::fs::read(HELLO).expect("hello"));
    assert_metric(
        &metrics,
        &format!(
            "wasgi_component_info{{digest=\"blake3:{}\"}}",
            digest.to_hex()
        ),
        1.0,
    );
    assert!(value(&metrics, "wasgi_component_load_seconds").is_some_and(|s| s > 0.0));
    for kind in ["timeout", "memory", "fuel", "output", "log", "resources"] {
        assert_metric(
            &metrics,
            &format!("wasgi_limit_hits_total{{kind=\"{kind}\"}}"),
            0.0,
        );
    }
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
    // Every name is wasgi's.
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.starts_with("wasgi_"), "{line}");
    }

    // The second server finds the component in the cache; a body and reuse count.
    let server = with_admin(ECHO, &["--cache-dir", cache, "--reuse"]);
    assert_eq!(server.post("/", b"twelve bytes").text(), "twelve bytes");
    assert_eq!(server.post("/", b"12345").text(), "12345");
    server.wait_for_lines(" POST / 200 ", 2);
    let metrics = server.metrics();
    assert_metric(&metrics, "wasgi_request_body_bytes_total", 17.0);
    assert_metric(&metrics, "wasgi_instances_created_total", 1.0);
    assert_metric(&metrics, "wasgi_instances_reused_total", 1.0);
    assert_metric(&metrics, "wasgi_compile_cache_misses_total", 1.0);
    let server = with_admin(ECHO, &["--cache-dir", cache]);
    assert_metric(&server.metrics(), "wasgi_compile_cache_hits_total", 1.0);
}

#[test]
fn a_trap_counts_as_failed_before_headers() {
    let server = with_admin(TRAP_BEFORE_HEADERS, &[]);
    assert_eq!(server.get("/").status, 500);
    server.wait_for_lines(" GET / 500 ", 1);
    let metrics = server.metrics();
    assert_metric(
        &metrics,
        r#"wasgi_requests_total{class="5xx",outcome="failed"}"#,
        1.0,
    );
    assert_eq!(
        value(
            &metrics,
            r#"wasgi_requests_total{class="2xx",outcome="completed"}"#
        ),
        None
    );
}

#[test]
fn each_limit_a_guest_hits_counts_by_its_kind_and_only_there() {
    const KINDS: [&str; 6] = ["timeout", "memory", "fuel", "output", "log", "resources"];
    let cases: [(&str, &[&str], &str); 6] = [
        (
            INFINITE_LOOP_BEFORE_HEADERS,
            &["--timeout", "0.2"],
            "timeout",
        ),
        (MEMORY_BOMB, &["--max-memory", "16MiB"], "memory"),
        (FUEL_BURNER, &["--fuel", "100000000"], "fuel"),
        // Hello's 14 bytes pass a --max-output of 5: the gateway's 500.
        (HELLO, &["--max-output", "5"], "output"),
        (STDOUT_FLOOD, &["--max-log", "256KiB"], "log"),
        (RESOURCE_HOG, &["--max-resources", "200"], "resources"),
    ];
    for (guest, flags, hit) in cases {
        let server = with_admin(guest, flags);
        server.get("/");
        server.wait_for_lines(" GET / ", 1);
        let metrics = server.metrics();
        for kind in KINDS {
            let want = if kind == hit { 1.0 } else { 0.0 };
            assert_metric(
                &metrics,
                &format!("wasgi_limit_hits_total{{kind=\"{kind}\"}}"),
                want,
            );
        }
    }
}

#[test]
fn probes_answer_and_readiness_is_503_while_draining() {
    let server = with_admin(
        SLEEPS_IN_HOST_CALL,
        &["--timeout", "0", "--shutdown-timeout", "600"],
    );
    for path in ["/livez", "/healthz"] {
        let live = get(&server.admin_url(path));
        assert_eq!((live.status, live.text()), (200, "ok\n".to_owned()));
    }
    assert_eq!(get(&server.admin_url("/readyz")).text(), "ready\n");
    let unknown = get(&server.admin_url("/admin"));
    assert_eq!(unknown.status, 404);
    let posted = post(&server.admin_url("/readyz"), b"");
    assert_eq!(posted.status, 405);

    let mut sleeping = server.connect();
    sleeping
        .write_all(b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    server.wait_for_log("sleeps-in-host-call: sleeping");
    server.signal("TERM");
    server.wait_for_log("shutting down");
    // Draining, with a request in flight: not ready, still alive, still answering.
    let ready = get(&server.admin_url("/readyz"));
    assert_eq!(
        (ready.status, ready.body),
        (503, Ok(b"not ready\n".to_vec()))
    );
    assert_eq!(get(&server.admin_url("/livez")).status, 200);
    assert_metric(&server.metrics(), "wasgi_requests_in_flight", 1.0);
    // The guest sleeps for an hour: the server is killed when dropped (the second
    // signal's exit is `attack::a_second_stop_signal_stops_at_once`'s test).
}

#[test]
fn the_admin_listener_is_never_the_apps_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    drop(taken);
    for (addr, admin) in [
        (format!("127.0.0.1:{port}"), format!("127.0.0.1:{port}")),
        (format!("0.0.0.0:{port}"), format!("127.0.0.1:{port}")),
    ] {
        let out = output(wasgi().args(["serve", HELLO, "--addr", &addr, "--admin-addr", &admin]));
        assert_one_line_error(&out, 2, "give the admin listener a port of its own");
    }
}

/// The parsed lines of a JSON log; every line must be one JSON object.
fn events(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .map(|line| {
            let event: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
            assert!(event.is_object(), "{line}");
            event
        })
        .collect()
}

#[test]
fn json_logs_are_one_object_a_line_with_the_request_id() {
    let server = Server::start(ENVIRON, &["--log-format", "json"]);
    let environ = server.get("/hi?x=1").json();
    let log = server.wait_for_log(r#""outcome":"completed""#);
    let events = events(&log);
    let access: Vec<_> = events
        .iter()
        .filter(|e| e["target"] == "wasgi::access")
        .collect();
    assert_eq!(access.len(), 1, "{log}");
    let line = access[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/hi");
    assert_eq!(line["status"], 200);
    assert_eq!(line["outcome"], "completed");
    assert!(
        line["remote"]
            .as_str()
            .is_some_and(|r| r.starts_with("127.0.0.1:"))
    );
    assert!(line["bytes"].as_u64().is_some_and(|b| b > 0));
    assert!(line["duration_ms"].as_f64().is_some());
    assert!(line["timestamp"].as_str().is_some());
    // The guest got the same id.
    let id = line["request_id"].as_str().expect("a request id");
    assert_eq!(
        variable(&environ, "REQUEST_ID"),
        Some(id.as_bytes().to_vec())
    );
    // The server's own events are JSON too.
    assert!(
        events.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("listening on http://"))),
        "{log}"
    );
}

#[test]
fn json_logs_hold_the_guests_own_output_as_events() {
    // A guest that prints a fake CGI response with CRLFs to its stdout.
    let server = Server::start(PRINTS_TO_STDOUT, &["--log-format", "json"]);
    assert_eq!(server.get("/").text(), "the real response\n");
    let log = server.wait_for_log(r#""outcome":"completed""#);
    let events = events(&log);
    let guest: Vec<_> = events
        .iter()
        .filter(|e| e["target"] == "wasgi::guest")
        .collect();
    assert_eq!(guest.len(), 1, "{log}");
    assert_eq!(
        guest[0]["message"],
        "Status: 302 Found\r\nLocation: https://attacker.example/\r\n\r\n"
    );
}

/// `GET /` with `X-Request-Id: id` to the environ guest: its `REQUEST_ID`.
fn request_id_seen(server: &Server, id: &str) -> Vec<u8> {
    let response = agent()
        .get(server.url("/"))
        .header("X-Request-Id", id)
        .call();
    let environ = seen(response).json();
    assert_eq!(
        variable(&environ, "HTTP_X_REQUEST_ID"),
        Some(id.as_bytes().to_vec())
    );
    variable(&environ, "REQUEST_ID").expect("REQUEST_ID")
}

#[test]
fn an_incoming_request_id_is_taken_only_from_a_trusted_proxy_and_only_well_formed() {
    let trusting = Server::start(ENVIRON, &["--trusted-proxy", "127.0.0.1"]);
    assert_eq!(request_id_seen(&trusting, "req-42.a:b"), b"req-42.a:b");
    // An id that would forge a log line is replaced by a new one.
    let forgeries = [
        "x 127.0.0.1:1 GET /admin 200",
        "x\"}{\"status\":200",
        &"a".repeat(129),
    ];
    for forged in forgeries {
        assert_ne!(request_id_seen(&trusting, forged), forged.as_bytes());
    }
    let log = trusting.wait_for_lines(" GET / 200 ", 1 + forgeries.len());
    for forged in forgeries {
        assert!(!log.contains(forged), "{log}");
    }
    let untrusting = Server::start(ENVIRON, &[]);
    assert_ne!(request_id_seen(&untrusting, "req-42"), b"req-42");
}

#[test]
fn serve_options_come_from_the_environment_and_the_command_line_wins() {
    let six_headers =
        b"GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nConnection: close\r\n\r\n";
    let mut cmd = wasgi();
    cmd.args(["serve", "--addr", "127.0.0.1:0"])
        .env("WASGI_APP", HELLO)
        .env("WASGI_MAX_HEADERS", "4")
        .env("WASGI_ADMIN_ADDR", "127.0.0.1:0")
        .env("WASGI_LOG_FORMAT", "json");
    let server = Server::spawn(cmd);
    assert!(server.admin.is_some(), "WASGI_ADMIN_ADDR");
    assert!(
        server.exchange(six_headers).starts_with(b"HTTP/1.1 431 "),
        "WASGI_MAX_HEADERS"
    );
    events(&server.log());

    let mut cmd = wasgi();
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--max-headers", "100"])
        .env("WASGI_APP", HELLO)
        .env("WASGI_MAX_HEADERS", "4")
        .env("WASGI_REUSE", "false");
    let server = Server::spawn(cmd);
    assert!(
        server
            .exchange(six_headers)
            .starts_with(b"HTTP/1.1 200 OK\r\n"),
        "--max-headers wins"
    );

    // A bad value is a usage error naming the variable.
    let out = output(
        wasgi()
            .args(["serve", HELLO])
            .env("WASGI_MAX_CONCURRENCY", "lots"),
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--max-concurrency"),
        "{}",
        stderr(&out)
    );

    // `wasgi run` is a CGI program: its environment is the web server's, never its
    // options.
    let out = wasgi_run(
        HELLO,
        &[],
        &[("WASGI_MAX_OUTPUT", "1"), ("WASGI_TIMEOUT", "x")],
    );
    assert_eq!(code(&out), COMPLETED, "{}", stderr(&out));
    assert!(out.stdout.ends_with(b"Hello, World!\n"));
}
