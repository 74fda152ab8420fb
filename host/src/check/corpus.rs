//! The requests `wasgi check` makes: a built-in corpus (methods, HEAD and OPTIONS,
//! bodies large and small, query strings, paths that are not UTF-8, a SCRIPT_NAME) and
//! the user's own, from a file of JSON lines (docs/CHECK.md):
//!
//! ```text
//! {"name": "login", "method": "POST", "path": "/login?next=%2F", "headers": [["Content-Type", "application/x-www-form-urlencoded"]], "body": "user=a&pw=b"}
//! {"method": "GET", "path": "/app/admin", "script_name": "/app"}
//! {"method": "PUT", "path": "/blob", "body": {"hex": "00ff10"}}
//! {"method": "POST", "path": "/big", "body": {"repeat": "x", "times": 1048576}}
//! ```
//!
//! Each request becomes an environ the way `wasgi serve` builds one.

use std::net::SocketAddr;

use serde_json::Value;
use wasgi_gateway::environ::{Environ, HttpRequest};

/// One request to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRequest {
    /// What diagnostics call it.
    pub name: String,
    /// The method.
    pub method: String,
    /// The request target as sent: percent-encoded path and optional `?query`.
    pub path: String,
    /// SCRIPT_NAME, a prefix of the decoded path; empty for none.
    pub script_name: Vec<u8>,
    /// Header fields, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body (sent with its Content-Length when not empty).
    pub body: Vec<u8>,
}

impl CheckRequest {
    fn new(name: &str, method: &str, path: &str) -> Self {
        Self {
            name: name.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            script_name: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: &[u8]) -> Self {
        self.headers.push((name.to_owned(), value.to_vec()));
        self
    }

    fn body(mut self, content_type: Option<&str>, body: Vec<u8>) -> Self {
        if let Some(content_type) = content_type {
            self = self.header("Content-Type", content_type.as_bytes());
        }
        self.body = body;
        self
    }

    /// The environ `wasgi serve` would build for this request (from 127.0.0.1, on
    /// `localhost:80`), with its SCRIPT_NAME split off PATH_INFO.
    pub fn environ(&self) -> Environ {
        let mut headers: Vec<(&str, &[u8])> = vec![("Host", b"localhost")];
        headers.extend(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())));
        let length = self.body.len().to_string();
        let has_length = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
        if !self.body.is_empty() && !has_length {
            headers.push(("Content-Length", length.as_bytes()));
        }
        let local = SocketAddr::from(([127, 0, 0, 1], 80));
        let mut environ = Environ::from_http(&HttpRequest {
            method: &self.method,
            target: self.path.as_bytes(),
            protocol: "HTTP/1.1",
            headers: &headers,
            local: Some(local),
            remote: Some(SocketAddr::from(([127, 0, 0, 1], 40000))),
            https: false,
            trusted_proxies: &[],
            keep_underscore_headers: false,
        });
        if !self.script_name.is_empty() {
            let path = environ.get("PATH_INFO").unwrap_or_default().to_vec();
            let rest = path
                .strip_prefix(self.script_name.as_slice())
                .unwrap_or(&path);
            environ.set("PATH_INFO", rest);
            environ.set("SCRIPT_NAME", self.script_name.clone());
        }
        environ.multithread = true;
        environ
    }
}

