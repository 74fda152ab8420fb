//! The HTTP front end: `wasgi serve`, HTTP/1.1 with keep-alive on hyper and tokio.
//!
//! Like the CGI front end, this module only moves bytes: it turns an HTTP request into
//! an [`Environ`] (the pure builder) and an [`Input`], and hands the gateway core a
//! [`crate::Sink`] that writes to the connection. Every PEP 3333 rule stays in the core.
//!
//! Guest code runs on tokio's blocking threads, one request per thread, on a fresh
//! instance each. wasmtime's synchronous API keeps guest calls, host calls and the
//! gateway core plain blocking code (the same code `wasgi run` runs); the async side
//! never waits on a guest, so a slow guest cannot stall the accept loop or another
//! connection. The cost is a thread per in-flight request, bounded by
//! `--max-concurrency`; excess requests wait in a bounded queue, then get 503.
//!
//! Protection: hyper refuses too many or too large request headers with 431 and heads
//! it cannot parse with 400; `head` refuses what hyper accepts but RFC 9112 does not
//! (Host rules, Transfer-Encoding other than chunked, CONNECT) and drops header names
//! holding `_`. A declared body over `--max-body-bytes` gets 413 before the guest runs,
//! a chunked one fails its read at the limit (413 if nothing was sent yet); a body
//! that stops arriving for `--read-timeout`, or takes over `--body-timeout` in all,
//! fails its read (408); a body whose framing breaks gets 400. A request head that
//! takes longer than `--read-timeout` gets 408 and the connection is closed. At most
//! `--max-connections` are open at once (`accept`). Every response, those hyper
//! sends on its own included, gets an access-log line (`log`) with its request id
//! (`id`), and counts in the metrics.
//!
//! For the operator: SIGHUP (or a change to the file, `--watch`) loads the component
//! again and swaps it in without dropping a request (`reload`); an admin listener
//! answers probes and serves the metrics (`admin`).

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
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use wasgi_gateway::environ::{self, Environ, HttpRequest};
use wasgi_gateway::input::Input;
use wasgi_gateway::response::ErrorPage;
use wasgi_gateway::validate;

use crate::app::Request;
use crate::turn::{Turn, Turns};

mod accept;
mod admin;
mod exchange;
mod head;
mod id;
mod listen;
mod log;
mod reload;
mod stop;
use exchange::{BodyBounds, BodyFault, BodyReader, ChunkBody, FaultCell, HttpSink, pump_body};
pub use listen::{Address, ListenError, Listener};
use listen::{Peer, Stream};
pub(crate) use log::json as json_log;
use log::{AccessLog, Ending};
pub use log::{LogFormat, set_format as set_log_format};
pub use reload::{Loader, Service, WATCH_EVERY};

/// The server's limits, and whom it trusts. Every field is a `wasgi serve` flag; the
/// defaults are in [`Limits::default`] and the README.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Requests in flight at once, each with its own thread and instance.
    pub max_concurrency: usize,
    /// Of those, requests running guest code at once (see [`crate::turn`]); at most
    /// `max_concurrency`. `None`: one per core this process may use.
    pub max_running: Option<usize>,
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
    /// How long a whole request body may take to arrive, from its head on; beyond
    /// this, 408 (a body trickling in a byte at a time holds a guest's slot no longer).
    pub body_timeout: Duration,
    /// Connections open at once; past this, a new one gets a 503 and is closed.
    /// `None`: 1024, or fewer when the file-descriptor limit is lower.
    pub max_connections: Option<usize>,
    /// Keep request header fields whose names hold `_` (dropped by default: as CGI
    /// variables they are the same as their dashed forms).
    pub allow_underscore_headers: bool,
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
            max_running: None,
            max_queue: 256,
            max_headers: 100,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 10 * 1024 * 1024,
            read_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            max_connections: None,
            allow_underscore_headers: false,
            write_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
        }
    }
}

impl Limits {
    /// How many requests may run guest code at once.
    pub fn running(&self) -> usize {
        self.max_running
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .clamp(1, self.max_concurrency.max(1))
    }
}

