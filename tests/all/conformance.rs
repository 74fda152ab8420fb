//! The conformance suite: every guest language answers the same bytes.
//!
//! `tests/conformance/corpus.json` is a language-neutral corpus: for each guest
//! behaviour (`hello`, `echo`, `stream`, `exc-info`, `environ`, `legacy-write`), the
//! requests to make and the exact bytes expected from `wasgi run` (stdout, exit code,
//! log lines) and from `wasgi serve` (the response head without its `date`, the body,
//! whether it ended cleanly). Every language has one guest per behaviour, in
//! `guests/<language>/<behaviour>`, and one test here (`conformance::rust`, …) that
//! runs the whole corpus against its guests in both front ends. A new language passes
//! by adding its guests (and its word to `languages!`), not tests; a language without
//! a guest for some behaviour fails, naming it.
//!
//! The Rust guests come from the test artifacts (`crate::guests`); the Python ones
//! from [`python_guest`]; every other language's from `guests/build.sh <language>`,
//! run once per test run (it installs what it needs: see the script).
//!
//! Byte strings in the corpus are JSON strings (their UTF-8 bytes), `{"hex": "…"}`,
//! `{"repeat": "…", "times": N}`, or an array of those, concatenated. In `serve`
//! expectations `${REMOTE_PORT}` (the client's port), `${SERVER_SOFTWARE}` and
//! `${REQUEST_ID}` (made by the server: read back from the body, its shape checked)
//! are replaced before comparing.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::guests;
use crate::util::{
    HANG, Server, Then, code, os_bytes, output, output_with_input, python_guest, root, stderr,
    target_dir, wasgi,
};

/// The corpus, language-neutral (see the module docs for its byte strings).
const CORPUS: &str = include_str!("../conformance/corpus.json");

/// One test per guest language, and the list of them.
macro_rules! languages {
    ($($language:ident)*) => {
        /// The languages with guests, each tested by the function of its name.
        const LANGUAGES: &[&str] = &[$(stringify!($language)),*];
        $(
            #[test]
            fn $language() {
                conforms(stringify!($language));
            }
        )*
    };
}

languages! { rust python js c }

/// Every directory of `guests/` is a language, and every language is tested here.
#[test]
fn every_guest_language_is_tested() {
    let dirs: BTreeSet<String> = std::fs::read_dir(root().join("guests"))
        .expect("read guests/")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.is_dir())
        .map(|path| {
            path.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let tested: BTreeSet<String> = LANGUAGES.iter().map(|l| l.to_string()).collect();
    assert_eq!(
        dirs, tested,
        "each guests/<language> needs its word in conformance.rs's `languages!`"
    );
}

/// The SDKs that carry a copy of the WIT contract carry it unchanged.
#[test]
fn sdk_wit_copies_match_the_contract() {
    let contract = std::fs::read(root().join("wit/gateway.wit")).expect("wit/gateway.wit");
    for copy in [
        "guest-sdk/js/wit/gateway.wit",
        "guest-sdk/c/wit/gateway.wit",
    ] {
        let packaged = std::fs::read(root().join(copy)).unwrap_or_else(|e| panic!("{copy}: {e}"));
        assert!(
            packaged == contract,
            "{copy} differs from wit/gateway.wit: copy it over (guest-sdk/c/generate.sh does for C)"
        );
    }
}

/// The guest `guests/<language>/<name>`, built (also used by `apps`).
pub fn guest(language: &str, name: &str) -> PathBuf {
    match language {
        "rust" => PathBuf::from(rust_guest(name)),
        "python" => python_guest(name),
        _ => {
            built(language);
            let path = target_dir()
                .join("guests")
                .join(language)
                .join(format!("{name}.wasm"));
            assert!(
                path.exists(),
                "no {language} guest {name:?} at {}",
                path.display()
            );
            path
        }
    }
}

/// The Rust guest of each behaviour: the artifacts' constants, so a renamed guest
/// does not compile.
fn rust_guest(behaviour: &str) -> &'static str {
    match behaviour {
        "hello" => guests::HELLO,
        "echo" => guests::ECHO,
        "stream" => guests::STREAM,
        "exc-info" => guests::EXC_INFO,
        "environ" => guests::ENVIRON,
        "legacy-write" => guests::LEGACY_WRITE,
        other => panic!("no Rust guest for the behaviour {other:?}: add it to rust_guest"),
    }
}

