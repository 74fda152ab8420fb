//! The environ builder: request parts in, a PEP 3333 environ out.
//!
//! A pure module (no wasmtime, no process state) so every rule is a plain unit test.
//! Values are raw bytes end to end: nothing here decodes or re-encodes them, so bytes
//! that are not UTF-8 reach the guest as they came. The rules are in
//! docs/GATEWAY.md section 2; RFC 3875 section 4.1 names the
//! variables.

use std::ffi::OsString;
use std::net::IpAddr;

/// The CGI variables a request may carry (RFC 3875 section 4.1, plus HTTPS, REMOTE_PORT
/// and REQUEST_URI, which servers commonly set). Host paths such as PATH_TRANSLATED,
/// SCRIPT_FILENAME and DOCUMENT_ROOT are left out on purpose: they describe the host,
/// not the request, and a sandboxed guest has no business knowing them.
const CGI_VARIABLES: [&str; 19] = [
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

/// Prefixes of request variables: one per request header, and those set by TLS and
/// by internal redirects (wsgiref's CGIHandler takes the same).
const CGI_PREFIXES: [&str; 3] = ["HTTP_", "SSL_", "REDIRECT_"];

/// Names that match a request prefix but are never request variables: the headers
/// that CGI moves to CONTENT_TYPE / CONTENT_LENGTH, and OpenSSL's own configuration,
/// which lives in the host's environment.
const NEVER: [&str; 4] = [
    "HTTP_CONTENT_TYPE",
    "HTTP_CONTENT_LENGTH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Whether a process environment variable belongs to the request (and so may reach the
/// guest) rather than to the host.
pub fn is_request_variable(name: &str) -> bool {
    if NEVER.contains(&name) {
        return false;
    }
    CGI_VARIABLES.contains(&name) || CGI_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The environ handed to the application: CGI variables, each name once, in a stable
/// order, plus the `wsgi.*` flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environ {
    variables: Vec<(String, Vec<u8>)>,
    /// `wsgi.multithread`.
    pub multithread: bool,
    /// `wsgi.multiprocess`.
    pub multiprocess: bool,
    /// `wsgi.run_once`.
    pub run_once: bool,
    /// `wsgi.input_terminated`: the input may be read to its end with no CONTENT_LENGTH.
    pub input_terminated: bool,
}

impl Environ {
    /// An empty environ; fill it with [`Environ::set`] and [`Environ::add_header`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The request's variables taken from a process environment, as a CGI program gets
    /// them: only the request variables ([`is_request_variable`]), never the rest of the
    /// host's environment. A name that is not UTF-8 cannot be a CGI variable and is
    /// skipped; values are kept as raw bytes.
    pub fn from_cgi_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        let mut environ = Self::new();
        for (name, value) in vars {
            if let Some(name) = name.to_str().filter(|n| is_request_variable(n)) {
                environ.set(name, value.as_encoded_bytes());
            }
        }
        environ
    }

    /// The value of a variable.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.variables
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Sets a variable, replacing any earlier value.
    pub fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self.variables.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.variables.push((name.to_owned(), value)),
        }
    }

    /// Sets a variable only if it is absent (Python's `setdefault`).
    pub fn set_default(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        if self.get(name).is_none() {
            self.set(name, value);
        }
    }

    /// Adds one request header: `Content-Type` and `Content-Length` become
    /// CONTENT_TYPE and CONTENT_LENGTH, any other name `HTTP_` plus the name upper-cased
    /// with `-` as `_`. A repeated header is joined to the earlier value with `, `
    /// (RFC 9110 section 5.3). The caller checks that the name is a token.
    pub fn add_header(&mut self, name: &str, value: &[u8]) {
        let key = header_variable(name);
        match self.variables.iter_mut().find(|(n, _)| *n == key) {
            Some((_, old)) => {
                old.extend_from_slice(b", ");
                old.extend_from_slice(value);
            }
            None => self.variables.push((key, value.to_vec())),
        }
    }

    /// Sets PATH_INFO and QUERY_STRING from a request target such as `/a%20b?x=1`: the
    /// path is percent-decoded to raw bytes (lossless, as a server does), the query is
    /// kept as sent.
    pub fn set_request_target(&mut self, target: &[u8]) {
        let (path, query) = match target.iter().position(|&b| b == b'?') {
            Some(q) => (&target[..q], &target[q + 1..]),
            None => (target, &b""[..]),
        };
        let decoded: Vec<u8> = percent_encoding::percent_decode(path).collect();
        self.set("PATH_INFO", decoded);
        self.set("QUERY_STRING", query);
    }

    /// Fills what is missing with wsgiref's `util.setup_testing_defaults`, so an
    /// application run from a terminal, with no CGI variables at all, sees a sensible
    /// request: GET of `/` on `localhost` port 80 (443 under HTTPS) over HTTP/1.0, with
    /// HTTP_HOST as wsgiref sets it. SCRIPT_NAME and PATH_INFO are both always present
    /// afterwards (either may be empty).
    pub fn apply_testing_defaults(&mut self) {
        self.fill_defaults(true);
    }

    /// Fills what PEP 3333 wants present and a server left out, for a request a web
    /// server described: [`Self::apply_testing_defaults`] but for HTTP_HOST, which
    /// stays absent when the request carried no Host (as PEP 3333's own CGI gateway
    /// shows it).
    pub fn apply_defaults(&mut self) {
        self.fill_defaults(false);
    }

    fn fill_defaults(&mut self, testing: bool) {
        self.set_default("REQUEST_METHOD", "GET");
        self.set_default("SERVER_NAME", "localhost");
        self.set_default("SERVER_PROTOCOL", "HTTP/1.0");
        if testing {
            let host = self.get("SERVER_NAME").unwrap_or_default().to_vec();
            self.set_default("HTTP_HOST", host);
        }
        if self.get("SCRIPT_NAME").is_none() && self.get("PATH_INFO").is_none() {
            self.set("PATH_INFO", "/");
        }
        self.set_default("SCRIPT_NAME", "");
        self.set_default("PATH_INFO", "");
        let port = if self.url_scheme() == "https" {
            "443"
        } else {
            "80"
        };
        self.set_default("SERVER_PORT", port);
    }

    /// `wsgi.url_scheme`: `https` when HTTPS is `on`, `1` or `yes` (any case), else
    /// `http` (wsgiref `util.guess_scheme`).
    pub fn url_scheme(&self) -> &'static str {
        match self.get("HTTPS") {
            Some(v)
                if [&b"on"[..], b"1", b"yes"]
                    .iter()
                    .any(|s| v.eq_ignore_ascii_case(s)) =>
            {
                "https"
            }
            _ => "http",
        }
    }

    /// CONTENT_LENGTH as a number; `None` when absent, empty or not a plain decimal.
    pub fn content_length(&self) -> Option<u64> {
        crate::validate::content_length(self.get("CONTENT_LENGTH")?)
    }

    /// All variables, in order, each name once.
    pub fn variables(&self) -> &[(String, Vec<u8>)] {
        &self.variables
    }

    /// All variables, in order, each name once, taken out of the environ.
    pub fn into_variables(self) -> Vec<(String, Vec<u8>)> {
        self.variables
    }
}

