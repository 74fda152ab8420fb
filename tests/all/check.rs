//! `wasgi check`: every rule-breaking guest yields its named diagnostic, the
//! well-behaved guests of every language exactly what they really do (a body on HEAD
//! that the gateway drops, a request body left unread), the JSON report, the exit
//! statuses (`--strict` included), a `.cwasm`, `--requests` files, and the refusals of
//! what is not a component.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::conformance::{compiled, guest};
use crate::guests::*;
use crate::util::*;

/// `wasgi check` found errors (or, with `--strict`, warnings).
const CHECK_FAILED: i32 = 5;
/// The command line (or a `--requests` file) is wrong.
const USAGE: i32 = 2;

/// The warnings of a guest that answers every request the same way: its body on HEAD
/// (dropped by the gateway) and the request bodies it never reads.
const ANSWERS_ALIKE: &[&str] = &["body-without-content", "input-unread"];

/// `wasgi check ARGS... APP` with the shared compile cache (a JavaScript or Python
/// guest compiled first, however long that takes).
fn check_output(app: &Path, args: &[&str]) -> Output {
    let app = app.to_str().expect("a UTF-8 path");
    if !app.contains("/rust/") {
        compiled(app);
    }
    output(
        wasgi()
            .env("WASGI_CACHE_DIR", target_dir().join("wasgi-cache"))
            .arg("check")
            .args(args)
            .arg(app)
            .stdin(Stdio::null()),
    )
}

/// The JSON report of `wasgi check --format json ARGS... APP`, and the exit code.
fn check(app: impl AsRef<Path>, args: &[&str]) -> (Value, i32) {
    let out = check_output(app.as_ref(), &[&["--format", "json"], args].concat());
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stderr(&out)));
    (report, code(&out))
}

/// The rules a report names, each once.
fn rules(report: &Value) -> BTreeSet<String> {
    report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| d["rule"].as_str().expect("rule").to_owned())
        .collect()
}

/// Asserts that checking `app` finds exactly `want`, and exits `exit`.
#[track_caller]
fn assert_finds(app: impl AsRef<Path>, args: &[&str], want: &[&str], exit: i32) {
    let app = app.as_ref();
    let (report, code) = check(app, args);
    let want: BTreeSet<String> = want.iter().map(|r| (*r).to_owned()).collect();
    assert_eq!(rules(&report), want, "{}: {report:#}", app.display());
    assert_eq!(code, exit, "{}", app.display());
}

/// A `--requests` file in a scratch directory holding `lines`.
fn requests_file(test: &str, lines: &str) -> PathBuf {
    let file = scratch(test).join("requests.jsonl");
    std::fs::write(&file, lines).expect("write the requests");
    file
}

