//! The HTTP environ builder: arbitrary method, target, headers, sockets and trusted
//! proxies, with forwarded headers shaped to parse often. Checks who REMOTE_ADDR is,
//! the URL scheme, and that every header variable is well formed and carries its
//! headers' bytes.

#![no_main]

use std::net::{IpAddr, SocketAddr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasgi_fuzz::{Token, assert_names_unique, header_key, is_tchar, percent_decode};
use wasgi_gateway::environ::{Environ, HttpRequest};

/// One `X-Forwarded-For` entry.
#[derive(Arbitrary, Debug)]
enum Hop {
    Address(IpAddr),
    /// One of the trusted proxies (an index into them).
    Trusted(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Field {
    ForwardedFor(Vec<Hop>, bool),
    ForwardedProto(Vec<String>, bool),
    Host(String),
    Other(Token, Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Request {
    method: Token,
    target: Vec<u8>,
    http11: bool,
    fields: Vec<Field>,
    /// `None`: a unix-domain socket.
    local: Option<SocketAddr>,
    /// `None`: a client on a unix-domain socket.
    remote: Option<SocketAddr>,
    https: bool,
    trusted: Vec<IpAddr>,
    remote_trusted: bool,
}

impl Field {
    /// The header as it would arrive: forwarded names in either case, forwarded lists
    /// joined with `, `.
    fn header(&self, trusted: &[IpAddr]) -> (String, Vec<u8>) {
        let name = |lower: &str, upper: bool| {
            if upper {
                lower.to_ascii_uppercase()
            } else {
                lower.to_owned()
            }
        };
        match self {
            Self::ForwardedFor(hops, upper) => {
                let hops: Vec<String> = hops
                    .iter()
                    .map(|hop| match hop {
                        Hop::Address(ip) => ip.to_string(),
                        Hop::Trusted(i) if !trusted.is_empty() => {
                            trusted[usize::from(*i) % trusted.len()].to_string()
                        }
                        Hop::Trusted(_) => String::new(),
                        Hop::Raw(s) => s.clone(),
                    })
                    .collect();
                (
                    name("x-forwarded-for", *upper),
                    hops.join(", ").into_bytes(),
                )
            }
            Self::ForwardedProto(protos, upper) => (
                name("x-forwarded-proto", *upper),
                protos.join(",").into_bytes(),
            ),
            Self::Host(host) => ("Host".to_owned(), host.clone().into_bytes()),
            Self::Other(Token(n), v) => (n.clone(), v.clone()),
        }
    }
}

/// The list entries of every field named `name` (RFC 9110 section 5.3).
fn entries<'h>(headers: &'h [(String, Vec<u8>)], name: &str) -> Vec<&'h [u8]> {
    let mut out = Vec::new();
    for (n, v) in headers {
        if n.eq_ignore_ascii_case(name) {
            out.extend(v.split(|&b| b == b',').map(<[u8]>::trim_ascii));
        }
    }
    out
}

/// Who the client is by the documented rule: from a trusted proxy, the right-most
/// forwarded address that is not trusted (the left-most if all are); an entry that
/// is not an address, or no entry at all, leaves the proxy.
fn client(headers: &[(String, Vec<u8>)], trusted: &[IpAddr]) -> Option<IpAddr> {
    let hops = entries(headers, "x-forwarded-for");
    let mut believed = None;
    for hop in hops.iter().rev() {
        let ip = std::str::from_utf8(hop).ok()?.parse::<IpAddr>().ok()?;
        believed = Some(ip);
        if !trusted.contains(&ip) {
            return believed;
        }
    }
    believed
}

fuzz_target!(|request: Request| {
    let mut trusted = request.trusted.clone();
    if let (true, Some(remote)) = (request.remote_trusted, request.remote) {
        trusted.push(remote.ip());
    }
    let owned: Vec<(String, Vec<u8>)> = request.fields.iter().map(|f| f.header(&trusted)).collect();
    let headers: Vec<(&str, &[u8])> = owned
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let protocol = if request.http11 {
        "HTTP/1.1"
    } else {
        "HTTP/1.0"
    };
    let env = Environ::from_http(&HttpRequest {
        method: &request.method.0,
        target: &request.target,
        protocol,
        headers: &headers,
        local: request.local,
        remote: request.remote,
        https: request.https,
        trusted_proxies: &trusted,
        // Every field reaches the environ, so the checks below see each one (the
        // dropping of `_` names has its own unit test).
        keep_underscore_headers: true,
    });
    let get = |name: &str| env.get(name).map(<[u8]>::to_vec);
    let text = |s: String| Some(s.into_bytes());

    // REMOTE_ADDR is the peer, unless the peer is a trusted proxy that names a client.
    let proxied = request
        .remote
        .is_some_and(|remote| trusted.contains(&remote.ip()));
    match proxied.then(|| client(&owned, &trusted)).flatten() {
        Some(ip) => {
            assert_eq!(get("REMOTE_ADDR"), text(ip.to_string()));
            assert_eq!(
                get("REMOTE_PORT"),
                None,
                "the proxy's port is not the client's"
            );
        }
        None => match request.remote {
            Some(remote) => {
                assert_eq!(get("REMOTE_ADDR"), text(remote.ip().to_string()));
                assert_eq!(get("REMOTE_PORT"), text(remote.port().to_string()));
            }
            None => {
                assert_eq!(get("REMOTE_ADDR"), Some(Vec::new()));
                assert_eq!(get("REMOTE_PORT"), None);
            }
        },
    }

    // The scheme: the socket's, or a trusted proxy's right-most X-Forwarded-Proto.
    let forwarded = entries(&owned, "x-forwarded-proto")
        .last()
        .filter(|_| proxied)
        .and_then(|p| {
            if p.eq_ignore_ascii_case(b"https") {
                Some(true)
            } else if p.eq_ignore_ascii_case(b"http") {
                Some(false)
            } else {
                None
            }
        });
    let https = forwarded.unwrap_or(request.https);
    assert_eq!(env.url_scheme(), if https { "https" } else { "http" });
    assert_eq!(get("HTTPS"), https.then(|| b"on".to_vec()));

    // One variable per header name, well formed, carrying its values joined.
    let mut expected: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, value) in &owned {
        let key = header_key(name);
        match expected.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.extend([b", ", value.as_slice()].concat()),
            None => expected.push((key, value.clone())),
        }
    }
    let from_headers: Vec<(String, Vec<u8>)> = env
        .variables()
        .iter()
        .filter(|(k, _)| k.starts_with("HTTP_") || k.starts_with("CONTENT_"))
        .cloned()
        .collect();
    assert_eq!(from_headers, expected);
    for (key, _) in &from_headers {
        let rest = key.strip_prefix("HTTP_").unwrap_or(key);
        assert!(
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| is_tchar(b) && b != b'-' && !b.is_ascii_lowercase()),
            "malformed header variable {key:?}"
        );
        assert!(key != "HTTP_CONTENT_TYPE" && key != "HTTP_CONTENT_LENGTH");
    }

    // The fixed variables, and the request target.
    assert_eq!(get("REQUEST_METHOD"), text(request.method.0.clone()));
    assert_eq!(get("SERVER_PROTOCOL"), text(protocol.to_owned()));
    assert_eq!(get("SCRIPT_NAME"), Some(Vec::new()));
    assert_eq!(get("GATEWAY_INTERFACE"), Some(b"CGI/1.1".to_vec()));
    let path = get("PATH_INFO").expect("PATH_INFO");
    let query = get("QUERY_STRING").expect("QUERY_STRING");
    if request.target.starts_with(b"/") {
        let (p, q) = match request.target.iter().position(|&b| b == b'?') {
            Some(at) => (&request.target[..at], &request.target[at + 1..]),
            None => (&request.target[..], &b""[..]),
        };
        assert_eq!(path, percent_decode(p));
        assert_eq!(query, q);
    } else if request.target.windows(3).any(|w| w == b"://") {
        assert!(
            path.starts_with(b"/"),
            "absolute form keeps a path: {path:?}"
        );
    }
    assert!(request.target.ends_with(&query));

    // SERVER_NAME and SERVER_PORT: from the Host header, else from the socket.
    let name = get("SERVER_NAME").expect("SERVER_NAME");
    let port = get("SERVER_PORT").expect("SERVER_PORT");
    assert!(!name.is_empty());
    let default_port: &[u8] = if https { b"443" } else { b"80" };
    let from_host = get("HTTP_HOST").is_some_and(|host| {
        host == [&name[..], b":", &port].concat() || (host == name && port == default_port)
    });
    let (local, local_port) = match request.local {
        Some(local) => (
            match local.ip() {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            },
            local.port().to_string(),
        ),
        None => (
            "localhost".to_owned(),
            String::from_utf8_lossy(default_port).into_owned(),
        ),
    };
    let from_socket = name == local.as_bytes() && port == local_port.as_bytes();
    assert!(
        from_host || from_socket,
        "SERVER_NAME {name:?} port {port:?}"
    );
    if !from_host {
        let host = get("HTTP_HOST").unwrap_or_default();
        assert!(
            host.is_empty() || host.starts_with(b":"),
            "a Host header with a name was not used: {host:?}"
        );
    }
    assert_names_unique(env.variables());
});
