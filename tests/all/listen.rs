//! Where `wasgi serve` listens besides a TCP port: a unix-domain socket (`--addr
//! unix:PATH`) and a socket passed by systemd (socket activation, `LISTEN_FDS`), each
//! driven over a raw socket with exact bytes; the socket file's lifecycle (mode, stale
//! files, files that are not sockets, removal at exit); and the connection cap on a
//! unix socket, as on TCP.

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Command;

use crate::guests::*;
use crate::util::*;

/// HELLO's whole response to a GET that closes the connection, `date` taken out.
const HELLO_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\nE\r\nHello, World!\n\r\n0\r\n\r\n";

const GET_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/// A connection to the unix socket at `path`, whose reads fail after [`HANG`].
fn connect_unix(path: &Path) -> UnixStream {
    let stream = UnixStream::connect(path).expect("connect to the unix socket");
    stream.set_read_timeout(Some(HANG)).expect("read timeout");
    stream
}

/// Sends `request` on a new connection to `path` and reads until the server closes
/// it; the `date` header line is taken out.
fn exchange_unix(path: &Path, request: &[u8]) -> Vec<u8> {
    let mut stream = connect_unix(path);
    stream.write_all(request).expect("send");
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    without_date(&got)
}

/// `wasgi serve APP --addr unix:PATH ARGS...`, once it says it listens.
fn serve_unix(app: &str, path: &Path, args: &[&str]) -> Server {
    let mut cmd = wasgi();
    cmd.arg("serve")
        .arg(app)
        .arg("--addr")
        .arg(format!("unix:{}", path.display()))
        .args(args);
    let server = Server::spawn(cmd);
    assert_eq!(server.listening, format!("unix:{}", path.display()));
    server
}

#[test]
fn hello_over_a_unix_socket_is_exact_and_the_socket_goes_at_exit() {
    let path = scratch("listen-unix").join("wasgi.sock");
    let server = serve_unix(HELLO, &path, &[]);
    let meta = std::fs::symlink_metadata(&path).expect("the socket file");
    assert!(meta.file_type().is_socket());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o660,
        "owner and group only"
    );
    assert_bytes(&exchange_unix(&path, GET_CLOSE), HELLO_RESPONSE);
    // The access log names the client as nginx's $remote_addr does.
    server.wait_for_log(" unix: GET / 200 14B ");
    server.signal("TERM");
    assert_eq!(server.exit_code(), COMPLETED);
    assert!(!path.exists(), "the socket file is removed at a clean stop");
}

#[test]
fn a_unix_socket_client_has_an_empty_remote_addr_and_no_remote_port() {
    let path = scratch("listen-environ").join("wasgi.sock");
    let _server = serve_unix(ENVIRON, &path, &[]);
    let got = exchange_unix(
        &path,
        b"GET /x HTTP/1.1\r\nHost: example.org:8080\r\nConnection: close\r\n\r\n",
    );
    let at = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let chunked = &got[at + 4..];
    // One chunk: its size line, then the JSON.
    let start = chunked
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("chunk size")
        + 2;
    let end = chunked.len() - b"\r\n0\r\n\r\n".len();
    let json: serde_json::Value = serde_json::from_slice(&chunked[start..end]).expect("JSON");
    assert_eq!(variable(&json, "REMOTE_ADDR"), Some(Vec::new()));
    assert_eq!(variable(&json, "REMOTE_PORT"), None);
    assert_eq!(
        variable(&json, "SERVER_NAME"),
        Some(b"example.org".to_vec())
    );
    assert_eq!(variable(&json, "SERVER_PORT"), Some(b"8080".to_vec()));
}

