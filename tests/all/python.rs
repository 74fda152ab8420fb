//! Differential conformance: every Python guest, compiled with wasgi-py, against PEP
//! 3333's own CGI gateway (`run_with_cgi`, verbatim in tests/reference/run_with_cgi.py,
//! run by the system python3 on the app's source).
//!
//! Each request of the corpus runs three times: the Rust `environ` guest tells the
//! environ wasgi builds for it (CGI variables and flags, wsgiref's defaults filled in),
//! the reference runs the app with exactly that environ, and `wasgi run` runs the
//! compiled component. Stdout must be byte-identical, but for the deliberate
//! differences of docs/PYTHON.md, each encoded in [`expected_from_wasgi`] and
//! [`reference_body`].

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::guests::{ENVIRON, python as py};
use crate::util::*;

/// One request, as flags and CGI variables for `wasgi run` and a body on stdin.
struct Request {
    label: &'static str,
    args: Vec<String>,
    vars: Vec<(&'static str, Vec<u8>)>,
    stdin: Vec<u8>,
}

fn request(label: &'static str, path: &str) -> Request {
    Request {
        label,
        args: vec!["--path".into(), path.into()],
        vars: Vec::new(),
        stdin: Vec::new(),
    }
}

impl Request {
    fn method(mut self, method: &str) -> Self {
        self.args.extend(["--method".into(), method.into()]);
        self
    }

    fn header(mut self, header: &str) -> Self {
        self.args.extend(["--header".into(), header.into()]);
        self
    }

    fn var(mut self, name: &'static str, value: &[u8]) -> Self {
        self.vars.push((name, value.to_vec()));
        self
    }

    /// A body on stdin with its CONTENT_LENGTH, as a web server gives a CGI program.
    fn body(self, body: &[u8]) -> Self {
        let len = body.len().to_string();
        self.body_with_length(body, len.as_bytes())
    }

    fn body_with_length(mut self, body: &[u8], content_length: &[u8]) -> Self {
        self.stdin = body.to_vec();
        self.var("CONTENT_LENGTH", content_length)
    }
}

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
        request("defaults", "/"),
        request("query", "/?name=World"),
        request("percent-encoded utf-8 query", "/?name=caf%C3%A9&n=3"),
        request("repeated query keys", "/api/items/42?a=1&a=2&b=%E9"),
        request("head", "/").method("HEAD"),
        request("percent-encoded utf-8 path", "/caf%C3%A9"),
        request("percent-encoded non-utf-8 path", "/%FF%FE/x"),
        request("encoded space and slash", "/a%20b/c%2Fd"),
        request("raw non-ascii path bytes", "/").var("PATH_INFO", b"/J\xf6rg/\xe9t\xe9"),
        request("raw non-ascii query bytes", "/").var("QUERY_STRING", b"name=\xff\xfe&n=2"),
        request("repeated headers", "/")
            .header("X-Tag: one")
            .header("X-Tag: two"),
        request("non-ascii header value", "/").var("HTTP_X_NAME", b"J\xf6rg"),
        request("accept and user agent", "/api/items/7")
            .header("Accept: application/json")
            .header("User-Agent: wasgi-test/1.0"),
        request("cookie", "/visits").header("Cookie: visits=4"),
        request("repeated cookie headers", "/visits")
            .header("Cookie: theme=dark")
            .header("Cookie: visits=41"),
        request("not found", "/no/such/page"),
        request("form page", "/form"),
        request("post form", "/form")
            .method("POST")
            .header("Content-Type: application/x-www-form-urlencoded")
            .body(form),
        request("post form non-utf-8", "/form")
            .method("POST")
            .header("Content-Type: application/x-www-form-urlencoded")
            .body(b"x=%FF%FE&y=\xe9"),
        request("post lines read in blocks", "/?read=8192")
            .method("POST")
            .header("Content-Type: text/plain")
            .body(lines),
        request("post lines read in 3-byte blocks", "/?read=3")
            .method("POST")
            .body(lines),
        request("post read all", "/?read=all")
            .method("POST")
            .body(lines),
        request("post iterate lines", "/?read=lines")
            .method("POST")
            .body(lines),
        request("post readline", "/?read=readline")
            .method("POST")
            .body(lines),
        request("post readlines", "/?read=readlines")
            .method("POST")
            .body(lines),
        request("put every byte value", "/?read=all")
            .method("PUT")
            .header("Content-Type: application/octet-stream")
            .body(&every_byte),
        request("post large body", "/?read=10000")
            .method("POST")
            .body(&large),
        request("post empty body", "/form")
            .method("POST")
            .header("Content-Type: application/x-www-form-urlencoded")
            .body(b""),
        request("post without content length", "/?read=all")
            .method("POST")
            .var("CONTENT_TYPE", b"text/plain"),
        request("body longer than content length", "/?read=all")
            .method("POST")
            .body_with_length(b"hello, and more than that", b"5"),
        request("delete", "/api/items/3").method("DELETE"),
        request("options asterisk", "*").method("OPTIONS"),
        request("https on", "/api/items/1").var("HTTPS", b"on"),
        request("https yes", "/api/items/1").var("HTTPS", b"yes"),
        request("server variables", "/api/items/5")
            .var("SERVER_NAME", b"example.org")
            .var("SERVER_PORT", b"8080")
            .var("SERVER_PROTOCOL", b"HTTP/1.1")
            .var("HTTP_HOST", b"example.org:8080")
            .var("REMOTE_ADDR", b"192.0.2.1"),
        request("script name", "/form").var("SCRIPT_NAME", b"/app.cgi"),
        request("many chunks", "/?n=300"),
        request("no chunks", "/?n=0"),
        request("exc_info after the headers", "/after-headers"),
        request("exception before the headers", "/unhandled"),
    ]
}

