//! Helpers for the integration tests, all of them: the real `wasgi` binary and its
//! exit codes, the Python guests (built on first use), commands run to their end,
//! `wasgi serve` servers (server.rs), an HTTP client, and waits that end with a clear failure
//! instead of hanging (nothing here sleeps to wait for a server).

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

pub use crate::server::Server;

/// How long any one wait may take before the test fails. Generous: a wait that
/// reaches it means something hangs, not that something is slow.
pub const HANG: Duration = Duration::from_secs(60);

/// `wasgi run` completed the response.
pub const COMPLETED: i32 = 0;
/// The host itself failed.
pub const HOST: i32 = 1;
/// The application failed before its headers went out (the generic 500 was sent).
pub const APP_FAILED: i32 = 3;
/// The response was aborted after its headers went out.
pub const ABORTED: i32 = 4;
/// The file (app or `--body`) cannot be read.
pub const UNREADABLE: i32 = 10;
/// The file is not a WebAssembly component.
pub const NOT_A_COMPONENT: i32 = 11;
/// The component does not implement the wasgi world.
pub const NOT_AN_APP: i32 = 12;

// Small wasm files that are not wasgi apps, each the binary of the WAT text in its doc
// (as `wat::parse_str` writes it).

/// `(module)`: a core module, not a component.
pub const CORE_MODULE: &[u8] = b"\0asm\x01\0\0\0";
/// `(component)`: a component that exports nothing.
pub const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";
/// `(component (core module))`: a valid component, for cutting short.
pub const COMPONENT_WITH_A_CORE_MODULE: &[u8] = b"\0asm\x0d\0\x01\0\x01\x08\0asm\x01\0\0\0";
/// `(component (import "acme:db/query@1.0.0" (instance (export "run" (func)))))`: a
/// component that imports an interface wasgi does not provide.
pub const IMPORTS_ACME_DB: &[u8] =
    b"\0asm\x0d\0\x01\0\x07\x10\x01\x42\x02\x01\x40\0\x01\0\x04\0\x03run\x01\0\
    \x0a\x18\x01\0\x13acme:db/query@1.0.0\x05\0";

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_owned()
}

/// The target directory (where the guests and the caches go).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The compiled Python guest `guests/python/<name>` (a constant of
/// `crate::guests::python`), built (with the others, by `guests/build.sh python`, which
/// also sets up the venv it needs) the first time a test asks for one.
pub fn python_guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("bash")
            .arg(root().join("guests/build.sh"))
            .arg("python")
            .status()
            .expect("failed to run guests/build.sh python");
        assert!(status.success(), "guests/build.sh python failed: {status}");
        warm_the_compile_cache();
    });
    let path = target_dir()
        .join("guests/python")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "no Python guest {name:?} at {}",
        path.display()
    );
    path
}

