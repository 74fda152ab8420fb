//! `wasgi run` end to end: the real binary, the real guests, exact bytes on stdout and
//! exact exit codes. Each test names the rule of docs/GATEWAY.md
//! it checks; section numbers are in the comments.

use std::io::Write as _;
use std::process::Stdio;

use crate::guests::*;
use crate::util::*;

// ---- Section 5: CGI output, byte for byte -------------------------------------------

#[test]
fn hello_prints_exact_cgi_bytes() {
    let out = wasgi_run(HELLO, &[], &[]);
    let hello = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nHello, World!\n";
    expect(&out, hello, COMPLETED, &[]);
}

#[test]
fn two_set_cookie_headers_stay_two_lines_in_order() {
    let out = wasgi_run(TWO_SET_COOKIE, &[], &[]);
    expect(&out, b"Status: 200 OK\r\nSet-Cookie: theme=dark; Path=/\r\nContent-Type: text/plain\r\nSet-Cookie: session=abc123; HttpOnly\r\n\r\ntwo cookies\n", COMPLETED, &[]);
}

#[test]
fn legacy_write_and_yielded_chunks_go_out_in_order() {
    let out = wasgi_run(LEGACY_WRITE, &[], &[]);
    expect(&out, b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nwritten first\nwritten second\nyielded last\n", COMPLETED, &[]);
}

#[test]
fn many_chunks_arrive_complete_and_in_order() {
    let out = wasgi_run(STREAM, &["--path", "/?n=5000"], &[]);
    let want: String = (1..=5000).map(|i| format!("line {i}\n")).collect();
    assert_eq!(body(&out.stdout), want.as_bytes());
    assert_eq!(code(&out), COMPLETED);
}

// ---- Section 1: one request, in order ---------------------------------------------

#[test]
fn an_empty_body_sends_the_headers_at_the_end() {
    let out = wasgi_run(EMPTY, &[], &[]);
    expect(
        &out,
        b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n",
        COMPLETED,
        &[],
    );
}

#[test]
fn empty_chunks_do_not_send_the_headers() {
    // The guest yields "", "" and then replaces its 200 through exc_info: possible
    // only if the empty chunks left the headers unsent.
    let out = wasgi_run(EMPTY_CHUNKS_FIRST, &[], &[]);
    expect(
        &out,
        b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot found\n",
        COMPLETED,
        &[],
    );
}

#[test]
fn the_body_is_closed_after_it_is_exhausted() {
    let out = wasgi_run(STREAM, &["--path", "/?n=3"], &[]);
    assert_logged(&out, "stream: closed after 3 of 3 lines");
}

#[test]
fn the_body_is_closed_after_an_error_mid_body() {
    let out = wasgi_run(ERROR_MID_BODY, &[], &[]);
    assert_logged(&out, "error-mid-body: body closed");
}

#[test]
fn the_body_is_closed_after_a_failed_write() {
    // Close our end of stdout at once: the guest's output soon fails with a broken
    // pipe. The response ends there, the body is still closed, the exit code says so.
    let mut child = spawn_run(STREAM, &["--path", "/?n=10000000"]);
    drop(child.stdout.take());
    let out = wait(child);
    let log = stderr(&out);
    assert!(log.contains("stream: closed after"), "{log}");
    assert!(!log.contains("closed after 10000000 of"), "{log}");
    assert!(log.contains("failed to write the response"), "{log}");
    assert_eq!(code(&out), ABORTED, "{log}");
}

// ---- Section 2: the environ --------------------------------------------------------

#[test]
fn the_environ_holds_only_request_variables() {
    let out = wasgi_run(
        ENVIRON,
        &[],
        &[
            ("PATH", "/usr/bin"),
            ("HOME", "/root"),
            ("DATABASE_PASSWORD", "hunter2"),
            ("SSL_CERT_FILE", "/etc/ssl/cert.pem"),
            ("SCRIPT_FILENAME", "/srv/www/app.wasm"),
            ("REQUEST_METHOD", "POST"),
            ("SCRIPT_NAME", "/app.wasm"),
            ("PATH_INFO", "/x"),
            ("QUERY_STRING", "a=1"),
            ("SERVER_NAME", "example.org"),
            ("SERVER_PORT", "8080"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("HTTP_HOST", "example.org:8080"),
            ("HTTP_X_TRACE", "t1"),
            ("SSL_PROTOCOL", "TLSv1.3"),
        ],
    );
    let json = environ_json(&out);
    let mut names: Vec<&str> = json["variables"]
        .as_object()
        .expect("variables")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "HTTP_HOST",
            "HTTP_X_TRACE",
            "PATH_INFO",
            "QUERY_STRING",
            "REQUEST_METHOD",
            "SCRIPT_NAME",
            "SERVER_NAME",
            "SERVER_PORT",
            "SERVER_PROTOCOL",
            "SSL_PROTOCOL",
        ]
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));
}

