//! Unit tests of the environ builder: CGI filtering, defaults, HTTP requests.

use super::*;

fn os(pairs: &[(&str, &[u8])]) -> Vec<(OsString, OsString)> {
    use std::os::unix::ffi::OsStringExt;
    pairs
        .iter()
        .map(|(n, v)| (OsString::from(n), OsString::from_vec(v.to_vec())))
        .collect()
}

#[test]
fn host_variables_never_reach_the_environ() {
    let env = Environ::from_cgi_vars(os(&[
        ("PATH", b"/usr/bin"),
        ("HOME", b"/root"),
        ("AWS_SECRET_ACCESS_KEY", b"hunter2"),
        ("SCRIPT_FILENAME", b"/srv/app.wasm"),
        ("SSL_CERT_FILE", b"/etc/ssl/certs/ca-certificates.crt"),
        ("DOCUMENT_ROOT", b"/srv"),
        ("REQUEST_METHOD", b"POST"),
        ("HTTP_ACCEPT", b"*/*"),
        ("SSL_CIPHER", b"TLS_AES"),
        ("REDIRECT_STATUS", b"200"),
    ]));
    let names: Vec<&str> = env.variables().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "REQUEST_METHOD",
            "HTTP_ACCEPT",
            "SSL_CIPHER",
            "REDIRECT_STATUS"
        ]
    );
}

#[test]
fn http_content_type_and_length_are_never_passed() {
    let env = Environ::from_cgi_vars(os(&[
        ("HTTP_CONTENT_TYPE", b"text/html"),
        ("HTTP_CONTENT_LENGTH", b"5"),
        ("CONTENT_TYPE", b"text/plain"),
    ]));
    assert_eq!(env.get("HTTP_CONTENT_TYPE"), None);
    assert_eq!(env.get("HTTP_CONTENT_LENGTH"), None);
    assert_eq!(env.get("CONTENT_TYPE"), Some(&b"text/plain"[..]));
}

#[test]
fn values_that_are_not_utf8_are_kept_byte_for_byte() {
    let raw: &[u8] = b"/caf\xe9/\xff\x00x";
    let env = Environ::from_cgi_vars(os(&[("PATH_INFO", raw), ("HTTP_X", b"\x80\x81")]));
    assert_eq!(env.get("PATH_INFO"), Some(raw));
    assert_eq!(env.get("HTTP_X"), Some(&b"\x80\x81"[..]));
}

#[test]
fn names_that_are_not_utf8_are_skipped() {
    use std::os::unix::ffi::OsStringExt;
    let env = Environ::from_cgi_vars([
        (
            OsString::from_vec(b"HTTP_\xff".to_vec()),
            OsString::from("x"),
        ),
        (OsString::from("HTTP_OK"), OsString::from("y")),
    ]);
    assert_eq!(env.variables().len(), 1);
}

