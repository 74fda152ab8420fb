//! Differential runs of Python guests: PEP 3333's own CGI gateway (`run_with_cgi`,
//! verbatim in tests/reference/run_with_cgi.py, run by the system python3 on the app's
//! source and its resolved dependencies) against `wasgi run` on the compiled component.
//!
//! The approach of python.rs, for apps with their own files and dependencies: the Rust
//! `environ` guest tells the environ wasgi builds for a request, the reference runs the
//! app with exactly that environ as its whole process environment, and stdout must be
//! byte-identical but for the deliberate differences of docs/PYTHON.md, encoded in
//! [`expected_from_wasgi`] and [`reference_body`].

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::util::*;

/// One request, as flags and CGI variables for `wasgi run` and a body on stdin.
pub struct Request {
    /// What the request checks, for failure messages.
    pub label: &'static str,
    /// Flags of `wasgi run`.
    pub args: Vec<String>,
    /// CGI variables set on both gateways, raw bytes.
    pub vars: Vec<(&'static str, Vec<u8>)>,
    /// The request body, on stdin.
    pub stdin: Vec<u8>,
}

/// `GET path`.
pub fn get(label: &'static str, path: &str) -> Request {
    Request {
        label,
        args: vec!["--path".into(), path.into()],
        vars: Vec::new(),
        stdin: Vec::new(),
    }
}

impl Request {
    /// The method.
    pub fn method(mut self, method: &str) -> Self {
        self.args.extend(["--method".into(), method.into()]);
        self
    }

    /// A request header, `Name: value`.
    pub fn header(mut self, header: &str) -> Self {
        self.args.extend(["--header".into(), header.into()]);
        self
    }

    /// A CGI variable, raw.
    pub fn var(mut self, name: &'static str, value: &[u8]) -> Self {
        self.vars.push((name, value.to_vec()));
        self
    }

    /// A body on stdin with its CONTENT_LENGTH, as a web server gives a CGI program.
    pub fn body(self, body: &[u8]) -> Self {
        let length = body.len().to_string();
        self.body_with_length(body, length.as_bytes())
    }

    /// A body on stdin with the CONTENT_LENGTH given (which may lie).
    pub fn body_with_length(mut self, body: &[u8], content_length: &[u8]) -> Self {
        self.stdin = body.to_vec();
        self.var("CONTENT_LENGTH", content_length)
    }

    /// A form POST (`application/x-www-form-urlencoded`).
    pub fn form(self, body: &[u8]) -> Self {
        self.method("POST")
            .header("Content-Type: application/x-www-form-urlencoded")
            .body(body)
    }
}

/// An app to compare: its guest name and what its reference run needs.
pub struct App<'a> {
    /// `guests/python/<name>`.
    pub name: &'a str,
    /// Extra flags for `wasgi run` (grants).
    pub wasgi_args: Vec<String>,
    /// Extra variables of the reference process (read while the app is imported).
    pub reference_env: Vec<(String, PathBuf)>,
    /// Applied to both outputs before they are compared: for bytes that are random
    /// by design (a CSRF token), never for a behaviour.
    pub normalize: fn(Vec<u8>) -> Vec<u8>,
}

impl<'a> App<'a> {
    /// The guest `name` with nothing extra.
    pub fn new(name: &'a str) -> Self {
        Self {
            name,
            wasgi_args: Vec::new(),
            reference_env: Vec::new(),
            normalize: |bytes| bytes,
        }
    }
}

