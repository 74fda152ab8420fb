//! A running `wasgi serve` (or another server) for the integration tests: started
//! with its command line, ready once it says where it listens (never by sleeping), its
//! log kept for the test to wait on, killed when dropped.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::util::*;

/// A running `wasgi serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// Where it listens: its TCP address (`0.0.0.0:0` on a unix socket).
    pub addr: std::net::SocketAddr,
    /// Where its admin listener listens (`--admin-addr`), if it has one.
    pub admin: Option<std::net::SocketAddr>,
    /// Where it says it listens: `http://ADDR` or `unix:PATH`.
    pub listening: String,
    log: std::sync::Arc<(std::sync::Mutex<String>, std::sync::Condvar)>,
}

impl Server {
    /// Starts `wasgi serve APP --addr 127.0.0.1:0 ARGS...` and waits for its
    /// `listening on` line (never sleeps).
    pub fn start(app: &str, args: &[&str]) -> Self {
        let mut cmd = wasgi();
        cmd.arg("serve")
            .arg(app)
            .args(["--addr", "127.0.0.1:0"])
            .args(args);
        Self::spawn(cmd)
    }

    /// Starts `cmd`, a `wasgi serve` command line, and waits for its `listening on`
    /// line, plain or the message of a JSON line (never sleeps). The `admin on` line,
    /// if any, comes before it.
    pub fn spawn(cmd: Command) -> Self {
        let mut server = Self::launch(cmd);
        server.wait_until_listening();
        server
    }

    /// Starts `cmd` without waiting for it to listen: for a wasgi that something
    /// else starts later (systemd-socket-activate, on the first connection).
    pub fn launch(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("failed to start the server");
        let stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new((
            std::sync::Mutex::new(String::new()),
            std::sync::Condvar::new(),
        ));
        let sink = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let (text, changed) = &*sink;
                let mut text = text.lock().expect("log lock");
                text.push_str(&line);
                text.push('\n');
                changed.notify_all();
            }
        });
        Self {
            child,
            addr: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            admin: None,
            listening: String::new(),
            log,
        }
    }

    /// `http://ADMIN` + `path`, on the admin listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin.expect("an --admin-addr"))
    }

    /// The text of `/metrics` on the admin listener.
    pub fn metrics(&self) -> String {
        get(&self.admin_url("/metrics")).text()
    }

    /// Waits until the log holds `needle` on at least `count` lines (woken by each new
    /// line), failing the test if it does not within [`HANG`].
    pub fn wait_for_lines(&self, needle: &str, count: usize) -> String {
        let (text, changed) = &*self.log;
        let text = text.lock().expect("log lock");
        let (text, timeout) = changed
            .wait_timeout_while(text, HANG, |t| {
                t.lines().filter(|l| l.contains(needle)).count() < count
            })
            .expect("log lock");
        assert!(
            !timeout.timed_out(),
            "{needle:?} never appeared on {count} lines of the log:\n{text}"
        );
        text.clone()
    }

    /// Waits for the `listening on` line (failing the test if it does not come within
    /// [`HANG`]) and takes the address from it.
    pub fn wait_until_listening(&mut self) {
        let log = self.wait_for_log("listening on ");
        let listening = log
            .lines()
            .find_map(|line| {
                message(line)
                    .strip_prefix("listening on ")
                    .map(str::to_owned)
            })
            .expect("the line");
        if let Some(addr) = listening.strip_prefix("http://") {
            self.addr = addr.parse().expect("a socket address");
        }
        self.admin = log.lines().find_map(|line| {
            let message = message(line);
            let addr = message.strip_prefix("admin on http://")?;
            Some(addr.parse().expect("a socket address"))
        });
        self.listening = listening;
    }

    /// Starts `cmd`, another server's command line, and waits for the stderr line
    /// starting with `announce` followed by its address (`wasmtime serve`'s is
    /// `Serving HTTP on http://`, with a `/` after the address).
    pub fn spawn_announced(cmd: Command, announce: &'static str) -> Self {
        let mut server = Self::launch(cmd);
        let log = server.wait_for_log(announce);
        let addr = log
            .lines()
            .find_map(|line| line.strip_prefix(announce))
            .expect("the line");
        server.addr = addr
            .trim_end_matches('/')
            .parse()
            .expect("a socket address");
        server
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A new connection to the server, whose reads fail after [`HANG`] instead of
    /// hanging.
    pub fn connect(&self) -> std::net::TcpStream {
        let stream = std::net::TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(HANG)).expect("read timeout");
        stream
    }

    /// `GET path` on this server, the response as seen.
    pub fn get(&self, path: &str) -> Seen {
        get(&self.url(path))
    }

    /// `POST path` with `body` on this server, the response as seen.
    pub fn post(&self, path: &str, body: &[u8]) -> Seen {
        post(&self.url(path), body)
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

    /// Sends `request` on a fresh connection and returns what came back until the
    /// server closed it, with the `date` header line taken out (it changes every
    /// second), so that a test can compare exact bytes.
    pub fn exchange(&self, request: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(HANG)).expect("timeout");
        stream.write_all(request).expect("send");
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got);
        without_date(&got)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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

/// A log line's message: the line itself, or its `message` field when it is a JSON
/// object (`--log-format json`).
fn message(line: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(event) if line.starts_with('{') => event["message"].as_str().unwrap_or("").to_owned(),
        _ => line.to_owned(),
    }
}
