//! The hostile-guest corpus (issue #5 §3): each guest in `guests/rust/` that misbehaves
//! on purpose, run through `wasgi run` and `wasgi serve`, with the documented outcome.
//!
//! One table ([`hostile!`] below): per guest, the flags (tight limits, so the corpus
//! runs quickly), how the request ends and what the log must say. Each row becomes two
//! tests, `GUEST::run` and `GUEST::serve`. Every guest here answers `/ok` normally: the
//! serve test sends the hostile request, and while it is in flight makes a well-behaved
//! `/ok` request to the same server, then checks the hostile outcome and that the
//! server still answers. The corpus, with these outcomes, is tabled in
//! docs/SECURITY.md ("Hostile guests"); the older hostile guests (which have no `/ok`)
//! are tested in tests/all/cli.rs and tests/all/serve.rs.

use std::process::Stdio;

use crate::guests::*;
use crate::util::*;

/// How the hostile request ends.
enum Ends {
    /// Before its headers: the generic 500 (run: exit 3 and [`GENERIC_500`] on stdout).
    Failed,
    /// After its headers went out with this much body: the response is aborted (run:
    /// exit 4, exactly these bytes after the headers; serve: the client's read of the
    /// body fails, it never looks complete).
    Aborted(Vec<u8>),
    /// A complete 200 with this body.
    Completed(Vec<u8>),
}

/// One row of the corpus.
struct Case {
    /// The guest (its constant in `crate::guests`).
    guest: &'static str,
    /// Flags for both `wasgi run` and `wasgi serve`.
    flags: &'static [&'static str],
    /// How the hostile request ends.
    ends: Ends,
    /// Lines the log must hold (the limit or rule that caught the guest).
    logs: &'static [&'static str],
    /// A line the guest logs once it has started misbehaving: the serve test waits for
    /// it before its `/ok` request, so the two are surely in flight together.
    started: Option<&'static str>,
    /// A request body: run sends it with CONTENT_LENGTH set to its length and more
    /// bytes after it on a stdin left open; serve POSTs it.
    input: Option<&'static [u8]>,
    /// The whole log must stay shorter than this many bytes (for floods).
    log_under: Option<usize>,
}

/// The defaults every row starts from.
const CASE: Case = Case {
    guest: "",
    flags: &[],
    ends: Ends::Failed,
    logs: &[],
    started: None,
    input: None,
    log_under: None,
};

/// The status line and headers every guest here sends with a 200.
const HEAD_200: &[u8] = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n";

/// `wasgi run`: exact stdout, exit code, log lines.
fn check_run(case: &Case) {
    let mut cmd = wasgi();
    cmd.arg("run").arg(case.guest).args(case.flags);
    let out = match case.input {
        None => output(cmd.stdin(Stdio::null())),
        // More than CONTENT_LENGTH, and stdin left open: a read past the bound would
        // hang until the test's deadline.
        Some(body) => output_with_input(
            cmd.env("CONTENT_LENGTH", body.len().to_string()),
            &[body, b" and what follows"].concat(),
            Then::StayOpen,
        ),
    };
    let (stdout, exit) = match &case.ends {
        Ends::Failed => (GENERIC_500.to_vec(), APP_FAILED),
        Ends::Aborted(sent) => ([HEAD_200, sent].concat(), ABORTED),
        Ends::Completed(body) => ([HEAD_200, body].concat(), COMPLETED),
    };
    expect(&out, &stdout, exit, case.logs);
    assert!(!stderr(&out).contains("panicked at"), "{}", stderr(&out));
    if let Some(max) = case.log_under {
        assert!(out.stderr.len() < max, "{} bytes of log", out.stderr.len());
    }
}

/// `wasgi serve`: a well-behaved request succeeds while the hostile one is in flight;
/// the hostile one ends as documented; the server is still up.
fn check_serve(case: &Case) {
    let server = Server::start(case.guest, case.flags);
    let hostile = {
        let url = server.url("/hostile");
        let input = case.input;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(match input {
                None => get(&url),
                Some(body) => post(&url, body),
            });
        });
        rx
    };
    if let Some(line) = case.started {
        server.wait_for_log(line);
    }
    assert_ok(&server, "while the hostile request is in flight");
    let r = hostile
        .recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("the hostile request did not end within {HANG:?}"));
    match &case.ends {
        Ends::Failed => {
            assert_eq!(r.status, 500, "{:?}", r.body);
            assert_eq!(r.body.as_deref(), Ok(GENERIC_500_BODY));
        }
        Ends::Aborted(_) => {
            assert_eq!(r.status, 200);
            assert!(r.body.is_err(), "the aborted body looked complete");
        }
        Ends::Completed(body) => {
            assert_eq!(r.status, 200);
            assert_eq!(r.body.as_deref(), Ok(body.as_slice()));
        }
    }
    for line in case.logs {
        server.wait_for_log(line);
    }
    assert_ok(&server, "after the hostile request");
    let log = server.log();
    assert!(!log.contains("panicked at"), "{log}");
    if let Some(max) = case.log_under {
        assert!(log.len() < max, "{} bytes of log", log.len());
    }
}

