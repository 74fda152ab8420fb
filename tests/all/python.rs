//! Differential conformance: every Python guest, compiled with wasgi-py, against PEP
//! 3333's own CGI gateway (`run_with_cgi`, verbatim in tests/reference/run_with_cgi.py,
//! run by the system python3 on the app's source).
//!
//! Each request of the corpus runs three times: the Rust `environ` guest tells the
//! environ wasgi builds for it (CGI variables and flags, wsgiref's defaults filled in),
//! the reference runs the app with exactly that environ, and `wasgi run` runs the
//! compiled component. Stdout must be byte-identical, but for the deliberate
//! differences of docs/PYTHON.md, each encoded in [`differential`].

use std::process::{Command, Output, Stdio};

use crate::differential::{self, App, Request, get, run_wasgi};
use crate::guests::python as py;
use crate::util::*;

/// At least 30 requests: methods, paths with percent-encoded and raw non-ASCII bytes,
/// query strings, bodies read every way wsgi.input allows, repeated headers, empty
/// bodies, and the error paths of the exc-info guest.
fn corpus() -> Vec<Request> {
    let form = b"comment=hi+there&name=J%C3%B6rg&empty=";
    let lines = b"first line\nsecond line\n\nlast, no newline";
    let every_byte: Vec<u8> = (0..=255).collect();
    let large: Vec<u8> = (0..200_000u32)
        .map(|i| b"0123456789abcdef\n"[(i % 17) as usize])
        .collect();
    vec![
        get("defaults", "/"),
        get("query", "/?name=World"),
        get("percent-encoded utf-8 query", "/?name=caf%C3%A9&n=3"),
        get("repeated query keys", "/api/items/42?a=1&a=2&b=%E9"),
        get("head", "/").method("HEAD"),
        get("percent-encoded utf-8 path", "/caf%C3%A9"),
        get("percent-encoded non-utf-8 path", "/%FF%FE/x"),
        get("encoded space and slash", "/a%20b/c%2Fd"),
        get("raw non-ascii path bytes", "/").var("PATH_INFO", b"/J\xf6rg/\xe9t\xe9"),
        get("raw non-ascii query bytes", "/").var("QUERY_STRING", b"name=\xff\xfe&n=2"),
        get("repeated headers", "/")
            .header("X-Tag: one")
            .header("X-Tag: two"),
        get("non-ascii header value", "/").var("HTTP_X_NAME", b"J\xf6rg"),
        get("accept and user agent", "/api/items/7")
            .header("Accept: application/json")
            .header("User-Agent: wasgi-test/1.0"),
        get("cookie", "/visits").header("Cookie: visits=4"),
        get("repeated cookie headers", "/visits")
            .header("Cookie: theme=dark")
            .header("Cookie: visits=41"),
        get("not found", "/no/such/page"),
        get("form page", "/form"),
        get("post form", "/form")
            .method("POST")
            .header("Content-Type: application/x-www-form-urlencoded")
            .body(form),
        get("post form non-utf-8", "/form")
            .method("POST")
            .header("Content-Type: application/x-www-form-urlencoded")
            .body(b"x=%FF%FE&y=\xe9"),
        get("post lines read in blocks", "/?read=8192")
            .method("POST")
            .header("Content-Type: text/plain")
            .body(lines),
        get("post lines read in 3-byte blocks", "/?read=3")
            .method("POST")
            .body(lines),
        get("post read all", "/?read=all")
            .method("POST")
            .body(lines),
        get("post iterate lines", "/?read=lines")
            .method("POST")
            .body(lines),
        get("post readline", "/?read=readline")
            .method("POST")
            .body(lines),
        get("post readlines", "/?read=readlines")
            .method("POST")
            .body(lines),
        get("put every byte value", "/?read=all")
            .method("PUT")
            .header("Content-Type: application/octet-stream")
            .body(&every_byte),
        get("post large body", "/?read=10000")
            .method("POST")
            .body(&large),
        get("post empty body", "/form")
            .method("POST")
            .header("Content-Type: application/x-www-form-urlencoded")
            .body(b""),
        get("post without content length", "/?read=all")
            .method("POST")
            .var("CONTENT_TYPE", b"text/plain"),
        get("body longer than content length", "/?read=all")
            .method("POST")
            .body_with_length(b"hello, and more than that", b"5"),
        get("delete", "/api/items/3").method("DELETE"),
        get("options asterisk", "*").method("OPTIONS"),
        get("https on", "/api/items/1").var("HTTPS", b"on"),
        get("https yes", "/api/items/1").var("HTTPS", b"yes"),
        get("server variables", "/api/items/5")
            .var("SERVER_NAME", b"example.org")
            .var("SERVER_PORT", b"8080")
            .var("SERVER_PROTOCOL", b"HTTP/1.1")
            .var("HTTP_HOST", b"example.org:8080")
            .var("REMOTE_ADDR", b"192.0.2.1"),
        get("script name", "/form").var("SCRIPT_NAME", b"/app.cgi"),
        get("many chunks", "/?n=300"),
        get("no chunks", "/?n=0"),
        get("exc_info after the headers", "/after-headers"),
        get("exception before the headers", "/unhandled"),
    ]
}

