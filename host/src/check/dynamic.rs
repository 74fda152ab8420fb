//! The dynamic half of `wasgi check`: each request in a fresh instance, under the
//! limits given, with the gateway's observer recording what the application did. The
//! diagnostics come from [`wasgi_gateway::lint`] over that record (the gateway's own
//! refusals, with their rules, and its lints), plus what only the host measures: time
//! and memory against their limits.

use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasgi_gateway::gateway::{Outcome, Sink};
use wasgi_gateway::input::Input;
use wasgi_gateway::lint::{self, RequestFacts};
use wasgi_gateway::observe::Recorder;
use wasgi_gateway::response::{ErrorPage, Head};
use wasgi_gateway::rules::Rule;

use super::corpus::CheckRequest;
use crate::app::{Application, Request};
use crate::limits::GuestLimits;

/// Past this share of a limit, a request's time or memory is a warning.
const HEAVY: f64 = 0.5;

/// One request as it ran.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The request's name.
    pub name: String,
    /// Its method and target.
    pub request: String,
    /// The status line the client got (the generic 500's when the application failed
    /// first).
    pub status: String,
    /// How the response ended.
    pub outcome: Outcome,
    /// Wall-clock time, instantiation included.
    pub elapsed: Duration,
    /// Bytes of the largest memory at its largest.
    pub peak_memory: usize,
    /// Its diagnostics: rule and message.
    pub findings: Vec<(Rule, String)>,
}

/// Runs `request` on a fresh instance of `app`, held to `limits`.
pub(super) fn run(app: &Application, limits: &GuestLimits, request: &CheckRequest) -> Run {
    let recorder = Arc::new(Recorder::new());
    let environ = request.environ();
    let input = Input::new(Box::new(Cursor::new(request.body.clone())), &environ)
        .with_observer(recorder.clone());
    let started = Instant::now();
    let (outcome, usage) = app.handle_observed(
        Request {
            environ,
            input,
            turn: None,
        },
        Box::new(Discard),
        Some(recorder.clone()),
    );
    let elapsed = started.elapsed();
    let record = recorder.record();
    let facts = RequestFacts {
        method: request.method.as_bytes(),
        body_len: request.body.len() as u64,
    };
    let mut findings = lint::diagnose(&record, facts);
    if usage.memory_refused {
        // The trap that follows an allocation failure is the limit's doing.
        findings.retain(|(rule, _)| *rule != Rule::Trap);
        findings.push((
            Rule::GuestLimit,
            format!(
                "limit: a memory grew past its --max-memory of {}: refused",
                limits.max_memory.unwrap_or_default()
            ),
        ));
    }
    let stopped = findings.iter().any(|(rule, _)| *rule == Rule::GuestLimit);
    if let Some(timeout) = limits
        .timeout
        .filter(|t| !stopped && heavy(elapsed.as_secs_f64(), t.as_secs_f64()))
    {
        findings.push((
            Rule::SlowRequest,
            format!(
                "took {:.1} s, over half of its --timeout of {} s",
                elapsed.as_secs_f64(),
                timeout.as_secs_f64()
            ),
        ));
    }
    if let Some(max) = limits
        .max_memory
        .filter(|&max| !stopped && heavy(usage.peak_memory as f64, max as f64))
    {
        findings.push((
            Rule::MemoryHeavy,
            format!(
                "a memory grew to {}, over half of its --max-memory of {}",
                mib(usage.peak_memory),
                mib(max)
            ),
        ));
    }
    let status = match &record.head {
        Some((status, ..)) => String::from_utf8_lossy(status).into_owned(),
        None => String::from_utf8_lossy(ErrorPage::Internal.status()).into_owned(),
    };
    Run {
        name: request.name.clone(),
        request: format!("{} {}", request.method, request.path),
        status,
        outcome,
        elapsed,
        peak_memory: usage.peak_memory,
        findings,
    }
}

/// Whether `used` is past [`HEAVY`] of `limit`.
fn heavy(used: f64, limit: f64) -> bool {
    used > limit * HEAVY
}

/// Bytes in MiB, for messages.
pub(super) fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// A sink that sends nothing anywhere: the observer has all `wasgi check` needs.
struct Discard;

impl Sink for Discard {
    fn send_headers(&mut self, _: &Head<'_>) -> std::io::Result<()> {
        Ok(())
    }

    fn send_chunk(&mut self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    fn abort(&mut self) {}
}