#[test]
fn defaults_follow_wsgiref_setup_testing_defaults() {
    let mut env = Environ::new();
    env.apply_testing_defaults();
    let expect: Vec<(String, Vec<u8>)> = [
        ("REQUEST_METHOD", "GET"),
        ("SERVER_NAME", "localhost"),
        ("SERVER_PROTOCOL", "HTTP/1.0"),
        ("HTTP_HOST", "localhost"),
        ("PATH_INFO", "/"),
        ("SCRIPT_NAME", ""),
        ("SERVER_PORT", "80"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
    .collect();
    assert_eq!(env.variables(), expect.as_slice());
    assert_eq!(env.url_scheme(), "http");
}

#[test]
fn defaults_never_override_what_the_request_set() {
    let mut env = Environ::from_cgi_vars(os(&[
        ("REQUEST_METHOD", b"PUT"),
        ("SCRIPT_NAME", b"/app"),
        ("SERVER_NAME", b"example.org"),
        ("HTTPS", b"ON"),
    ]));
    env.apply_defaults();
    assert_eq!(env.get("REQUEST_METHOD"), Some(&b"PUT"[..]));
    assert_eq!(env.get("SCRIPT_NAME"), Some(&b"/app"[..]));
    assert_eq!(
        env.get("PATH_INFO"),
        Some(&b""[..]),
        "PATH_INFO empty, not /"
    );
    assert_eq!(env.get("SERVER_PORT"), Some(&b"443"[..]));
    assert_eq!(env.url_scheme(), "https");
    assert_eq!(
        env.get("HTTP_HOST"),
        None,
        "a request without Host shows none, as PEP 3333's gateway does"
    );
    env.apply_testing_defaults();
    assert_eq!(
        env.get("HTTP_HOST"),
        Some(&b"example.org"[..]),
        "testing defaults: HTTP_HOST follows SERVER_NAME, as wsgiref's"
    );
}

#[test]
fn url_scheme_is_https_only_for_on_1_or_yes() {
    for (value, scheme) in [
        ("on", "https"),
        ("1", "https"),
        ("Yes", "https"),
        ("off", "http"),
        ("0", "http"),
        ("", "http"),
    ] {
        let mut env = Environ::new();
        env.set("HTTPS", value);
        assert_eq!(env.url_scheme(), scheme, "HTTPS={value}");
    }
}

#[test]
fn headers_become_http_variables_and_repeats_are_joined() {
    let mut env = Environ::new();
    env.add_header("X-Forwarded-For", b"a");
    env.add_header("content-type", b"text/plain");
    env.add_header("Content-Length", b"3");
    env.add_header("x-forwarded-for", b"b");
    env.add_header("Accept", b"\xe9");
    assert_eq!(env.get("HTTP_X_FORWARDED_FOR"), Some(&b"a, b"[..]));
    assert_eq!(env.get("CONTENT_TYPE"), Some(&b"text/plain"[..]));
    assert_eq!(env.get("CONTENT_LENGTH"), Some(&b"3"[..]));
    assert_eq!(env.get("HTTP_ACCEPT"), Some(&b"\xe9"[..]));
    assert_eq!(env.get("HTTP_CONTENT_TYPE"), None);
}

#[test]
fn request_target_is_split_and_the_path_percent_decoded() {
    let mut env = Environ::new();
    env.set_request_target(b"/caf%C3%A9/%FF%2Fx?q=%20a&b=c?d");
    assert_eq!(env.get("PATH_INFO"), Some(&b"/caf\xc3\xa9/\xff/x"[..]));
    assert_eq!(env.get("QUERY_STRING"), Some(&b"q=%20a&b=c?d"[..]));
    env.set_request_target(b"/plain");
    assert_eq!(env.get("QUERY_STRING"), Some(&b""[..]));
}

fn http<'a>(target: &'a [u8], headers: &'a [(&'a str, &'a [u8])]) -> HttpRequest<'a> {
    HttpRequest {
        method: "GET",
        target,
        protocol: "HTTP/1.1",
        headers,
        local: Some("127.0.0.1:8000".parse().expect("addr")),
        remote: Some("10.1.2.3:54321".parse().expect("addr")),
        https: false,
        trusted_proxies: &[],
        keep_underscore_headers: false,
    }
}

#[test]
fn an_http_request_becomes_a_cgi_environ() {
    let headers: [(&str, &[u8]); 5] = [
        ("Host", b"example.org:8080"),
        ("Accept", b"text/html"),
        ("Content-Type", b"text/plain"),
        ("Content-Length", b"5"),
        ("accept", b"*/*"),
    ];
    let env = Environ::from_http(&http(b"/caf%C3%A9/%2F?x=%20y", &headers));
    let want: &[(&str, &[u8])] = &[
        ("REQUEST_METHOD", b"GET"),
        ("SCRIPT_NAME", b""),
        ("PATH_INFO", b"/caf\xc3\xa9//"),
        ("QUERY_STRING", b"x=%20y"),
        ("SERVER_PROTOCOL", b"HTTP/1.1"),
        ("GATEWAY_INTERFACE", b"CGI/1.1"),
        (
            "SERVER_SOFTWARE",
            concat!("wasgi/", env!("CARGO_PKG_VERSION")).as_bytes(),
        ),
        ("REMOTE_ADDR", b"10.1.2.3"),
        ("REMOTE_PORT", b"54321"),
        ("HTTP_HOST", b"example.org:8080"),
        ("HTTP_ACCEPT", b"text/html, */*"),
        ("CONTENT_TYPE", b"text/plain"),
        ("CONTENT_LENGTH", b"5"),
        ("SERVER_NAME", b"example.org"),
        ("SERVER_PORT", b"8080"),
    ];
    let got: Vec<(&str, &[u8])> = env
        .variables()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn server_name_and_port_come_from_host_or_the_socket() {
    let cases: [(&[u8], &[u8], &[u8]); 4] = [
        (b"example.org", b"example.org", b"80"),
        (b"[::1]:9000", b"[::1]", b"9000"),
        (b"[::1]", b"[::1]", b"80"),
        (b"", b"127.0.0.1", b"8000"),
    ];
    for (host, name, port) in cases {
        let headers: [(&str, &[u8]); 1] = [("Host", host)];
        let env = Environ::from_http(&http(b"/", &headers));
        assert_eq!(env.get("SERVER_NAME"), Some(name), "{host:?}");
        assert_eq!(env.get("SERVER_PORT"), Some(port), "{host:?}");
    }
    let env = Environ::from_http(&http(b"/", &[]));
    assert_eq!(env.get("SERVER_NAME"), Some(&b"127.0.0.1"[..]));
}

#[test]
fn an_absolute_form_target_keeps_only_path_and_query() {
    for (target, path, query) in [
        (
            &b"http://h.example/a%20b?q=1"[..],
            &b"/a b"[..],
            &b"q=1"[..],
        ),
        (b"http://h.example?q=1", b"/", b"q=1"),
        (b"http://h.example", b"/", b""),
        (b"/plain?x", b"/plain", b"x"),
    ] {
        let env = Environ::from_http(&http(target, &[]));
        assert_eq!(env.get("PATH_INFO"), Some(path));
        assert_eq!(env.get("QUERY_STRING"), Some(query));
    }
}

/// The environ of a request from `remote` with `headers`, trusting `trusted`.
fn proxied(remote: &str, trusted: &[&str], headers: &[(&str, &[u8])]) -> Environ {
    let trusted: Vec<IpAddr> = trusted.iter().map(|t| t.parse().expect("ip")).collect();
    Environ::from_http(&HttpRequest {
        remote: Some(remote.parse().expect("addr")),
        trusted_proxies: &trusted,
        ..http(b"/", headers)
    })
}

#[test]
fn forwarded_headers_are_ignored_by_default() {
    let headers: [(&str, &[u8]); 2] = [
        ("X-Forwarded-For", b"198.51.100.7"),
        ("X-Forwarded-Proto", b"https"),
    ];
    let env = proxied("10.0.0.2:4000", &[], &headers);
    assert_eq!(env.get("REMOTE_ADDR"), Some(&b"10.0.0.2"[..]));
    assert_eq!(env.get("REMOTE_PORT"), Some(&b"4000"[..]));
    assert_eq!(env.get("HTTPS"), None);
    assert_eq!(env.url_scheme(), "http");
    // Still visible to the application, as the headers they are.
    assert_eq!(env.get("HTTP_X_FORWARDED_FOR"), Some(&b"198.51.100.7"[..]));
    assert_eq!(env.get("HTTP_X_FORWARDED_PROTO"), Some(&b"https"[..]));
}

#[test]
fn forwarded_headers_from_an_untrusted_address_are_ignored() {
    let headers: [(&str, &[u8]); 2] = [
        ("X-Forwarded-For", b"198.51.100.7"),
        ("X-Forwarded-Proto", b"https"),
    ];
    let env = proxied("10.0.0.9:4000", &["10.0.0.2"], &headers);
    assert_eq!(env.get("REMOTE_ADDR"), Some(&b"10.0.0.9"[..]));
    assert_eq!(env.url_scheme(), "http");
}

#[test]
fn a_trusted_proxy_sets_remote_addr_to_the_right_most_untrusted_address() {
    for (xff, want) in [
        (&[&b"203.0.113.5"[..]][..], &b"203.0.113.5"[..]),
        // A client may send its own X-Forwarded-For: only what the trusted proxies
        // appended counts, so the spoofed left part is never chosen.
        (&[b"198.51.100.7, 203.0.113.5"], b"203.0.113.5"),
        // Two trusted hops, and the list split over two fields.
        (&[b"198.51.100.7, 203.0.113.5", b"10.0.0.3"], b"203.0.113.5"),
        (&[b" 2001:db8::1 ,10.0.0.3"], b"2001:db8::1"),
        // Every hop trusted: the left-most.
        (&[b"10.0.0.3, 10.0.0.2"], b"10.0.0.3"),
    ] {
        let headers: Vec<(&str, &[u8])> = xff.iter().map(|v| ("x-forwarded-for", *v)).collect();
        let env = proxied("10.0.0.2:4000", &["10.0.0.2", "10.0.0.3"], &headers);
        assert_eq!(env.get("REMOTE_ADDR"), Some(want), "{xff:?}");
        assert_eq!(
            env.get("REMOTE_PORT"),
            None,
            "the proxy's port is not the client's"
        );
    }
}

#[test]
fn a_forwarded_entry_that_is_not_an_address_stops_the_walk() {
    for xff in [&b"203.0.113.5, unknown"[..], b"203.0.113.5:80", b""] {
        let headers: [(&str, &[u8]); 1] = [("X-Forwarded-For", xff)];
        let env = proxied("10.0.0.2:4000", &["10.0.0.2"], &headers);
        assert_eq!(env.get("REMOTE_ADDR"), Some(&b"10.0.0.2"[..]), "{xff:?}");
        assert_eq!(env.get("REMOTE_PORT"), Some(&b"4000"[..]));
    }
    let env = proxied("10.0.0.2:4000", &["10.0.0.2"], &[]);
    assert_eq!(env.get("REMOTE_ADDR"), Some(&b"10.0.0.2"[..]));
}

#[test]
fn a_trusted_proxy_sets_the_url_scheme_from_x_forwarded_proto() {
    for (proto, https, port) in [
        (&b"https"[..], Some(&b"on"[..]), &b"443"[..]),
        (b"HTTPS", Some(b"on"), b"443"),
        (b"http", None, b"80"),
        (b"http, https", Some(b"on"), b"443"),
        (b"gopher", None, b"80"),
    ] {
        let headers: [(&str, &[u8]); 2] = [("Host", b"example.org"), ("X-Forwarded-Proto", proto)];
        let env = proxied("10.0.0.2:4000", &["10.0.0.2"], &headers);
        assert_eq!(env.get("HTTPS"), https, "{proto:?}");
        assert_eq!(env.get("SERVER_PORT"), Some(port), "{proto:?}");
    }
}

#[test]
fn content_length_parses_plain_decimals_only() {
    for (raw, want) in [
        ("12", Some(12)),
        ("0", Some(0)),
        ("", None),
        ("-1", None),
        ("+3", None),
        (" 3", None),
        ("3x", None),
        ("99999999999999999999999", None),
    ] {
        let mut env = Environ::new();
        env.set("CONTENT_LENGTH", raw);
        assert_eq!(env.content_length(), want, "{raw:?}");
    }
    assert_eq!(Environ::new().content_length(), None);
}

#[test]
fn a_client_on_a_unix_socket_has_an_empty_remote_addr_and_no_port() {
    let headers: [(&str, &[u8]); 1] = [("X-Forwarded-For", b"192.0.2.9")];
    let env = Environ::from_http(&HttpRequest {
        local: None,
        remote: None,
        // Whoever the proxies are, a client with no address is none of them.
        trusted_proxies: &["10.1.2.3".parse().expect("ip")],
        ..http(b"/", &headers)
    });
    assert_eq!(env.get("REMOTE_ADDR"), Some(&b""[..]));
    assert_eq!(env.get("REMOTE_PORT"), None);
    assert_eq!(env.get("HTTP_X_FORWARDED_FOR"), Some(&b"192.0.2.9"[..]));
    // No Host, no socket address: the defaults.
    assert_eq!(env.get("SERVER_NAME"), Some(&b"localhost"[..]));
    assert_eq!(env.get("SERVER_PORT"), Some(&b"80"[..]));
}

#[test]
fn underscore_headers_are_dropped_unless_kept() {
    let headers: [(&str, &[u8]); 2] = [("X_Auth_User", b"forged"), ("X-Auth-User", b"real")];
    let env = Environ::from_http(&http(b"/", &headers));
    assert_eq!(env.get("HTTP_X_AUTH_USER"), Some(&b"real"[..]));
    let kept = Environ::from_http(&HttpRequest {
        keep_underscore_headers: true,
        ..http(b"/", &headers)
    });
    assert_eq!(kept.get("HTTP_X_AUTH_USER"), Some(&b"forged, real"[..]));
}

#[test]
fn without_sockets_remote_addr_is_empty_and_the_host_names_the_server() {
    let headers: [(&str, &[u8]); 1] = [("Host", b"example.org")];
    let env = Environ::from_http(&HttpRequest {
        local: None,
        remote: None,
        ..http(b"/", &headers)
    });
    assert_eq!(env.get("REMOTE_ADDR"), Some(&b""[..]));
    assert_eq!(env.get("REMOTE_PORT"), None);
    assert_eq!(env.get("SERVER_NAME"), Some(&b"example.org"[..]));
    assert_eq!(env.get("SERVER_PORT"), Some(&b"80"[..]));
    let bare = Environ::from_http(&HttpRequest {
        local: None,
        remote: None,
        ..http(b"/", &[])
    });
    assert_eq!(bare.get("SERVER_NAME"), Some(&b"localhost"[..]));
    assert_eq!(bare.get("SERVER_PORT"), Some(&b"80"[..]));
}
