//! The CGI environ builder: arbitrary process variables (names and values that need
//! not be UTF-8), then request headers, a request target and the defaults, each
//! checked against a model of section 2 of docs/GATEWAY.md.

#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasgi_fuzz::{Token, assert_names_unique, header_key, percent_decode, plain_decimal};
use wasgi_gateway::environ::Environ;

/// The request variables a CGI program may pass on: RFC 3875 section 4.1 plus HTTPS,
/// REMOTE_PORT and REQUEST_URI.
const REQUEST: [&str; 19] = [
    "AUTH_TYPE",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "GATEWAY_INTERFACE",
    "HTTPS",
    "PATH_INFO",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_IDENT",
    "REMOTE_PORT",
    "REMOTE_USER",
    "REQUEST_METHOD",
    "REQUEST_URI",
    "SCRIPT_NAME",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
];

/// Host variables that must never reach a guest, some of them shaped like request
/// variables.
const HOST: [&str; 10] = [
    "PATH",
    "HOME",
    "AWS_SECRET_ACCESS_KEY",
    "SCRIPT_FILENAME",
    "PATH_TRANSLATED",
    "DOCUMENT_ROOT",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_CONTENT_TYPE",
    "HTTP_CONTENT_LENGTH",
];

/// The request-variable prefixes (section 2: `HTTP_*`, `SSL_*`, `REDIRECT_*`).
const PREFIXES: [&str; 3] = ["HTTP_", "SSL_", "REDIRECT_"];

#[derive(Arbitrary, Debug)]
enum Name {
    Request(u8),
    Host(u8),
    Prefixed(u8, String),
    Raw(Vec<u8>),
}

impl Name {
    fn os(&self) -> OsString {
        match self {
            Self::Request(i) => REQUEST[usize::from(*i) % REQUEST.len()].into(),
            Self::Host(i) => HOST[usize::from(*i) % HOST.len()].into(),
            Self::Prefixed(i, rest) => {
                format!("{}{rest}", PREFIXES[usize::from(*i) % PREFIXES.len()]).into()
            }
            Self::Raw(bytes) => OsString::from_vec(bytes.clone()),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Request {
    vars: Vec<(Name, Vec<u8>)>,
    headers: Vec<(Token, Vec<u8>)>,
    target: Option<Vec<u8>>,
    https: Option<Vec<u8>>,
    defaults: bool,
}

/// Whether a name may reach the guest, stated from section 2.
fn allowed(name: &str) -> bool {
    !HOST.contains(&name)
        && (REQUEST.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p)))
}

/// The model: an ordered list, each name once, set replaces, a header joins.
#[derive(Default)]
struct Model(Vec<(String, Vec<u8>)>);

impl Model {
    fn slot(&mut self, name: &str) -> Option<&mut Vec<u8>> {
        self.0.iter_mut().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    fn set(&mut self, name: &str, value: &[u8]) {
        match self.slot(name) {
            Some(v) => *v = value.to_vec(),
            None => self.0.push((name.to_owned(), value.to_vec())),
        }
    }
    fn join(&mut self, name: &str, value: &[u8]) {
        match self.slot(name) {
            Some(v) => v.extend([b", ", value].concat()),
            None => self.0.push((name.to_owned(), value.to_vec())),
        }
    }
}

fuzz_target!(|request: Request| {
    let vars: Vec<(OsString, OsString)> = request
        .vars
        .iter()
        .map(|(n, v)| (n.os(), OsString::from_vec(v.clone())))
        .chain(
            request
                .https
                .iter()
                .map(|v| ("HTTPS".into(), OsString::from_vec(v.clone()))),
        )
        .collect();
    let mut model = Model::default();
    for (name, value) in &vars {
        if let Some(name) = name.to_str().filter(|n| allowed(n)) {
            model.set(name, value.as_bytes());
        }
    }
    let mut environ = Environ::from_cgi_vars(vars);
    assert_eq!(environ.variables(), model.0, "from_cgi_vars");
    assert!(
        environ.variables().iter().all(|(n, _)| allowed(n)),
        "a host variable got through"
    );

    for (Token(name), value) in &request.headers {
        environ.add_header(name, value);
        model.join(&header_key(name), value);
    }
    assert_eq!(environ.variables(), model.0, "add_header");

    if let Some(target) = &request.target {
        environ.set_request_target(target);
        let (path, query) = match target.iter().position(|&b| b == b'?') {
            Some(q) => (&target[..q], &target[q + 1..]),
            None => (&target[..], &b""[..]),
        };
        model.set("PATH_INFO", &percent_decode(path));
        model.set("QUERY_STRING", query);
        assert_eq!(environ.variables(), model.0, "set_request_target");
    }

    let scheme = match environ.get("HTTPS") {
        Some(v)
            if [&b"on"[..], b"1", b"yes"]
                .iter()
                .any(|s| v.eq_ignore_ascii_case(s)) =>
        {
            "https"
        }
        _ => "http",
    };
    assert_eq!(environ.url_scheme(), scheme);
    let length = environ.get("CONTENT_LENGTH").and_then(plain_decimal);
    assert_eq!(environ.content_length(), length);

    if request.defaults {
        let before = environ.clone();
        environ.apply_defaults();
        // Defaults only add: everything the request set is kept, in place.
        assert_eq!(
            &environ.variables()[..before.variables().len()],
            before.variables()
        );
        for name in [
            "REQUEST_METHOD",
            "SERVER_NAME",
            "SERVER_PROTOCOL",
            "HTTP_HOST",
            "SCRIPT_NAME",
            "PATH_INFO",
            "SERVER_PORT",
        ] {
            assert!(environ.get(name).is_some(), "{name} missing after defaults");
        }
        let unrouted = before.get("SCRIPT_NAME").is_none() && before.get("PATH_INFO").is_none();
        if unrouted {
            assert_eq!(environ.get("PATH_INFO"), Some(&b"/"[..]));
        }
        if before.get("SERVER_PORT").is_none() {
            let port: &[u8] = if scheme == "https" { b"443" } else { b"80" };
            assert_eq!(environ.get("SERVER_PORT"), Some(port));
        }
        assert_eq!(environ.url_scheme(), scheme);
    }
    assert_names_unique(environ.variables());
});