/// What every connection shares.
struct Shared {
    app: Arc<reload::Current>,
    limits: Limits,
    slots: Arc<Semaphore>,
    /// Instances requests hold, running or being torn down (see
    /// [`crate::instances_in_flight`]).
    instances: Arc<Semaphore>,
    /// Turns to run guest code ([`Limits::max_running`]).
    turns: Arc<Turns>,
    waiting: AtomicUsize,
    ids: id::Ids,
    /// The app's listener accepts and is not draining (`/readyz`).
    ready: AtomicBool,
}

/// Serves `service` on `listener` until `shutdown` resolves, then stops accepting
/// (and says it is not ready), lets requests in flight finish (for at most
/// `limits.shutdown_timeout`) and returns. `ready` is called once the server handles
/// its signals, before it accepts. SIGHUP reloads the component meanwhile (see
/// `reload`), and a second SIGINT or SIGTERM during the stop ends the process at once
/// (see `stop`).
pub async fn serve(
    service: Service,
    listener: Listener,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(),
) -> io::Result<()> {
    let Service {
        app,
        path,
        loaded_in,
        reload,
        watch,
        admin,
    } = service;
    let shutdown_timeout = limits.shutdown_timeout;
    let max_connections = limits
        .max_connections
        .unwrap_or_else(|| accept::default_cap(limits.max_concurrency));
    let shared = Arc::new(Shared {
        app: Arc::new(reload::Current::new(app)),
        slots: Arc::new(Semaphore::new(limits.max_concurrency)),
        instances: Arc::new(Semaphore::new(crate::instances_in_flight(
            limits.max_concurrency,
        ))),
        turns: Turns::new(limits.running()),
        limits,
        waiting: AtomicUsize::new(0),
        ids: id::Ids::new(),
        ready: AtomicBool::new(false),
    });
    // What loading the app freed (a compile on a cold cache: hundreds of megabytes
    // for a Python app) goes back to the system before the first connection.
    let _ = tokio::task::spawn_blocking(accept::trim).await;
    if let Some(admin) = admin {
        let metrics = crate::metrics::install();
        reload::first_load(&path, loaded_in);
        admin::start(admin, shared.clone(), metrics);
    }
    reload::start(shared.app.clone(), path, reload, watch);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut acceptor = accept::Acceptor::new(listener.into_tokio()?, max_connections);
    let local = acceptor.local()?;
    acceptor.trim_after_storms();
    // Ready before it says so: a probe sent on the signal below finds /readyz 200.
    shared.ready.store(true, Ordering::Relaxed);
    // Only now, with SIGHUP handled: a client (or a test) that acts on this signal
    // must not find the process still at the mercy of a signal's default action.
    ready();
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
            (stream, remote, permit) = acceptor.next() => {
                let stream = Arc::new(stream);
                let for_requests = shared.clone();
                let service = hyper::service::service_fn(move |request| {
                    let shared = for_requests.clone();
                    async move { Ok::<_, Infallible>(handle(shared, request, local, remote).await) }
                });
                let io = TokioIo::new(SharedStream(stream.clone()));
                let conn = graceful.watch(http1.serve_connection(io, service));
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        closed_with_error(&shared, &stream, remote, &e).await;
                    }
                    drop(permit);
                });
            },
            () = &mut shutdown => break,
        }
    }
    // Draining: the probe says so at once, while requests in flight finish.
    shared.ready.store(false, Ordering::Relaxed);
    let open = acceptor.open();
    acceptor.close();
    tracing::info!(
        "shutting down: no new connections; waiting for requests in flight ({open} connections open)"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all requests finished"),
        () = tokio::time::sleep(shutdown_timeout) => {
            tracing::warn!("shutdown timed out after {shutdown_timeout:?} with requests in flight");
        }
        signal = stop::next_stop_signal() => {
            let status = stop::forced_exit_status(signal);
            tracing::warn!(
                "a second stop signal during the graceful stop: exiting at once with requests in flight (status {status})"
            );
            std::process::exit(status);
        }
    }
    Ok(())
}