/// Runs `guests/build.sh <language>` once per test run.
fn built(language: &str) {
    static BUILT: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    let mut done = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if done.contains(language) {
        return;
    }
    let status = Command::new("bash")
        .arg(root().join("guests/build.sh"))
        .arg(language)
        .status()
        .unwrap_or_else(|e| panic!("failed to run guests/build.sh {language}: {e}"));
    assert!(
        status.success(),
        "guests/build.sh {language} failed: {status}"
    );
    done.insert(language.to_owned());
}

/// Runs the whole corpus against `language`'s guests, in both front ends, and fails
/// with every difference found.
fn conforms(language: &str) {
    let corpus: Value = serde_json::from_str(CORPUS).expect("the corpus is JSON");
    let cases = corpus["cases"].as_array().expect("cases");
    let behaviours: BTreeSet<&str> = cases.iter().map(|c| str_of(c, "guest")).collect();
    let missing: Vec<&str> = behaviours
        .iter()
        .copied()
        .filter(|b| !root().join("guests").join(language).join(b).is_dir())
        .collect();
    assert!(
        missing.is_empty(),
        "{language} has no guest for {missing:?}: add guests/{language}/<behaviour>"
    );

    let mut failures = Vec::new();
    for behaviour in &behaviours {
        let app = guest(language, behaviour);
        let app = app.to_str().expect("a UTF-8 path");
        compiled(app);
        let of_behaviour: Vec<&Value> = cases
            .iter()
            .filter(|c| str_of(c, "guest") == *behaviour)
            .collect();
        for case in &of_behaviour {
            if let Some(want) = case.get("run") {
                check_run(app, case, want, &mut failures);
            }
        }
        if of_behaviour.iter().any(|c| c.get("serve").is_some()) {
            let mut cmd = wasgi();
            cmd.env("WASGI_CACHE_DIR", target_dir().join("wasgi-cache"))
                .args(["serve", app, "--addr", "127.0.0.1:0"]);
            let server = Server::spawn(cmd);
            for case in of_behaviour.iter().filter(|c| c.get("serve").is_some()) {
                check_serve(&server, case, &case["serve"], &mut failures);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the corpus's expectations failed for {language}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// How long compiling one guest may take: a 19 MB Python component takes seconds
/// alone, and minutes on a loaded machine.
const COMPILE: Duration = Duration::from_secs(600);

/// Fills the shared compile cache for `app` (one `wasgi run` that may take up to
/// [`COMPILE`]), so that no case below waits for the compiler.
pub fn compiled(app: &str) {
    let mut child = wasgi()
        .env("WASGI_CACHE_DIR", target_dir().join("wasgi-cache"))
        .args(["run", app])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("failed to start wasgi run");
    let started = Instant::now();
    while child.try_wait().expect("wait for wasgi run").is_none() {
        if started.elapsed() > COMPILE {
            let _ = child.kill();
            panic!("compiling {app} took more than {COMPILE:?}");
        }
        // Polling a child we started, not waiting for a server: nothing to read.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `wasgi run` of one case: stdout byte for byte, the exit code, the log lines.
fn check_run(app: &str, case: &Value, want: &Value, failures: &mut Vec<String>) {
    let request = &case["request"];
    let mut cmd = wasgi();
    // The shared compile cache: a 12 MB JavaScript or 19 MB Python component compiles
    // once per test run, not once per case.
    cmd.env("WASGI_CACHE_DIR", target_dir().join("wasgi-cache"));
    cmd.arg("run").arg(app);
    if let Some(vars) = request.get("cgi") {
        // A web server's CGI call: the variables say it all.
        for (name, value) in vars.as_object().expect("cgi: an object") {
            cmd.env(name, os_bytes(&bytes(value)));
        }
    } else {
        if let Some(method) = request.get("method") {
            cmd.args(["--method", method.as_str().expect("method")]);
        }
        if let Some(path) = request.get("path") {
            cmd.args(["--path", path.as_str().expect("path")]);
        }
        for (name, value) in headers(request) {
            cmd.arg("--header").arg(format!("{name}: {value}"));
        }
    }
    let body = request.get("body").map(bytes);
    let out: Output = match &body {
        Some(body) => {
            if request.get("cgi").is_none() {
                cmd.args(["--body", "-"]);
            }
            output_with_input(&mut cmd, body, Then::Close)
        }
        None => output(cmd.stdin(Stdio::null())),
    };
    let name = format!(
        "{} / {} (wasgi run)",
        str_of(case, "guest"),
        str_of(case, "name")
    );
    let log = stderr(&out);
    let stdout_want = bytes(&want["stdout"]);
    if out.stdout != stdout_want {
        failures.push(format!(
            "{name}: stdout\n  want {}\n  got  {}\n  log: {log}",
            shown(&stdout_want),
            shown(&out.stdout)
        ));
    }
    let exit_want = want["exit"].as_i64().expect("exit") as i32;
    if code(&out) != exit_want {
        failures.push(format!(
            "{name}: exit code {} instead of {exit_want}; log: {log}",
            code(&out)
        ));
    }
    for needle in strings(want.get("log")) {
        if !log.contains(&needle) {
            failures.push(format!("{name}: {needle:?} not in the log: {log}"));
        }
    }
}

/// `wasgi serve` of one case, over a raw connection so that every byte the client
/// sends is the corpus's: the head (without `date`) and the body exactly, and whether
/// the body ended cleanly.
fn check_serve(server: &Server, case: &Value, want: &Value, failures: &mut Vec<String>) {
    let request = &case["request"];
    let body = request.get("body").map(bytes).unwrap_or_default();
    let mut wire = format!(
        "{} {} HTTP/1.1\r\nHost: conformance.test\r\n",
        request
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET"),
        request.get("path").and_then(Value::as_str).unwrap_or("/"),
    )
    .into_bytes();
    for (name, value) in headers(request) {
        wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if !body.is_empty() {
        wire.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    wire.extend_from_slice(b"Connection: close\r\n\r\n");
    wire.extend_from_slice(&body);

    let mut stream = server.connect();
    let remote_port = stream
        .local_addr()
        .expect("local address")
        .port()
        .to_string();
    let software = format!("wasgi/{}", env!("CARGO_PKG_VERSION"));
    let fill = |text: Vec<u8>| -> Vec<u8> {
        let text = replace(&text, b"${REMOTE_PORT}", remote_port.as_bytes());
        replace(&text, b"${SERVER_SOFTWARE}", software.as_bytes())
    };
    let name = format!(
        "{} / {} (wasgi serve)",
        str_of(case, "guest"),
        str_of(case, "name")
    );
    let response = exchange(&mut stream, &wire);
    let (head, got_body, complete) = match parse(&response) {
        Ok(parts) => parts,
        Err(why) => {
            failures.push(format!("{name}: {why}: {}", shown(&response)));
            return;
        }
    };
    let id = request_id(&got_body);
    let fill = |text: Vec<u8>| replace(&fill(text), b"${REQUEST_ID}", &id);
    let head_want = fill(bytes(&want["head"]));
    if head != head_want {
        failures.push(format!(
            "{name}: head\n  want {}\n  got  {}",
            shown(&head_want),
            shown(&head)
        ));
    }
    let body_want = fill(bytes(&want["body"]));
    if got_body != body_want {
        failures.push(format!(
            "{name}: body\n  want {}\n  got  {}\n  log: {}",
            shown(&body_want),
            shown(&got_body),
            server.log()
        ));
    }
    let complete_want = want["complete"].as_bool().expect("complete");
    if complete != complete_want {
        let what = if complete {
            "ended cleanly"
        } else {
            "was cut short"
        };
        failures.push(format!("{name}: the body {what}; log: {}", server.log()));
    }
    for needle in strings(want.get("log")) {
        // Logged as the request ends, which may be just after the client saw it end.
        server.wait_for_log(&needle);
    }
}

/// The `REQUEST_ID` an environ body shows (the server makes it, so the corpus cannot
/// spell it): its value, which must have the shape of a made id (`PREFIX-N`, eight
/// hex digits and a count); nothing when the body has none.
fn request_id(body: &[u8]) -> Vec<u8> {
    let key = b"\"REQUEST_ID\": \"";
    let Some(at) = body.windows(key.len()).position(|w| w == key) else {
        return Vec::new();
    };
    let rest = &body[at + key.len()..];
    let id = &rest[..rest.iter().position(|&b| b == b'"').unwrap_or(0)];
    let shaped = id.len() > 9
        && id[..8].iter().all(u8::is_ascii_hexdigit)
        && id[8] == b'-'
        && id[9..].iter().all(u8::is_ascii_digit);
    assert!(shaped, "REQUEST_ID {:?}", String::from_utf8_lossy(id));
    id.to_vec()
}

/// Sends `wire` and reads the whole response (the server closes the connection).
fn exchange(stream: &mut TcpStream, wire: &[u8]) -> Vec<u8> {
    stream.write_all(wire).expect("send the request");
    let mut response = Vec::new();
    let deadline = Instant::now() + HANG;
    let mut buf = [0; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            // An aborted response: the server resets the connection.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the response failed: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the response did not end within {HANG:?}"
        );
    }
    response
}

/// A response's head (status line and header lines, each with its CRLF, `date`
/// dropped), its body with the framing undone, and whether the body ended as its
/// framing says a complete body ends.
fn parse(response: &[u8]) -> Result<(Vec<u8>, Vec<u8>, bool), String> {
    let end = find(response, b"\r\n\r\n").ok_or("no end of the head")?;
    let (head, rest) = (&response[..end + 2], &response[end + 4..]);
    let mut kept = Vec::new();
    let (mut chunked, mut length) = (false, None);
    for line in head.split_inclusive(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line).to_ascii_lowercase();
        if text.starts_with("date:") {
            continue;
        }
        if text.trim_end() == "transfer-encoding: chunked" {
            chunked = true;
        }
        if let Some(n) = text.strip_prefix("content-length:") {
            length = Some(n.trim().parse::<usize>().map_err(|e| e.to_string())?);
        }
        kept.extend_from_slice(line);
    }
    if chunked {
        let (body, complete) = dechunk(rest)?;
        return Ok((kept, body, complete));
    }
    match length {
        Some(n) => Ok((kept, rest[..n.min(rest.len())].to_vec(), rest.len() == n)),
        None => Ok((kept, rest.to_vec(), true)),
    }
}

/// A chunked body's data, and whether its last (empty) chunk arrived.
fn dechunk(mut rest: &[u8]) -> Result<(Vec<u8>, bool), String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return Ok((body, false));
        };
        let size_text = String::from_utf8_lossy(&rest[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok((body, rest.starts_with(b"\r\n")));
        }
        if rest.len() < size + 2 {
            body.extend_from_slice(&rest[..size.min(rest.len())]);
            return Ok((body, false));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// `bytes` with every `from` replaced by `to`.
fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = find(rest, from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A corpus byte string (see the module docs).
fn bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.as_bytes().to_vec(),
        Value::Array(parts) => parts.iter().flat_map(bytes).collect(),
        Value::Object(object) if object.contains_key("hex") => {
            let hex = object["hex"].as_str().expect("hex: a string");
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
                .collect()
        }
        Value::Object(object) if object.contains_key("repeat") => {
            let times = object["times"].as_u64().expect("times: a number") as usize;
            bytes(&object["repeat"]).repeat(times)
        }
        other => panic!("not a corpus byte string: {other}"),
    }
}

fn headers(request: &Value) -> Vec<(String, String)> {
    request
        .get("headers")
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .map(|pair| (str_of(&pair[0], ""), str_of(&pair[1], "")))
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    let value = if key.is_empty() { value } else { &value[key] };
    value
        .as_str()
        .unwrap_or_else(|| panic!("{key:?}: a string, in {value}"))
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|list| list.iter().map(|v| str_of(v, "").to_owned()).collect())
        .unwrap_or_default()
}

/// Bytes for a failure message: text with escapes, cut at 600 characters.
fn shown(bytes: &[u8]) -> String {
    let text = format!("{:?}", String::from_utf8_lossy(bytes));
    if text.chars().count() > 600 {
        let cut: String = text.chars().take(600).collect();
        format!("{cut}… ({} bytes)", bytes.len())
    } else {
        text
    }
}
