//! The HTTP front end: `wasgi serve`, HTTP/1.1 with keep-alive on hyper and tokio.
//!
//! Like the CGI front end, this module only moves bytes: it turns an HTTP request into
//! an [`Environ`] (the pure builder) and an [`Input`], and hands the gateway core a
//! [`Sink`] that writes to the connection. Every PEP 3333 rule stays in the core.
//!
//! Guest code runs on tokio's blocking threads, one request per thread, on a fresh
//! instance each. wasmtime's synchronous API keeps guest calls, host calls and the
//! gateway core plain blocking code (the same code `wasgi run` runs); the async side
//! never waits on a guest, so a slow guest cannot stall the accept loop or another
//! connection. The cost is a thread per in-flight request, bounded by
//! `--max-concurrency`; excess requests wait in a bounded queue, then get 503.
//!
//! Protection: hyper refuses too many or too large request headers with 431; a
//! declared body over `--max-body-bytes` gets 413 before the guest runs, a chunked one
//! fails its read at the limit (413 if nothing was sent yet); a body that stops
//! arriving for `--read-timeout` fails its read (408), and a request head that takes
//! longer than that gets 408 and the connection is closed.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use wasgi_gateway::environ::{Environ, HttpRequest};
use wasgi_gateway::gateway::Outcome;
use wasgi_gateway::input::Input;
use wasgi_gateway::response::ErrorPage;
use wasgi_gateway::validate;

use crate::app::{Application, Request};

mod exchange;
use exchange::{BodyReader, ChunkBody, HttpSink, pump_body};

/// The server's limits, and whom it trusts. Every field is a `wasgi serve` flag; the
/// defaults are in [`Limits::default`] and the README.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Requests running guest code at once.
    pub max_concurrency: usize,
    /// Requests waiting for a slot; beyond this they get 503.
    pub max_queue: usize,
    /// Request header fields per request; beyond this, 431.
    pub max_headers: usize,
    /// Bytes of request line and headers; beyond this, 431.
    pub max_header_bytes: usize,
    /// Bytes of request body; beyond this, 413.
    pub max_body_bytes: u64,
    /// How long a request head, or the next piece of a request body, may take to
    /// arrive; beyond this, 408.
    pub read_timeout: Duration,
    /// How long a client may take no response data (its connection full) before its
    /// response is aborted, freeing the guest's thread.
    pub write_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed; none by
    /// default (the rules are [`Environ::from_http`]'s).
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_concurrency: 64,
            max_queue: 256,
            max_headers: 100,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 10 * 1024 * 1024,
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
        }
    }
}

/// What every connection shares.
struct Shared {
    app: Application,
    limits: Limits,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    next_id: AtomicU64,
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets
/// requests in flight finish (for at most `limits.shutdown_timeout`) and returns.
pub async fn serve(
    app: Application,
    listener: TcpListener,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let shutdown_timeout = limits.shutdown_timeout;
    let shared = Arc::new(Shared {
        app,
        slots: Arc::new(Semaphore::new(limits.max_concurrency)),
        limits,
        waiting: AtomicUsize::new(0),
        next_id: AtomicU64::new(1),
    });
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let local = listener.local_addr()?;
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .keep_alive(true)
        .max_headers(shared.limits.max_headers)
        .max_header_size(shared.limits.max_header_bytes)
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.read_timeout);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    // Each write goes out at once: with Nagle's algorithm a response's
                    // last small write waits for the client's delayed ACK (~40 ms).
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!("cannot set TCP_NODELAY: {e}");
                    }
                    let stream = Arc::new(stream);
                    let for_requests = shared.clone();
                    let service = hyper::service::service_fn(move |request| {
                        let shared = for_requests.clone();
                        async move { Ok::<_, Infallible>(handle(shared, request, local, remote).await) }
                    });
                    let io = TokioIo::new(SharedStream(stream.clone()));
                    let conn = graceful.watch(http1.serve_connection(io, service));
                    let read_timeout = shared.limits.read_timeout;
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            closed_with_error(&stream, &e, read_timeout).await;
                        }
                    });
                }
                // Out of file descriptors, or a connection reset before accept: the
                // listener itself is fine. Log and keep serving.
                Err(e) => tracing::warn!("failed to accept a connection: {e}"),
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new connections; waiting for requests in flight");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all requests finished"),
        () = tokio::time::sleep(shutdown_timeout) => {
            tracing::warn!("shutdown timed out after {shutdown_timeout:?} with requests in flight");
        }
    }
    Ok(())
}

/// After hyper gave up on a connection: a request head that timed out gets its 408
/// here (hyper only closes the connection), anything else is logged.
async fn closed_with_error(stream: &TcpStream, e: &hyper::Error, read_timeout: Duration) {
    if e.is_timeout() {
        tracing::info!("closed a connection whose request head took over {read_timeout:?}");
        let response = [
            b"HTTP/1.1 ",
            ErrorPage::RequestTimeout.status(),
            b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        ]
        .concat();
        let _ = write_all(stream, &response).await;
    } else if !e.is_incomplete_message() {
        tracing::debug!("connection ended with an error: {e}");
    }
}

