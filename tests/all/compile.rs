//! `wasgi compile` and the `.cwasm` files it writes, the compile notice, and the
//! promise that a cached run never compiles (issue #6 §1), end to end with the real
//! binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::guests::*;
use crate::util::*;

/// `wasgi compile APP -o OUT`.
fn compile(app: impl AsRef<Path>, out: &Path) -> Output {
    let app = app.as_ref();
    output(wasgi().arg("compile").arg(app).arg("-o").arg(out))
}

/// The guest `app` (`.../NAME.wasm`) compiled into `dir/NAME.cwasm`.
fn compiled(app: &str, dir: &Path) -> PathBuf {
    let out = dir
        .join(Path::new(app).file_name().expect("a file name"))
        .with_extension("cwasm");
    let done = compile(app, &out);
    assert_eq!(code(&done), COMPLETED, "{}", stderr(&done));
    assert!(done.stderr.is_empty(), "compile is quiet off a terminal");
    out
}

/// `wasgi run APP ARGS...` with no cache, stdin closed.
fn run(app: impl AsRef<Path>, args: &[&str]) -> Output {
    let app = app.as_ref();
    output(
        wasgi()
            .arg("run")
            .arg(app)
            .arg("--no-cache")
            .args(args)
            .stdin(Stdio::null()),
    )
}

