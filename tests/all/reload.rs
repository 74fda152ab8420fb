//! Zero-downtime reload: SIGHUP and `--watch` swap a new component in while requests
//! keep coming, and none of them fails; a component that does not load leaves the old
//! one serving.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::guests::*;
use crate::util::*;

const HELLO_BODY: &[u8] = b"Hello, World!\n";

/// The stream guest's default body: ten numbered lines.
fn stream_body() -> Vec<u8> {
    (1..=10)
        .flat_map(|n| format!("line {n}\n").into_bytes())
        .collect()
}

/// Puts `from`'s bytes at `app` as a deployment should: written beside it, then
/// renamed over it, so the server never sees half a file.
fn deploy(from: &[u8], app: &Path) {
    let next = app.with_extension("next");
    std::fs::write(&next, from).expect("write the next component");
    std::fs::rename(&next, app).expect("rename it over the app");
}

#[test]
fn reloads_under_load_fail_no_request() {
    let dir = scratch("reload-under-load");
    let app = dir.join("app.wasm");
    let components = [
        std::fs::read(HELLO).expect("hello"),
        std::fs::read(STREAM).expect("stream"),
    ];
    let bodies = [HELLO_BODY.to_vec(), stream_body()];
    deploy(&components[0], &app);
    let server = Arc::new(Server::start(
        app.to_str().expect("utf-8"),
        &["--admin-addr", "127.0.0.1:0", "--max-concurrency", "8"],
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (server, stop, seen, bodies) =
                (server.clone(), stop.clone(), seen.clone(), bodies.clone());
            std::thread::spawn(move || {
                // Keep-alive connections, the ones a swap could break.
                let agent = agent();
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let response = seen_or_error(agent.get(server.url("/")).call());
                    match response {
                        Ok((200, body)) if body == bodies[0] => {
                            seen[0].fetch_add(1, Ordering::Relaxed)
                        }
                        Ok((200, body)) if body == bodies[1] => {
                            seen[1].fetch_add(1, Ordering::Relaxed)
                        }
                        other => {
                            failures.push(format!("{other:?}"));
                            0
                        }
                    };
                }
                failures
            })
        })
        .collect();
    const RELOADS: usize = 6;
    for n in 1..=RELOADS {
        let next = n % 2;
        deploy(&components[next], &app);
        server.signal("HUP");
        server.wait_for_lines("reloaded ", n);
        // Once the swap is logged, every new request runs on the new component.
        assert_eq!(server.get("/").body.as_deref(), Ok(&bodies[next][..]));
        // Let the clients run some requests on it before the next swap: 16 more
        // responses, at most 8 of which were in flight on the old one.
        let done = server.log().matches(" GET / 200 ").count();
        server.wait_for_lines(" GET / 200 ", done + 16);
    }
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client thread"))
        .collect();
    assert_eq!(
        failures,
        Vec::<String>::new(),
        "failed requests across reloads"
    );
    let total = seen[0].load(Ordering::Relaxed) + seen[1].load(Ordering::Relaxed) + RELOADS;
    assert!(seen[0].load(Ordering::Relaxed) > 0 && seen[1].load(Ordering::Relaxed) > 0);
    // Every response counted, and every reload.
    server.wait_for_lines(" completed", total);
    let metrics = server.metrics();
    let line = |series: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ').map(str::to_owned))
    };
    assert_eq!(
        line(r#"wasgi_requests_total{class="2xx",outcome="completed"}"#),
        Some(total.to_string()),
        "{metrics}"
    );
    assert_eq!(
        line(r#"wasgi_reloads_total{result="ok"}"#),
        Some(RELOADS.to_string())
    );
    assert_eq!(
        line(r#"wasgi_reloads_total{result="failed"}"#),
        Some("0".to_owned())
    );
    assert!(!server.log().contains(" failed"), "{}", server.log());
}

/// A response's status and whole body, or what went wrong.
fn seen_or_error(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<(u16, Vec<u8>), String> {
    let mut response = response.map_err(|e| e.to_string())?;
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.body_mut().as_reader(), &mut body)
        .map_err(|e| e.to_string())?;
    Ok((response.status().as_u16(), body))
}

/// The log line of the server's failed reload, once it is logged.
fn reload_failure(server: &Server) -> String {
    let log = server.wait_for_log("reload failed");
    log.lines()
        .find(|l| l.contains("reload failed"))
        .expect("the line")
        .to_owned()
}

#[test]
fn a_component_that_fails_to_load_leaves_the_old_one_serving() {
    let dir = scratch("reload-fails");
    let app = dir.join("app.wasm");
    deploy(&std::fs::read(HELLO).expect("hello"), &app);
    let server = Server::start(
        app.to_str().expect("utf-8"),
        &["--admin-addr", "127.0.0.1:0"],
    );
    deploy(b"not a component", &app);
    server.signal("HUP");
    let line = reload_failure(&server);
    assert!(
        line.ends_with(&format!(
            "reload failed, the previous component keeps serving: {:?} is not a WebAssembly component (it does not start with the \\0asm magic): build your app for wasm32-wasip2",
            app
        )),
        "{line}"
    );
    assert_eq!(server.get("/").body.as_deref(), Ok(HELLO_BODY));
    let metrics = server.metrics();
    assert!(
        metrics.contains("wasgi_reloads_total{result=\"failed\"} 1\n"),
        "{metrics}"
    );
    // The file repaired, the next reload takes it.
    deploy(&std::fs::read(STREAM).expect("stream"), &app);
    server.signal("HUP");
    server.wait_for_log("reloaded ");
    assert_eq!(server.get("/").body.as_deref(), Ok(&stream_body()[..]));
}

#[test]
fn a_server_without_time_checks_refuses_to_reload_a_cwasm_and_says_to_restart() {
    // `--timeout 0` on a component: an engine without time checks, which a .cwasm
    // (always compiled with them) cannot load.
    let dir = scratch("reload-cwasm-checks");
    let app = dir.join("app.wasm");
    deploy(&std::fs::read(HELLO).expect("hello"), &app);
    let cwasm = dir.join("hello.cwasm");
    let compiled = output(wasgi().arg("compile").arg(HELLO).arg("-o").arg(&cwasm));
    assert_eq!(code(&compiled), COMPLETED, "{}", stderr(&compiled));
    let server = Server::start(app.to_str().expect("utf-8"), &["--timeout", "0"]);
    deploy(&std::fs::read(&cwasm).expect("the .cwasm"), &app);
    server.signal("HUP");
    let line = reload_failure(&server);
    assert!(
        line.ends_with(&format!(
            "reload failed, the previous component keeps serving: {} is now a .cwasm, which has time checks compiled in, and this server was started on a component with --timeout 0, without them: restart the server to serve it",
            app.display()
        )),
        "{line}"
    );
    assert_eq!(server.get("/").body.as_deref(), Ok(HELLO_BODY));
}

#[test]
fn watch_reloads_when_the_file_changes() {
    let dir = scratch("reload-watch");
    let app = dir.join("app.wasm");
    deploy(&std::fs::read(HELLO).expect("hello"), &app);
    let server = Server::start(app.to_str().expect("utf-8"), &["--watch"]);
    assert_eq!(server.get("/").body.as_deref(), Ok(HELLO_BODY));
    deploy(&std::fs::read(STREAM).expect("stream"), &app);
    server.wait_for_log("(the file changed)");
    server.wait_for_log("reloaded ");
    assert_eq!(server.get("/").body.as_deref(), Ok(&stream_body()[..]));
}