/// Runs `app` over the whole corpus through both gateways and compares.
fn conforms(app: &str) {
    differential::conforms(&App::new(app), corpus());
}

#[test]
fn hello_prints_exact_cgi_bytes() {
    let out = run_wasgi(&python_guest(py::HELLO), &get("hello", "/"), &[]);
    expect(
        &out,
        b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nHello, World!\n",
        0,
        &[],
    );
}

#[test]
fn the_packaged_wit_is_the_contract() {
    let contract = std::fs::read(root().join("wit/gateway.wit")).expect("wit/gateway.wit");
    let packaged = root().join("guest-sdk/python/src/wasgi_py/wit/gateway.wit");
    assert_eq!(
        std::fs::read(&packaged).expect("the packaged copy"),
        contract,
        "{} differs from wit/gateway.wit: copy it over",
        packaged.display()
    );
}

#[test]
fn hello_conforms_to_run_with_cgi() {
    conforms(py::HELLO);
}

#[test]
fn environ_conforms_to_run_with_cgi() {
    conforms(py::ENVIRON);
}

#[test]
fn echo_conforms_to_run_with_cgi() {
    conforms(py::ECHO);
}

#[test]
fn stream_conforms_to_run_with_cgi() {
    conforms(py::STREAM);
}

#[test]
fn exc_info_conforms_to_run_with_cgi() {
    conforms(py::EXC_INFO);
}

#[test]
fn legacy_write_conforms_to_run_with_cgi() {
    conforms(py::LEGACY_WRITE);
}

#[test]
fn flask_app_conforms_to_run_with_cgi() {
    conforms(py::FLASK_APP);
}

