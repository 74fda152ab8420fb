//! The wasi:http request as wasgi sees it: its environ, built by the gateway's
//! builder exactly as `wasgi serve` builds it, and its body as wsgi.input.
//!
//! What wasi:http does not say is left out or fixed: the client's address (REMOTE_ADDR
//! empty, no REMOTE_PORT), the server's socket (SERVER_NAME and SERVER_PORT come
//! from the request's authority), the HTTP version (`HTTP/1.1`). The platform framed
//! the body, so reading it to its end is safe (`wsgi.input_terminated`).

use std::io::{self, Read};

use wasgi_gateway::environ::{Environ, HttpRequest};
use wasgi_gateway::input::Input;

use crate::bindings::wasi::http::types::{IncomingBody, IncomingRequest, Method, Scheme};
use crate::bindings::wasi::io::streams::{InputStream, StreamError};

/// The request's environ and its body.
pub(crate) fn environ_and_input(request: IncomingRequest) -> (Environ, Input) {
    let method = method(&request.method());
    let target = request.path_with_query().unwrap_or_else(|| "/".to_owned());
    let https = matches!(request.scheme(), Some(Scheme::Https));
    let authority = request.authority().filter(|a| !a.is_empty());
    let fields = request.headers().entries();
    let headers = with_host(&fields, authority.as_deref());
    let mut environ = Environ::from_http(&HttpRequest {
        method: &method,
        target: target.as_bytes(),
        protocol: "HTTP/1.1",
        headers: &headers,
        local: None,
        remote: None,
        https,
        trusted_proxies: &[],
        keep_underscore_headers: false,
    });
    // As under `wasgi serve`, other requests run at once in other instances; on a
    // platform of many machines, in other processes too.
    environ.multithread = true;
    environ.multiprocess = true;
    environ.input_terminated = true;
    let input = match BodyReader::new(request) {
        Some(reader) => Input::new(Box::new(reader), &environ),
        None => Input::empty(),
    };
    (environ, input)
}

/// The header fields with the request's authority as Host (in Host's place, else
/// last), as `wasgi serve` hands them to the builder: the authority is what the
/// platform routed on.
fn with_host<'a>(
    fields: &'a [(String, Vec<u8>)],
    authority: Option<&'a str>,
) -> Vec<(&'a str, &'a [u8])> {
    let mut headers = Vec::with_capacity(fields.len() + 1);
    let mut host = authority.map(|a| ("host", a.as_bytes()));
    for (name, value) in fields {
        if name.eq_ignore_ascii_case("host") {
            match authority {
                Some(_) => headers.extend(host.take()),
                None => headers.push((name.as_str(), value.as_slice())),
            }
        } else {
            headers.push((name.as_str(), value.as_slice()));
        }
    }
    headers.extend(host);
    headers
}

fn method(method: &Method) -> String {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => other,
    }
    .to_owned()
}

/// The request body's stream. Fields drop in order: the stream before its body, the
/// body before its request (wasi:http's resources are children of one another).
struct BodyReader {
    stream: InputStream,
    _body: IncomingBody,
    _request: IncomingRequest,
}

impl BodyReader {
    fn new(request: IncomingRequest) -> Option<Self> {
        let body = request.consume().ok()?;
        let stream = body.stream().ok()?;
        Some(Self {
            stream,
            _body: body,
            _request: request,
        })
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // `blocking-read` waits for at least one byte or the end; an empty list is
        // read again rather than taken for the end.
        let read = loop {
            match self.stream.blocking_read(buf.len() as u64) {
                Ok(bytes) if bytes.is_empty() => continue,
                other => break other,
            }
        };
        match read {
            Ok(bytes) => {
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len())
            }
            Err(StreamError::Closed) => Ok(0),
            Err(StreamError::LastOperationFailed(e)) => Err(io::Error::other(format!(
                "the request body failed: {}",
                e.to_debug_string()
            ))),
        }
    }
}