/// The parts of an HTTP request that make its environ (`wasgi serve`).
#[derive(Clone, Debug)]
pub struct HttpRequest<'a> {
    /// The method, as sent.
    pub method: &'a str,
    /// The request target as sent: origin form (`/path?query`) or absolute form.
    pub target: &'a [u8],
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub protocol: &'a str,
    /// The header fields, in order, repeats included.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The address the connection was accepted on, when the front end knows it: `None`
    /// for a unix-domain socket and in a wasi:http component (SERVER_NAME and
    /// SERVER_PORT then come from the Host header, else `localhost` and the scheme's
    /// port).
    pub local: Option<std::net::SocketAddr>,
    /// The client's address, when the front end knows it: `None` for a client on a
    /// unix-domain socket and in a wasi:http component. REMOTE_ADDR is then empty and
    /// REMOTE_PORT absent (as gunicorn does on a unix socket), and no proxy is believed.
    pub remote: Option<std::net::SocketAddr>,
    /// Whether the connection is TLS (`HTTPS=on`).
    pub https: bool,
    /// The proxies whose forwarded headers are believed (`wasgi serve
    /// --trusted-proxy`); empty, the default, believes none. See [`Environ::from_http`].
    pub trusted_proxies: &'a [IpAddr],
    /// Keep header fields whose names hold `_` (`wasgi serve
    /// --allow-underscore-headers`); by default they are dropped, see
    /// [`is_underscore_header`].
    pub keep_underscore_headers: bool,
}