/// Deliberate difference (docs/PYTHON.md): the PEP's example hands the app the raw
/// stdin, unbounded, while wasgi's wsgi.input ends at CONTENT_LENGTH (and is empty
/// without it). The reference gets what a web server would pipe to a CGI program:
/// exactly CONTENT_LENGTH bytes.
fn reference_body(request: &Request) -> &[u8] {
    let length = request
        .vars
        .iter()
        .find(|(name, _)| *name == "CONTENT_LENGTH")
        .map(|(_, v)| {
            std::str::from_utf8(v)
                .expect("ascii")
                .parse()
                .expect("a number")
        })
        .unwrap_or(0usize);
    &request.stdin[..length.min(request.stdin.len())]
}

/// What `wasgi run` must print and its exit code, given the reference's run. The
/// deliberate differences (docs/PYTHON.md):
/// - an exception escaping the app kills the PEP's example (exit 1, a traceback on
///   stderr). wasgi sends its generic 500 if nothing was sent (exit 3), else stops the
///   response where the reference stopped (exit 4);
/// - `HTTPS=yes` is https to wasgi (wsgiref's `guess_scheme`), http to the PEP's
///   example, which knows only `on` and `1`.
fn expected_from_wasgi(request: &Request, reference: &Output) -> (Vec<u8>, i32) {
    let mut stdout = reference.stdout.clone();
    if request
        .vars
        .iter()
        .any(|(n, v)| *n == "HTTPS" && v == b"yes")
    {
        stdout = replace(
            &stdout,
            br#""wsgi.url_scheme": "http""#,
            br#""wsgi.url_scheme": "https""#,
        );
    }
    match (code(reference), stdout.is_empty()) {
        (0, _) => (stdout, 0),
        (1, true) => (GENERIC_500.to_vec(), 3),
        (1, false) => (stdout, 4),
        (other, _) => panic!(
            "the reference exited {other}: {}",
            String::from_utf8_lossy(&reference.stderr)
        ),
    }
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    match haystack.windows(from.len()).position(|w| w == from) {
        Some(at) => [&haystack[..at], to, &haystack[at + from.len()..]].concat(),
        None => haystack.to_vec(),
    }
}

/// Runs `app` over the whole corpus through both gateways and compares.
fn conforms(app: &str) {
    let component = python_guest(app);
    let mut failures = Vec::new();
    for request in corpus() {
        let variables = environ_variables(&request);
        let reference = run_reference(app, &variables, reference_body(&request));
        let (want, want_code) = expected_from_wasgi(&request, &reference);
        let got = run_wasgi(&component, &request);
        if got.stdout != want || code(&got) != want_code {
            failures.push(format!(
                "{}: want exit {want_code} and\n{:?}\ngot exit {} and\n{:?}\nwasgi log: {}",
                request.label,
                String::from_utf8_lossy(&want),
                code(&got),
                String::from_utf8_lossy(&got.stdout),
                stderr(&got),
            ));
        }
    }
    assert!(failures.is_empty(), "{app}:\n{}", failures.join("\n\n"));
}

/// The CGI variables wasgi builds for `request`, as the Rust environ guest prints them
/// (a JSON object, one code point per byte).
fn environ_variables(request: &Request) -> String {
    let mut cmd = wasgi();
    cmd.arg("run").arg(ENVIRON).args(&request.args);
    for (name, value) in &request.vars {
        cmd.env(name, os_bytes(value));
    }
    let json = environ_json(&output(cmd.stdin(Stdio::null())));
    json["variables"].to_string()
}

fn run_reference(app: &str, variables: &str, body: &[u8]) -> Output {
    let mut cmd = Command::new(python3());
    cmd.env_clear()
        .args(["-I", "-S"])
        .arg(root().join("tests/reference/run_with_cgi.py"))
        .arg(variables)
        .arg("app:application")
        .arg(root().join("guests/python").join(app));
    let deps = target_dir().join("py-deps").join(app);
    if deps.is_dir() {
        cmd.arg(deps);
    }
    output_with_input(&mut cmd, body, Then::Close)
}

fn run_wasgi(component: &Path, request: &Request) -> Output {
    let mut cmd = wasgi();
    cmd.env("WASGI_CACHE_DIR", target_dir().join("wasgi-cache"))
        .arg("run")
        .arg(component)
        .args(&request.args);
    for (name, value) in &request.vars {
        cmd.env(name, os_bytes(value));
    }
    output_with_input(&mut cmd, &request.stdin, Then::Close)
}

/// The system python3's real executable (resolved once, so no wrapper such as a pyenv
/// shim adds variables to the reference's environment).
fn python3() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 is needed for the reference gateway");
        assert!(out.status.success(), "python3 failed: {out:?}");
        PathBuf::from(String::from_utf8(out.stdout).expect("a path").trim())
    })
}

#[test]
fn hello_prints_exact_cgi_bytes() {
    let out = run_wasgi(&python_guest(py::HELLO), &request("hello", "/"));
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
    let out = run_wasgi(&python_guest(py::STREAM), &request("three lines", "/?n=3"));
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
        &request("unhandled", "/unhandled"),
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
    let built = output(&mut cmd);
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
