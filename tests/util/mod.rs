//! Helpers for the integration tests: the real `wasgi` binary, the real guests (built
//! once per test run by guests/build.sh), and waits that end with a clear failure
//! instead of hanging.
//!
//! Each test binary uses its own part of these helpers.
#![allow(dead_code)]

pub mod differential;

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// How long any one wait may take before the test fails. Generous: a wait that
/// reaches it means something hangs, not that something is slow.
pub const HANG: Duration = Duration::from_secs(60);

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

/// The compiled guest `guests/rust/<name>`, built (with every other Rust guest) the
/// first time any test asks for one.
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("bash")
            .arg(root().join("guests/build.sh"))
            .arg("rust")
            .status()
            .expect("failed to run guests/build.sh");
        assert!(status.success(), "guests/build.sh failed: {status}");
    });
    let path = target_dir()
        .join("guests/rust")
        .join(format!("{name}.wasm"));
    assert!(path.exists(), "no guest {name:?} at {}", path.display());
    path
}

/// `wasgi run GUEST ARGS...` with an empty environment (plus `vars`), stdin closed.
pub fn wasgi_run(name: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = wasgi();
    cmd.arg("run").arg(guest(name)).args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    output(cmd.stdin(Stdio::null()))
}

/// Starts `wasgi run APP ARGS...` with stdin, stdout and stderr piped, for a test that
/// talks to it while it runs.
pub fn spawn_run(app: &Path, args: &[&str]) -> Child {
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

/// A fresh, empty directory for one test: `name` and the test process's id keep
/// tests and concurrent test runs apart.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasgi-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
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

/// Waits for a started child, failing the test (and killing the child) if it hangs.
pub fn wait(child: Child) -> Output {
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(HANG) {
        Ok(out) => out.expect("failed to wait for wasgi"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            panic!("wasgi did not finish within {HANG:?}");
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

/// A running `wasgi serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    log: std::sync::Arc<(std::sync::Mutex<String>, std::sync::Condvar)>,
}

impl Server {
    /// Starts `wasgi serve GUEST --addr 127.0.0.1:0 ARGS...` and waits for its
    /// `listening on` line (never sleeps).
    pub fn start(name: &str, args: &[&str]) -> Self {
        let mut cmd = wasgi();
        cmd.arg("serve")
            .arg(guest(name))
            .args(["--addr", "127.0.0.1:0"])
            .args(args);
        Self::spawn(cmd)
    }

    /// Starts `cmd`, a `wasgi serve` command line, and waits for its `listening on`
    /// line (never sleeps).
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start wasgi serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new((
            std::sync::Mutex::new(String::new()),
            std::sync::Condvar::new(),
        ));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.to_owned());
                }
                let (text, changed) = &*sink;
                let mut text = text.lock().expect("log lock");
                text.push_str(&line);
                text.push('\n');
                changed.notify_all();
            }
        });
        let addr = match rx.recv_timeout(HANG) {
            Ok(addr) => addr.parse().expect("a socket address"),
            Err(_) => {
                let _ = child.kill();
                panic!("wasgi serve printed no `listening on` line within {HANG:?}");
            }
        };
        Self { child, addr, log }
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.0.lock().expect("log lock").clone()
    }

    /// Waits until the log holds `needle` (woken by each new line), failing the test
    /// if it does not within [`HANG`].
    pub fn wait_for_log(&self, needle: &str) -> String {
        let (text, changed) = &*self.log;
        let text = text.lock().expect("log lock");
        let (text, timeout) = changed
            .wait_timeout_while(text, HANG, |t| !t.contains(needle))
            .expect("log lock");
        assert!(
            !timeout.timed_out(),
            "{needle:?} never appeared in the log:\n{text}"
        );
        text.clone()
    }

    /// Sends `signal` (`TERM`, `INT`) to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the server to exit and returns its exit code.
    pub fn exit_code(mut self) -> i32 {
        let (tx, rx) = mpsc::channel();
        let mut child = std::mem::replace(
            &mut self.child,
            Command::new("true").spawn().expect("placeholder"),
        );
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = rx
            .recv_timeout(HANG)
            .unwrap_or_else(|_| panic!("the server did not exit within {HANG:?}"))
            .expect("wait");
        status.code().expect("exit code, not a signal")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

    /// The body as JSON, from a 200.
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.status, 200, "{:?}", self.body);
        serde_json::from_slice(self.body.as_ref().expect("a whole body")).expect("JSON")
    }
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

/// The generic 500 of gateway-semantics section 6, byte for byte.
pub const GENERIC_500: &[u8] = b"Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nA server error occurred.  Please contact the administrator.";