#[test]
fn a_request_from_a_web_server_without_host_shows_no_http_host() {
    // PEP 3333's own CGI gateway passes the server's variables as they are: a request
    // that carried no Host has no HTTP_HOST. The testing defaults (which add one) are
    // for a run with no CGI variables at all.
    let vars = [
        ("REQUEST_METHOD", "GET"),
        ("SERVER_NAME", "example.org"),
        ("SERVER_PORT", "80"),
        ("SERVER_PROTOCOL", "HTTP/1.0"),
        ("SCRIPT_NAME", "/app"),
    ];
    let json = environ_json(&wasgi_run(ENVIRON, &[], &vars));
    assert_eq!(variable(&json, "HTTP_HOST"), None);
    assert_eq!(
        variable(&json, "SERVER_NAME").as_deref(),
        Some(&b"example.org"[..])
    );
    let flags_only = environ_json(&wasgi_run(ENVIRON, &["--method", "POST"], &[]));
    assert_eq!(
        variable(&flags_only, "HTTP_HOST").as_deref(),
        Some(&b"localhost"[..]),
        "flags alone are no CGI request: the testing defaults apply"
    );
}

#[test]
fn wsgiref_testing_defaults_apply_when_no_cgi_variables_are_set() {
    let json = environ_json(&wasgi_run(ENVIRON, &[], &[]));
    let vars = json["variables"].as_object().expect("variables");
    let want = serde_json::json!({
        "HTTP_HOST": "localhost",
        "PATH_INFO": "/",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.0",
    });
    assert_eq!(&serde_json::Value::Object(vars.clone()), &want);
    assert_eq!(json["wsgi.url_scheme"], "http");
    assert_eq!(json["wsgi.run_once"], true);
    assert_eq!(json["wsgi.multiprocess"], true);
    assert_eq!(json["wsgi.multithread"], false);
}

#[test]
fn environ_values_that_are_not_utf8_arrive_intact() {
    let raw: &[u8] = b"/caf\xe9/\xff\x80";
    let mut cmd = wasgi();
    cmd.arg("run")
        .arg(ENVIRON)
        .env("PATH_INFO", os_bytes(raw))
        .env("HTTP_X_NAME", os_bytes(b"J\xf6rg"))
        .stdin(Stdio::null());
    let json = environ_json(&output(&mut cmd));
    assert_eq!(variable(&json, "PATH_INFO").as_deref(), Some(raw));
    assert_eq!(
        variable(&json, "HTTP_X_NAME").as_deref(),
        Some(&b"J\xf6rg"[..])
    );
}

#[test]
fn flags_build_the_request_over_the_cgi_variables() {
    let out = wasgi_run(
        ENVIRON,
        &[
            "--method",
            "PUT",
            "--path",
            "/caf%C3%A9/%FF?q=a%20b&r",
            "--header",
            "Content-Type: text/csv",
            "--header",
            "X-Tag: one",
            "--header",
            "x-tag: two",
        ],
        &[("REQUEST_METHOD", "GET"), ("HTTP_X_TAG", "env")],
    );
    let json = environ_json(&out);
    assert_eq!(
        variable(&json, "REQUEST_METHOD").as_deref(),
        Some(&b"PUT"[..])
    );
    assert_eq!(
        variable(&json, "PATH_INFO").as_deref(),
        Some(&b"/caf\xc3\xa9/\xff"[..])
    );
    assert_eq!(
        variable(&json, "QUERY_STRING").as_deref(),
        Some(&b"q=a%20b&r"[..])
    );
    assert_eq!(
        variable(&json, "CONTENT_TYPE").as_deref(),
        Some(&b"text/csv"[..])
    );
    assert_eq!(
        variable(&json, "HTTP_X_TAG").as_deref(),
        Some(&b"one, two"[..])
    );
    assert_eq!(variable(&json, "HTTP_CONTENT_TYPE"), None);
}

