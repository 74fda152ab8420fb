//! Limits on what one request's guest may take: wall-clock time, CPU, memory, host
//! resources, log output, and (through [`ResponseLimits`]) the response itself.
//!
//! Time is enforced with wasmtime's epoch interruption, compiled into guest code as
//! [`TimeChecks`] says: one ticker thread per engine
//! (started for the first application given a timeout) advances the epoch every
//! [`TICK`]; at each store's epoch deadline [`at_epoch_deadline`] traps once the
//! request's time has passed, wherever the guest is looping (and counts the slice of a
//! request that has a turn to run, see [`crate::turn`]). CPU is wasmtime
//! fuel, compiled in only when a budget is set. Memory is enforced by a resource
//! limiter on the store: a memory that would grow past the cap is refused, as
//! `memory.grow` failing, which a guest sees as out of memory. Host resources are the
//! store's resource table, capped. Log output is a budget ([`LogBudget`]) shared by
//! the guest's stdout and stderr and the text it hands the gateway.

use std::io::Write as _;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime::{Engine, EngineWeak, UpdateDeadline};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::sync::io::poll as sync_poll;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;

use crate::artifact::{self, Kind};
use crate::error::Error;
use crate::turn::Turn;

pub use wasgi_gateway::log::LogBudget;
pub use wasgi_gateway::response::ResponseLimits;

/// How often the epoch advances: the granularity of `--timeout`.
pub const TICK: Duration = Duration::from_millis(10);

/// Whether an engine compiles time checks into guest code: wasmtime's epoch checks,
/// at every function's entry and every loop. They are the only way a timeout stops
/// guest code, and they cost a CPU-bound Python guest about a tenth of its time
/// (CPython's interpreter passes a loop's check for every bytecode:
/// docs/PERFORMANCE.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeChecks {
    /// Compiled in: a timeout can stop the guest, and with a timeout a request
    /// gives its `--max-running` turn up after each slice of CPU time.
    On,
    /// Left out: no timeout can stop guest code (a `--fuel` budget still does).
    Off,
}

impl TimeChecks {
    /// What `wasgi compile` compiles into a `.cwasm`, and so what a `.cwasm` loads
    /// with (an engine with other settings refuses it): on, so that one file serves
    /// runs with a timeout and without.
    pub const CWASM: Self = Self::On;

    /// The checks a run of the app at `path` held to `limits` needs: on with a
    /// timeout; off without one (nothing would stop the guest in time anyway), but
    /// [`Self::CWASM`] for a `.cwasm`.
    pub fn for_run(path: &Path, limits: &GuestLimits) -> Result<Self, Error> {
        Ok(if artifact::kind(path)? == Kind::Precompiled {
            Self::CWASM
        } else if limits.timeout.is_some() {
            Self::On
        } else {
            Self::Off
        })
    }
}

/// What one request's guest may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestLimits {
    /// Wall-clock time for the whole request, guest code included; `None`, no limit.
    pub timeout: Option<Duration>,
    /// Bytes each linear memory may grow to; `None`, the wasm limit (4 GiB).
    pub max_memory: Option<usize>,
    /// Fuel (about one unit per wasm instruction) for the whole request; `None`, no
    /// metering (the engine then compiles none in: see [`crate::app::engine`]).
    pub fuel: Option<u64>,
    /// Host resources (WASI streams, pollables, descriptors) one instance may hold at
    /// once.
    pub max_resources: usize,
    /// Bytes the guest may write to its stdout and stderr together (both go to the
    /// host's log); the rest is dropped.
    pub max_log: usize,
    /// Caps on the response: header count and bytes, body bytes.
    pub response: ResponseLimits,
}

impl GuestLimits {
    /// `wasgi run`'s defaults: no time, memory, fuel or output limit; the caps on
    /// headers, resources and log output that every mode keeps.
    pub const LOOSE: Self = Self {
        timeout: None,
        max_memory: None,
        fuel: None,
        max_resources: 1000,
        max_log: 1 << 20,
        response: ResponseLimits::DEFAULT,
    };

    /// The store's first epoch deadline: the timeout in ticks, or never; for a request
    /// with a turn to run (see [`crate::turn`]), the next tick, to count its slice.
    pub(crate) fn first_deadline_ticks(&self, has_turn: bool) -> u64 {
        if has_turn {
            1
        } else {
            self.timeout.map_or(NEVER, ticks)
        }
    }
}

/// An epoch deadline that never comes.
const NEVER: u64 = u64::MAX / 2;

/// `time` in whole ticks, at least one.
fn ticks(time: Duration) -> u64 {
    u64::try_from(time.as_nanos() / TICK.as_nanos())
        .unwrap_or(NEVER)
        .clamp(1, NEVER)
}