/// Runs `app` over `corpus` through both gateways, in order (a corpus may change
/// state, a database, as it goes), and fails with every difference.
pub fn conforms(app: &App, corpus: Vec<Request>) {
    let component = python_guest(app.name);
    let mut failures = Vec::new();
    for request in &corpus {
        let variables = environ_variables(request);
        let reference = run_reference(app, &variables, reference_body(request));
        let (want, want_code) = expected_from_wasgi(request, &reference);
        let got = run_wasgi(&component, request, &app.wasgi_args);
        let (want, got_stdout) = ((app.normalize)(want), (app.normalize)(got.stdout.clone()));
        if got_stdout != want || code(&got) != want_code {
            failures.push(format!(
                "{}: want exit {want_code} and\n{:?}\ngot exit {} and\n{:?}\nwasgi log: {}\nreference log: {}",
                request.label,
                String::from_utf8_lossy(&want),
                code(&got),
                String::from_utf8_lossy(&got_stdout),
                stderr(&got),
                String::from_utf8_lossy(&reference.stderr),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}: {} of {} requests differ:\n{}",
        app.name,
        failures.len(),
        corpus.len(),
        failures.join("\n\n")
    );
}

/// Deliberate difference (docs/PYTHON.md): the reference gets exactly CONTENT_LENGTH
/// bytes on stdin, as a web server pipes to a CGI program.
pub fn reference_body(request: &Request) -> &[u8] {
    let length = request
        .vars
        .iter()
        .find(|(name, _)| *name == "CONTENT_LENGTH")
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0usize);
    &request.stdin[..length.min(request.stdin.len())]
}

/// What `wasgi run` must print and its exit code, given the reference's run. The
/// deliberate differences (docs/PYTHON.md):
/// - an exception escaping the app kills the PEP's example (exit 1, a traceback on
///   stderr). wasgi sends its generic 500 if nothing was sent (exit 3), else stops the
///   response where the reference stopped (exit 4);
/// - `HTTPS=yes` is https to wasgi (wsgiref's `guess_scheme`), http to the PEP's
///   example, which knows only `on` and `1` (as the environ guest shows it).
pub fn expected_from_wasgi(request: &Request, reference: &Output) -> (Vec<u8>, i32) {
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

/// The CGI variables wasgi builds for `request`, as the Rust environ guest prints them
/// (a JSON object, one code point per byte).
pub fn environ_variables(request: &Request) -> String {
    let mut cmd = wasgi();
    cmd.arg("run")
        .arg(crate::guests::ENVIRON)
        .args(&request.args);
    for (name, value) in &request.vars {
        cmd.env(name, os_bytes(value));
    }
    let json = environ_json(&output(cmd.stdin(Stdio::null())));
    json["variables"].to_string()
}

/// The `module:callable` of a Python guest: its SPEC file, else `app:application`.
pub fn spec(name: &str) -> String {
    std::fs::read_to_string(root().join("guests/python").join(name).join("SPEC"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "app:application".to_owned())
}

/// The dependencies `guests/build.sh` resolved for guest `name`.
pub fn deps_dir(name: &str) -> PathBuf {
    target_dir().join("py-deps").join(name)
}

fn run_reference(app: &App, variables: &str, body: &[u8]) -> Output {
    let mut cmd = Command::new(python3());
    cmd.env_clear()
        .args(["-I", "-S"])
        .arg(root().join("tests/reference/run_with_cgi.py"))
        .arg(variables)
        .arg(spec(app.name))
        .arg(root().join("guests/python").join(app.name));
    for (name, value) in &app.reference_env {
        cmd.env(name, value);
    }
    let deps = deps_dir(app.name);
    if deps.is_dir() {
        cmd.arg(deps);
    }
    output_with_input(&mut cmd, body, Then::Close)
}

/// `wasgi run COMPONENT` for `request`, with `extra` flags.
pub fn run_wasgi(component: &Path, request: &Request, extra: &[String]) -> Output {
    let mut cmd = wasgi();
    cmd.env("WASGI_CACHE_DIR", target_dir().join("wasgi-cache"))
        .arg("run")
        .arg(component)
        .args(extra)
        .args(&request.args);
    for (name, value) in &request.vars {
        cmd.env(name, os_bytes(value));
    }
    output_with_input(&mut cmd, &request.stdin, Then::Close)
}

/// The system python3's real executable (resolved once, so no wrapper such as a pyenv
/// shim adds variables to the reference's environment).
pub fn python3() -> &'static Path {
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

/// `haystack` with the first `from` replaced by `to`.
fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    match haystack.windows(from.len()).position(|w| w == from) {
        Some(at) => [&haystack[..at], to, &haystack[at + from.len()..]].concat(),
        None => haystack.to_vec(),
    }
}
