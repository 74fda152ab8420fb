//! What the HTTP front end refuses or drops in a request head before the guest sees it.
//!
//! hyper parses HTTP/1.1 and refuses what it cannot frame (a bad request line, a bad
//! header, Content-Length and Transfer-Encoding it cannot use) with its own 400 or 431.
//! What it accepts but RFC 9112 or safety does not is refused here, before the guest
//! runs, each with a 400 and a reason for the log:
//!
//! - CONNECT (a request for a tunnel: wasgi is an origin server, not a proxy);
//! - a Transfer-Encoding other than one `chunked` (`identity, chunked` included: hyper
//!   decodes by the last coding, a proxy in front may not);
//! - Host, as RFC 9112 section 3.2 says: none in an HTTP/1.1 request, more than one,
//!   or a value that is not `uri-host [":" port]`; an absolute-form target must be
//!   `http` or `https`, its authority without userinfo, and it wins over Host.
//!
//! Header fields whose names hold `_` are dropped by the environ builder
//! (`wasgi_gateway::environ::is_underscore_header`), which a wasi:http component shares.

use hyper::Version;
use hyper::header::{HOST, TRANSFER_ENCODING};
use hyper::http::request::Parts;

/// Why a request head is refused: the reason goes to the log and to the client.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refusal(pub(super) &'static str);

/// Checks the request head. Returns the host the request is for (the absolute-form
/// target's authority, else the Host value; `None` for an empty Host or an HTTP/1.0
/// request without one), or why it is refused.
pub(super) fn check(parts: &Parts) -> Result<Option<&[u8]>, Refusal> {
    if parts.method == hyper::Method::CONNECT {
        return Err(Refusal(
            "CONNECT asks for a tunnel, and wasgi is not a proxy",
        ));
    }
    check_transfer_encoding(parts)?;
    host(parts)
}

/// Only `Transfer-Encoding: chunked`, once: any other coding list is one the
/// server (or a proxy in front) might frame differently.
fn check_transfer_encoding(parts: &Parts) -> Result<(), Refusal> {
    let mut codings = parts
        .headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii);
    match (codings.next(), codings.next()) {
        (None, _) => Ok(()),
        (Some(only), None) if only.eq_ignore_ascii_case(b"chunked") => Ok(()),
        _ => Err(Refusal(
            "a Transfer-Encoding other than one \"chunked\" is not accepted",
        )),
    }
}

/// RFC 9112 section 3.2: the Host rules, and the absolute-form target's authority
/// over Host (section 3.2.2).
fn host(parts: &Parts) -> Result<Option<&[u8]>, Refusal> {
    let mut fields = parts.headers.get_all(HOST).iter();
    let field = fields.next();
    if fields.next().is_some() {
        return Err(Refusal("more than one Host header"));
    }
    if field.is_none() && parts.version == Version::HTTP_11 {
        return Err(Refusal("an HTTP/1.1 request without a Host header"));
    }
    if let Some(field) = field
        && !is_host(field.as_bytes())
    {
        return Err(Refusal(
            "the Host header is not a host with an optional port",
        ));
    }
    let Some(scheme) = parts.uri.scheme_str() else {
        // An empty Host (allowed for a target without an authority) names no host:
        // the environ then falls back to the server's own address.
        return Ok(field.map(|v| v.as_bytes()).filter(|h| !h.is_empty()));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(Refusal(
            "an absolute target whose scheme is not http or https",
        ));
    }
    match parts.uri.authority() {
        Some(authority) if is_host(authority.as_str().as_bytes()) => {
            Ok(Some(authority.as_str().as_bytes()))
        }
        _ => Err(Refusal(
            "the absolute target's authority is not a host with an optional port",
        )),
    }
}

