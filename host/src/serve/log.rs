//! The access log: one line for every response wasgi sends, those it sends without
//! running the guest (400, 408, 413, 431, 503) and those hyper sends on its own
//! (a request head it cannot parse) included, each with the client's address.
//!
//! `id client method path status bytes duration outcome[: reason]`, at info level under
//! the `wasgi::access` target; with `--log-format json` the same line is the `message`
//! of an event that also has each part as a field (`request_id`, `remote`, `method`,
//! `path`, `status`, `bytes`, `duration_ms`, `outcome`, `reason`). Each line also counts
//! in the metrics. The outcome says whose the ending was: `completed`,
//! `failed` (the application, before its headers), `aborted` (after them), `client`
//! (the client's request was refused or broke off) or `busy` (the server's queue or
//! connection cap). And a few lines that must not flood the log under attack: the
//! [`Throttle`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::StatusCode;

use super::listen::Peer;
use crate::gateway::Outcome;

/// How the log is written: `--log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One line of text an event (the default).
    #[default]
    Text,
    /// One JSON object a line, the access log's parts as fields.
    Json,
}

/// Whether the access log writes its parts as fields (the JSON format).
static FIELDS: AtomicBool = AtomicBool::new(false);

/// Sets how the access log writes its events; the subscriber that formats them is the
/// caller's (the `wasgi` binary's).
pub fn set_format(format: LogFormat) {
    FIELDS.store(format == LogFormat::Json, Ordering::Relaxed);
}

/// Whether the log is JSON (so that nothing is written to it but events).
pub(crate) fn json() -> bool {
    FIELDS.load(Ordering::Relaxed)
}

/// How an exchange ended, as the access log says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ending {
    /// The application's response went out whole.
    Completed,
    /// The application failed before its headers went out.
    Failed,
    /// The response was cut short after its headers went out.
    Aborted,
    /// The client's request was refused or broke off: its fault, not the app's.
    Client,
    /// The server had no room (queue full).
    Busy,
}

impl Ending {
    /// The gateway's outcome, or `Client` when the client broke the request off.
    pub(super) fn of(outcome: Outcome, client_fault: bool) -> Self {
        match outcome {
            Outcome::Completed if !client_fault => Self::Completed,
            Outcome::Failed if !client_fault => Self::Failed,
            Outcome::Aborted if !client_fault => Self::Aborted,
            _ => Self::Client,
        }
    }

    pub(super) fn word(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
            Self::Client => "client",
            Self::Busy => "busy",
        }
    }
}

/// The access log line of one request.
pub(super) struct AccessLog {
    /// The request id (`REQUEST_ID`).
    pub(super) id: String,
    pub(super) remote: Peer,
    pub(super) method: String,
    pub(super) path: String,
    pub(super) started: Instant,
    pub(super) status: Arc<AtomicU16>,
    pub(super) bytes: Arc<AtomicU64>,
}

impl AccessLog {
    /// A response wasgi sent without running the guest.
    pub(super) fn early(&self, status: StatusCode, ending: Ending, reason: &str) {
        self.status.store(status.as_u16(), Ordering::Relaxed);
        self.line(ending, reason);
    }

    /// The end of a response the guest made (or the gateway in its stead).
    pub(super) fn done(&self, ending: Ending) {
        self.line(ending, "");
    }

    fn line(&self, ending: Ending, reason: &str) {
        let took = self.started.elapsed();
        let status = self.status.load(Ordering::Relaxed);
        let bytes = self.bytes.load(Ordering::Relaxed);
        crate::metrics::count(|m| m.response(status, ending.word(), Some(took), bytes));
        let duration_ms = took.as_secs_f64() * 1000.0;
        let (id, remote, method, path) = (&self.id, self.remote, &self.method, &self.path);
        let (outcome, colon) = (ending.word(), if reason.is_empty() { "" } else { ": " });
        let text = format_args!(
            "{id} {remote} {method} {path} {status} {bytes}B {duration_ms:.3}ms {outcome}{colon}{reason}"
        );
        if json() {
            tracing::info!(
                target: "wasgi::access",
                request_id = %id, remote = %remote, method = %method, path = %path,
                status, bytes, duration_ms, outcome, reason, "{text}"
            );
        } else {
            tracing::info!(target: "wasgi::access", "{text}");
        }
    }
}

/// A response hyper sent on its own, or the 408 for a request head that took too
/// long: no method or path is known, and nothing reached the guest.
pub(super) fn rejected(id: &str, remote: Peer, status: StatusCode, reason: &str) {
    let status = status.as_u16();
    crate::metrics::count(|m| m.response(status, Ending::Client.word(), None, 0));
    let text = format_args!("{id} {remote} - - {status} 0B - client: {reason}");
    if json() {
        tracing::info!(
            target: "wasgi::access",
            request_id = %id, remote = %remote, status, bytes = 0, outcome = "client", reason,
            "{text}"
        );
    } else {
        tracing::info!(target: "wasgi::access", "{text}");
    }
}

/// The status hyper answered a request head it refused with (its `on_error`: 431 or
/// 414 for a head too large, 400 for one it cannot parse), or `None` when it sent
/// nothing (the connection ended some other way).
pub(super) fn hyper_rejection(e: &hyper::Error) -> Option<StatusCode> {
    if e.is_parse_version_h2() || e.is_parse_status() {
        None
    } else if e.is_parse_too_large() {
        // hyper's two "too large" kinds differ only in their text.
        Some(if e.to_string().contains("URI") {
            StatusCode::URI_TOO_LONG
        } else {
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        })
    } else if e.is_parse() {
        Some(StatusCode::BAD_REQUEST)
    } else {
        None
    }
}

/// A warning that may repeat thousands of times a second (accept failures, refused
/// connections): logged at most once per [`Throttle::EVERY`], with how many were left
/// out since the last line.
#[derive(Debug, Default)]
pub(super) struct Throttle {
    last: Option<Instant>,
    held: u64,
}

impl Throttle {
    /// At most one line this often.
    pub(super) const EVERY: Duration = Duration::from_secs(1);

    /// Logs `message` unless a line went out less than [`Self::EVERY`] ago.
    pub(super) fn warn(&mut self, message: impl std::fmt::Display) {
        let now = Instant::now();
        if self.last.is_some_and(|last| now - last < Self::EVERY) {
            self.held += 1;
            return;
        }
        match std::mem::take(&mut self.held) {
            0 => tracing::warn!("{message}"),
            held => tracing::warn!("{message} (and {held} more since the last such line)"),
        }
        self.last = Some(now);
    }
}