#[test]
fn a_stale_socket_is_replaced_but_a_live_one_or_a_file_is_refused() {
    let dir = scratch("listen-stale");
    // A socket nobody listens on any more: what a killed server leaves.
    let stale = dir.join("stale.sock");
    drop(UnixListener::bind(&stale).expect("bind"));
    assert!(stale.exists());
    let server = serve_unix(HELLO, &stale, &[]);
    server.wait_for_log(&format!("removing the stale socket {}", stale.display()));
    assert_bytes(&exchange_unix(&stale, GET_CLOSE), HELLO_RESPONSE);
    drop(server);

    // A live socket is another server's: left alone.
    let live = dir.join("live.sock");
    let _other = UnixListener::bind(&live).expect("bind");
    let out = output(
        wasgi()
            .args(["serve", HELLO, "--addr"])
            .arg(format!("unix:{}", live.display())),
    );
    assert_one_line_error(&out, HOST, "another server is listening on it");
    assert!(live.exists());

    // Anything that is not a socket is never removed.
    let file = dir.join("data.txt");
    std::fs::write(&file, b"precious").expect("write");
    let out = output(
        wasgi()
            .args(["serve", HELLO, "--addr"])
            .arg(format!("unix:{}", file.display())),
    );
    assert_one_line_error(&out, HOST, "the path exists and is not a socket");
    assert_eq!(std::fs::read(&file).expect("read"), b"precious");
}

#[test]
fn unix_connections_past_the_cap_get_503_and_are_closed() {
    let path = scratch("listen-cap").join("wasgi.sock");
    let server = serve_unix(HELLO, &path, &["--max-connections", "1"]);
    let mut held = connect_unix(&path);
    held.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("send");
    read_until(&mut held, b"0\r\n\r\n");
    let mut second = connect_unix(&path);
    let mut got = Vec::new();
    second.read_to_end(&mut got).expect("read");
    assert_bytes(
        &got,
        b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 38\r\n\r\nToo many connections. Try again later.",
    );
    server.wait_for_log("refused a connection from unix::");
}

#[test]
fn a_bad_addr_is_a_usage_error() {
    for (addr, says) in [
        ("unix:", "`unix:` needs a path"),
        ("localhost", "is neither HOST:PORT"),
    ] {
        let out = output(wasgi().args(["serve", HELLO, "--addr", addr]));
        assert_eq!(code(&out), 2, "{addr}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{addr}: {}", stderr(&out));
    }
}

/// `wasgi serve APP ARGS...` started the way systemd starts a socket-activated
/// service: Python binds a TCP socket on port 0, puts it at file descriptor 3, sets
/// LISTEN_FDS=1 and LISTEN_PID to its own pid, and execs wasgi (same pid).
fn activated_over_tcp(app: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        "import os, socket, sys\n\
         s = socket.socket()\n\
         s.bind(('127.0.0.1', 0))\n\
         s.listen()\n\
         os.dup2(s.fileno(), 3)\n\
         os.set_inheritable(3, True)\n\
         os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))\n\
         os.execv(sys.argv[1], sys.argv[1:])\n",
    ])
    .arg(env!("CARGO_BIN_EXE_wasgi"))
    .args(["serve", app])
    .args(args);
    cmd
}

#[test]
fn socket_activation_serves_on_the_socket_systemd_passes() {
    let server = Server::spawn(activated_over_tcp(HELLO, &[]));
    assert_eq!(server.addr.ip().to_string(), "127.0.0.1");
    assert_ne!(server.addr.port(), 0);
    assert_bytes(&server.exchange(GET_CLOSE), HELLO_RESPONSE);
    server.signal("TERM");
    assert_eq!(server.exit_code(), COMPLETED);
}