#[test]
fn each_guest_that_breaks_a_gateway_rule_is_named_by_it() {
    // Each guest, the rule it breaks, and what else it really does (its answer to HEAD
    // and to bodies it does not read).
    let cases: &[(&str, &[&str])] = &[
        (BAD_STATUS, &["status-form"]),
        (STATUS_CRLF, &["status-control-character"]),
        (STATUS_HEADER, &["status-header"]),
        (HEADER_NAME_CR, &["header-name"]),
        (HEADER_NAME_LF, &["header-name"]),
        (HEADER_NAME_NUL, &["header-name"]),
        (NON_TOKEN_HEADER_NAME, &["header-name"]),
        (HEADER_VALUE_CRLF, &["header-value-control-character"]),
        (HEADER_VALUE_NUL, &["header-value-control-character"]),
        (HOP_BY_HOP_HEADER, &["hop-by-hop-header"]),
        (HUGE_STATUS, &["response-limit"]),
        (HUGE_HEADER_VALUE, &["response-limit"]),
        (HEADER_BOMB, &["response-limit"]),
        (START_RESPONSE_TWICE, &["start-response-twice"]),
        (NO_START_RESPONSE, &["write-before-start-response"]),
        (
            WRITE_BEFORE_START_RESPONSE,
            &["write-before-start-response", "legacy-write"],
        ),
        (
            CONTENT_LENGTH_MISMATCH,
            &[
                "content-length-mismatch",
                "body-without-content",
                "input-unread",
            ],
        ),
        (
            EXC_INFO_AFTER_HEADERS,
            &[
                "exc-info-after-headers",
                "body-without-content",
                "input-unread",
            ],
        ),
        (
            WRITE_AFTER_CLOSE,
            &["output-after-end", "body-without-content", "input-unread"],
        ),
        (ERROR_BEFORE_HEADERS, &["app-error"]),
        (
            ERROR_MID_BODY,
            &["app-error", "body-without-content", "input-unread"],
        ),
        (TRAP_BEFORE_HEADERS, &["trap"]),
        (STACK_OVERFLOW, &["trap"]),
        (
            TRAP_MID_BODY,
            &["trap", "body-without-content", "input-unread"],
        ),
        (
            TRAP_IN_CLOSE,
            &["trap", "body-without-content", "input-unread"],
        ),
        (
            RECURSION_IN_NEXT,
            &["trap", "body-without-content", "input-unread"],
        ),
        (RESOURCE_HOG, &["guest-limit"]),
        (
            ONE_GIB_CHUNK,
            &["guest-limit", "body-without-content", "input-unread"],
        ),
    ];
    for (guest, want) in cases {
        assert_finds(guest, &[], want, CHECK_FAILED);
    }
}

#[test]
fn each_guest_that_bends_a_rule_is_warned_of_it() {
    let cases: &[(&str, &[&str])] = &[
        (NO_CONTENT_TYPE, &["no-content-type"]),
        (
            CONTENT_TYPE_ON_204,
            &["content-type-without-body", "input-unread"],
        ),
        (DUPLICATE_CONTENT_TYPE, &["duplicate-header"]),
        (NO_REASON_PHRASE, &["no-reason-phrase"]),
        (NON_ASCII_HEADER_VALUE, &["non-ascii-header-value"]),
        (LEGACY_WRITE, &["legacy-write"]),
        (EMPTY_CHUNKS_FIRST, &["empty-chunk-before-headers"]),
        (EXC_INFO_FLOOD, &["exc-info-repeated"]),
        (
            READ_PAST_CONTENT_LENGTH,
            &["input-read-past-end", "body-without-content"],
        ),
    ];
    for (guest, extra) in cases {
        let mut want: BTreeSet<&str> = extra.iter().copied().collect();
        // Those that read no body and answer HEAD with one.
        if !["input-read-past-end", "content-type-without-body"]
            .iter()
            .any(|r| want.contains(r))
        {
            want.extend(ANSWERS_ALIKE);
        }
        let want: Vec<&str> = want.into_iter().collect();
        assert_finds(guest, &[], &want, 0);
        assert_finds(guest, &["--strict"], &want, CHECK_FAILED);
    }
}

#[test]
fn guests_stopped_by_a_limit_are_named_by_it() {
    let one = requests_file(
        "check-limits",
        "{\"name\": \"the one request\", \"path\": \"/\"}\n",
    );
    let one = one.to_str().expect("a UTF-8 path");
    let only = ["--no-builtin", "--requests", one];
    for (guest, limit) in [
        (INFINITE_LOOP_BEFORE_HEADERS, &["--timeout", "0.5"][..]),
        (INFINITE_LOOP_MID_BODY, &["--timeout", "0.5"]),
        (BODY_FOREVER, &["--timeout", "0.5"]),
        (SLEEPS_IN_HOST_CALL, &["--timeout", "0.5"]),
        (FUEL_BURNER, &["--fuel", "1000000"]),
        (MEMORY_BOMB, &["--max-memory", "32MiB"]),
        (MEMORY_BOMB_MID_BODY, &["--max-memory", "32MiB"]),
    ] {
        let (report, code) = check(guest, &[&only[..], limit].concat());
        assert!(
            rules(&report).contains("guest-limit"),
            "{guest}: {report:#}"
        );
        assert_eq!(code, CHECK_FAILED, "{guest}");
        let message = report["diagnostics"][0]["message"]
            .as_str()
            .expect("message");
        assert!(message.starts_with("limit: "), "{guest}: {message}");
    }
}

