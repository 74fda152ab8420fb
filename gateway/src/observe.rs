//! What the gateway saw an application do, for whoever asks (`wasgi check`).
//!
//! The gateway enforces its rules in one place ([`crate::gateway`], [`crate::validate`],
//! [`crate::input`]); an [`Observer`] attached to a [`Gateway`](crate::Gateway) and an
//! [`Input`](crate::input::Input) is told each thing they saw and each refusal with
//! the [`Rule`] it enforced, so diagnostics come from the very checks that refuse, never
//! a second copy of them. [`Recorder`] keeps one request's events as a [`Record`], and
//! [`crate::lint`] turns a record into diagnostics.

use std::sync::{Arc, Mutex, PoisonError};

use crate::gateway::{Failure, Header, Outcome, Violation};
use crate::response::{Framing, Head};
use crate::rules::Rule;

/// Told what the gateway sees, as it sees it.
pub trait Observer: Send + Sync {
    /// One thing the gateway saw.
    fn observe(&self, event: &Event<'_>);
}

/// One thing the gateway saw.
#[derive(Debug)]
pub enum Event<'a> {
    /// A call was refused, enforcing `rule`.
    Refused {
        /// The rule.
        rule: Rule,
        /// The refusal, as the application got it.
        violation: &'a Violation,
    },
    /// `start_response` was accepted.
    Stored {
        /// Whether it came with `exc_info`.
        exc_info: bool,
        /// Whether it was the first call of the response.
        first: bool,
    },
    /// The legacy `write()` callable was called with this many bytes, while the
    /// application was being called.
    LegacyWrite {
        /// Bytes handed over.
        bytes: usize,
    },
    /// An empty chunk (or write) came while the headers were stored, not sent.
    EmptyChunkBeforeHeaders,
    /// The application's head went out (never sent for the gateway's own error page).
    Sent(&'a Head<'a>),
    /// wsgi.input was read.
    Read {
        /// Bytes it gave.
        bytes: usize,
        /// Whether an earlier read had already given the end of the body.
        after_end: bool,
    },
    /// The response ended.
    Ended {
        /// How.
        outcome: Outcome,
        /// Why it failed, if it did.
        failure: Option<&'a Failure>,
        /// Body bytes the application produced (sent, or dropped where no body goes).
        body_bytes: u64,
    },
}

/// One request as the gateway saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Each refusal: its rule and message.
    pub refusals: Vec<(Rule, String)>,
    /// `start_response` calls accepted with `exc_info`.
    pub exc_info_calls: usize,
    /// Calls of the legacy `write()` while the application was being called.
    pub legacy_writes: usize,
    /// Empty chunks or writes while the headers were stored, not sent.
    pub empty_chunks_before_headers: usize,
    /// Heads replaced (`exc_info`) after an empty chunk: wsgiref would have sent the
    /// first head at that chunk, and refused the replacement.
    pub replaced_after_empty_chunk: usize,
    /// The application's status, headers and body framing as they went out.
    pub head: Option<(Vec<u8>, Vec<Header>, Framing)>,
    /// Reads of wsgi.input.
    pub reads: usize,
    /// Bytes they gave.
    pub bytes_read: u64,
    /// Reads after one had given the end.
    pub reads_after_end: usize,
    /// How the response ended, if it did.
    pub outcome: Option<Outcome>,
    /// The failure that ended it, as a rule and message, when the application caused
    /// it and no refusal already said why.
    pub failure: Option<(Rule, String)>,
    /// Body bytes the application produced.
    pub body_bytes: u64,
}

/// An [`Observer`] that keeps a [`Record`]. Clones share it.
#[derive(Clone, Debug, Default)]
pub struct Recorder(Arc<Mutex<Record>>);

impl Recorder {
    /// A recorder with nothing seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// What was seen so far.
    pub fn record(&self) -> Record {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        // A panic while holding the lock leaves a record no less readable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Observer for Recorder {
    fn observe(&self, event: &Event<'_>) {
        let mut record = self.lock();
        match *event {
            Event::Refused { rule, violation } => {
                record.refusals.push((rule, violation.to_string()));
            }
            Event::Stored { exc_info, first } => {
                record.exc_info_calls += usize::from(exc_info);
                let replaced = exc_info && !first && record.empty_chunks_before_headers > 0;
                record.replaced_after_empty_chunk += usize::from(replaced);
            }
            Event::LegacyWrite { .. } => record.legacy_writes += 1,
            Event::EmptyChunkBeforeHeaders => record.empty_chunks_before_headers += 1,
            Event::Sent(head) => {
                record.head = Some((head.status.to_vec(), head.headers.to_vec(), head.framing));
            }
            Event::Read { bytes, after_end } => {
                record.reads += 1;
                record.bytes_read += bytes as u64;
                record.reads_after_end += usize::from(after_end);
            }
            Event::Ended {
                outcome,
                failure,
                body_bytes,
            } => {
                record.outcome = Some(outcome);
                record.body_bytes = body_bytes;
                record.failure = failure.and_then(|f| blame(f, &record.refusals));
            }
        }
    }
}

/// The rule a failure broke, when the application caused it and no refusal said so
/// already (an application that propagates a refusal fails because of it).
fn blame(failure: &Failure, refusals: &[(Rule, String)]) -> Option<(Rule, String)> {
    match failure {
        Failure::App(message) if refusals.is_empty() => Some((Rule::AppError, message.clone())),
        Failure::Trap(message) if message.starts_with("limit:") => {
            Some((Rule::GuestLimit, message.clone()))
        }
        Failure::Trap(message) => Some((Rule::Trap, message.clone())),
        // A rule's failure was refused first (and recorded then); a failed output is
        // the client's doing, not the application's.
        Failure::App(_) | Failure::Rule(_) | Failure::Output(_) => None,
    }
}
