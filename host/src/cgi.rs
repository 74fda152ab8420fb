//! The CGI front end: one request from the process environment, the response on
//! stdout (gateway-semantics section 5).
//!
//! This module only moves bytes. The environ comes from the pure builder in
//! [`crate::environ`]; the ordering rules live in [`crate::gateway`].

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use crate::environ::Environ;
use crate::gateway::{Header, Sink};
use crate::input::Input;

/// A CGI response stream: `Status: …`, the headers, a blank line, then the body, each
/// piece written and flushed as it comes. Nothing is added.
pub struct CgiSink<W> {
    out: W,
}

impl<W: Write + Send> CgiSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl CgiSink<File> {
    /// A sink on the process's stdout, unbuffered: every chunk goes out as a single
    /// write, with no line buffering in between.
    pub fn stdout() -> io::Result<Self> {
        Ok(Self::new(File::from(
            io::stdout().as_fd().try_clone_to_owned()?,
        )))
    }
}

impl<W: Write + Send> Sink for CgiSink<W> {
    fn send_headers(&mut self, status: &[u8], headers: &[Header]) -> io::Result<()> {
        let mut head = Vec::with_capacity(64 + headers.len() * 32);
        head.extend_from_slice(b"Status: ");
        head.extend_from_slice(status);
        head.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        self.out.write_all(&head)?;
        self.out.flush()
    }

    fn send_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.out.write_all(chunk)?;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn abort(&mut self) {
        // CGI has no way to mark a body incomplete on the wire: what was sent stays
        // sent, and the process exits non-zero (see `wasgi run --help`).
        let _ = self.out.flush();
    }
}

/// The request as `wasgi run` was asked to make it: the process's CGI variables,
/// overridden by the command-line flags.
#[derive(Debug, Default)]
pub struct Overrides {
    /// `--method`.
    pub method: Option<String>,
    /// `--path`, which may carry `?query`.
    pub path: Option<String>,
    /// `--header`, in order, already split into name and value.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Where the request body comes from.
pub enum Body {
    /// The process's stdin, as a web server passes it: bounded by CONTENT_LENGTH, and
    /// empty without it.
    Stdin,
    /// `--body FILE`: CONTENT_LENGTH is the file's size unless a header set it.
    File(File),
    /// `--body -`: stdin to its end (wsgi.input_terminated) unless a header set
    /// CONTENT_LENGTH.
    StdinToEnd,
}

/// Builds the CGI request: the environ from `vars` (the process environment, filtered
/// by [`Environ::from_cgi_vars`]) with `overrides` on top and wsgiref's testing
/// defaults for what is still missing, and its body.
pub fn request(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    overrides: &Overrides,
    body: Body,
) -> io::Result<(Environ, Input)> {
    let mut environ = Environ::from_cgi_vars(vars);
    if let Some(method) = &overrides.method {
        environ.set("REQUEST_METHOD", method.as_bytes());
    }
    if let Some(path) = &overrides.path {
        environ.set_request_target(path.as_bytes());
    }
    let mut from_flags = Environ::new();
    for (name, value) in &overrides.headers {
        from_flags.add_header(name, value);
    }
    for (name, value) in from_flags.variables() {
        environ.set(name, value.clone());
    }
    let reader: Box<dyn Read + Send> = match body {
        Body::Stdin => Box::new(io::stdin()),
        Body::StdinToEnd => {
            environ.input_terminated = true;
            Box::new(io::stdin())
        }
        Body::File(file) => {
            let len = file.metadata()?.len();
            environ.set_default("CONTENT_LENGTH", len.to_string());
            Box::new(file)
        }
    };
    environ.apply_defaults();
    environ.run_once = true;
    environ.multiprocess = true;
    let input = Input::new(reader, &environ);
    Ok((environ, input))
}

/// Splits a `--header 'Name: value'` flag, checking that the name is a token.
pub fn parse_header(flag: &str) -> Result<(String, Vec<u8>), String> {
    let (name, value) = flag
        .split_once(':')
        .ok_or_else(|| format!("header {flag:?} has no ':' (write it as 'Name: value')"))?;
    let name = name.trim();
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!("header name {name:?} is not a token (RFC 9110)"));
    }
    Ok((name.to_owned(), value.trim().as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::Sink;

    #[test]
    fn cgi_output_is_status_headers_blank_line_body() {
        let mut sink = CgiSink::new(Vec::new());
        let headers = vec![
            ("Content-Type".to_owned(), b"text/plain".to_vec()),
            ("Set-Cookie".to_owned(), b"a=1".to_vec()),
            ("Set-Cookie".to_owned(), b"b=\xe9".to_vec()),
        ];
        sink.send_headers(b"200 OK", &headers).expect("headers");
        sink.send_chunk(b"Hello").expect("chunk");
        sink.finish().expect("finish");
        assert_eq!(
            sink.out,
            b"Status: 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=\xe9\r\n\r\nHello"
        );
    }

    #[test]
    fn flags_override_cgi_variables() {
        let vars = [
            ("REQUEST_METHOD".into(), "GET".into()),
            ("HTTP_ACCEPT".into(), "*/*".into()),
            ("QUERY_STRING".into(), "old".into()),
        ];
        let overrides = Overrides {
            method: Some("POST".into()),
            path: Some("/x%20y?a=1".into()),
            headers: vec![
                ("Accept".into(), b"text/html".to_vec()),
                ("X-A".into(), b"1".to_vec()),
                ("X-A".into(), b"2".to_vec()),
            ],
        };
        let (env, _) = request(vars, &overrides, Body::Stdin).expect("request");
        assert_eq!(env.get("REQUEST_METHOD"), Some(&b"POST"[..]));
        assert_eq!(env.get("PATH_INFO"), Some(&b"/x y"[..]));
        assert_eq!(env.get("QUERY_STRING"), Some(&b"a=1"[..]));
        assert_eq!(env.get("HTTP_ACCEPT"), Some(&b"text/html"[..]));
        assert_eq!(env.get("HTTP_X_A"), Some(&b"1, 2"[..]));
        assert!(env.run_once && env.multiprocess && !env.multithread);
    }

    #[test]
    fn header_flags_need_a_colon_and_a_token_name() {
        assert_eq!(
            parse_header("X-A:  b c ").expect("ok"),
            ("X-A".to_owned(), b"b c".to_vec())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert!(parse_header(": x").is_err());
    }
}