/// Compiles every Python guest into the tests' compile cache, one at a time and with
/// no deadline: a first compile of a ~19 MB component takes seconds on a quiet
/// machine and a minute on a loaded one, and tests that start several at once would
/// each compile it under their [`HANG`] deadline. Every later run is a cached one.
fn warm_the_compile_cache() {
    let dir = target_dir().join("guests/python");
    let guests = std::fs::read_dir(&dir).expect("the Python guests' directory");
    for guest in guests.flatten().map(|entry| entry.path()) {
        if guest.extension().is_some_and(|e| e == "wasm") {
            // The run's own outcome is the tests' business; only the compile matters.
            let _ = wasgi()
                .arg("run")
                .arg(&guest)
                .env("WASGI_CACHE_DIR", target_dir().join("wasgi-cache"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("failed to start wasgi");
        }
    }
}

/// `wasgi run APP ARGS...` with an empty environment (plus `vars`), stdin closed.
pub fn wasgi_run(app: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = wasgi();
    cmd.arg("run").arg(app).args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    output(cmd.stdin(Stdio::null()))
}

/// Starts `wasgi run APP ARGS...` with stdin, stdout and stderr piped, for a test that
/// talks to it while it runs.
pub fn spawn_run(app: impl AsRef<OsStr>, args: &[&str]) -> Child {
    wasgi()
        .arg("run")
        .arg(app)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start wasgi run")
}

/// Asserts that the run logged `needle` on stderr.
#[track_caller]
pub fn assert_logged(out: &Output, needle: &str) {
    let log = stderr(out);
    assert!(log.contains(needle), "{needle:?} not in the log: {log}");
}

/// Asserts that wasgi refused to start with a one-line error: exit `code_want`,
/// nothing on stdout, `wasgi: error: ` and `says` on the one line of stderr.
#[track_caller]
pub fn assert_one_line_error(out: &Output, code_want: i32, says: &str) {
    let log = stderr(out);
    assert_eq!(code(out), code_want, "{log}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    assert_eq!(log.lines().count(), 1, "one line: {log}");
    assert!(log.starts_with("wasgi: error: "), "{log}");
    assert!(log.contains(says), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// A fresh, empty directory for one test, `target/test-scratch/NAME` (each test its
/// own name), that the web servers' unprivileged users can read too.
pub fn scratch(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = target_dir().join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// The real binary, with nothing of the test's environment: the CGI variables a test
/// wants are set explicitly.
pub fn wasgi() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasgi"));
    cmd.env_clear();
    cmd
}

/// Runs `cmd` to its end and returns what it printed; fails the test if it hangs.
pub fn output(cmd: &mut Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start wasgi");
    wait(child)
}

/// What happens to the stdin of [`output_with_input`]'s command after its input.
pub enum Then {
    /// Closed: the input ends there, as a web server's pipe to a CGI program does.
    Close,
    /// Left open until the command ends, as a silent client's: a read past the input
    /// would hang (and fail the test at its deadline).
    StayOpen,
}

/// Runs `cmd` to its end with `input` on its stdin, then closes it or leaves it open
/// (`then`); what it printed. The input is written as the command runs: it may stop
/// reading early (a broken pipe is not an error when the input is then closed).
pub fn output_with_input(cmd: &mut Command, input: &[u8], then: Then) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let written = stdin.write_all(&input);
        match then {
            Then::Close => None,
            Then::StayOpen => {
                written.expect("write the input");
                Some(stdin)
            }
        }
    });
    let out = wait(child);
    drop(feeder.join().expect("the stdin writer"));
    out
}

/// How long a component build (`wasgi-py build`: two componentize-py runs) may take
/// before the test fails: minutes on a loaded machine.
pub const BUILD_HANG: Duration = Duration::from_secs(900);

/// [`output`], for a command that may take up to `limit` (a component build).
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start");
    wait_within(child, limit)
}

/// Waits for a started child, failing the test (and killing the child) if it hangs.
pub fn wait(child: Child) -> Output {
    wait_within(child, HANG)
}

/// [`wait`], with `limit` instead of [`HANG`].
fn wait_within(child: Child, limit: Duration) -> Output {
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("failed to wait for wasgi"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            panic!("wasgi did not finish within {limit:?}");
        }
    }
}

/// Reads from `from` until `want` has arrived whole (what arrived is returned), failing
/// the test if it does not arrive in time.
pub fn read_until(from: &mut (impl Read + Send + 'static), want: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    while !got.windows(want.len()).any(|w| w == want) {
        let mut buf = [0; 4096];
        let n = with_deadline(|| from.read(&mut buf)).expect("read failed");
        assert!(
            n > 0,
            "stream ended before {:?}; got {:?}",
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Runs a blocking call, failing the test if it takes longer than [`HANG`].
fn with_deadline<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        s.spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(HANG)
            .unwrap_or_else(|_| panic!("nothing arrived within {HANG:?}"))
    })
}

/// The exit code, which must exist (no signal death).
pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("wasgi died from a signal: {:?}", out.status))
}