#[test]
fn time_and_memory_past_half_of_their_limits_are_warned_of() {
    let slow = requests_file(
        "check-slow",
        "{\"name\": \"a slow one\", \"path\": \"/?ms=2500\"}\n",
    );
    let (report, code) = check(
        SLOW_REQUEST,
        &[
            "--timeout",
            "4",
            "--no-builtin",
            "--requests",
            slow.to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(rules(&report), BTreeSet::from(["slow-request".to_owned()]));
    assert_eq!(
        report["diagnostics"][0]["requests"],
        serde_json::json!(["a slow one"])
    );
    assert_eq!(code, 0);
    // Without a time limit (0), nothing is slow.
    let (report, _) = check(
        SLOW_REQUEST,
        &[
            "--timeout",
            "0",
            "--no-builtin",
            "--requests",
            slow.to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(rules(&report), BTreeSet::new());

    // A 64 MiB error message: its memory grows past 128 MiB, half of serve's default.
    let one = requests_file("check-heavy", "{\"path\": \"/\"}\n");
    let one = one.to_str().expect("UTF-8");
    let (report, code) = check(HUGE_ERROR_MESSAGE, &["--no-builtin", "--requests", one]);
    let want: BTreeSet<String> = ["app-error", "memory-heavy"].map(String::from).into();
    assert_eq!(rules(&report), want, "{report:#}");
    assert_eq!(code, CHECK_FAILED);
    assert!(report["requests"][0]["peak_memory"].as_u64().expect("peak") > 128 << 20);
}

#[test]
fn well_behaved_guests_of_every_language_show_only_what_they_do() {
    let plain: &[&str] = &[];
    let cases: Vec<(PathBuf, &[&str])> = vec![
        (guest("rust", "hello"), ANSWERS_ALIKE),
        (guest("rust", "stream"), ANSWERS_ALIKE),
        (guest("rust", "environ"), ANSWERS_ALIKE),
        (guest("rust", "echo"), plain),
        (COUNTER.into(), ANSWERS_ALIKE),
        (TWO_SET_COOKIE.into(), ANSWERS_ALIKE),
        (EXC_INFO_BEFORE_HEADERS.into(), ANSWERS_ALIKE),
        (guest("python", python::HELLO), ANSWERS_ALIKE),
        (guest("python", python::ECHO), plain),
        // Flask answers HEAD without a body itself.
        (guest("python", python::FLASK_APP), &["input-unread"]),
        (guest("js", "hello"), ANSWERS_ALIKE),
        (guest("js", "echo"), plain),
        (guest("c", "hello"), ANSWERS_ALIKE),
        (guest("c", "echo"), plain),
    ];
    for (app, want) in cases {
        assert_finds(&app, &[], want, 0);
    }
    // Nothing to warn of: --strict passes too.
    assert_finds(guest("rust", "echo"), &["--strict"], plain, 0);
}

#[test]
fn the_json_report_says_what_the_component_is_and_how_each_request_went() {
    let (report, _) = check(HELLO, &[]);
    let inspection = &report["static"];
    assert_eq!(inspection["kind"], "component");
    assert_eq!(
        inspection["size"],
        std::fs::metadata(HELLO).expect("hello").len()
    );
    assert!(inspection["compiled_size"].as_u64().expect("compiled") > 0);
    assert_eq!(inspection["world_versions"], serde_json::json!(["0.1.0"]));
    assert_eq!(
        inspection["exports"],
        serde_json::json!(["wasgi:gateway/application@0.1.0"])
    );
    let import = |name: &str| {
        inspection["imports"]
            .as_array()
            .expect("imports")
            .iter()
            .find(|i| i["name"].as_str().is_some_and(|n| n.starts_with(name)))
            .unwrap_or_else(|| panic!("no import {name}: {inspection:#}"))
            .clone()
    };
    assert_eq!(
        import("wasgi:gateway/server@0.1.0")["meaning"],
        "the wasgi contract"
    );
    assert!(
        import("wasi:cli/environment")["meaning"]
            .as_str()
            .expect("meaning")
            .contains("--env")
    );
    let producers = inspection["producers"].as_array().expect("producers");
    assert!(
        producers.iter().any(|p| p["name"] == "wit-component"),
        "{producers:?}"
    );
    assert_eq!(report["limits"]["timeout_seconds"], 30.0);
    assert_eq!(report["limits"]["max_memory"], 256 << 20);
    let requests = report["requests"].as_array().expect("requests");
    assert_eq!(requests.len(), 17);
    for request in requests {
        assert_eq!(request["status"], "200 OK", "{request}");
        assert_eq!(request["outcome"], "completed", "{request}");
    }
    let head = &report["diagnostics"][0];
    assert_eq!(head["rule"], "body-without-content");
    assert_eq!(head["severity"], "warning");
    assert_eq!(head["source"], "RFC 9110 sections 9.3.2, 15.3.5, 15.4.5");
    assert_eq!(head["requests"], serde_json::json!(["HEAD /"]));
    assert_eq!(report["errors"], 0);
    assert_eq!(report["warnings"], 2);

    // The network and the files: what a guest that reaches for them must be granted.
    let (probe, _) = check(SANDBOX_PROBE, &[]);
    let meanings: Vec<String> = probe["static"]["imports"]
        .as_array()
        .expect("imports")
        .iter()
        .filter_map(|i| i["meaning"].as_str().map(String::from))
        .collect();
    for grant in ["--dir or --ro-dir", "--allow-connect"] {
        assert!(
            meanings.iter().any(|m| m.contains(grant)),
            "{grant}: {meanings:?}"
        );
    }
}

#[test]
fn the_report_for_people_groups_by_rule_with_the_requests_that_showed_it() {
    let out = check_output(Path::new(NO_CONTENT_TYPE), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    for line in [
        &format!("wasgi check {NO_CONTENT_TYPE}\n"),
        "  world: wasgi:gateway@0.1.0\n",
        "  requests: 17, each in a fresh instance (--timeout 30 s, --max-memory 256.0 MiB)\n",
        "\nwarning[no-content-type]: a response that can have a body has a Content-Type (CGI may default one, WSGI does not)\n  source: wsgiref.validate (check_content_type)\n  - response \"200 OK\" has no Content-Type header",
        "\nwarning[body-without-content]: ",
        "    seen on: HEAD /\n",
        "\n0 errors, 3 warnings\n",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    // Errors first, with --strict failing on warnings alone.
    let out = check_output(Path::new(STATUS_HEADER), &["--strict"]);
    assert_eq!(code(&out), CHECK_FAILED);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\nerror[status-header]: no header may be named Status"),
        "{text}"
    );
    assert_eq!(
        stderr(&out).lines().last(),
        Some(
            format!("wasgi: error: {STATUS_HEADER:?}: the check found 1 errors and 0 warnings")
                .as_str()
        )
    );
}

#[test]
fn a_cwasm_is_checked_as_its_component_without_its_producers() {
    let dir = scratch("check-cwasm");
    let cwasm = dir.join("hello.cwasm");
    let out = output(
        wasgi()
            .args(["compile", HELLO, "-o"])
            .arg(&cwasm)
            .stdin(Stdio::null()),
    );
    assert_eq!(code(&out), COMPLETED, "{}", stderr(&out));
    let (report, code) = check(&cwasm, &[]);
    let (from_wasm, _) = check(HELLO, &[]);
    assert_eq!(code, 0);
    assert_eq!(report["static"]["kind"], "cwasm");
    assert_eq!(report["static"]["producers"], serde_json::json!([]));
    assert!(
        report["static"]["maker"]
            .as_str()
            .expect("maker")
            .starts_with("wasgi "),
        "{report:#}"
    );
    assert_eq!(report["static"]["imports"], from_wasm["static"]["imports"]);
    assert_eq!(report["diagnostics"], from_wasm["diagnostics"]);
}

#[test]
fn requests_from_a_file_join_the_corpus() {
    let file = requests_file(
        "check-requests",
        "# the app's own\n\
         {\"name\": \"admin form\", \"method\": \"POST\", \"path\": \"/app/admin?x=1\", \"script_name\": \"/app\", \"headers\": [[\"Content-Type\", \"text/plain\"]], \"body\": \"hello\"}\n\
         \n\
         {\"name\": \"bytes\", \"method\": \"PUT\", \"path\": \"/\", \"body\": {\"hex\": \"00ff\"}}\n",
    );
    let file = file.to_str().expect("UTF-8");
    let (report, _) = check(ECHO, &["--requests", file]);
    assert_eq!(report["requests"].as_array().expect("requests").len(), 19);
    let (report, code) = check(HELLO, &["--no-builtin", "--requests", file]);
    let names: Vec<&str> = report["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["admin form", "bytes"]);
    assert_eq!(report["requests"][0]["request"], "POST /app/admin?x=1");
    assert_eq!(report["diagnostics"][0]["rule"], "input-unread");
    assert_eq!(
        report["diagnostics"][0]["requests"],
        serde_json::json!(["admin form", "bytes"])
    );
    assert_eq!(code, 0);

    // A mistake in the file: one line naming it, before anything runs.
    let bad = requests_file(
        "check-bad-requests",
        "{\"path\": \"/\"}\n{\"path\": \"nope\"}\n",
    );
    let out = check_output(
        Path::new(HELLO),
        &["--requests", bad.to_str().expect("UTF-8")],
    );
    assert_one_line_error(&out, USAGE, "line 2: path \"nope\" must start with '/'");
}

#[test]
fn what_is_not_a_wasgi_component_is_refused_or_reported() {
    let dir = scratch("check-not-an-app");
    for (name, bytes, exit, says) in [
        (
            "core.wasm",
            CORE_MODULE,
            NOT_A_COMPONENT,
            "is a core WebAssembly module",
        ),
        (
            "text.wasm",
            &b"hello"[..],
            NOT_A_COMPONENT,
            "is not a WebAssembly component",
        ),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, bytes).expect("write");
        let out = check_output(&file, &[]);
        assert_one_line_error(&out, exit, says);
    }
    let out = check_output(&dir.join("missing.wasm"), &[]);
    assert_one_line_error(&out, UNREADABLE, "cannot read");

    // A component that imports what wasgi does not provide: the report says what it
    // imports and why it is not an app, and nothing runs.
    let file = dir.join("imports-db.wasm");
    std::fs::write(&file, IMPORTS_ACME_DB).expect("write");
    let (report, code) = check(&file, &[]);
    assert_eq!(code, NOT_AN_APP);
    assert_eq!(rules(&report), BTreeSet::from(["wasgi-world".to_owned()]));
    assert_eq!(
        report["static"]["imports"],
        serde_json::json!([{"name": "acme:db/query@1.0.0", "meaning": null}])
    );
    assert_eq!(report["requests"], serde_json::json!([]));
    let message = report["diagnostics"][0]["message"]
        .as_str()
        .expect("message");
    assert!(message.contains("acme:db/query@1.0.0"), "{message}");
}