#[test]
fn https_on_makes_the_url_scheme_https() {
    let json = environ_json(&wasgi_run(ENVIRON, &[], &[("HTTPS", "on")]));
    assert_eq!(json["wsgi.url_scheme"], "https");
    assert_eq!(variable(&json, "SERVER_PORT").as_deref(), Some(&b"443"[..]));
}

#[test]
fn a_bad_header_flag_is_a_usage_error() {
    let out = output(wasgi().args(["run", "x.wasm", "--header", "no colon here"]));
    expect(&out, b"", 2, &["has no ':'"]);
}

// ---- Section 2: wsgi.input ---------------------------------------------------------

#[test]
fn the_input_is_bounded_by_content_length() {
    // More than CONTENT_LENGTH, and stdin left open: reading past the bound would hang.
    let out = output_with_input(
        wasgi()
            .arg("run")
            .arg(ECHO)
            .env("CONTENT_LENGTH", "5")
            .env("CONTENT_TYPE", "text/plain"),
        b"hello world",
        Then::StayOpen,
    );
    assert_eq!(
        out.stdout,
        b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhello"
    );
}

#[test]
fn without_content_length_the_input_is_empty_and_stdin_is_not_read() {
    // stdin stays open and silent, as a terminal would: wasgi must not block on it.
    let mut child = spawn_run(ECHO, &[]);
    let stdin = child.stdin.take();
    let out = wait(child);
    drop(stdin);
    assert_eq!(
        out.stdout,
        b"Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
}

#[test]
fn body_file_sets_content_length_and_streams_the_file() {
    let dir = scratch("cli-body-file");
    let file = dir.join("body.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &data).expect("write body");
    let out = wasgi_run(ECHO, &["--body", file.to_str().expect("utf-8 path")], &[]);
    assert_eq!(body(&out.stdout), data.as_slice());
    assert_eq!(code(&out), COMPLETED);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn body_dash_reads_stdin_to_its_end() {
    let mut child = spawn_run(ECHO, &["--body", "-"]);
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"from stdin\n")
        .expect("write");
    let out = wait(child);
    assert_eq!(body(&out.stdout), b"from stdin\n");
}

#[test]
fn an_unreadable_body_file_is_a_clear_error() {
    let out = wasgi_run(ECHO, &["--body", "/nonexistent/body.bin"], &[]);
    assert_eq!(code(&out), UNREADABLE);
    assert!(out.stdout.is_empty());
    assert_logged(&out, "cannot read \"/nonexistent/body.bin\"");
}

// ---- Section 4: streaming ----------------------------------------------------------

#[test]
fn the_first_chunk_reaches_stdout_before_the_guest_produces_the_second() {
    // echo yields each piece of input as it arrives. We send the second piece only
    // after the first came back out: a host that buffered the response (or the input)
    // would never show us the first, and the test would fail at its deadline.
    let mut child = spawn_run(ECHO, &["--body", "-"]);
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    stdin.write_all(b"ping\n").expect("write ping");
    let first = read_until(&mut stdout, b"ping\n");
    assert_eq!(
        first,
        b"Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\nping\n"
    );
    stdin.write_all(b"pong\n").expect("write pong");
    assert_eq!(read_until(&mut stdout, b"pong\n"), b"pong\n");
    drop(stdin);
    let out = wait(child);
    assert_eq!(code(&out), COMPLETED, "{}", stderr(&out));
}

// ---- Section 3: start_response -----------------------------------------------------

#[test]
fn a_second_start_response_without_exc_info_is_refused() {
    let out = wasgi_run(START_RESPONSE_TWICE, &[], &[]);
    expect(&out, GENERIC_500, APP_FAILED, &["headers already set"]);
}

#[test]
fn exc_info_before_headers_replaces_the_stored_response() {
    let out = wasgi_run(EXC_INFO_BEFORE_HEADERS, &[], &[]);
    let page = b"Status: 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 5\r\n\r\ntry again soon\n";
    // exc_info is logged.
    expect(&out, page, COMPLETED, &["template rendering failed"]);
}

#[test]
fn exc_info_after_headers_aborts_the_response() {
    let out = wasgi_run(EXC_INFO_AFTER_HEADERS, &[], &[]);
    expect(
        &out,
        b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\npartial\n",
        ABORTED,
        &[],
    );
    let log = stderr(&out);
    assert!(log.contains("after the headers were sent"), "{log}");
    assert!(log.contains("exc-info-after-headers: body closed"), "{log}");
}

#[test]
fn a_bad_status_is_refused_naming_the_rule() {
    let out = wasgi_run(BAD_STATUS, &[], &[]);
    let rule = "invalid status: status \"200OK\" must be a three-digit code";
    expect(&out, GENERIC_500, APP_FAILED, &[rule]);
}

#[test]
fn cr_lf_in_a_header_value_is_refused() {
    let out = wasgi_run(HEADER_VALUE_CRLF, &[], &[]);
    expect(
        &out,
        GENERIC_500,
        APP_FAILED,
        &["header \"X-Next\" value holds control character 0x0d"],
    );
}

#[test]
fn a_hop_by_hop_header_is_refused() {
    let out = wasgi_run(HOP_BY_HOP_HEADER, &[], &[]);
    expect(
        &out,
        GENERIC_500,
        APP_FAILED,
        &["header \"Connection\" is hop-by-hop"],
    );
}

// ---- Section 4: write --------------------------------------------------------------

#[test]
fn write_before_start_response_is_refused() {
    let out = wasgi_run(WRITE_BEFORE_START_RESPONSE, &[], &[]);
    expect(
        &out,
        GENERIC_500,
        APP_FAILED,
        &["refused: write() before start_response()"],
    );
}

#[test]
fn a_body_chunk_before_start_response_gives_a_500() {
    let out = wasgi_run(NO_START_RESPONSE, &[], &[]);
    expect(
        &out,
        GENERIC_500,
        APP_FAILED,
        &["write() before start_response()"],
    );
}

#[test]
fn write_after_the_body_ended_is_refused_and_changes_nothing() {
    let out = wasgi_run(WRITE_AFTER_CLOSE, &[], &[]);
    expect(
        &out,
        b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\ncomplete body\n",
        COMPLETED,
        &["write in close gave Err(GatewayError::OutputClosed"],
    );
}

#[test]
fn a_body_that_does_not_match_its_content_length_is_aborted() {
    let out = wasgi_run(CONTENT_LENGTH_MISMATCH, &[], &[]);
    let partial =
        b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nshort body\n";
    expect(
        &out,
        partial,
        ABORTED,
        &["short of its Content-Length of 100"],
    );
}

#[test]
fn the_guests_own_stdout_never_reaches_the_response() {
    let out = wasgi_run(PRINTS_TO_STDOUT, &[], &[]);
    let real = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nthe real response\n";
    expect(
        &out,
        real,
        COMPLETED,
        &["Location: https://attacker.example/"],
    );
}

#[test]
fn as_an_nph_program_wasgi_frames_the_response_and_an_abort_shows() {
    let http11 = [("SERVER_PROTOCOL", "HTTP/1.1")];
    let hello = wasgi_run(HELLO, &["--nph"], &http11);
    let text = String::from_utf8_lossy(&hello.stdout).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\nDate: "), "{text}");
    assert!(
        text.ends_with("\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\ne\r\nHello, World!\n\r\n0\r\n\r\n"),
        "{text}"
    );
    assert_eq!(code(&hello), COMPLETED);
    // Run under a name starting with nph- (as Apache runs an NPH script), no flag.
    let dir = scratch("cli-nph");
    let nph = dir.join("nph-wasgi");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_wasgi"), &nph).expect("symlink");
    let mut cmd = std::process::Command::new(&nph);
    cmd.env_clear()
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("WASGI_APP", ERROR_MID_BODY)
        .stdin(Stdio::null());
    let aborted = output(&mut cmd);
    let text = String::from_utf8_lossy(&aborted.stdout).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n6\r\nfirst\n\r\n"),
        "no last chunk: {text:?}"
    );
    assert_eq!(code(&aborted), ABORTED);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn length_framing_declares_the_body_length_and_one_byte_more_on_abort() {
    let hello = wasgi_run(HELLO, &["--framing", "length"], &[]);
    expect(
        &hello,
        b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, World!\n",
        COMPLETED,
        &[],
    );
    // The handler form takes it from WASGI_FRAMING, as nginx's fastcgi_param sets it.
    let aborted = wasgi_run(ERROR_MID_BODY, &[], &[("WASGI_FRAMING", "length")]);
    expect(
        &aborted,
        b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nfirst\n",
        ABORTED,
        &["application error: disk read failed"],
    );
    let bad = wasgi_run(HELLO, &[], &[("WASGI_FRAMING", "chunked")]);
    expect(
        &bad,
        b"",
        2,
        &["WASGI_FRAMING=chunked: write stream or length"],
    );
}

// ---- Section 6: errors -------------------------------------------------------------

#[test]
fn an_error_before_headers_gives_the_generic_500_and_logs_the_error() {
    let out = wasgi_run(ERROR_BEFORE_HEADERS, &[], &[]);
    expect(
        &out,
        GENERIC_500,
        APP_FAILED,
        &["application error: database password rejected"],
    );
}

#[test]
fn a_trap_before_headers_gives_the_generic_500_never_the_trap_text() {
    let out = wasgi_run(TRAP_BEFORE_HEADERS, &[], &[]);
    // The trap's text is in the log, never in the response.
    let logs = ["secret-api-key-1234", "guest trapped: wasm trap"];
    expect(&out, GENERIC_500, APP_FAILED, &logs);
}

#[test]
fn an_error_mid_body_aborts_with_a_nonzero_exit() {
    let out = wasgi_run(ERROR_MID_BODY, &[], &[]);
    let partial = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst\n";
    expect(
        &out,
        partial,
        ABORTED,
        &["application error: disk read failed"],
    );
}

#[test]
fn a_trap_mid_body_aborts_and_tears_the_instance_down() {
    let out = wasgi_run(TRAP_MID_BODY, &[], &[]);
    expect(
        &out,
        b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst\n",
        ABORTED,
        &["guest trapped"],
    );
}

#[test]
fn a_trap_in_close_aborts_a_response_that_looked_complete() {
    let out = wasgi_run(TRAP_IN_CLOSE, &[], &[]);
    expect(
        &out,
        b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nall of the body\n",
        ABORTED,
        &["connection pool poisoned"],
    );
}

// ---- Limits: a guest that takes too much gets a 500 and a log line naming the limit --

#[test]
fn a_guest_past_its_time_limit_is_stopped_with_a_500() {
    let out = wasgi_run(INFINITE_LOOP_BEFORE_HEADERS, &["--timeout", "0.3"], &[]);
    expect(
        &out,
        GENERIC_500,
        APP_FAILED,
        &["ran past its time limit (--timeout)"],
    );
}

#[test]
fn a_guest_past_its_memory_cap_is_refused_and_gets_a_500() {
    let out = wasgi_run(MEMORY_BOMB, &["--max-memory", "64MiB"], &[]);
    expect(
        &out,
        GENERIC_500,
        APP_FAILED,
        &["past its --max-memory of 67108864"],
    );
}

#[test]
fn limit_flags_are_checked() {
    for args in [&["--timeout", "-1"][..], &["--max-memory", "12XB"]] {
        let out = output(wasgi().args(["run", "x.wasm"]).args(args));
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
}

// ---- Bad files: one clear line and a distinct exit code, never a panic ------------

fn run_file(bytes: &[u8], name: &str) -> std::process::Output {
    let dir = scratch(&format!("cli-run-file-{name}"));
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write file");
    let out = output(wasgi().arg("run").arg(&path).stdin(Stdio::null()));
    std::fs::remove_dir_all(&dir).expect("clean up");
    out
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let out = output(
        wasgi()
            .args(["run", "/nonexistent/app.wasm"])
            .stdin(Stdio::null()),
    );
    assert_one_line_error(
        &out,
        UNREADABLE,
        "cannot read \"/nonexistent/app.wasm\": No such file or directory (os error 2)",
    );
}

#[test]
fn a_file_that_is_not_wasm_is_a_clear_error() {
    let out = run_file(b"#!/bin/sh\necho hello\n", "app.sh");
    assert_one_line_error(&out, NOT_A_COMPONENT, "is not a WebAssembly component");
}

#[test]
fn a_core_module_is_not_a_component() {
    let out = run_file(CORE_MODULE, "core.wasm");
    assert_one_line_error(
        &out,
        NOT_A_COMPONENT,
        "is a core WebAssembly module, not a component",
    );
}

#[test]
fn a_truncated_component_is_a_clear_error() {
    let mut bytes = COMPONENT_WITH_A_CORE_MODULE.to_vec();
    bytes.truncate(bytes.len() - 3);
    let out = run_file(&bytes, "truncated.wasm");
    assert_one_line_error(
        &out,
        NOT_A_COMPONENT,
        "is not a valid WebAssembly component",
    );
}

#[test]
fn a_component_without_the_application_export_names_it() {
    let out = run_file(EMPTY_COMPONENT, "empty-component.wasm");
    assert_one_line_error(
        &out,
        NOT_AN_APP,
        "does not implement the wasgi world: it does not export `wasgi:gateway/application@0.1.0`",
    );
}

#[test]
fn a_component_with_an_unknown_import_names_it() {
    let out = run_file(IMPORTS_ACME_DB, "imports-db.wasm");
    assert_one_line_error(&out, NOT_AN_APP, "acme:db/query@1.0.0");
}

#[test]
fn exit_codes_are_documented_in_help() {
    let out = output(wasgi().args(["run", "--help"]));
    let help = String::from_utf8_lossy(&out.stdout);
    for line in [
        "0   the response completed",
        "3   the application failed before its headers went out",
        "4   the response was aborted",
        "10  the file cannot be read",
        "11  the file is not a WebAssembly component",
        "12  the component does not implement the wasgi world",
    ] {
        assert!(help.contains(line), "{line:?} missing from:\n{help}");
    }
}

#[test]
fn each_commands_help_opens_with_its_summary_from_the_list() {
    // The flags of a command are defined only when it runs (cli.rs, `defer`): a doc
    // comment on an options struct would replace the command's summary in its help.
    let out = output(wasgi().arg("--help"));
    let list = String::from_utf8_lossy(&out.stdout);
    let commands: Vec<(&str, &str)> = list
        .split_once("Commands:\n")
        .expect("a list of commands")
        .1
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.trim().split_once(char::is_whitespace))
        .filter(|(name, _)| *name != "help")
        .collect();
    assert!(commands.len() >= 5, "{list}");
    for (name, summary) in commands {
        let out = output(wasgi().args([name, "--help"]));
        let help = String::from_utf8_lossy(&out.stdout);
        assert_eq!(help.lines().next(), Some(summary.trim()), "{name}:\n{help}");
    }
}

// ---- The compile cache --------------------------------------------------------------

#[test]
fn the_second_run_loads_the_compiled_component_from_the_cache() {
    let dir = scratch("cli-cache");
    let cache = dir.to_str().expect("utf-8 path");
    let vars = [("WASGI_CACHE_DIR", cache), ("RUST_LOG", "wasgi=debug")];
    let hello = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nHello, World!\n";
    let first = wasgi_run(HELLO, &[], &vars);
    expect(&first, hello, COMPLETED, &["compiled the component in"]);
    let second = wasgi_run(HELLO, &[], &vars);
    expect(
        &second,
        hello,
        COMPLETED,
        &["loaded the compiled component from"],
    );
    assert!(!stderr(&second).contains("compiled the component in"));
    let off = wasgi_run(HELLO, &["--no-cache"], &vars);
    expect(&off, hello, COMPLETED, &[]);
    assert!(
        !stderr(&off).contains("compiled component"),
        "{}",
        stderr(&off)
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}