/// What a store does at its epoch deadline: past the request's `deadline`, the guest
/// stops (the trap `--timeout` names). Before it, a request with a `turn` counts its
/// slice at every tick ([`Turn::at_tick`]: it may give the turn to a request waiting
/// for one, and wait for one again); one without goes on to its deadline.
pub(crate) fn at_epoch_deadline(
    deadline: Option<tokio::time::Instant>,
    turn: Option<&Turn>,
) -> UpdateDeadline {
    let left = || deadline.map(|at| at.saturating_duration_since(tokio::time::Instant::now()));
    let past = || left().is_some_and(|left| left.is_zero());
    if past() {
        return UpdateDeadline::Interrupt;
    }
    let Some(turn) = turn else {
        return UpdateDeadline::Continue(left().map_or(NEVER, ticks));
    };
    turn.at_tick();
    // The wait for a turn counts against the request's time too.
    if past() {
        return UpdateDeadline::Interrupt;
    }
    UpdateDeadline::Continue(1)
}

/// Starts the ticker of `engine` unless it has one: a thread that advances its epoch
/// every [`TICK`] until the engine is dropped. One per engine, however many
/// applications share it (two would halve every timeout).
pub(crate) fn ensure_ticker(engine: &Engine) -> std::io::Result<()> {
    static TICKING: Mutex<Vec<EngineWeak>> = Mutex::new(Vec::new());
    let mut ticking = TICKING.lock().unwrap_or_else(PoisonError::into_inner);
    let mut has_one = false;
    ticking.retain(|weak| match weak.upgrade() {
        Some(other) => {
            has_one |= Engine::same(&other, engine);
            true
        }
        None => false,
    });
    if has_one {
        return Ok(());
    }
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasgi-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })?;
    ticking.push(engine.weak());
    Ok(())
}

/// The store's memory limiter.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    max: Option<usize>,
    /// A growth was refused: the guest hit its limit (so, under `--reuse`, its
    /// instance is not used again).
    refused: bool,
    /// The largest size a memory was allowed to grow to (its creation included).
    peak: usize,
}

impl MemoryLimiter {
    pub(crate) fn new(max: Option<usize>) -> Self {
        Self {
            max,
            refused: false,
            peak: 0,
        }
    }

    /// Whether a growth was refused.
    pub(crate) fn refused(&self) -> bool {
        self.refused
    }

    /// Bytes of the largest memory at its largest (`wasgi check` compares it with
    /// `--max-memory`).
    pub(crate) fn peak(&self) -> usize {
        self.peak
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match self.max {
            Some(max) if desired > max => {
                tracing::warn!(
                    "limit: the guest asked for {desired} bytes of memory, past its --max-memory of {max}: refused"
                );
                self.refused = true;
                Ok(false)
            }
            _ => {
                self.peak = self.peak.max(desired);
                Ok(true)
            }
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // A table's elements live in host memory (a pointer each): held to the same cap.
        let bytes = desired.saturating_mul(size_of::<usize>());
        match self.max {
            Some(max) if bytes > max => {
                tracing::warn!(
                    "limit: the guest asked for a table of {desired} elements ({bytes} bytes), past its --max-memory of {max}: refused"
                );
                self.refused = true;
                Ok(false)
            }
            _ => Ok(true),
        }
    }
}

/// `wasi:io/poll` held to the request's deadline. The guest's time limit is epoch
/// interruption, which stops wasm code, not a host call: without this, a guest that
/// sleeps on a timer (or waits on any pollable) would hold its thread past
/// `--timeout`. Past the deadline the wait ends in the same trap as a loop's. The
/// request's turn to run guest code, if it has one, is given up for the wait.
pub(crate) struct DeadlinePoll<'a> {
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) deadline: Option<tokio::time::Instant>,
    pub(crate) turn: Option<&'a Turn>,
}

/// Names [`DeadlinePoll`] as the host data of the `wasi:io/poll` bindings.
pub(crate) struct WithDeadline;

impl HasData for WithDeadline {
    type Data<'a> = DeadlinePoll<'a>;
}

impl DeadlinePoll<'_> {
    /// Runs a wait to its end or to the deadline, whichever comes first, with the
    /// request's turn given up meanwhile.
    fn bounded<T>(
        deadline: Option<tokio::time::Instant>,
        turn: Option<&Turn>,
        wait: impl Future<Output = wasmtime::Result<T>>,
    ) -> wasmtime::Result<T> {
        let run = || {
            in_tokio(async {
                match deadline {
                    None => wait.await,
                    Some(at) => tokio::time::timeout_at(at, wait)
                        .await
                        .unwrap_or_else(|_| Err(wasmtime::Trap::Interrupt.into())),
                }
            })
        };
        match turn {
            Some(turn) => turn.aside(run),
            None => run(),
        }
    }
}

impl sync_poll::Host for DeadlinePoll<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        Self::bounded(
            self.deadline,
            self.turn,
            async_poll::Host::poll(self.table, pollables),
        )
    }
}