#[test]
fn socket_activation_with_systemd_socket_activate_on_a_unix_socket() {
    let path = scratch("listen-activate").join("wasgi.sock");
    // Debian's systemd: binds the socket, and on the first connection execs wasgi
    // with it as descriptor 3 (as a .socket unit starts its service).
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.arg("--listen")
        .arg(&path)
        .arg(env!("CARGO_BIN_EXE_wasgi"))
        .args(["serve", HELLO]);
    let mut server = Server::launch(cmd);
    server.wait_for_log(&format!("Listening on {} as 3.", path.display()));
    // This connection waits in the socket's queue while wasgi starts.
    assert_bytes(&exchange_unix(&path, GET_CLOSE), HELLO_RESPONSE);
    server.wait_until_listening();
    assert_eq!(server.listening, format!("unix:{}", path.display()));
    server.signal("TERM");
    assert_eq!(server.exit_code(), COMPLETED);
    // systemd's socket, not wasgi's: left for systemd to remove.
    assert!(path.exists());
}

#[test]
fn socket_activation_refuses_what_is_not_one_listening_socket() {
    // LISTEN_FDS, then what follows `wasgi serve HELLO` (flags, redirections of
    // descriptor 3; stdin is a listening TCP socket), the exit code and the error.
    let cases = [
        (
            "1",
            "3</dev/null",
            HOST,
            "file descriptor 3 from systemd (LISTEN_FDS) is not a socket",
        ),
        (
            "1",
            "3<&-",
            HOST,
            "file descriptor 3 from systemd (LISTEN_FDS) is not open",
        ),
        (
            "2",
            "3<&0",
            HOST,
            "LISTEN_FDS=2: wasgi serve listens on exactly one socket",
        ),
        ("x", "3<&0", HOST, "LISTEN_FDS=\"x\" is not a number"),
        // A socket from systemd and --addr: which one was meant is unclear.
        ("1", "--addr 127.0.0.1:0 3<&0", 2, "both given: drop --addr"),
    ];
    for (fds, rest, exit, says) in cases {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        // sh keeps its pid across exec: LISTEN_PID=$$ names wasgi.
        let out = output(
            Command::new("sh")
                .args([
                    "-c",
                    &format!("LISTEN_PID=$$ LISTEN_FDS={fds} exec \"$0\" serve \"$1\" {rest}"),
                    env!("CARGO_BIN_EXE_wasgi"),
                    HELLO,
                ])
                .stdin(std::os::fd::OwnedFd::from(socket)),
        );
        assert_one_line_error(&out, exit, says);
    }
}

#[test]
fn listen_variables_meant_for_another_process_are_ignored() {
    // LISTEN_PID names another process (the variables were inherited): wasgi listens
    // on --addr, and says why it ignored them.
    let mut cmd = wasgi();
    cmd.args(["serve", HELLO, "--addr", "127.0.0.1:0"])
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1");
    let server = Server::spawn(cmd);
    assert_bytes(&server.exchange(GET_CLOSE), HELLO_RESPONSE);
    server.wait_for_log("LISTEN_FDS is set but LISTEN_PID (1) is not this process");
}

/// deploy/systemd's socket and service units, as `systemd-analyze` (Debian's systemd)
/// checks them: every key known and valid, and the service's exposure (`systemd-analyze
/// security`) at most 2.0 of 10 (it is 1.0 with systemd 252). ExecStart's binary is
/// made the one under test: verify checks that it exists.
#[test]
fn the_systemd_units_verify_and_the_service_is_hardened() {
    let dir = scratch("systemd-units");
    for name in ["wasgi.socket", "wasgi.service"] {
        let unit = std::fs::read_to_string(root().join("deploy/systemd").join(name))
            .expect("read")
            .replace("/usr/local/bin/wasgi", env!("CARGO_BIN_EXE_wasgi"));
        std::fs::write(dir.join(name), unit).expect("write");
    }
    let out = output(
        Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(dir.join("wasgi.socket"))
            .arg(dir.join("wasgi.service")),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "systemd-analyze verify found problems");
    let out = output(
        Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--threshold=20"])
            .arg(dir.join("wasgi.service")),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0, "{said}{}", stderr(&out));
    assert!(
        said.contains("Overall exposure level for wasgi.service: 1."),
        "{said}"
    );
}
