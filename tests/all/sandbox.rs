//! Issue #5 §1: a guest reaches nothing beyond its request unless granted. The probe
//! guest (guests/rust/sandbox-probe) tries to read and write host files, read a host
//! environment variable and open a TCP connection; each is denied by default and
//! allowed by exactly the grant that names it, in `wasgi run` and `wasgi serve`.

use std::net::TcpListener;
use std::path::PathBuf;

use crate::guests::*;
use crate::util::{Server, body, code, expect, scratch, stderr, wasgi_run};

/// `wasgi run` of the probe at `path` (`/read?…` and so on): the line it answered.
fn probe(path: &str, args: &[&str], vars: &[(&str, &str)]) -> String {
    let args: Vec<&str> = ["--path", path].iter().chain(args).copied().collect();
    let out = wasgi_run(SANDBOX_PROBE, &args, vars);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    String::from_utf8(body(&out.stdout).to_vec()).expect("the probe answers text")
}

#[track_caller]
fn assert_denied(line: &str) {
    assert!(
        line.starts_with("denied: "),
        "expected a refusal, got {line:?}"
    );
}

/// A directory of its own for test `name`, holding `secret.txt`, for the directory
/// grants.
fn granted_dir(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("secret.txt"), "secret line\nmore\n").expect("write");
    dir
}

#[test]
fn by_default_no_host_file_is_visible() {
    assert_denied(&probe("/read?/etc/passwd", &[], &[]));
    assert_denied(&probe("/read?/etc/hostname", &[], &[]));
    assert_denied(&probe("/write?/tmp/wasgi-guest-was-here", &[], &[]));
    assert!(!std::path::Path::new("/tmp/wasgi-guest-was-here").exists());
}

#[test]
fn by_default_no_host_variable_is_visible() {
    // Set in wasgi's own environment (where CGI variables come from) and still
    // invisible to the guest's `wasi:cli/environment`.
    let vars = [("WASGI_TEST_SECRET", "hunter2"), ("HOME", "/root")];
    assert_denied(&probe("/env?WASGI_TEST_SECRET", &[], &vars));
    assert_denied(&probe("/env?HOME", &[], &vars));
    assert_denied(&probe("/env?PATH", &[], &vars));
}

#[test]
fn by_default_no_socket_can_be_opened() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    assert_denied(&probe(&format!("/connect?{addr}"), &[], &[]));
}

#[test]
fn a_read_only_dir_grant_reads_that_dir_only_and_never_writes() {
    let dir = granted_dir("sandbox-ro-dir");
    let grant = format!("{}::/data", dir.display());
    let ro = ["--ro-dir", grant.as_str()];
    assert_eq!(
        probe("/read?/data/secret.txt", &ro, &[]),
        "read 17 bytes: secret line\n"
    );
    assert_denied(&probe("/write?/data/new.txt", &ro, &[]));
    assert!(
        !dir.join("new.txt").exists(),
        "a read-only grant wrote a file"
    );
    // Only what was granted: the rest of the host stays invisible, `..` included.
    assert_denied(&probe("/read?/etc/passwd", &ro, &[]));
    assert_denied(&probe("/read?/data/../etc/passwd", &ro, &[]));
}

#[test]
fn a_dir_grant_reads_and_writes_and_keeps_the_host_path_by_default() {
    let dir = granted_dir("sandbox-dir");
    let host = dir.display().to_string();
    let rw = ["--dir", host.as_str()];
    assert_eq!(
        probe(&format!("/write?{host}/new.txt"), &rw, &[]),
        format!("wrote {host}/new.txt\n")
    );
    assert_eq!(
        std::fs::read(dir.join("new.txt")).expect("the guest's file"),
        b"written by the guest\n"
    );
    assert_eq!(
        probe(&format!("/read?{host}/secret.txt"), &rw, &[]),
        "read 17 bytes: secret line\n"
    );
}

#[test]
fn an_env_grant_shows_exactly_that_variable() {
    let vars = [("WASGI_TEST_SECRET", "hunter2"), ("OTHER_SECRET", "x")];
    let by_name = ["--env", "WASGI_TEST_SECRET"];
    assert_eq!(
        probe("/env?WASGI_TEST_SECRET", &by_name, &vars),
        "WASGI_TEST_SECRET=hunter2\n"
    );
    assert_denied(&probe("/env?OTHER_SECRET", &by_name, &vars));
    assert_eq!(
        probe("/env?GREETING", &["--env", "GREETING=hello world"], &[]),
        "GREETING=hello world\n"
    );
}

#[test]
fn a_connect_grant_reaches_that_address_only() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut other = addr;
    other.set_port(if addr.port() == 65535 {
        1
    } else {
        addr.port() + 1
    });
    let grant = ["--allow-connect", &addr.to_string()];
    assert_eq!(
        probe(&format!("/connect?{addr}"), &grant, &[]),
        format!("connected to {addr}\n")
    );
    assert!(listener.accept().is_ok(), "the guest's connection arrived");
    assert_denied(&probe(&format!("/connect?{other}"), &grant, &[]));
}

#[test]
fn a_grant_that_cannot_be_honoured_stops_wasgi_at_once() {
    let out = wasgi_run(SANDBOX_PROBE, &["--dir", "/no/such/dir"], &[]);
    expect(
        &out,
        b"",
        2,
        &["--dir /no/such/dir: cannot open it: No such file or directory"],
    );
    assert_eq!(
        stderr(&out).lines().count(),
        1,
        "one line: {}",
        stderr(&out)
    );
    let out = wasgi_run(SANDBOX_PROBE, &["--env", "WASGI_SURELY_UNSET"], &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("the host has no variable WASGI_SURELY_UNSET"));
}

/// The same rules through `wasgi serve`: a server without grants and one with them,
/// each request getting a fresh instance with the same context.
#[test]
fn serve_keeps_the_sandbox_and_honours_grants() {
    let get = |server: &Server, path: &str| server.get(path).text();
    let bare = Server::start(SANDBOX_PROBE, &[]);
    assert_denied(&get(&bare, "/read?/etc/passwd"));
    assert_denied(&get(&bare, "/env?HOME"));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    assert_denied(&get(&bare, &format!("/connect?{addr}")));

    let dir = granted_dir("sandbox-serve");
    let grant = format!("{}::/data", dir.display());
    let granted = Server::start(
        SANDBOX_PROBE,
        &[
            "--ro-dir",
            &grant,
            "--env",
            "GREETING=hi",
            "--allow-connect",
            &addr,
        ],
    );
    for _ in 0..2 {
        assert_eq!(
            get(&granted, "/read?/data/secret.txt"),
            "read 17 bytes: secret line\n"
        );
    }
    assert_denied(&get(&granted, "/write?/data/new.txt"));
    assert_eq!(get(&granted, "/env?GREETING"), "GREETING=hi\n");
    assert_eq!(
        get(&granted, &format!("/connect?{addr}")),
        format!("connected to {addr}\n")
    );
    assert_denied(&get(&granted, "/read?/etc/passwd"));
}