impl sync_poll::HostPollable for DeadlinePoll<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        in_tokio(async_poll::HostPollable::ready(self.table, pollable))
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        Self::bounded(
            self.deadline,
            self.turn,
            async_poll::HostPollable::block(self.table, pollable),
        )
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.table, pollable)
    }
}

/// A guest's stdout or stderr: to the host's stderr (the log), never the response,
/// within the request's [`LogBudget`] (which the gateway also draws on for the text the
/// guest hands it). Past the budget the rest is dropped; the guest's writes still
/// succeed.
#[derive(Clone, Debug)]
pub(crate) struct LogStream {
    budget: LogBudget,
}

impl LogStream {
    /// The guest's stdout and stderr, drawing on `budget`.
    pub(crate) fn pair(budget: &LogBudget) -> (Self, Self) {
        let stream = Self {
            budget: budget.clone(),
        };
        (stream.clone(), stream)
    }

    /// Writes what the budget allows of `bytes`: as they are, or, in the JSON log,
    /// each write as the message of an event (target `wasgi::guest`), so that a
    /// guest's output cannot break the log's one object a line.
    fn write_bytes(&self, bytes: &[u8]) -> std::io::Result<()> {
        let bytes = &bytes[..self.budget.take(bytes.len())];
        if bytes.is_empty() {
            Ok(())
        } else if crate::serve::json_log() {
            let text = String::from_utf8_lossy(bytes);
            let line = text.strip_suffix('\n').unwrap_or(&text);
            tracing::info!(target: "wasgi::guest", "{line}");
            Ok(())
        } else {
            std::io::stderr().write_all(bytes)
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for LogStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes)
            .map_err(|e| StreamError::LastOperationFailed(e.into()))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.write_bytes(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_timeout_in_ticks_and_never_zero() {
        let limits = |ms| GuestLimits {
            timeout: Some(Duration::from_millis(ms)),
            ..GuestLimits::LOOSE
        };
        assert_eq!(limits(30_000).first_deadline_ticks(false), 3000);
        assert_eq!(limits(1).first_deadline_ticks(false), 1);
        assert!(GuestLimits::LOOSE.first_deadline_ticks(false) > 1 << 60);
        // A request with a turn counts its slice at every tick.
        assert_eq!(limits(30_000).first_deadline_ticks(true), 1);
        assert_eq!(GuestLimits::LOOSE.first_deadline_ticks(true), 1);
    }

    #[test]
    fn at_the_epoch_deadline_a_request_stops_past_its_time_and_else_goes_on() {
        let past = tokio::time::Instant::now();
        assert!(matches!(
            at_epoch_deadline(Some(past), None),
            UpdateDeadline::Interrupt
        ));
        let later = past + Duration::from_secs(30);
        assert!(matches!(
            at_epoch_deadline(Some(later), None),
            UpdateDeadline::Continue(2900..=3000)
        ));
        assert!(matches!(
            at_epoch_deadline(None, None),
            UpdateDeadline::Continue(NEVER)
        ));
    }

    #[test]
    fn only_an_engine_with_time_checks_stops_guest_code_at_its_deadline() {
        use crate::app::engine;
        // (module (func (export "f")))
        const MODULE: &[u8] = &[
            0, b'a', b's', b'm', 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, b'f', 0,
            0, 10, 4, 1, 2, 0, 11,
        ];
        for (checks, stopped) in [(TimeChecks::On, true), (TimeChecks::Off, false)] {
            let engine = engine(&GuestLimits::LOOSE, checks).expect("an engine");
            let module = wasmtime::Module::new(&engine, MODULE).expect("the module");
            let mut store = wasmtime::Store::new(&engine, ());
            store.set_epoch_deadline(0);
            store.epoch_deadline_trap();
            let instance = wasmtime::Instance::new(&mut store, &module, &[]).expect("instance");
            let f = instance
                .get_typed_func::<(), ()>(&mut store, "f")
                .expect("its export");
            assert_eq!(f.call(&mut store, ()).is_err(), stopped, "{checks:?}");
        }
    }

    #[test]
    fn memory_and_tables_past_the_cap_are_refused() {
        use wasmtime::ResourceLimiter;
        let mut capped = MemoryLimiter::new(Some(1 << 20));
        assert!(capped.memory_growing(0, 1 << 20, None).expect("ok"));
        assert!(
            !capped
                .memory_growing(1 << 20, (1 << 20) + 65536, None)
                .expect("ok")
        );
        let mut free = MemoryLimiter::new(None);
        assert!(free.memory_growing(0, 1 << 31, None).expect("ok"));
        assert!(capped.table_growing(0, (1 << 20) / 8, None).expect("ok"));
        assert!(
            !capped
                .table_growing(0, (1 << 20) / 8 + 1, None)
                .expect("ok")
        );
        assert!(free.table_growing(0, 1 << 30, None).expect("ok"));
    }
}
