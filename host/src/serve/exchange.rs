//! The bytes of one HTTP exchange between hyper and the guest's thread: the request
//! body pumped to a blocking reader, and the gateway's sink feeding the response head
//! and body back to hyper. Only moves bytes; the rules stay in the gateway core.

use std::io::{self, Read};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use wasgi_gateway::gateway::Sink;
use wasgi_gateway::response::Head as ResponseHead;

use super::ResponseBody;
use crate::turn::Turn;

/// The client's fault with its request body, as the pump found it: the access log
/// says so, and the connection of a broken body is closed after its response. (The
/// response itself is the gateway's: the failed read the guest passes on is the
/// client's fault, 408, 413 or 400.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BodyFault {
    /// It stopped arriving, or took too long in all (408, from the gateway).
    Slow,
    /// It is over the limit (413, from the gateway).
    TooLarge,
    /// Its framing is malformed (a bad chunk size), or it was cut short (400, from
    /// the gateway).
    Broken,
}

/// Where the pump records a [`BodyFault`] for the server and the access log.
pub(super) type FaultCell = Arc<OnceLock<BodyFault>>;

/// The bounds on one request body.
pub(super) struct BodyBounds {
    /// Bytes in all (`--max-body-bytes`).
    pub(super) max: u64,
    /// How long the next piece may take (`--read-timeout`).
    pub(super) idle: Duration,
    /// When the whole body must have arrived (`--body-timeout` after its head).
    pub(super) deadline: tokio::time::Instant,
    /// The `--body-timeout`, for the message.
    pub(super) total: Duration,
}

/// Moves the request body from hyper to the guest's reader, a piece at a time, with
/// the body limits applied. A trickle that keeps each piece within `--read-timeout`
/// still meets the whole-body deadline, so a client cannot hold a guest's slot longer
/// than `--body-timeout` by sending a byte at a time.
pub(super) async fn pump_body(
    mut body: Incoming,
    tx: mpsc::Sender<io::Result<Bytes>>,
    bounds: BodyBounds,
    fault: FaultCell,
) {
    let BodyBounds {
        max,
        idle,
        deadline,
        total: whole,
    } = bounds;
    let mut total: u64 = 0;
    let blame = |kind: BodyFault, e: io::Error| {
        let _ = fault.set(kind);
        Err(e)
    };
    loop {
        let by = deadline.min(tokio::time::Instant::now() + idle);
        let frame = match tokio::time::timeout_at(by, body.frame()).await {
            Err(_) if by == deadline => blame(
                BodyFault::Slow,
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the request body took over {whole:?} to arrive (--body-timeout)"),
                ),
            ),
            Err(_) => blame(
                BodyFault::Slow,
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no request body data arrived for {idle:?} (--read-timeout)"),
                ),
            ),
            Ok(None) => return,
            Ok(Some(Err(e))) => blame(
                BodyFault::Broken,
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    // hyper's own text is only the kind ("error reading a body from
                    // connection"); its source says what was wrong.
                    match std::error::Error::source(&e) {
                        Some(why) => format!(
                            "the client's request body is malformed or cut short: {e}: {why}"
                        ),
                        None => format!("the client's request body is malformed or cut short: {e}"),
                    },
                ),
            ),
            Ok(Some(Ok(frame))) => Ok(frame),
        };
        let data = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => data,
                Err(_trailers) => continue,
            },
            Err(e) => {
                tracing::info!("{e}");
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        total += data.len() as u64;
        crate::metrics::count(|m| m.received(data.len() as u64));
        if total > max {
            let _ = fault.set(BodyFault::TooLarge);
            let e = io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("the request body is over the {max}-byte limit"),
            );
            let _ = tx.send(Err(e)).await;
            return;
        }
        if tx.send(Ok(data)).await.is_err() {
            return;
        }
    }
}

/// The guest's side of the request body: blocking reads from the pump, with the
/// request's turn given up while the client is still to send.
pub(super) struct BodyReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    pending: Bytes,
    turn: Arc<Turn>,
}