/// After hyper gave up on a connection: a request head that timed out gets its 408
/// here (hyper only closes the connection); a head hyper refused (it answered 400, 414
/// or 431 itself) gets its access-log line; anything else is logged for debugging.
async fn closed_with_error(shared: &Shared, stream: &Stream, remote: Peer, e: &hyper::Error) {
    let id = || shared.ids.make();
    if e.is_timeout() {
        let response = [
            b"HTTP/1.1 ",
            ErrorPage::RequestTimeout.status(),
            b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        ]
        .concat();
        let _ = write_all(stream, &response).await;
        let reason = format!(
            "no whole request head within {:?} (--read-timeout)",
            shared.limits.read_timeout
        );
        log::rejected(&id(), remote, StatusCode::REQUEST_TIMEOUT, &reason);
    } else if let Some(status) = log::hyper_rejection(e) {
        log::rejected(&id(), remote, status, &e.to_string());
    } else if !e.is_incomplete_message() {
        tracing::debug!("connection from {remote} ended with an error: {e}");
    }
}

async fn write_all(stream: &Stream, mut data: &[u8]) -> io::Result<()> {
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

/// A plain-text response the server writes itself: `status` with `text`.
fn fixed(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|n| match n {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    response
}

/// One of wasgi's own error pages, the same bytes the gateway sends.
fn page(page: ErrorPage) -> Response<ResponseBody> {
    let status = status_of(page);
    let mut response = Response::new(
        Full::new(Bytes::from_static(page.body()))
            .map_err(|n| match n {})
            .boxed(),
    );
    *response.status_mut() = status;
    let reason = &page.status()[4..];
    if status.canonical_reason().map(str::as_bytes) != Some(reason)
        && let Ok(reason) = hyper::ext::ReasonPhrase::try_from(reason)
    {
        // RFC 9110's names (413 Content Too Large), as the gateway says them.
        response.extensions_mut().insert(reason);
    }
    let [(name, value)] = ErrorPage::headers();
    if let (Ok(name), Ok(value)) = (
        hyper::header::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_bytes(&value),
    ) {
        response.headers_mut().insert(name, value);
    }
    response
}

/// The status code of an error page.
fn status_of(page: ErrorPage) -> StatusCode {
    StatusCode::from_u16(page.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// One request: the head's checks, admission, environ, then the guest on a blocking
/// thread.
async fn handle(
    shared: Arc<Shared>,
    request: hyper::Request<Incoming>,
    local: Option<SocketAddr>,
    remote: Peer,
) -> Response<ResponseBody> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let id = shared.ids.of(
        &parts.headers,
        remote.socket_addr().map(|addr| addr.ip()),
        &shared.limits.trusted_proxies,
    );
    let log = AccessLog {
        id: id.clone(),
        remote,
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        started,
        status: Arc::new(AtomicU16::new(0)),
        bytes: Arc::new(AtomicU64::new(0)),
    };
    let host = match head::check(&parts) {
        Ok(host) => host,
        Err(head::Refusal(reason)) => {
            log.early(StatusCode::BAD_REQUEST, Ending::Client, reason);
            return closing(fixed(StatusCode::BAD_REQUEST, reason));
        }
    };
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| validate::content_length(v.as_bytes()));
    if declared.is_some_and(|n| n > shared.limits.max_body_bytes) {
        let too_large = ErrorPage::ContentTooLarge;
        log.early(
            status_of(too_large),
            Ending::Client,
            "over --max-body-bytes",
        );
        return page(too_large);
    }
    let Some(slot) = admit(&shared).await else {
        let busy = ErrorPage::Busy;
        log.early(
            status_of(busy),
            Ending::Busy,
            "the queue is full (--max-queue)",
        );
        return page(busy);
    };
    let headers = environ_headers(&parts, host, &shared.limits, &id);
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
        remote: remote.socket_addr(),
        https: false,
        trusted_proxies: &shared.limits.trusted_proxies,
        keep_underscore_headers: shared.limits.allow_underscore_headers,
    });
    environ.set(id::VARIABLE, id);
    environ.multithread = true;
    // hyper frames the body (Content-Length or chunked): reading to its end is safe.
    environ.input_terminated = true;

    // Never closed: `ok()` only to hold the permit.
    let instance = shared.instances.clone().acquire_owned().await.ok();
    let turn = Turn::new(&shared.turns);
    let fault = FaultCell::default();
    let input = if hyper::body::Body::is_end_stream(&body) {
        Input::empty()
    } else {
        let (body_tx, body_rx) = mpsc::channel(1);
        let bounds = BodyBounds {
            max: shared.limits.max_body_bytes,
            idle: shared.limits.read_timeout,
            deadline: tokio::time::Instant::from_std(started) + shared.limits.body_timeout,
            total: shared.limits.body_timeout,
        };
        tokio::spawn(pump_body(body, body_tx, bounds, fault.clone()));
        Input::new(Box::new(BodyReader::new(body_rx, turn.clone())), &environ)
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
        turn: turn.clone(),
        aborted: aborted.clone(),
    };
    // The application of the moment, to the end of this request, even if a reload
    // swaps another in meanwhile.
    let app = shared.app.get();
    let guest_fault = fault.clone();
    // Held until the response's head arrives: a client gone before the request's turn
    // came drops it, and the request leaves the queue (its slot and instance with it).
    let _queued = shared.turns.run(move || {
        let request = Request {
            environ,
            input,
            turn: Some(turn.clone()),
        };
        let outcome = app.handle(request, Box::new(sink));
        // The instance is dropped (or kept as a spare) by now.
        turn.end();
        drop(instance);
        log.done(Ending::of(outcome, guest_fault.get().is_some()));
    });
    let mut response = match head_rx.await {
        Ok(head) => head.into_response(ChunkBody::new(chunk_rx, aborted).boxed()),
        // The gateway always sends a head before it finishes (its own 500 if need be);
        // none means the request thread died.
        Err(_) => page(ErrorPage::Internal),
    };
    if fault.get() == Some(&BodyFault::Broken) {
        // The gateway answered the client's broken body (its 400, when the app passed
        // the failed read on); hyper cannot find the next request after it.
        response = closing(response);
    }
    let asked = parts
        .headers
        .get_all(hyper::header::CONNECTION)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"keep-alive"));
    keep_alive_consistent(parts.version, asked, response)
}