async fn write_all(stream: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        stream.writable().await?;
        match stream.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The response body type: either a fixed body or the guest's chunks as they come.
pub type ResponseBody = BoxBody<Bytes, io::Error>;

/// One of wasgi's own error pages, with the status line the gateway would send.
fn fixed(page: ErrorPage) -> Response<ResponseBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(page.body()))
            .map_err(|n| match n {})
            .boxed(),
    );
    let status = StatusCode::from_u16(page.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *response.status_mut() = status;
    let reason = &page.status()[4..];
    if status.canonical_reason().map(str::as_bytes) != Some(reason) {
        // RFC 9110's names (413 Content Too Large), as the gateway says them.
        if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(reason) {
            response.extensions_mut().insert(reason);
        }
    }
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    response
}

/// One request: admission, environ, then the guest on a blocking thread.
async fn handle(
    shared: Arc<Shared>,
    request: hyper::Request<Incoming>,
    local: SocketAddr,
    remote: SocketAddr,
) -> Response<ResponseBody> {
    let started = Instant::now();
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let log = AccessLog {
        id,
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        started,
        status: Arc::new(AtomicU16::new(0)),
        bytes: Arc::new(AtomicU64::new(0)),
    };
    let declared = request
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| validate::content_length(v.as_bytes()));
    if declared.is_some_and(|n| n > shared.limits.max_body_bytes) {
        return log.early(ErrorPage::ContentTooLarge);
    }
    let Some(slot) = admit(&shared).await else {
        return log.early(ErrorPage::Busy);
    };
    let (parts, body) = request.into_parts();
    let headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let protocol = match parts.version {
        hyper::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut environ = Environ::from_http(&HttpRequest {
        method: parts.method.as_str(),
        target: target.as_bytes(),
        protocol,
        headers: &headers,
        local,
        remote,
        https: false,
        trusted_proxies: &shared.limits.trusted_proxies,
    });
    environ.multithread = true;
    // hyper frames the body (Content-Length or chunked): reading to its end is safe.
    environ.input_terminated = true;

    let input = if hyper::body::Body::is_end_stream(&body) {
        Input::empty()
    } else {
        let (body_tx, body_rx) = mpsc::channel(1);
        tokio::spawn(pump_body(
            body,
            body_tx,
            shared.limits.max_body_bytes,
            shared.limits.read_timeout,
        ));
        Input::new(Box::new(BodyReader::new(body_rx)), &environ)
    };
    let (head_tx, head_rx) = oneshot::channel();
    let (chunk_tx, chunk_rx) = mpsc::channel(2);
    let aborted = Arc::new(AtomicBool::new(false));
    let sink = HttpSink {
        head: Some(head_tx),
        chunks: Some(chunk_tx),
        slot: Some(slot),
        status: log.status.clone(),
        bytes: log.bytes.clone(),
        write_timeout: shared.limits.write_timeout,
        runtime: tokio::runtime::Handle::current(),
        aborted: aborted.clone(),
    };
    let app_shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let outcome = app_shared
            .app
            .handle(Request { environ, input }, Box::new(sink));
        log.done(outcome);
    });
    match head_rx.await {
        Ok(head) => head.into_response(ChunkBody::new(chunk_rx, aborted).boxed()),
        // The gateway always sends a head before it finishes (its own 500 if need be);
        // none means the request thread died.
        Err(_) => fixed(ErrorPage::Internal),
    }
}

/// A slot to run guest code, waiting in the bounded queue if need be; `None` when the
/// queue is full.
async fn admit(shared: &Shared) -> Option<OwnedSemaphorePermit> {
    if let Ok(slot) = shared.slots.clone().try_acquire_owned() {
        return Some(slot);
    }
    struct Waiting<'a>(&'a AtomicUsize);
    impl Drop for Waiting<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    if shared.waiting.fetch_add(1, Ordering::Relaxed) >= shared.limits.max_queue {
        shared.waiting.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    // Dropped when this request stops waiting, however that happens (the client may
    // go away while queued, which drops this future).
    let _waiting = Waiting(&shared.waiting);
    shared.slots.clone().acquire_owned().await.ok()
}

/// The access log line of one request.
struct AccessLog {
    id: u64,
    method: String,
    path: String,
    started: Instant,
    status: Arc<AtomicU16>,
    bytes: Arc<AtomicU64>,
}

impl AccessLog {
    /// Answers with `page` before the guest ran, and logs it.
    fn early(&self, page: ErrorPage) -> Response<ResponseBody> {
        self.status.store(page.code(), Ordering::Relaxed);
        self.done(Outcome::Failed);
        fixed(page)
    }

    fn done(&self, outcome: Outcome) {
        tracing::info!(
            target: "wasgi::access",
            "{} {} {} {} {}B {:.3}ms {}",
            self.id,
            self.method,
            self.path,
            self.status.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.started.elapsed().as_secs_f64() * 1000.0,
            match outcome {
                Outcome::Completed => "completed",
                Outcome::Failed => "failed",
                Outcome::Aborted => "aborted",
            },
        );
    }
}

/// A TCP stream that the connection task and hyper share, so that the task can still
/// answer 408 after hyper gave up on a slow request head.
struct SharedStream(Arc<TcpStream>);

impl AsyncRead for SharedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            std::task::ready!(self.0.poll_read_ready(cx))?;
            match self.0.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(data) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The socket closes when the connection task drops its last handle.
        Poll::Ready(Ok(()))
    }
}