/// The built-in corpus.
pub fn builtin() -> Vec<CheckRequest> {
    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
    const JSON: Option<&str> = Some("application/json");
    const BYTES: Option<&str> = Some("application/octet-stream");
    let large: Vec<u8> = (0..1 << 20)
        .map(|i: u32| b"wasgi\n"[i as usize % 6])
        .collect();
    let mut under_script = CheckRequest::new("GET under a SCRIPT_NAME", "GET", "/app/page?x=1");
    under_script.script_name = b"/app".to_vec();
    vec![
        CheckRequest::new("GET /", "GET", "/"),
        CheckRequest::new(
            "GET with a query string",
            "GET",
            "/search?q=caf%C3%A9&page=2",
        ),
        CheckRequest::new("HEAD /", "HEAD", "/"),
        CheckRequest::new("OPTIONS /", "OPTIONS", "/"),
        CheckRequest::new("POST a form", "POST", "/form")
            .body(FORM, b"name=wasgi&lang=rust".to_vec()),
        CheckRequest::new("POST JSON", "POST", "/api")
            .body(JSON, br#"{"hello": "world"}"#.to_vec()),
        CheckRequest::new("POST with no Content-Type", "POST", "/")
            .body(None, b"plain bytes".to_vec()),
        CheckRequest::new("POST an empty body", "POST", "/").header("Content-Length", b"0"),
        CheckRequest::new("PUT every byte value", "PUT", "/upload")
            .body(BYTES, (0..=255).collect()),
        CheckRequest::new("POST a 1 MiB body", "POST", "/upload").body(BYTES, large),
        CheckRequest::new("DELETE", "DELETE", "/items/1"),
        CheckRequest::new("PATCH JSON", "PATCH", "/items/1")
            .body(JSON, br#"{"done": true}"#.to_vec()),
        CheckRequest::new("GET a UTF-8 path", "GET", "/caf%C3%A9"),
        CheckRequest::new("GET a path that is not UTF-8", "GET", "/%FF%FE%80"),
        under_script,
        CheckRequest::new("GET with cookies and content negotiation", "GET", "/")
            .header("Accept", b"text/html,application/json;q=0.9")
            .header("Accept-Language", b"fr-CH, fr;q=0.9, en;q=0.8")
            .header("Cookie", b"session=abc123; theme=dark")
            .header("User-Agent", b"wasgi-check"),
        CheckRequest::new("GET an unknown path", "GET", "/does/not/exist"),
    ]
}

/// Parses a requests file: one JSON object per line (blank lines and lines starting
/// with `#` skipped). Every problem names its line.
pub fn parse(text: &str) -> Result<Vec<CheckRequest>, String> {
    let mut requests = Vec::new();
    for (at, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let request = serde_json::from_str::<Value>(line)
            .map_err(|e| e.to_string())
            .and_then(|value| from_json(&value, at + 1))
            .map_err(|e| format!("line {}: {e}", at + 1))?;
        requests.push(request);
    }
    Ok(requests)
}

/// One request from its JSON object.
fn from_json(value: &Value, line: usize) -> Result<CheckRequest, String> {
    let object = value
        .as_object()
        .ok_or("write each request as a JSON object")?;
    if let Some(key) = object.keys().find(|k| {
        !["name", "method", "path", "script_name", "headers", "body"].contains(&k.as_str())
    }) {
        return Err(format!(
            "unknown key {key:?} (the keys are name, method, path, script_name, headers, body)"
        ));
    }
    let text = |key: &str, default: &str| -> Result<String, String> {
        match object.get(key) {
            None => Ok(default.to_owned()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("{key:?} must be a string")),
        }
    };
    let method = text("method", "GET")?;
    if !crate::cgi::is_token(&method) {
        return Err(format!("method {method:?} is not a token"));
    }
    let path = text("path", "/")?;
    if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!(
            "path {path:?} must start with '/' and hold no spaces or control characters (percent-encode them)"
        ));
    }
    let mut request = CheckRequest::new(&text("name", &format!("line {line}"))?, &method, &path);
    request.script_name = text("script_name", "")?.into_bytes();
    if !request.script_name.is_empty() && !request.script_name.starts_with(b"/") {
        return Err("script_name must be empty or start with '/'".to_owned());
    }
    for header in object.get("headers").map_or(Ok(&Vec::new()), |h| {
        h.as_array().ok_or("\"headers\" must be a list")
    })? {
        let pair = header.as_array().filter(|pair| pair.len() == 2);
        let Some([Value::String(name), value]) = pair.map(Vec::as_slice) else {
            return Err("each header is a [name, value] pair".to_owned());
        };
        if !crate::cgi::is_token(name) {
            return Err(format!("header name {name:?} is not a token"));
        }
        request.headers.push((name.clone(), bytes(value)?));
    }
    request.body = object.get("body").map_or(Ok(Vec::new()), bytes)?;
    Ok(request)
}

/// Bytes from JSON: a string (its UTF-8 bytes), `{"hex": "…"}`, or `{"repeat": "…",
/// "times": N}` (as tests/conformance/corpus.json writes them).
fn bytes(value: &Value) -> Result<Vec<u8>, String> {
    const MAX: u64 = 1 << 30;
    if let Some(text) = value.as_str() {
        return Ok(text.as_bytes().to_vec());
    }
    if let Some(hex) = value.get("hex").and_then(Value::as_str) {
        return (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| format!("{hex:?} is not hexadecimal"))
            })
            .collect();
    }
    if let (Some(unit), Some(times)) = (
        value.get("repeat").and_then(Value::as_str),
        value.get("times").and_then(Value::as_u64),
    ) && (unit.len() as u64).saturating_mul(times) <= MAX
    {
        return Ok(unit.repeat(times as usize).into_bytes());
    }
    Err(format!(
        "bytes are a string, {{\"hex\": \"…\"}} or {{\"repeat\": \"…\", \"times\": N}} (at most {MAX} bytes)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requests_file_is_read_line_by_line() {
        let text = r#"
# a comment
{"name": "login", "method": "POST", "path": "/login?next=%2F", "headers": [["Content-Type", "text/plain"]], "body": "a=b"}
{"path": "/app/x", "script_name": "/app", "body": {"hex": "00ff"}}
{"method": "PUT", "body": {"repeat": "ab", "times": 3}}
"#;
        let requests = parse(text).expect("parses");
        assert_eq!(requests.len(), 3);
        assert_eq!(requests[0].name, "login");
        assert_eq!(requests[0].body, b"a=b");
        assert_eq!(requests[1].name, "line 4");
        assert_eq!(requests[1].method, "GET");
        assert_eq!(requests[1].body, [0, 0xff]);
        assert_eq!(requests[2].body, b"ababab");
        let environ = requests[1].environ();
        assert_eq!(environ.get("SCRIPT_NAME"), Some(&b"/app"[..]));
        assert_eq!(environ.get("PATH_INFO"), Some(&b"/x"[..]));
        assert_eq!(environ.get("CONTENT_LENGTH"), Some(&b"2"[..]));
    }

    #[test]
    fn each_mistake_names_its_line() {
        for (text, says) in [
            ("{", "line 1: "),
            ("\n[1]", "line 2: write each request as a JSON object"),
            (r#"{"verb": "GET"}"#, "unknown key \"verb\""),
            (r#"{"path": "x"}"#, "must start with '/'"),
            (r#"{"method": "G T"}"#, "not a token"),
            (r#"{"headers": [["A B", "c"]]}"#, "not a token"),
            (r#"{"headers": [["A"]]}"#, "[name, value] pair"),
            (r#"{"body": {"hex": "0g"}}"#, "not hexadecimal"),
            (r#"{"body": 3}"#, "bytes are a string"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn the_builtin_corpus_makes_valid_environs() {
        for request in builtin() {
            let environ = request.environ();
            let path = environ.get("PATH_INFO").unwrap_or_default();
            assert!(path.starts_with(b"/"), "{}", request.name);
            let length = environ.content_length().unwrap_or(0);
            assert_eq!(length, request.body.len() as u64, "{}", request.name);
        }
    }
}