/// `uri-host [":" port]` (RFC 3986 section 3.2.2): an IP literal in brackets, or a
/// reg-name (which covers IPv4); the port digits only. Empty is allowed (RFC 9112
/// section 3.2: a target without an authority).
fn is_host(value: &[u8]) -> bool {
    let (host, port) = match value.strip_prefix(b"[") {
        Some(rest) => match rest.iter().position(|&b| b == b']') {
            Some(end) if is_ip_literal(&rest[..end]) => (&[][..], &rest[end + 1..]),
            _ => return false,
        },
        None => match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &[][..]),
        },
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    port_ok && is_reg_name(host)
}

/// reg-name: unreserved, pct-encoded and sub-delims characters.
fn is_reg_name(name: &[u8]) -> bool {
    let mut at = 0;
    while at < name.len() {
        match name[at] {
            b'%' => {
                let hex = name.get(at + 1..at + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                at += 3;
                continue;
            }
            b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) => {}
            _ => return false,
        }
        at += 1;
    }
    true
}

/// Inside the brackets: an IPv6 address, or IPvFuture (`v` HEXDIG+ `.` ...).
fn is_ip_literal(inside: &[u8]) -> bool {
    if let Some(future) = inside.strip_prefix(b"v").or(inside.strip_prefix(b"V")) {
        let Some(dot) = future.iter().position(|&b| b == b'.') else {
            return false;
        };
        return dot > 0
            && future[..dot].iter().all(u8::is_ascii_hexdigit)
            && future.len() > dot + 1
            && future[dot + 1..]
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:".contains(&b));
    }
    std::str::from_utf8(inside).is_ok_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(request: hyper::http::request::Builder) -> Parts {
        request.body(()).expect("request").into_parts().0
    }

    fn get(target: &str) -> hyper::http::request::Builder {
        hyper::Request::get(target)
    }

    #[test]
    fn host_syntax_is_uri_host_and_port() {
        for good in [
            &b""[..],
            b"example.org",
            b"example.org:8080",
            b"127.0.0.1:80",
            b"[::1]:8000",
            b"[v1.fe]",
            b"a%41b",
            b"x:",
        ] {
            assert!(is_host(good), "{:?}", String::from_utf8_lossy(good));
        }
        for bad in [
            &b"evil.example/../x@y"[..],
            b"a, b",
            b"a b",
            b"user@host",
            b"host:80:90",
            b"host:http",
            b"[::1",
            b"[zz]",
            b"%4",
            b"host:123456",
            b"h\xc3\xa9",
        ] {
            assert!(!is_host(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn host_is_required_once_in_http_1_1() {
        let none = parts(get("/"));
        assert_eq!(
            check(&none),
            Err(Refusal("an HTTP/1.1 request without a Host header"))
        );
        let old = parts(get("/").version(Version::HTTP_10));
        assert_eq!(check(&old), Ok(None));
        let two = parts(get("/").header("host", "a").header("host", "b"));
        assert_eq!(check(&two), Err(Refusal("more than one Host header")));
        let one = parts(get("/").header("host", "a:1"));
        assert_eq!(check(&one), Ok(Some(&b"a:1"[..])));
    }

    #[test]
    fn an_absolute_target_wins_over_host() {
        let p = parts(get("http://real.example:81/x").header("host", "other"));
        assert_eq!(check(&p), Ok(Some(&b"real.example:81"[..])));
        let ftp = parts(get("ftp://real.example/x").header("host", "other"));
        assert!(check(&ftp).is_err());
        let userinfo = parts(get("http://me@real.example/x").header("host", "other"));
        assert!(check(&userinfo).is_err());
    }

    #[test]
    fn transfer_encoding_is_one_chunked_or_nothing() {
        let chunked = parts(
            get("/")
                .header("host", "h")
                .header("transfer-encoding", "Chunked"),
        );
        assert!(check(&chunked).is_ok());
        for bad in [
            &["identity, chunked"][..],
            &["chunked, chunked"],
            &["gzip", "chunked"],
        ] {
            let mut request = get("/").header("host", "h");
            for value in bad {
                request = request.header("transfer-encoding", *value);
            }
            assert!(check(&parts(request)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn connect_is_refused() {
        let p = parts(hyper::Request::connect("example.org:443").header("host", "example.org:443"));
        assert!(check(&p).is_err());
    }
}