#[test]
fn the_body_is_closed_after_it_is_exhausted() {
    let out = run_wasgi(&python_guest(py::STREAM), &get("three lines", "/?n=3"), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stream: closed after 3 of 3 lines"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_body_is_closed_after_a_failed_write() {
    // Close our end of stdout at once: a chunk soon fails to go out. The app's close()
    // still runs, and the exit code says the response was aborted.
    let mut child = wasgi()
        .env("WASGI_CACHE_DIR", target_dir().join("wasgi-cache"))
        .arg("run")
        .arg(python_guest(py::STREAM))
        .args(["--path", "/?n=10000000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = wait(child);
    let log = stderr(&out);
    assert!(log.contains("stream: closed after"), "{log}");
    assert!(!log.contains("closed after 10000000 of"), "{log}");
    assert_eq!(code(&out), 4, "{log}");
}

#[test]
fn an_escaped_exception_is_logged_never_sent() {
    let out = run_wasgi(
        &python_guest(py::EXC_INFO),
        &get("unhandled", "/unhandled"),
        &[],
    );
    expect(
        &out,
        GENERIC_500,
        3,
        &[
            "Traceback (most recent call last)",
            "Boom: unhandled before the headers",
        ],
    );
}

// ---- `wasgi-py build` refuses what cannot work, in one line, before compiling -------

/// The `wasgi-py` that guests/build.sh installed into target/py-venv.
fn wasgi_py(args: &[&str]) -> Output {
    python_guest(py::HELLO);
    let mut cmd = Command::new(target_dir().join("py-venv/bin/wasgi-py"));
    output(cmd.arg("build").args(args).stdin(Stdio::null()))
}

#[track_caller]
fn assert_build_error(out: &Output, says: &str) {
    let log = stderr(out);
    assert_eq!(code(out), 1, "{log}");
    assert_eq!(log.lines().count(), 1, "one line: {log}");
    assert!(log.starts_with("wasgi-py: error: "), "{log}");
    assert!(log.contains(says), "{says:?} not in: {log}");
}

#[test]
fn wasgi_py_build_names_a_spec_that_does_not_resolve() {
    let hello = root().join("guests/python/hello");
    let out = wasgi_py(&[
        "app:nope",
        "-p",
        hello.to_str().expect("utf-8"),
        "-o",
        "/dev/null",
    ]);
    assert_build_error(
        &out,
        "'app:nope' does not resolve: AttributeError: module 'app' has no attribute 'nope'",
    );
    let out = wasgi_py(&[
        "missing_module:app",
        "-p",
        hello.to_str().expect("utf-8"),
        "-o",
        "/dev/null",
    ]);
    assert_build_error(
        &out,
        "'missing_module:app' does not resolve: ModuleNotFoundError",
    );
}

#[test]
fn wasgi_py_build_refuses_a_spec_that_is_not_module_callable() {
    let out = wasgi_py(&["app", "-o", "/dev/null"]);
    assert_build_error(
        &out,
        "'app' is not module:callable (for example app:application)",
    );
}

#[test]
fn wasgi_py_build_names_a_native_extension_dependency() {
    let deps = scratch("python-native-deps");
    let so = "fastjson/_speedups.cpython-311-x86_64-linux-gnu.so";
    std::fs::create_dir_all(deps.join("fastjson")).expect("package dir");
    std::fs::create_dir_all(deps.join("fastjson-2.1.dist-info")).expect("dist-info");
    std::fs::write(deps.join(so), b"\x7fELF machine code").expect("so");
    std::fs::write(
        deps.join("fastjson-2.1.dist-info/RECORD"),
        format!("fastjson/__init__.py,,\n{so},,\n"),
    )
    .expect("RECORD");
    let hello = root().join("guests/python/hello");
    let out = wasgi_py(&[
        "app:application",
        "-p",
        hello.to_str().expect("utf-8"),
        "--deps",
        deps.to_str().expect("utf-8"),
        "-o",
        "/dev/null",
    ]);
    assert_build_error(&out, "fastjson 2.1 is a native extension");
    assert_build_error(&out, "it cannot run in wasm");
    std::fs::remove_dir_all(&deps).expect("clean up");
}

#[test]
fn wasgi_py_build_works_offline_once_installed() {
    // A network namespace of our own has no network at all: the Flask app and its
    // bundled dependencies must build from what is installed, and run.
    let dir = scratch("python-offline-build");
    let app = dir.join("flask-app.wasm");
    python_guest(py::FLASK_APP);
    let mut cmd = Command::new("unshare");
    cmd.arg("-n")
        .arg(target_dir().join("py-venv/bin/wasgi-py"))
        .args(["build", "app:application", "-p"])
        .arg(root().join("guests/python/flask-app"))
        .arg("--deps")
        .arg(target_dir().join("py-deps/flask-app"))
        .arg("-o")
        .arg(&app)
        .stdin(Stdio::null());
    let built = output_within(&mut cmd, BUILD_HANG);
    assert_eq!(code(&built), 0, "offline build failed: {}", stderr(&built));
    let cache = dir.join("cache");
    let ran = output(
        wasgi()
            .arg("run")
            .arg(&app)
            .arg("--cache-dir")
            .arg(&cache)
            .stdin(Stdio::null()),
    );
    expect(
        &ran,
        b"Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\n\r\nHello, World!\n",
        0,
        &[],
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

// ---- warm-up requests at build time (`wasgi-py build --warm-up`) ---------------------

/// The warm-up guest's answer to its `n`th request of one instance, at `path`.
fn answered(n: u32, path: &str) -> Vec<u8> {
    format!("request {n} of this instance: {path}\n").into_bytes()
}

#[test]
fn what_a_warm_up_request_leaves_every_fresh_instance_starts_with() {
    // Built with `--warm-up /` (its WARM_UP file): the build's request was the first.
    let app = python_guest(py::WARM_UP);
    let cache = target_dir().join("wasgi-cache");
    for path in ["/a", "/b"] {
        let out = output(
            wasgi()
                .arg("run")
                .arg(&app)
                .args(["--path", path])
                .env("WASGI_CACHE_DIR", &cache)
                .stdin(Stdio::null()),
        );
        let want = [
            b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n".as_slice(),
            &answered(2, path),
        ]
        .concat();
        expect(&out, &want, 0, &[]);
    }
    // Under `wasgi serve` each request is a fresh instance too; with `--reuse` one
    // instance goes on counting from where the warm-up left it.
    let app = app.to_str().expect("utf-8");
    let cache = cache.to_str().expect("utf-8");
    let fresh = Server::start(app, &["--max-concurrency", "1", "--cache-dir", cache]);
    for _ in 0..2 {
        assert_eq!(fresh.get("/f").body.expect("body"), answered(2, "/f"));
    }
    let reused = Server::start(
        app,
        &["--max-concurrency", "1", "--reuse", "--cache-dir", cache],
    );
    for n in 2..5 {
        assert_eq!(reused.get("/r").body.expect("body"), answered(n, "/r"));
    }
}

/// What the warm-up guest answers at `path` (`/immortal`, `/heap`), run fresh by
/// `wasgi run`.
fn snapshot_says(app: &std::path::Path, path: &str, cache: &std::path::Path) -> Output {
    output(
        wasgi()
            .arg("run")
            .arg(app)
            .args(["--path", path, "--cache-dir"])
            .arg(cache)
            .stdin(Stdio::null()),
    )
}

/// The bytes of each shared library of a component: its top-level core modules with a
/// `dylink.0` section (wasi-libc, libpython, componentize-py's runtime, ...).
fn shared_libraries(component: &[u8]) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        if let wasmparser::Payload::ModuleSection {
            unchecked_range, ..
        } = payload.expect("a component")
        {
            let module = &component[unchecked_range];
            let dylink = wasmparser::Parser::new(0).parse_all(module).any(|p| {
                matches!(p, Ok(wasmparser::Payload::CustomSection(c)) if c.name() == "dylink.0")
            });
            if dylink {
                found.push(module.to_vec());
            }
        }
    }
    found
}

#[test]
fn the_build_immortalizes_fills_and_optimizes_unless_told_not() {
    // The build makes every object alive at the end of pre-initialisation immortal (the
    // app's function here); what a request makes is not. It fills the snapshot's free
    // memory, so that what a request allocates lies past the snapshot's heap. It runs
    // wasm-opt over the interpreter's shared libraries. `--no-immortalize
    // --no-fill-heap --no-optimize` does none of it, and the app works the same.
    let head = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n".as_slice();
    let cache = target_dir().join("wasgi-cache");
    let built = python_guest(py::WARM_UP);
    expect(
        &snapshot_says(&built, "/immortal", &cache),
        &[head, b"snapshot: True, request: False\n"].concat(),
        0,
        &[],
    );
    // A request's objects come from past the snapshot's heap, but for the few that
    // fill a chunk the request itself freed there (a mortal object of the snapshot).
    let heap = snapshot_says(&built, "/heap", &cache);
    assert_eq!(code(&heap), 0, "log: {}", stderr(&heap));
    let prefix = [head, b"filled: True, "].concat();
    let below: usize = heap
        .stdout
        .strip_prefix(prefix.as_slice())
        .and_then(|rest| rest.strip_suffix(b" of 120 objects made below its top\n"))
        .and_then(|n| std::str::from_utf8(n).ok()?.parse().ok())
        .unwrap_or_else(|| panic!("/heap answered {:?}", String::from_utf8_lossy(&heap.stdout)));
    assert!(
        below <= 12,
        "{below} of 120 objects made on the snapshot's heap"
    );

    let dir = scratch("python-no-immortalize");
    let app = dir.join("warm-up.wasm");
    let mut cmd = Command::new(target_dir().join("py-venv/bin/wasgi-py"));
    cmd.arg("build")
        .stdin(Stdio::null())
        .args([
            "app:application",
            "--warm-up",
            "/",
            "--no-immortalize",
            "--no-fill-heap",
            "--no-optimize",
            "-p",
        ])
        .arg(root().join("guests/python/warm-up"))
        .arg("-o")
        .arg(&app);
    let out = output_within(&mut cmd, BUILD_HANG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    expect(
        &snapshot_says(&app, "/immortal", &dir.join("cache")),
        &[head, b"snapshot: False, request: False\n"].concat(),
        0,
        &[],
    );
    expect(
        &snapshot_says(&app, "/heap", &dir.join("cache")),
        &[head, b"filled: False\n"].concat(),
        0,
        &[],
    );
    let counted = output(
        wasgi()
            .arg("run")
            .arg(&app)
            .args(["--path", "/a", "--cache-dir"])
            .arg(dir.join("cache"))
            .stdin(Stdio::null()),
    );
    expect(&counted, &[head, &answered(2, "/a")].concat(), 0, &[]);

    // The same libraries, in the same places; the interpreter, the largest, made
    // smaller by wasm-opt -O3.
    let optimized = shared_libraries(&std::fs::read(&built).expect("the guest"));
    let shipped = shared_libraries(&std::fs::read(&app).expect("the build"));
    assert_eq!(optimized.len(), shipped.len());
    assert!(shipped.len() >= 3, "{} shared libraries", shipped.len());
    let largest = (0..shipped.len())
        .max_by_key(|&i| shipped[i].len())
        .expect("a library");
    let (before, after) = (shipped[largest].len(), optimized[largest].len());
    assert!(
        after * 20 < before * 19,
        "libpython: {before} bytes, optimized {after}"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn wasgi_py_build_without_wasm_opt_says_what_to_do() {
    // Checked before anything is built (or resolved, with -r): one line, naming the
    // package and the opt-out, and no component written.
    let hello = root().join("guests/python/hello");
    python_guest(py::HELLO);
    let dir = scratch("python-no-wasm-opt");
    let app = dir.join("hello.wasm");
    let mut cmd = Command::new(target_dir().join("py-venv/bin/wasgi-py"));
    cmd.arg("build")
        .args(["app:application", "-p"])
        .arg(&hello)
        .arg("-r")
        .arg(dir.join("no-such-requirements.txt"))
        .arg("-o")
        .arg(&app)
        .env("PATH", "/nonexistent")
        .stdin(Stdio::null());
    assert_build_error(
        &output(&mut cmd),
        "wasm-opt is not on PATH: install binaryen, e.g. apt-get install binaryen; \
         or build with --no-optimize",
    );
    assert!(!app.exists(), "a component was written");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn wasgi_py_build_refuses_a_warm_up_path_the_app_does_not_serve() {
    let hello = root().join("guests/python/flask-app");
    let out = wasgi_py(&[
        "app:application",
        "-p",
        hello.to_str().expect("utf-8"),
        "--warm-up",
        "nope",
        "-o",
        "/dev/null",
    ]);
    assert_build_error(&out, "--warm-up 'nope': a path on the app, starting with /");
    let dir = scratch("python-warm-up-404");
    let mut cmd = Command::new(target_dir().join("py-venv/bin/wasgi-py"));
    cmd.arg("build").stdin(Stdio::null()).args([
        "app:application",
        "-p",
        hello.to_str().expect("utf-8"),
        "--deps",
        target_dir()
            .join("py-deps/flask-app")
            .to_str()
            .expect("utf-8"),
        "--warm-up",
        "/no/such/page",
        "-o",
        dir.join("app.wasm").to_str().expect("utf-8"),
    ]);
    let out = output_within(&mut cmd, BUILD_HANG);
    let log = stderr(&out);
    assert_eq!(code(&out), 1, "{log}");
    assert!(
        log.contains("the warm-up request GET /no/such/page answered '404 NOT FOUND': warm up with a path the app serves"),
        "{log}"
    );
    assert!(!dir.join("app.wasm").exists(), "no component is written");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// A fresh CPython instance takes a while to tear down (its dirtied pages are reset in
/// place) after its response, and so its slot, is done. With more clients than slots,
/// the next requests instantiate meanwhile: they must wait for a torn-down instance
/// rather than find wasmtime's pool full (each would get a 500: 450 of 2,700 did, at
/// one slot and eight connections, before the server bounded instances in flight).
#[test]
fn teardowns_falling_behind_never_run_the_pool_out() {
    let app = python_guest(py::HELLO);
    let cache = target_dir().join("wasgi-cache");
    let server = Server::start(
        app.to_str().expect("utf-8"),
        &[
            "--max-concurrency",
            "1",
            "--cache-dir",
            cache.to_str().expect("utf-8"),
        ],
    );
    let url = server.url("/");
    let failures: Vec<String> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let agent = agent();
                    (0..40)
                        .map(|_| seen(agent.get(&url).call()))
                        .filter(|r| {
                            r.status != 200 || r.body.as_deref() != Ok(&b"Hello, World!\n"[..])
                        })
                        .map(|r| match r.body {
                            Ok(body) => format!("{} {}", r.status, String::from_utf8_lossy(&body)),
                            Err(e) => format!("{} {e}", r.status),
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().expect("client thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert!(
        !server.log().contains("concurrent limit"),
        "{}",
        server.log()
    );
}
