//! The gateway's [`Sink`] on a wasi:http response: the head becomes the
//! `outgoing-response` set on the response outparam, chunks go to its body stream,
//! and an aborted response's body is dropped unfinished, which the platform turns
//! into a body cut short (an unterminated chunked body, or a closed connection),
//! never a clean end.

use std::io;

use wasgi_gateway::{ErrorPage, Head, Sink};

use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use crate::bindings::wasi::io::streams::OutputStream;

/// One response. Fields drop in order: the stream before its body.
pub(crate) struct HttpSink {
    out: Option<ResponseOutparam>,
    stream: Option<OutputStream>,
    body: Option<OutgoingBody>,
}

impl HttpSink {
    pub(crate) fn new(out: ResponseOutparam) -> Self {
        Self {
            out: Some(out),
            stream: None,
            body: None,
        }
    }

    fn respond(&mut self, head: &Head<'_>) -> Result<(), String> {
        let out = self.out.take().ok_or("the response was already sent")?;
        let fields = Fields::new();
        for (name, value) in head.headers {
            fields
                .append(name, value)
                .map_err(|e| format!("the platform refused the header {name:?}: {e:?}"))?;
        }
        let code = status_code(head.status).ok_or("the status line has no status code")?;
        let response = OutgoingResponse::new(fields);
        response
            .set_status_code(code)
            .map_err(|()| format!("the platform refused the status code {code}"))?;
        let body = response
            .body()
            .map_err(|()| "the response body was taken")?;
        let stream = body.write().map_err(|()| "the body stream was taken")?;
        ResponseOutparam::set(out, Ok(response));
        self.stream = Some(stream);
        self.body = Some(body);
        Ok(())
    }
}

impl Sink for HttpSink {
    fn send_headers(&mut self, head: &Head<'_>) -> io::Result<()> {
        self.respond(head).map_err(io::Error::other)
    }

    fn send_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        let stream = self
            .stream
            .as_ref()
            .ok_or_else(|| io::Error::other("no response body to write to"))?;
        let gone = |e| io::Error::other(format!("the client went away: {e:?}"));
        // As much at once as the platform takes (`check-write`), rather than
        // `blocking-write-and-flush`'s 4 KiB: one chunk of the app's stays one write
        // (and, under wasmtime serve, one HTTP chunk) where the platform allows.
        let mut rest = chunk;
        while !rest.is_empty() {
            let permit = stream.check_write().map_err(gone)?;
            if permit == 0 {
                stream.subscribe().block();
                continue;
            }
            let n = rest
                .len()
                .min(usize::try_from(permit).unwrap_or(usize::MAX));
            stream.write(&rest[..n]).map_err(gone)?;
            rest = &rest[n..];
        }
        // Each chunk is flushed before the app's next step, as `wasgi serve` does.
        stream.blocking_flush().map_err(gone)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.stream = None;
        let body = self
            .body
            .take()
            .ok_or_else(|| io::Error::other("no response body to finish"))?;
        OutgoingBody::finish(body, None)
            .map_err(|e| io::Error::other(format!("the platform refused the body's end: {e:?}")))
    }

    fn abort(&mut self) {
        // Dropped unfinished: the platform ends the body as failed.
        self.stream = None;
        self.body = None;
        if let Some(out) = self.out.take() {
            // Nothing went out (the platform refused the head): say so, as an error
            // the platform answers for.
            let page = String::from_utf8_lossy(ErrorPage::Internal.body()).into_owned();
            ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some(page))));
        }
    }
}

/// The three digits of a validated status line.
fn status_code(status: &[u8]) -> Option<u16> {
    std::str::from_utf8(status.get(..3)?).ok()?.parse().ok()
}
