//! Limits on what one request's guest may take: wall-clock time and memory.
//!
//! Time is enforced with wasmtime's epoch interruption: one ticker thread per engine
//! advances the epoch every [`TICK`], and each request's store traps once its deadline
//! (the timeout, in ticks) has passed, wherever the guest is looping. Memory is
//! enforced by a resource limiter on the store: a memory that would grow past the cap
//! is refused, as `memory.grow` failing, which a guest sees as out of memory.

use std::time::Duration;

use wasmtime::Engine;

/// How often the epoch advances: the granularity of `--timeout`.
pub const TICK: Duration = Duration::from_millis(10);

/// What one request's guest may take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestLimits {
    /// Wall-clock time for the whole request, guest code included; `None`, no limit.
    pub timeout: Option<Duration>,
    /// Bytes each linear memory may grow to; `None`, the wasm limit (4 GiB).
    pub max_memory: Option<usize>,
}

impl GuestLimits {
    /// The store's epoch deadline: the timeout in ticks (at least one), or never.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        match self.timeout {
            Some(timeout) => (timeout.as_nanos() / TICK.as_nanos()).max(1) as u64,
            None => u64::MAX / 2,
        }
    }
}

/// Starts the ticker of `engine`: a thread that advances its epoch every [`TICK`]
/// until the engine is dropped.
pub(crate) fn start_ticker(engine: &Engine) -> std::io::Result<()> {
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
    Ok(())
}

/// The store's memory limiter.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    max: Option<usize>,
}

impl MemoryLimiter {
    pub(crate) fn new(max: Option<usize>) -> Self {
        Self { max }
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
                Ok(false)
            }
            _ => Ok(true),
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_timeout_in_ticks_and_never_zero() {
        let limits = |ms| GuestLimits {
            timeout: Some(Duration::from_millis(ms)),
            max_memory: None,
        };
        assert_eq!(limits(30_000).deadline_ticks(), 3000);
        assert_eq!(limits(1).deadline_ticks(), 1);
        assert!(GuestLimits::default().deadline_ticks() > 1 << 60);
    }

    #[test]
    fn memory_past_the_cap_is_refused() {
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
    }
}