#[test]
fn a_compiled_app_answers_with_the_same_bytes_as_its_wasm() {
    let dir = scratch("compile-same-bytes");
    for (name, args) in [
        (HELLO, &[][..]),
        (TWO_SET_COOKIE, &[]),
        (STREAM, &["--path", "/?n=300"]),
        (
            ENVIRON,
            &["--path", "/a%20b?x=1", "--header", "X-Test: yes"],
        ),
        (ERROR_MID_BODY, &[]),
    ] {
        let from_wasm = run(name, args);
        let from_cwasm = run(compiled(name, &dir), args);
        assert!(!from_wasm.stdout.is_empty(), "{name}");
        assert_eq!(from_cwasm.stdout, from_wasm.stdout, "{name}: stdout");
        assert_eq!(code(&from_cwasm), code(&from_wasm), "{name}: exit code");
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn serve_loads_a_compiled_app() {
    let dir = scratch("compile-serve");
    let cwasm = compiled(HELLO, &dir);
    let mut cmd = wasgi();
    cmd.arg("serve")
        .arg(&cwasm)
        .args(["--addr", "127.0.0.1:0", "--no-cache"]);
    let server = Server::spawn(cmd);
    let got = server.get("/");
    assert_eq!(got.status, 200);
    assert_eq!(got.body.expect("body"), b"Hello, World!\n");
    drop(server);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn the_default_output_is_the_app_with_a_cwasm_extension() {
    let dir = scratch("compile-default-output");
    let app = dir.join("hello.wasm");
    std::fs::copy(HELLO, &app).expect("copy");
    let done = output(wasgi().arg("compile").arg(&app));
    assert_eq!(code(&done), COMPLETED, "{}", stderr(&done));
    let hello = run(dir.join("hello.cwasm"), &[]);
    assert_eq!(body(&hello.stdout), b"Hello, World!\n");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// The `.cwasm` of hello, damaged by `damage`, run: it must be refused with one line
/// that says `says` and what to do.
fn refused_after(name: &str, damage: impl FnOnce(&mut Vec<u8>), says: &str) {
    let dir = scratch(&format!("compile-{name}"));
    let cwasm = compiled(HELLO, &dir);
    let mut bytes = std::fs::read(&cwasm).expect("read");
    damage(&mut bytes);
    std::fs::write(&cwasm, &bytes).expect("write");
    let out = run(&cwasm, &[]);
    assert_one_line_error(&out, NOT_A_COMPONENT, says);
    assert_one_line_error(&out, NOT_A_COMPONENT, "recompile it with `wasgi compile`");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_cwasm_with_a_corrupt_byte_is_refused() {
    refused_after(
        "corrupt",
        |bytes| {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x01;
        },
        "is corrupt: its compiled code does not match its BLAKE3 digest",
    );
}

#[test]
fn a_truncated_cwasm_is_refused() {
    refused_after(
        "truncated",
        |bytes| bytes.truncate(bytes.len() - 100),
        "is truncated: it holds",
    );
    refused_after(
        "truncated-header",
        |bytes| bytes.truncate(12),
        "is truncated: its header is incomplete",
    );
}

#[test]
fn a_cwasm_from_another_wasgi_is_refused() {
    refused_after(
        "foreign",
        |bytes| {
            // The maker text, "wasgi VERSION ARCH-OS", starts after the magic and its
            // length: change the version's first digit.
            let version = 10 + "wasgi ".len();
            bytes[version] = if bytes[version] == b'9' { b'8' } else { b'9' };
        },
        "it was written by wasgi",
    );
}

#[test]
fn a_fuel_budget_needs_a_cwasm_compiled_with_fuel_metering() {
    let dir = scratch("compile-fuel");
    let plain = compiled(HELLO, &dir);
    let refused = run(&plain, &["--fuel", "1000000000"]);
    assert_one_line_error(
        &refused,
        NOT_A_COMPONENT,
        "it was compiled for other engine settings",
    );
    let metered = dir.join("metered.cwasm");
    let done = output(
        wasgi()
            .arg("compile")
            .arg(HELLO)
            .args(["--fuel", "-o"])
            .arg(&metered),
    );
    assert_eq!(code(&done), COMPLETED, "{}", stderr(&done));
    let out = run(&metered, &["--fuel", "1000000000"]);
    assert_eq!(body(&out.stdout), b"Hello, World!\n", "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_wasm_named_cwasm_runs_as_the_component_it_is() {
    let dir = scratch("compile-renamed");
    let renamed = dir.join("hello.cwasm");
    std::fs::copy(HELLO, &renamed).expect("copy");
    let out = run(&renamed, &[]);
    expect(
        &out,
        b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nHello, World!\n",
        COMPLETED,
        &[],
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_precompiled_file_of_wasmtime_itself_is_refused() {
    // A cache entry is exactly what wasmtime's precompile writes, with no header.
    let dir = scratch("compile-wasmtime-artifact");
    let cache = dir.join("cache");
    let cache_var = cache.to_str().expect("utf-8 path");
    let out = wasgi_run(HELLO, &[], &[("WASGI_CACHE_DIR", cache_var)]);
    assert_eq!(code(&out), COMPLETED, "{}", stderr(&out));
    let entry = std::fs::read_dir(&cache)
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("a cache entry");
    let out = run(&entry, &[]);
    assert_one_line_error(
        &out,
        NOT_A_COMPONENT,
        "it is a precompiled file of wasmtime itself, not a .cwasm written by `wasgi compile`",
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn compile_refuses_what_run_refuses_with_the_same_error() {
    let dir = scratch("compile-refusals");
    let files: [(&str, Vec<u8>); 4] = [
        ("script.wasm", b"#!/bin/sh\necho hello\n".to_vec()),
        ("core.wasm", CORE_MODULE.to_vec()),
        ("empty-component.wasm", EMPTY_COMPONENT.to_vec()),
        ("truncated.wasm", {
            let mut bytes = COMPONENT_WITH_A_CORE_MODULE.to_vec();
            bytes.truncate(bytes.len() - 3);
            bytes
        }),
    ];
    let mut apps: Vec<PathBuf> = files
        .iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).expect("write");
            path
        })
        .collect();
    apps.push(dir.join("missing.wasm"));
    for app in &apps {
        let refused = run(app, &[]);
        assert_ne!(code(&refused), COMPLETED, "{}", app.display());
        let out = dir.join("out.cwasm");
        let compiled = compile(app, &out);
        assert_eq!(code(&compiled), code(&refused), "{}", app.display());
        assert_eq!(stderr(&compiled), stderr(&refused), "{}", app.display());
        assert!(!out.exists(), "nothing written for {}", app.display());
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn compile_into_a_missing_directory_is_a_clear_error() {
    let out = compile(HELLO, Path::new("/nonexistent-dir/hello.cwasm"));
    assert_one_line_error(
        &out,
        HOST,
        "cannot write \"/nonexistent-dir/hello.cwasm\": No such file or directory (os error 2)",
    );
}

#[test]
fn compile_never_overwrites_the_app_itself() {
    let dir = scratch("compile-overwrite");
    let app = dir.join("hello.wasm");
    std::fs::copy(HELLO, &app).expect("copy");
    let out = compile(&app, &app);
    assert_one_line_error(&out, HOST, "it is the application being compiled");
    assert_eq!(
        std::fs::read(&app).expect("read"),
        std::fs::read(HELLO).expect("read")
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

// ---- The compile notice and the cache --------------------------------------------

/// What wasmtime's Cranelift back end logs at debug level for each function it
/// compiles: seen only when Cranelift runs.
const CRANELIFT_AT_WORK: &str = "translated to CLIF";

#[test]
fn a_cached_run_never_touches_cranelift() {
    let dir = scratch("compile-cranelift");
    let cache = dir.to_str().expect("utf-8 path");
    let vars = [
        ("WASGI_CACHE_DIR", cache),
        ("RUST_LOG", "wasmtime_internal_cranelift=debug"),
    ];
    let first = wasgi_run(HELLO, &[], &vars);
    assert_logged(&first, CRANELIFT_AT_WORK);
    let cached = wasgi_run(HELLO, &[], &vars);
    assert_eq!(cached.stdout, first.stdout);
    assert!(
        !stderr(&cached).contains(CRANELIFT_AT_WORK),
        "{}",
        stderr(&cached)
    );
    let cwasm = compiled(HELLO, &dir);
    let precompiled = output(
        wasgi()
            .arg("run")
            .arg(&cwasm)
            .env("RUST_LOG", "wasmtime_internal_cranelift=debug")
            .stdin(Stdio::null()),
    );
    assert_eq!(precompiled.stdout, first.stdout);
    assert!(
        !stderr(&precompiled).contains(CRANELIFT_AT_WORK),
        "{}",
        stderr(&precompiled)
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_run_with_a_timeout_and_one_without_each_compile_once_into_the_cache() {
    // A run without a timeout compiles no time checks in (TimeChecks::Off), so the two
    // are different compiled forms; each is cached, and neither is served for the other.
    let dir = scratch("compile-time-checks");
    let cache = dir.to_str().expect("utf-8 path");
    let vars = [
        ("WASGI_CACHE_DIR", cache),
        ("RUST_LOG", "wasmtime_internal_cranelift=debug"),
    ];
    let without: &[&str] = &[];
    for (args, compiles) in [
        (without, true),
        (&["--timeout", "5"][..], true),
        (without, false),
        (&["--timeout", "7"][..], false),
    ] {
        let ran = wasgi_run(HELLO, args, &vars);
        assert_eq!(code(&ran), COMPLETED, "{args:?}: {}", stderr(&ran));
        assert_eq!(body(&ran.stdout), b"Hello, World!\n", "{args:?}");
        let compiled = stderr(&ran).contains(CRANELIFT_AT_WORK);
        assert_eq!(compiled, compiles, "{args:?}: {}", stderr(&ran));
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn an_engine_without_time_checks_refuses_a_timeout() {
    use wasgi::limits::GuestLimits;
    let limits = GuestLimits {
        timeout: Some(std::time::Duration::from_secs(1)),
        ..GuestLimits::LOOSE
    };
    let engine = wasgi::engine(&limits, wasgi::TimeChecks::Off).expect("an engine");
    let app = wasgi::Application::load(&engine, HELLO.as_ref(), None).expect("it loads");
    let refused = app.with_limits(limits).err().expect("refused");
    assert_eq!(
        refused.to_string(),
        "failed to set up the wasm engine: a timeout needs an engine made with time checks (TimeChecks::On)"
    );
}

const NOTICE: &str = "wasgi: compiling hello.wasm (first run; cached for next time)…";

#[test]
fn no_compile_notice_when_stderr_is_not_a_terminal() {
    let dir = scratch("compile-notice-pipe");
    let cache = dir.to_str().expect("utf-8 path");
    let first = wasgi_run(HELLO, &[], &[("WASGI_CACHE_DIR", cache)]);
    assert_eq!(code(&first), COMPLETED);
    assert!(first.stderr.is_empty(), "{}", stderr(&first));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// `COMMAND` run by `script` on a pseudo-terminal (stdout and stderr both go to it),
/// with only `vars` in its environment; what the terminal showed.
fn on_a_terminal(command: &str, vars: &[(&str, &str)]) -> String {
    let mut script = Command::new("script");
    script
        .args(["-qec", command, "/dev/null"])
        .env_clear()
        .envs(vars.iter().copied())
        .stdin(Stdio::null());
    let out = output(&mut script);
    assert_eq!(code(&out), COMPLETED, "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_compile_on_a_terminal_says_so_and_how_long_it_took() {
    let dir = scratch("compile-notice-tty");
    let cache = dir.to_str().expect("utf-8 path");
    let command = format!("{} run {}", env!("CARGO_BIN_EXE_wasgi"), HELLO);
    let first = on_a_terminal(&command, &[("WASGI_CACHE_DIR", cache)]);
    let lines: Vec<&str> = first.lines().map(str::trim_end).collect();
    assert_eq!(lines[0], NOTICE, "{first}");
    assert!(
        lines[1].starts_with("wasgi: compiled hello.wasm in ") && lines[1].ends_with('s'),
        "{first}"
    );
    assert!(first.contains("Hello, World!"), "{first}");
    let cached = on_a_terminal(&command, &[("WASGI_CACHE_DIR", cache)]);
    assert!(!cached.contains("wasgi: compil"), "{cached}");
    assert!(cached.contains("Hello, World!"), "{cached}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

// ---- no cache directory named (issue #18) ----------------------------------------

/// This user's id: the owner of a directory the test just made.
fn uid(dir: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).expect("scratch").uid()
}

/// The compiled form's file name for `app`, as a cache in `dir` names it.
fn cached_entry(app: &str, dir: &Path) -> std::ffi::OsString {
    let ran = wasgi_run(
        app,
        &[],
        &[("WASGI_CACHE_DIR", dir.to_str().expect("utf-8"))],
    );
    assert_eq!(code(&ran), COMPLETED, "{}", stderr(&ran));
    let mut entries = std::fs::read_dir(dir)
        .expect("the cache")
        .map(|e| e.expect("entry").file_name())
        .filter(|name| name.to_string_lossy().ends_with(".cwasm"));
    let entry = entries.next().expect("one compiled form");
    assert!(entries.next().is_none(), "one compiled form");
    entry
}

#[test]
fn with_an_empty_environment_a_run_caches_in_a_private_temporary_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("compile-fallback-empty-env");
    let entry = cached_entry(HELLO, &dir.join("named"));
    let fallback = PathBuf::from(format!("/tmp/wasgi-cache-{}", uid(&dir)));
    // Whatever an earlier run left there, this run must write the entry again.
    let _ = std::fs::remove_file(fallback.join(&entry));
    // No variable at all, as a web server may run a CGI program.
    let ran = output(wasgi().arg("run").arg(HELLO).stdin(Stdio::null()));
    assert_eq!(code(&ran), COMPLETED, "{}", stderr(&ran));
    assert_eq!(body(&ran.stdout), b"Hello, World!\n", "{}", stderr(&ran));
    assert!(ran.stderr.is_empty(), "silent: {}", stderr(&ran));
    let meta = std::fs::symlink_metadata(&fallback).expect("the fallback cache exists");
    assert!(meta.is_dir());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o700,
        "private to the user"
    );
    assert!(
        fallback.join(&entry).exists(),
        "the compiled form is kept there"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn with_no_cache_variable_the_second_run_does_not_compile() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("compile-fallback-tmpdir");
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let vars = [("TMPDIR", tmp.to_str().expect("utf-8"))];
    let command = format!("{} run {}", env!("CARGO_BIN_EXE_wasgi"), HELLO);
    let first = on_a_terminal(&command, &vars);
    assert_eq!(
        first.lines().next().map(str::trim_end),
        Some(NOTICE),
        "{first}"
    );
    let second = on_a_terminal(&command, &vars);
    assert!(!second.contains("wasgi: compil"), "{second}");
    assert!(second.contains("Hello, World!"), "{second}");
    let fallback = tmp.join(format!("wasgi-cache-{}", uid(&dir)));
    let mode = std::fs::symlink_metadata(&fallback)
        .expect("made")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o700);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn an_unsafe_fallback_is_refused_and_the_log_says_once_how_to_fix_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("compile-fallback-unsafe");
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    // Someone else's trap: a directory by that name anyone can write to.
    let planted = tmp.join(format!("wasgi-cache-{}", uid(&dir)));
    std::fs::create_dir(&planted).expect("planted");
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let ran = wasgi_run(HELLO, &[], &[("TMPDIR", tmp.to_str().expect("utf-8"))]);
    assert_eq!(code(&ran), COMPLETED, "{}", stderr(&ran));
    assert_eq!(body(&ran.stdout), b"Hello, World!\n", "{}", stderr(&ran));
    let log = stderr(&ran);
    assert_eq!(log.lines().count(), 1, "once: {log}");
    assert!(
        log.contains(&format!("{} has mode 777", planted.display())),
        "{log}"
    );
    assert!(
        log.contains("every run compiles the component")
            && log.contains("set WASGI_CACHE_DIR to a directory of your own"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_dir(&planted).expect("planted").count(),
        0,
        "nothing written there"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}