impl BodyReader {
    pub(super) fn new(rx: mpsc::Receiver<io::Result<Bytes>>, turn: Arc<Turn>) -> Self {
        Self {
            rx,
            pending: Bytes::new(),
            turn,
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() {
            let piece = match self.rx.try_recv() {
                Ok(piece) => Some(piece),
                Err(TryRecvError::Disconnected) => None,
                Err(TryRecvError::Empty) => {
                    let rx = &mut self.rx;
                    self.turn.aside(|| rx.blocking_recv())
                }
            };
            match piece {
                None => return Ok(0),
                Some(piece) => self.pending = piece?,
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}

/// The response head, sent once from the guest's thread to the connection.
pub(super) struct Head {
    status: StatusCode,
    reason: Option<Vec<u8>>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Head {
    pub(super) fn into_response(self, body: ResponseBody) -> Response<ResponseBody> {
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        if let Some(reason) = self
            .reason
            .and_then(|r| hyper::ext::ReasonPhrase::try_from(r).ok())
        {
            response.extensions_mut().insert(reason);
        }
        let map = response.headers_mut();
        for (name, value) in self.headers {
            map.append(name, value);
        }
        response
    }
}

/// The gateway's sink on an HTTP connection.
pub(super) struct HttpSink {
    pub(super) head: Option<oneshot::Sender<Head>>,
    /// The response body; `None` once it ended (dropping the sender ends it).
    pub(super) chunks: Option<mpsc::Sender<io::Result<Frame<Bytes>>>>,
    /// The request's concurrency slot. Released when the response is finished, before
    /// its body ends: a client that saw the end may send its next request at once and
    /// must find the slot free. (The instance pool has room for the instances still
    /// being torn down then: see `app::instances_in_flight`.)
    pub(super) slot: Option<OwnedSemaphorePermit>,
    pub(super) status: Arc<AtomicU16>,
    pub(super) bytes: Arc<AtomicU64>,
    /// How long a chunk may wait for a client that takes no data.
    pub(super) write_timeout: Duration,
    /// The request's turn to run guest code, given up while the client takes no data
    /// (its runtime is the server's, which the guest's thread waits on).
    pub(super) turn: Arc<Turn>,
    /// Set on abort, so that the body ends in an error even when the abort itself
    /// could not be queued (the client stopped reading).
    pub(super) aborted: Arc<AtomicBool>,
}

fn aborted() -> io::Error {
    io::Error::other("the response was aborted")
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the client went away")
}

impl Sink for HttpSink {
    fn send_headers(&mut self, head: &ResponseHead<'_>) -> io::Result<()> {
        // hyper frames the body itself, from the request's method, the status and the
        // Content-Length: the gateway's framing agrees, and a body that has none
        // never reaches this sink.
        let ResponseHead {
            status, headers, ..
        } = *head;
        let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
        let code = StatusCode::from_bytes(&status[..3])
            .map_err(|e| invalid(format!("status code: {e}")))?;
        let reason = status[4..].to_vec();
        let canonical = code.canonical_reason().map(str::as_bytes);
        let mut head = Head {
            status: code,
            reason: (canonical != Some(reason.as_slice())).then_some(reason),
            headers: Vec::with_capacity(headers.len()),
        };
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| invalid(format!("header name {name:?}: {e}")))?;
            let value = HeaderValue::from_bytes(value)
                .map_err(|e| invalid(format!("header {name} value: {e}")))?;
            head.headers.push((name, value));
        }
        self.status.store(code.as_u16(), Ordering::Relaxed);
        let sender = self.head.take().ok_or_else(gone)?;
        sender.send(head).map_err(|_| gone())
    }

    fn send_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        let chunks = self.chunks.as_ref().ok_or_else(gone)?;
        let frame = Ok(Frame::data(Bytes::copy_from_slice(chunk)));
        match chunks.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Closed(_)) => return Err(gone()),
            Err(TrySendError::Full(frame)) => {
                let timeout = self.write_timeout;
                self.turn
                    .wait_for(tokio::time::timeout(timeout, chunks.send(frame)))
                    .map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!(
                                "the client took no response data for {timeout:?} (--write-timeout)"
                            ),
                        )
                    })?
                    .map_err(|_| gone())?;
            }
        }
        self.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        // Slot first, then the body's end (hyper terminates it when the sender drops).
        self.slot.take();
        self.chunks.take();
        Ok(())
    }

    fn abort(&mut self) {
        // An error frame makes hyper cut the connection: the client sees a body that
        // ends early (no final chunk, or fewer bytes than Content-Length).
        // If the client stopped reading, the error cannot be queued: the flag makes
        // the body end in one anyway once the client has drained what is queued.
        self.aborted.store(true, Ordering::Relaxed);
        if let Some(chunks) = self.chunks.take() {
            let _ = chunks.try_send(Err(aborted()));
        }
    }
}

/// The guest's chunks, as a hyper body.
pub(super) struct ChunkBody {
    rx: mpsc::Receiver<io::Result<Frame<Bytes>>>,
    /// Data went to hyper since it last flushed (since this body was last pending).
    unflushed: bool,
    /// An abort held back for one turn, so that hyper first flushes the data it
    /// already has: the client must receive every chunk sent before the abort.
    abort: Option<io::Error>,
    /// The sink's abort flag (see [`HttpSink::aborted`]).
    aborted: Arc<AtomicBool>,
}

impl ChunkBody {
    pub(super) fn new(
        rx: mpsc::Receiver<io::Result<Frame<Bytes>>>,
        aborted: Arc<AtomicBool>,
    ) -> Self {
        Self {
            rx,
            unflushed: false,
            abort: None,
            aborted,
        }
    }
}

impl hyper::body::Body for ChunkBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        if let Some(abort) = self.abort.take() {
            return Poll::Ready(Some(Err(abort)));
        }
        let polled = match self.rx.poll_recv(cx) {
            Poll::Ready(None) if self.aborted.load(Ordering::Relaxed) => {
                Poll::Ready(Some(Err(aborted())))
            }
            polled => polled,
        };
        match polled {
            Poll::Ready(Some(Err(abort))) if self.unflushed => {
                // hyper flushes when the body is pending; come back at once after.
                self.unflushed = false;
                self.abort = Some(abort);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Ready(frame) => {
                self.unflushed = matches!(frame, Some(Ok(_)));
                Poll::Ready(frame)
            }
            Poll::Pending => {
                self.unflushed = false;
                Poll::Pending
            }
        }
    }
}