/// Whether a request header field's name holds `_`. Such fields are dropped before
/// the environ is built (unless the operator keeps them): as CGI variables they would
/// be the same as their dashed forms (`X_Auth_User` and `X-Auth-User` are both
/// `HTTP_X_AUTH_USER`), so a client could forge a header that a proxy in front strips
/// only in its dashed form. nginx and gunicorn drop them too.
pub fn is_underscore_header(name: &str) -> bool {
    name.contains('_')
}

impl Environ {
    /// The environ of an HTTP request, as a server builds it: SCRIPT_NAME empty,
    /// PATH_INFO percent-decoded to raw bytes, QUERY_STRING as sent, one variable per
    /// header (repeats joined with `, `), SERVER_NAME and SERVER_PORT from the Host
    /// header or else the socket, REMOTE_ADDR and REMOTE_PORT from the socket (see
    /// [`HttpRequest::remote`] for a unix socket).
    ///
    /// Only when the connection comes from a trusted proxy
    /// ([`HttpRequest::trusted_proxies`]) are two forwarded headers believed:
    /// - `X-Forwarded-For`: REMOTE_ADDR is its right-most address that is not itself a
    ///   trusted proxy (the left-most when all are), and REMOTE_PORT, which would be
    ///   the proxy's, is left out. An entry that is not an IP address stops the walk:
    ///   REMOTE_ADDR stays the proxy's address, since nothing past it can be believed.
    /// - `X-Forwarded-Proto`: its right-most value, `https` or `http` (any case), sets
    ///   HTTPS and so `wsgi.url_scheme` (and SERVER_PORT's default, 443 or 80).
    ///
    /// From anyone else both are ordinary headers (`HTTP_X_FORWARDED_*`), which the
    /// application still sees but the gateway never acts on.
    pub fn from_http(request: &HttpRequest<'_>) -> Self {
        let mut environ = Self::new();
        environ.set("REQUEST_METHOD", request.method);
        environ.set("SCRIPT_NAME", "");
        environ.set_request_target(&origin_form(request.target));
        environ.set("SERVER_PROTOCOL", request.protocol);
        environ.set("GATEWAY_INTERFACE", "CGI/1.1");
        environ.set(
            "SERVER_SOFTWARE",
            concat!("wasgi/", env!("CARGO_PKG_VERSION")),
        );
        let proxied = request
            .remote
            .is_some_and(|remote| request.trusted_proxies.contains(&remote.ip()));
        match proxied
            .then(|| forwarded_for(request.headers, request.trusted_proxies))
            .flatten()
        {
            Some(client) => environ.set("REMOTE_ADDR", client.to_string()),
            None => match request.remote {
                Some(remote) => {
                    environ.set("REMOTE_ADDR", remote.ip().to_string());
                    environ.set("REMOTE_PORT", remote.port().to_string());
                }
                // RFC 3875 wants REMOTE_ADDR present; a unix socket's client has no
                // address to put in it.
                None => environ.set("REMOTE_ADDR", ""),
            },
        }
        let https = match proxied.then(|| forwarded_proto(request.headers)).flatten() {
            Some(forwarded) => forwarded,
            None => request.https,
        };
        if https {
            environ.set("HTTPS", "on");
        }
        for (name, value) in request.headers {
            if request.keep_underscore_headers || !is_underscore_header(name) {
                environ.add_header(name, value);
            }
        }
        let default_port = if https { "443" } else { "80" };
        let (name, port) = match environ.get("HTTP_HOST").map(split_host) {
            Some((name, port)) if !name.is_empty() => (
                name.to_vec(),
                port.unwrap_or(default_port.as_bytes()).to_vec(),
            ),
            _ => match request.local {
                Some(local) => (
                    socket_host(local.ip()).into_bytes(),
                    local.port().to_string().into_bytes(),
                ),
                None => (b"localhost".to_vec(), default_port.as_bytes().to_vec()),
            },
        };
        environ.set("SERVER_NAME", name);
        environ.set("SERVER_PORT", port);
        environ
    }
}