/// stderr as text, for asserting on log lines.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a whole run: stdout byte for byte, the exit code, and lines in the log.
#[track_caller]
pub fn expect(out: &Output, stdout: &[u8], exit: i32, logs: &[&str]) {
    let log = stderr(out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(stdout),
        "stdout; log: {log}"
    );
    assert_eq!(out.stdout, stdout, "stdout bytes");
    assert_eq!(code(out), exit, "exit code; log: {log}");
    for want in logs {
        assert!(log.contains(want), "{want:?} not in the log: {log}");
    }
}

/// The body of a CGI response (after the blank line).
pub fn body(stdout: &[u8]) -> &[u8] {
    let at = stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(stdout)));
    &stdout[at + 4..]
}

/// Parses the environ guest's JSON answer.
pub fn environ_json(out: &Output) -> serde_json::Value {
    assert_eq!(code(out), 0, "{}", stderr(out));
    serde_json::from_slice(body(&out.stdout)).expect("environ guest answers JSON")
}

/// The raw bytes of one environ variable as the environ guest shows it (one code point
/// per byte, PEP 3333's latin-1 convention).
pub fn variable(json: &serde_json::Value, name: &str) -> Option<Vec<u8>> {
    let text = json["variables"].get(name)?.as_str()?;
    Some(
        text.chars()
            .map(|c| u8::try_from(u32::from(c)).expect("one byte per code point"))
            .collect(),
    )
}

/// An OS string from raw bytes (for variables that are not UTF-8).
pub fn os_bytes(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes.to_vec())
}

/// Fails the test unless `got` is exactly `want` (shown as text, to read the diff).
#[track_caller]
pub fn assert_bytes(got: &[u8], want: &[u8]) {
    assert_eq!(
        String::from_utf8_lossy(got),
        String::from_utf8_lossy(want),
        "response bytes"
    );
}

/// A real HTTP client that hands back every status (no status is an error).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A response as the client saw it: status, headers in order (without `date`, which
/// changes every second), and the body, or the error that cut it short.
pub struct Seen {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The whole body, or why reading it failed.
    pub body: Result<Vec<u8>, String>,
}

impl Seen {
    /// The values of header `name` (lower case), in order.
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The whole body of a 200, as text.
    pub fn text(&self) -> String {
        assert_eq!(self.status, 200, "{:?}", self.body);
        String::from_utf8(self.body.clone().expect("a whole body")).expect("text")
    }

    /// The body as JSON, from a 200.
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.status, 200, "{:?}", self.body);
        serde_json::from_slice(self.body.as_ref().expect("a whole body")).expect("JSON")
    }
}

/// `GET url`, the response as seen.
pub fn get(url: &str) -> Seen {
    seen(agent().get(url).call())
}

/// `POST url` with `body`, the response as seen.
pub fn post(url: &str, body: &[u8]) -> Seen {
    seen(agent().post(url).send(body))
}

/// Reads a whole response.
pub fn seen(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Seen {
    let mut response = response.expect("request failed");
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let read = response.body_mut().as_reader().read_to_end(&mut body);
    Seen {
        status: response.status().as_u16(),
        headers,
        body: read.map(|_| body).map_err(|e| e.to_string()),
    }
}

/// The body of the generic 500 (docs/GATEWAY.md section 6).
macro_rules! generic_500_body {
    () => {
        "A server error occurred.  Please contact the administrator."
    };
}

/// The body of the generic 500, byte for byte.
pub const GENERIC_500_BODY: &[u8] = generic_500_body!().as_bytes();

/// The generic 500 of docs/GATEWAY.md section 6 from `wasgi run`, byte for byte.
pub const GENERIC_500: &[u8] = concat!(
    "Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\n",
    generic_500_body!()
)
.as_bytes();

/// `raw` without its `date:` header lines.
pub fn without_date(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = &rest[..at + 2];
        if !line.to_ascii_lowercase().starts_with(b"date: ") {
            out.extend_from_slice(line);
        }
        rest = &rest[at + 2..];
    }
    out.extend_from_slice(rest);
    out
}