/// `/ok` is answered `ok\n`.
#[track_caller]
fn assert_ok(server: &Server, when: &str) {
    let ok = server.get("/ok");
    assert_eq!(ok.status, 200, "/ok {when}");
    assert_eq!(ok.body.as_deref(), Ok(&b"ok\n"[..]), "/ok {when}");
}

/// The corpus: `test_module => Case { .. };`, one `run` and one `serve` test each; a
/// row written `test_module [ignore = "why"] => ...` has both tests ignored.
macro_rules! hostile {
    ($($(#[$attr:meta])* $name:ident $([ignore = $why:literal])? => $case:expr;)*) => {
        $(
            $(#[$attr])*
            mod $name {
                use super::*;

                #[test]
                $(#[ignore = $why])?
                fn run() {
                    check_run(&$case);
                }

                #[test]
                $(#[ignore = $why])?
                fn serve() {
                    check_serve(&$case);
                }
            }
        )*
    };
}

hostile! {
    /// Loops forever in `next()` after the first chunk: stopped by --timeout.
    infinite_loop_mid_body => Case {
        guest: INFINITE_LOOP_MID_BODY,
        flags: &["--timeout", "1"],
        ends: Ends::Aborted(b"first\n".to_vec()),
        logs: &["ran past its time limit (--timeout)"],
        started: Some("infinite-loop-mid-body: spinning"),
        ..CASE
    };
    /// Unbounded recursion before the headers: wasm's call stack runs out.
    stack_overflow => Case {
        guest: STACK_OVERFLOW,
        logs: &["guest trapped: wasm trap: call stack exhausted"],
        ..CASE
    };
    /// Unbounded recursion inside `next()` after the first chunk: the shadow stack in
    /// linear memory runs out.
    recursion_in_next => Case {
        guest: RECURSION_IN_NEXT,
        ends: Ends::Aborted(b"first\n".to_vec()),
        logs: &["guest trapped: wasm trap: out of bounds memory access"],
        ..CASE
    };
    /// 100 000 headers: refused at --max-response-headers.
    header_bomb => Case {
        guest: HEADER_BOMB,
        flags: &["--max-response-headers", "100"],
        logs: &["--max-response-headers"],
        ..CASE
    };
    /// A 1 MiB status line: refused at --max-response-header-bytes.
    huge_status => Case {
        guest: HUGE_STATUS,
        flags: &["--max-response-header-bytes", "64KiB"],
        logs: &["--max-response-header-bytes"],
        ..CASE
    };
    /// A 1 MiB header value: refused at --max-response-header-bytes.
    huge_header_value => Case {
        guest: HUGE_HEADER_VALUE,
        flags: &["--max-response-header-bytes", "64KiB"],
        logs: &["--max-response-header-bytes"],
        ..CASE
    };
    /// CR in a header name.
    header_name_cr => Case {
        guest: HEADER_NAME_CR,
        logs: &["header name \"X-Bad\\rName\" is not a token"],
        ..CASE
    };
    /// LF in a header name.
    header_name_lf => Case {
        guest: HEADER_NAME_LF,
        logs: &["header name \"X-Bad\\nName\" is not a token"],
        ..CASE
    };
    /// NUL in a header name.
    header_name_nul => Case {
        guest: HEADER_NAME_NUL,
        logs: &["header name \"X-Bad\\x00Name\" is not a token"],
        ..CASE
    };
    /// NUL in a header value.
    header_value_nul => Case {
        guest: HEADER_VALUE_NUL,
        logs: &["header \"X-Token\" value holds control character 0x00 at byte 3"],
        ..CASE
    };
    /// A header name with a space and parentheses.
    non_token_header_name => Case {
        guest: NON_TOKEN_HEADER_NAME,
        logs: &["header name \"X Forwarded (For)\" is not a token"],
        ..CASE
    };
    /// A header named Status.
    status_header => Case {
        guest: STATUS_HEADER,
        logs: &["header \"Status\" is not allowed"],
        ..CASE
    };
    /// CR LF in the status line, injecting a Set-Cookie.
    status_crlf => Case {
        guest: STATUS_CRLF,
        logs: &["holds control character 0x0d at byte 6"],
        ..CASE
    };
    /// 64 MiB to stdout: the log keeps --max-log of it, the response is unaffected.
    stdout_flood => Case {
        guest: STDOUT_FLOOD,
        flags: &["--max-log", "256KiB"],
        ends: Ends::Completed(b"survived the flood\n".to_vec()),
        logs: &["--max-log"],
        log_under: Some(1 << 20),
        ..CASE
    };
    /// 64 MiB to stderr: the same.
    stderr_flood => Case {
        guest: STDERR_FLOOD,
        flags: &["--max-log", "256KiB"],
        ends: Ends::Completed(b"survived the flood\n".to_vec()),
        logs: &["--max-log"],
        log_under: Some(1 << 20),
        ..CASE
    };
    /// One chunk of 1 GiB after a first one: wasmtime refuses to copy that much in
    /// one host call (its hostcall fuel), a trap after the headers.
    one_gib_chunk => Case {
        guest: ONE_GIB_CHUNK,
        flags: &["--max-memory", "2GiB"],
        ends: Ends::Aborted(b"first\n".to_vec()),
        logs: &["too much data is being copied between the host and the guest"],
        ..CASE
    };
    /// A body that never ends: cut at --max-output, exactly 1 MiB of it sent.
    body_forever => Case {
        guest: BODY_FOREVER,
        flags: &["--max-output", "1MiB"],
        ends: Ends::Aborted(vec![b'x'; 1 << 20]),
        logs: &["--max-output of 1048576"],
        ..CASE
    };
    /// Reads wsgi.input past its end, 4 GiB at a time: gets the body, then nothing.
    read_past_content_length => Case {
        guest: READ_PAST_CONTENT_LENGTH,
        ends: Ends::Completed(
            b"read 5 bytes \"hello\", then 1000 reads past the end gave 0 bytes\n".to_vec(),
        ),
        input: Some(b"hello"),
        ..CASE
    };
    /// Hours of pure computation: stopped when its --fuel runs out.
    fuel_burner => Case {
        guest: FUEL_BURNER,
        flags: &["--fuel", "100000000"],
        logs: &["--fuel"],
        started: Some("fuel-burner: burning"),
        ..CASE
    };
    /// Ten million WASI handles kept: stopped at --max-resources.
    resource_hog => Case {
        guest: RESOURCE_HOG,
        flags: &["--max-resources", "200"],
        logs: &["--max-resources"],
        started: Some("resource-hog: hoarding"),
        ..CASE
    };
    /// An hour's sleep in a host call: stopped by --timeout all the same.
    sleeps_in_host_call => Case {
        guest: SLEEPS_IN_HOST_CALL,
        flags: &["--timeout", "1"],
        logs: &["ran past its time limit (--timeout)"],
        started: Some("sleeps-in-host-call: sleeping"),
        ..CASE
    };
    /// Allocates without bound after the first chunk: refused at --max-memory.
    memory_bomb_mid_body => Case {
        guest: MEMORY_BOMB_MID_BODY,
        flags: &["--max-memory", "64MiB"],
        ends: Ends::Aborted(b"first\n".to_vec()),
        logs: &["past its --max-memory of 67108864"],
        ..CASE
    };
    /// A 64 MiB error message from the entry point: a 500, and the log stays bounded.
    huge_error_message => Case {
        guest: HUGE_ERROR_MESSAGE,
        flags: &["--max-log", "256KiB"],
        logs: &["application error: huge-error-message: eee"],
        log_under: Some(2 << 20),
        ..CASE
    };
    /// exc_info misuse: 64 reports of 1 MiB before the headers; the log stays bounded.
    exc_info_flood => Case {
        guest: EXC_INFO_FLOOD,
        flags: &["--max-log", "256KiB"],
        ends: Ends::Completed(b"survived\n".to_vec()),
        logs: &["exc-info-flood: xxx"],
        log_under: Some(2 << 20),
        ..CASE
    };
}