/// The entries of every field named `name`, in order (fields joined as one list).
fn list_entries<'h>(headers: &'h [(&str, &[u8])], name: &str) -> Vec<&'h [u8]> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .collect()
}

/// The client a trusted proxy reports: the right-most `X-Forwarded-For` address that
/// is not a trusted proxy, the left-most when all are; `None` when there is no such
/// header or the walk meets an entry that is not an IP address.
fn forwarded_for(headers: &[(&str, &[u8])], trusted: &[IpAddr]) -> Option<IpAddr> {
    let mut client = None;
    for entry in list_entries(headers, "x-forwarded-for").into_iter().rev() {
        let ip: IpAddr = std::str::from_utf8(entry).ok()?.parse().ok()?;
        client = Some(ip);
        if !trusted.contains(&ip) {
            break;
        }
    }
    client
}

/// Whether a trusted proxy reports `https` (`Some(true)`) or `http` (`Some(false)`)
/// in the right-most `X-Forwarded-Proto` value; `None` for anything else.
fn forwarded_proto(headers: &[(&str, &[u8])]) -> Option<bool> {
    let proto = *list_entries(headers, "x-forwarded-proto").last()?;
    if proto.eq_ignore_ascii_case(b"https") {
        Some(true)
    } else if proto.eq_ignore_ascii_case(b"http") {
        Some(false)
    } else {
        None
    }
}

/// The path and query of a request target: an absolute-form target
/// (`http://host/p?q`, as sent to proxies) loses its scheme and authority.
fn origin_form(target: &[u8]) -> Vec<u8> {
    let authority = (!target.starts_with(b"/"))
        .then(|| target.windows(3).position(|w| w == b"://"))
        .flatten();
    let Some(at) = authority else {
        return target.to_vec();
    };
    let rest = &target[at + 3..];
    match rest.iter().position(|&b| b == b'/' || b == b'?') {
        Some(i) if rest[i] == b'/' => rest[i..].to_vec(),
        Some(i) => [&b"/"[..], &rest[i..]].concat(),
        None => b"/".to_vec(),
    }
}

/// Splits a Host header into name and port: `example.org:8080`, `[::1]:80`,
/// `example.org`.
fn split_host(host: &[u8]) -> (&[u8], Option<&[u8]>) {
    let port_at = match host.iter().rposition(|&b| b == b':') {
        Some(colon) if !host[colon..].contains(&b']') => Some(colon),
        _ => None,
    };
    match port_at {
        Some(colon) => (&host[..colon], Some(&host[colon + 1..])),
        None => (host, None),
    }
}

/// An address as a host name: IPv6 in brackets, as in a URL.
fn socket_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// The environ name of a request header (`X-Forwarded-For` → `HTTP_X_FORWARDED_FOR`).
pub fn header_variable(name: &str) -> String {
    let upper = name.to_ascii_uppercase().replace('-', "_");
    match upper.as_str() {
        "CONTENT_TYPE" | "CONTENT_LENGTH" => upper,
        _ => format!("HTTP_{upper}"),
    }
}

#[cfg(test)]
mod tests;