/// The request's header fields as the environ builder takes them: the host the
/// request is for in place of Host (an absolute-form target's authority wins, RFC 9112
/// section 3.2.2). The environ builder drops the fields whose names hold `_`
/// ([`environ::is_underscore_header`]); they are logged here, once.
fn environ_headers<'a>(
    parts: &'a hyper::http::request::Parts,
    host: Option<&'a [u8]>,
    limits: &Limits,
    id: &str,
) -> Vec<(&'a str, &'a [u8])> {
    let mut dropped = Vec::new();
    let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        if !limits.allow_underscore_headers && environ::is_underscore_header(name.as_str()) {
            dropped.push(name.as_str());
        }
        if name == hyper::header::HOST {
            headers.extend(host.map(|host| ("host", host)));
        } else {
            headers.push((name.as_str(), value.as_bytes()));
        }
    }
    if !parts.headers.contains_key(hyper::header::HOST) {
        headers.extend(host.map(|host| ("host", host)));
    }
    if !dropped.is_empty() {
        tracing::info!(
            "request {id}: dropped header fields whose names hold '_' ({}); --allow-underscore-headers keeps them",
            dropped.join(", ")
        );
    }
    headers
}

/// A response the connection closes after.
fn closing(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    response
        .headers_mut()
        .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// An HTTP/1.0 exchange says what it does with the connection. hyper writes an
/// HTTP/1.0 response to an HTTP/1.0 request but decides on `Connection` from the
/// response's own version: a 1.1 response to a request asking `keep-alive` said
/// `keep-alive` and was then ended by closing (its body has no length). Answering in
/// 1.0 ourselves, the connection is kept only when the client asked and the body has a
/// length, and the header says which.
fn keep_alive_consistent(
    version: hyper::Version,
    client_asked: bool,
    mut response: Response<ResponseBody>,
) -> Response<ResponseBody> {
    if version != hyper::Version::HTTP_10 {
        return response;
    }
    *response.version_mut() = hyper::Version::HTTP_10;
    let framed = response
        .headers()
        .contains_key(hyper::header::CONTENT_LENGTH);
    let connection = if client_asked && framed {
        "keep-alive"
    } else {
        "close"
    };
    response.headers_mut().insert(
        hyper::header::CONNECTION,
        HeaderValue::from_static(connection),
    );
    response
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

/// A stream that the connection task and hyper share, so that the task can still
/// answer 408 after hyper gave up on a slow request head.
struct SharedStream(Arc<Stream>);

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
