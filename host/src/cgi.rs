//! The CGI front end: one request from the process environment, the response on
//! stdout (docs/GATEWAY.md section 5).
//!
//! This module only moves bytes. The environ comes from the pure builder in
//! [`crate::environ`]; the ordering rules live in [`crate::gateway`].

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek as _, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use wasgi_gateway::environ::Environ;
use wasgi_gateway::gateway::{Header, Sink};
use wasgi_gateway::input::{Input, MAX_READ};
use wasgi_gateway::response::{Framing as BodyFraming, Head};

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

/// The process's stdout, unbuffered: every chunk goes out as a single write, with no
/// line buffering in between.
pub fn stdout() -> io::Result<File> {
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

impl<W: Write + Send> Sink for CgiSink<W> {
    fn send_headers(&mut self, head: &Head<'_>) -> io::Result<()> {
        self.out
            .write_all(&cgi_head(head.status, head.headers, None))?;
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

    fn is_cgi(&self) -> bool {
        true
    }
}

/// `Status: …`, the headers and the blank line of a CGI response, with a
/// `Content-Length` after the application's headers when `length` is given.
fn cgi_head(status: &[u8], headers: &[Header], length: Option<u64>) -> Vec<u8> {
    let mut head = Vec::with_capacity(96 + headers.len() * 32);
    head.extend_from_slice(b"Status: ");
    head.extend_from_slice(status);
    head.extend_from_slice(b"\r\n");
    header_lines(&mut head, headers);
    if let Some(length) = length {
        head.extend_from_slice(format!("Content-Length: {length}\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// How a CGI response marks the end of its body (`wasgi run --framing`, or
/// `WASGI_FRAMING` in the handler form).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Framing {
    /// Each chunk goes out as it comes ([`CgiSink`]); the server ends the body when
    /// wasgi exits, so an abort after the headers is in the exit status and the log
    /// only.
    #[default]
    Stream,
    /// The body goes out whole with its `Content-Length` ([`LengthSink`]), so that an
    /// abort after the headers reaches the client as a body short of its length.
    Length,
}

impl Framing {
    /// The framing `WASGI_FRAMING` names (`stream` or `length`); unset, streaming.
    pub fn from_variable(value: Option<&std::ffi::OsStr>) -> Result<Self, String> {
        match value.map(|v| v.as_bytes()) {
            None | Some(b"stream") => Ok(Self::Stream),
            Some(b"length") => Ok(Self::Length),
            Some(other) => Err(format!(
                "WASGI_FRAMING={}: write stream or length",
                String::from_utf8_lossy(other)
            )),
        }
    }
}

/// Body bytes a [`LengthSink`] keeps in memory before it spools to a temporary file.
const LENGTH_SPOOL_MEMORY: usize = 1 << 20;

/// A CGI response that declares its body's length, for a server that holds the body
/// to it (nginx with fcgiwrap does; it cannot be told an incomplete body otherwise).
/// When the application declared a Content-Length (or the response has no body: HEAD,
/// 1xx, 204, 304), everything streams as [`CgiSink`] does; otherwise the body is held
/// (in memory, then in an unlinked temporary file) until it ends, then goes out with
/// its `Content-Length`. An abort sends what there is under a length one byte longer
/// than it: the server sees the body end short and cuts the client's connection, so
/// the client never takes it for complete. The cost: no streaming for such bodies.
pub struct LengthSink<W> {
    out: W,
    /// The response's head and the body so far, while the body is held.
    held: Option<(Vec<u8>, Vec<Header>, tempfile::SpooledTempFile)>,
    held_bytes: u64,
}

impl<W: Write + Send> LengthSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            held: None,
            held_bytes: 0,
        }
    }

    /// Sends the held response with `length` declared.
    fn release(&mut self, length: u64) -> io::Result<()> {
        let Some((status, headers, mut body)) = self.held.take() else {
            return self.out.flush();
        };
        self.out
            .write_all(&cgi_head(&status, &headers, Some(length)))?;
        body.rewind()?;
        io::copy(&mut body, &mut self.out)?;
        self.out.flush()
    }
}

impl<W: Write + Send> Sink for LengthSink<W> {
    fn send_headers(&mut self, head: &Head<'_>) -> io::Result<()> {
        if head.framing != BodyFraming::Open {
            self.out
                .write_all(&cgi_head(head.status, head.headers, None))?;
            return self.out.flush();
        }
        let body = tempfile::SpooledTempFile::new(LENGTH_SPOOL_MEMORY);
        self.held = Some((head.status.to_vec(), head.headers.to_vec(), body));
        Ok(())
    }

    fn send_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        match &mut self.held {
            Some((_, _, body)) => {
                body.write_all(chunk)?;
                self.held_bytes += chunk.len() as u64;
                Ok(())
            }
            None => {
                self.out.write_all(chunk)?;
                self.out.flush()
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.release(self.held_bytes)
    }

    fn abort(&mut self) {
        let _ = self.release(self.held_bytes + 1);
    }

    fn is_cgi(&self) -> bool {
        true
    }
}

/// `Name: value\r\n` for each header, in order, as given.
fn header_lines(head: &mut Vec<u8>, headers: &[Header]) {
    for (name, value) in headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
}

/// Whether wasgi runs as a non-parsed-headers CGI program: its file name starts with
/// `nph-` (RFC 3875 section 5), as a symlink `nph-wasgi` to the binary does. Apache then
/// hands the program's output to the client untouched, and wasgi writes the whole
/// HTTP response itself ([`NphSink`]).
pub fn is_nph(argv0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(argv0)
        .file_name()
        .is_some_and(|name| name.as_bytes().starts_with(b"nph-"))
}

/// A non-parsed-headers CGI response (RFC 3875 section 5.1): the HTTP response itself,
/// for a server that passes the program's output to the client as is (Apache runs an
/// `nph-` program that way). Unlike [`CgiSink`], an abort is visible to the client: a
/// body framed as chunked (HTTP/1.1 with no Content-Length from the app) ends without
/// its last chunk, and one with a Content-Length ends short of it. Over HTTP/1.0 with
/// no Content-Length the body ends with the connection and an abort looks like its end.
pub struct NphSink<W> {
    out: W,
    protocol: &'static str,
    chunked: bool,
}

impl<W: Write + Send> NphSink<W> {
    /// A sink writing the response for a request made with `protocol` (the request's
    /// SERVER_PROTOCOL).
    pub fn new(out: W, protocol: &[u8]) -> Self {
        Self {
            out,
            protocol: if protocol == b"HTTP/1.1" {
                "HTTP/1.1"
            } else {
                "HTTP/1.0"
            },
            chunked: false,
        }
    }
}

impl<W: Write + Send> Sink for NphSink<W> {
    fn send_headers(&mut self, head: &Head<'_>) -> io::Result<()> {
        let Head {
            status,
            headers,
            framing,
        } = *head;
        // Chunks only for a body of open length: never where there is no body (RFC
        // 9110 section 6.4.1: a 204 or 304 must not carry Transfer-Encoding), and over
        // HTTP/1.0 the end of the connection ends the body.
        self.chunked = self.protocol == "HTTP/1.1" && framing == BodyFraming::Open;
        let mut head = Vec::with_capacity(128 + headers.len() * 32);
        head.extend_from_slice(self.protocol.as_bytes());
        head.push(b' ');
        head.extend_from_slice(status);
        head.extend_from_slice(b"\r\nDate: ");
        head.extend_from_slice(httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes());
        head.extend_from_slice(b"\r\n");
        header_lines(&mut head, headers);
        if self.chunked {
            head.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        // One response per process: the connection ends with it.
        head.extend_from_slice(b"Connection: close\r\n\r\n");
        self.out.write_all(&head)?;
        self.out.flush()
    }

    fn send_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        if self.chunked {
            write!(self.out, "{:x}\r\n", chunk.len())?;
            self.out.write_all(chunk)?;
            self.out.write_all(b"\r\n")?;
        } else {
            self.out.write_all(chunk)?;
        }
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        if self.chunked {
            self.out.write_all(b"0\r\n\r\n")?;
        }
        self.out.flush()
    }

    fn abort(&mut self) {
        // No last chunk: the client sees the body end early.
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
    vars: impl IntoIterator<Item = (OsString, OsString)>,
    overrides: &Overrides,
    body: Body,
) -> io::Result<(Environ, Input)> {
    let mut environ = Environ::from_cgi_vars(vars);
    // wsgiref's testing defaults only for a run with no CGI variables at all (a
    // terminal); under a web server, only what PEP 3333 wants present.
    let testing = environ.variables().is_empty();
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
        // Web servers (Apache's mod_cgi, fcgiwrap) write the whole body before they read
        // any output: a guest that answers while it reads would fill the response pipe
        // and wait forever. Read the body ahead of the guest, as it arrives, into an
        // unlinked temporary file; the guest still gets each byte as soon as it is in.
        Body::Stdin => match environ.content_length() {
            Some(length) if length > 0 => Box::new(Spooled::spawn(io::stdin(), length)?),
            _ => Box::new(io::empty()),
        },
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
    if testing {
        environ.apply_testing_defaults();
    } else {
        environ.apply_defaults();
    }
    environ.run_once = true;
    environ.multiprocess = true;
    let input = Input::new(reader, &environ);
    Ok((environ, input))
}

/// A request body read ahead of its reader into an unlinked temporary file: memory
/// stays flat however large the body, and the reader gets every byte as soon as it
/// arrived, waiting only when it has caught up with the writer.
pub struct Spooled {
    file: Arc<File>,
    progress: Arc<(Mutex<Spool>, Condvar)>,
    read: u64,
}

/// How far the read-ahead thread got.
#[derive(Default)]
struct Spool {
    written: u64,
    /// `Some` once the source ended: `Ok` at its end (or at the limit), else the error.
    ended: Option<Result<(), (io::ErrorKind, String)>>,
}

impl Spooled {
    /// Starts reading `source`, at most `limit` bytes, on its own thread.
    pub fn spawn(mut source: impl Read + Send + 'static, limit: u64) -> io::Result<Self> {
        let file = Arc::new(tempfile::tempfile()?);
        let progress = Arc::new((Mutex::new(Spool::default()), Condvar::new()));
        let (writer, report) = (file.clone(), progress.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0; MAX_READ];
            let mut written = 0;
            let ended = loop {
                let want = usize::try_from(limit - written).map_or(buf.len(), |l| l.min(buf.len()));
                if want == 0 {
                    break Ok(());
                }
                let n = match source.read(&mut buf[..want]) {
                    Ok(0) => break Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => break Err((e.kind(), e.to_string())),
                };
                if let Err(e) = writer.write_all_at(&buf[..n], written) {
                    break Err((e.kind(), format!("failed to spool the request body: {e}")));
                }
                written += n as u64;
                let (spool, arrived) = &*report;
                spool.lock().unwrap_or_else(PoisonError::into_inner).written = written;
                arrived.notify_all();
            };
            let (spool, arrived) = &*report;
            spool.lock().unwrap_or_else(PoisonError::into_inner).ended = Some(ended);
            arrived.notify_all();
        });
        Ok(Self {
            file,
            progress,
            read: 0,
        })
    }
}

impl Read for Spooled {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (spool, arrived) = &*self.progress;
        let mut state = spool.lock().unwrap_or_else(PoisonError::into_inner);
        while state.written == self.read && state.ended.is_none() {
            state = arrived.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        let available = state.written - self.read;
        if available == 0 {
            return match &state.ended {
                Some(Err((kind, message))) => Err(io::Error::new(*kind, message.clone())),
                _ => Ok(0),
            };
        }
        drop(state);
        let n = usize::try_from(available).map_or(buf.len(), |a| a.min(buf.len()));
        let n = self.file.read_at(&mut buf[..n], self.read)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// The variable naming the application in the CGI handler form.
pub const APP_VARIABLE: &str = "WASGI_APP";

/// The application of the CGI handler form: `wasgi` run by a web server as the CGI
/// program itself (Apache `ScriptAlias`, nginx + fcgiwrap `SCRIPT_FILENAME`), with the
/// component named by `WASGI_APP`, which the server sets. That holds when the command
/// line is empty, or holds only search words: a server passes a query string that has
/// no `=` as arguments (RFC 3875 section 4.4, Apache does), and they are ignored (the
/// application gets it as QUERY_STRING). `None` otherwise: the command line is parsed
/// as usual.
pub fn handler_app(args: &[OsString], var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let app = var(APP_VARIABLE).filter(|app| !app.is_empty())?;
    let search_words =
        || var("QUERY_STRING").is_some_and(|q| !q.is_empty() && !q.as_bytes().contains(&b'='));
    (args.is_empty() || search_words()).then(|| PathBuf::from(app))
}

/// Whether `name` is an RFC 9110 token (section 5.6.2), as a header name must be.
pub fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Splits a `--header 'Name: value'` flag, checking that the name is a token.
pub fn parse_header(flag: &str) -> Result<(String, Vec<u8>), String> {
    let (name, value) = flag
        .split_once(':')
        .ok_or_else(|| format!("header {flag:?} has no ':' (write it as 'Name: value')"))?;
    let name = name.trim();
    if !is_token(name) {
        return Err(format!("header name {name:?} is not a token (RFC 9110)"));
    }
    Ok((name.to_owned(), value.trim().as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head the gateway hands a sink for this request and response.
    fn head<'a>(method: &[u8], status: &'a [u8], headers: &'a [Header]) -> Head<'a> {
        Head {
            status,
            headers,
            framing: BodyFraming::of(status, headers, method == b"HEAD"),
        }
    }

    #[test]
    fn cgi_output_is_status_headers_blank_line_body() {
        let mut sink = CgiSink::new(Vec::new());
        let headers = vec![
            ("Content-Type".to_owned(), b"text/plain".to_vec()),
            ("Set-Cookie".to_owned(), b"a=1".to_vec()),
            ("Set-Cookie".to_owned(), b"b=\xe9".to_vec()),
        ];
        sink.send_headers(&head(b"GET", b"200 OK", &headers))
            .expect("headers");
        sink.send_chunk(b"Hello").expect("chunk");
        sink.finish().expect("finish");
        assert_eq!(
            sink.out,
            b"Status: 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=\xe9\r\n\r\nHello"
        );
    }

    fn length_framed(run: impl FnOnce(&mut LengthSink<Vec<u8>>)) -> Vec<u8> {
        let mut sink = LengthSink::new(Vec::new());
        run(&mut sink);
        sink.out
    }

    #[test]
    fn length_framing_holds_the_body_and_declares_its_length() {
        let ct = vec![("Content-Type".to_owned(), b"text/plain".to_vec())];
        let whole = length_framed(|sink| {
            sink.send_headers(&head(b"GET", b"200 OK", &ct))
                .expect("headers");
            assert!(sink.out.is_empty(), "nothing goes out before the body ends");
            sink.send_chunk(b"Hello, ").expect("chunk");
            sink.send_chunk(b"World!").expect("chunk");
            sink.finish().expect("finish");
        });
        assert_eq!(
            whole,
            b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
        );
        // An abort declares one byte more than it sends: the body is seen to be short.
        let aborted = length_framed(|sink| {
            sink.send_headers(&head(b"GET", b"200 OK", &ct))
                .expect("headers");
            sink.send_chunk(b"first").expect("chunk");
            sink.abort();
        });
        assert_eq!(
            aborted,
            b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nfirst"
        );
    }

    #[test]
    fn length_framing_streams_what_needs_no_length() {
        let declared = vec![("Content-Length".to_owned(), b"5".to_vec())];
        let streamed = length_framed(|sink| {
            sink.send_headers(&head(b"GET", b"200 OK", &declared))
                .expect("headers");
            sink.send_chunk(b"ab").expect("chunk");
            assert_eq!(sink.out, b"Status: 200 OK\r\nContent-Length: 5\r\n\r\nab");
        });
        assert!(streamed.ends_with(b"ab"));
        for (method, status) in [(&b"HEAD"[..], &b"200 OK"[..]), (b"GET", b"204 No Content")] {
            let bodiless = length_framed(|sink| {
                sink.send_headers(&head(method, status, &[]))
                    .expect("headers");
                sink.finish().expect("finish");
            });
            assert_eq!(bodiless, [b"Status: ", status, b"\r\n\r\n"].concat());
        }
    }

    #[test]
    fn the_framing_variable_is_stream_or_length() {
        use std::ffi::OsStr;
        assert_eq!(Framing::from_variable(None), Ok(Framing::Stream));
        assert_eq!(
            Framing::from_variable(Some(OsStr::new("length"))),
            Ok(Framing::Length)
        );
        assert_eq!(
            Framing::from_variable(Some(OsStr::new("stream"))),
            Ok(Framing::Stream)
        );
        assert!(Framing::from_variable(Some(OsStr::new("chunked"))).is_err());
    }

    /// An NPH response with its Date line taken out (it changes every second).
    fn nph(protocol: &[u8], run: impl FnOnce(&mut NphSink<Vec<u8>>)) -> String {
        let mut sink = NphSink::new(Vec::new(), protocol);
        run(&mut sink);
        let text = String::from_utf8(sink.out).expect("utf-8");
        let (line, rest) = text.split_once("\r\n").expect("status line");
        let (date, rest) = rest.split_once("\r\n").expect("date line");
        assert!(
            date.starts_with("Date: ") && date.ends_with(" GMT"),
            "{date}"
        );
        format!("{line}\r\n{rest}")
    }

    fn text_plain() -> Vec<Header> {
        vec![("Content-Type".to_owned(), b"text/plain".to_vec())]
    }

    #[test]
    fn nph_http11_frames_the_body_as_chunks_and_ends_it() {
        let out = nph(b"HTTP/1.1", |s| {
            s.send_headers(&head(b"GET", b"200 OK", &text_plain()))
                .expect("headers");
            s.send_chunk(b"Hello, ").expect("chunk");
            s.send_chunk(b"World!\n").expect("chunk");
            s.finish().expect("finish");
        });
        assert_eq!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n7\r\nHello, \r\n7\r\nWorld!\n\r\n0\r\n\r\n"
        );
    }

    #[test]
    fn nph_responses_without_a_body_get_no_chunked_framing() {
        for status in [&b"204 No Content"[..], b"304 Not Modified"] {
            let out = nph(b"HTTP/1.1", |s| {
                s.send_headers(&head(b"GET", status, &[])).expect("headers");
                s.finish().expect("finish");
            });
            let line = String::from_utf8_lossy(status);
            assert_eq!(out, format!("HTTP/1.1 {line}\r\nConnection: close\r\n\r\n"));
        }
    }

    #[test]
    fn an_nph_abort_leaves_the_last_chunk_out() {
        let out = nph(b"HTTP/1.1", |s| {
            s.send_headers(&head(b"GET", b"200 OK", &text_plain()))
                .expect("headers");
            s.send_chunk(b"first\n").expect("chunk");
            s.abort();
        });
        assert!(out.ends_with("\r\n\r\n6\r\nfirst\n\r\n"), "{out:?}");
    }

    #[test]
    fn nph_keeps_the_apps_content_length_and_http10_and_head_have_no_chunks() {
        let with_length = vec![("Content-Length".to_owned(), b"3".to_vec())];
        let out = nph(b"HTTP/1.1", |s| {
            s.send_headers(&head(b"GET", b"200 OK", &with_length))
                .expect("headers");
            s.send_chunk(b"abc").expect("chunk");
            s.finish().expect("finish");
        });
        assert_eq!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
        );
        let old = nph(b"HTTP/1.0", |s| {
            s.send_headers(&head(b"GET", b"404 Not Found", &text_plain()))
                .expect("headers");
            s.send_chunk(b"gone").expect("chunk");
            s.finish().expect("finish");
        });
        assert_eq!(
            old,
            "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\ngone"
        );
        // The gateway hands an NPH sink no body for HEAD (see the gateway's tests).
        let to_head = nph(b"HTTP/1.1", |s| {
            s.send_headers(&head(b"HEAD", b"200 OK", &text_plain()))
                .expect("headers");
            s.finish().expect("finish");
        });
        assert_eq!(
            to_head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn nph_is_the_programs_file_name() {
        assert!(is_nph("/usr/lib/cgi-bin/nph-wasgi".as_ref()));
        assert!(is_nph("nph-app".as_ref()));
        assert!(!is_nph("/usr/local/bin/wasgi".as_ref()));
        assert!(!is_nph("/srv/nph-dir/wasgi".as_ref()));
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
    fn the_handler_form_runs_the_app_wasgi_app_names() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let app = Some(PathBuf::from("/srv/hello.wasm"));
        let words: Vec<OsString> = vec!["a".into(), "b".into()];
        let cgi = vars(&[("WASGI_APP", "/srv/hello.wasm"), ("QUERY_STRING", "x=1")]);
        assert_eq!(handler_app(&[], cgi), app);
        // `?a+b` reaches Apache's CGI program as the arguments `a b`: search words.
        let search = vars(&[("WASGI_APP", "/srv/hello.wasm"), ("QUERY_STRING", "a+b")]);
        assert_eq!(handler_app(&words, search), app);
        // Any other command line is the ordinary one, WASGI_APP or not.
        let run: Vec<OsString> = vec!["run".into(), "other.wasm".into()];
        assert_eq!(handler_app(&run, cgi), None);
        assert_eq!(handler_app(&[], vars(&[("QUERY_STRING", "a")])), None);
        assert_eq!(handler_app(&[], vars(&[("WASGI_APP", "")])), None);
    }

    #[test]
    fn a_spooled_body_arrives_whole_and_stops_at_its_limit() {
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let mut source = body.clone();
        source.extend_from_slice(b"past the limit");
        let mut spooled =
            Spooled::spawn(io::Cursor::new(source), body.len() as u64).expect("spool");
        let mut got = Vec::new();
        spooled.read_to_end(&mut got).expect("read");
        assert_eq!(got, body);
    }

    #[test]
    fn a_spooled_body_hands_over_each_piece_before_the_source_ends() {
        // The source gives one piece, then blocks until the reader has seen it: a spool
        // that waited for the whole body would deadlock here.
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        struct Pieces(std::sync::mpsc::Receiver<Vec<u8>>);
        impl Read for Pieces {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let piece = self.0.recv().unwrap_or_default();
                buf[..piece.len()].copy_from_slice(&piece);
                Ok(piece.len())
            }
        }
        let mut spooled = Spooled::spawn(Pieces(rx), 10).expect("spool");
        tx.send(b"hello".to_vec()).expect("send");
        let mut buf = [0; 10];
        assert_eq!(spooled.read(&mut buf).expect("read"), 5);
        assert_eq!(&buf[..5], b"hello");
        tx.send(b"world".to_vec()).expect("send");
        let mut rest = Vec::new();
        spooled.read_to_end(&mut rest).expect("read");
        assert_eq!(rest, b"world");
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
