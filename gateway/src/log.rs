//! The guest's share of the host's log.
//!
//! Everything a guest can put in the log — its stdout and stderr, the messages of the
//! errors it returns, the exc_info it hands `start_response` — draws on one budget per
//! request, so a guest cannot flood the host's log through any of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The guest's share of the host's log for one request (`--max-log`): what it writes
/// to stdout and stderr and the text it hands the gateway (error messages, exc_info)
/// all draw on it. Past it the rest is dropped, with one log line saying so. Clones
/// share the budget.
#[derive(Clone, Debug)]
pub struct LogBudget(Arc<Budget>);

#[derive(Debug)]
struct Budget {
    left: AtomicUsize,
    max: usize,
    /// Something was dropped (and that was logged, once).
    dropped: AtomicBool,
}

impl LogBudget {
    /// A budget of `max` bytes.
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Budget {
            left: AtomicUsize::new(max),
            max,
            dropped: AtomicBool::new(false),
        }))
    }

    /// Refills the budget to its `max` bytes, for the next request of a reused
    /// instance.
    pub fn refill(&self) {
        self.0.left.store(self.0.max, Ordering::Relaxed);
        self.0.dropped.store(false, Ordering::Relaxed);
    }

    /// Takes up to `len` bytes from the budget and returns how many may be logged;
    /// the first shortfall is logged.
    pub fn take(&self, len: usize) -> usize {
        let budget = &self.0;
        let left = budget
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                Some(left.saturating_sub(len))
            })
            .unwrap_or_default();
        let allowed = left.min(len);
        if allowed < len && !budget.dropped.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "limit: the guest wrote more than its --max-log of {} bytes to the log; the rest is dropped",
                budget.max
            );
        }
        allowed
    }

    /// Whether something was dropped since the budget was last filled: the guest
    /// passed its `--max-log`.
    pub fn overflowed(&self) -> bool {
        self.0.dropped.load(Ordering::Relaxed)
    }

    /// `text` as much as the budget allows of it, for a log line.
    pub fn clip(&self, text: &str) -> String {
        let mut end = self.take(text.len());
        if end == text.len() {
            return text.to_owned();
        }
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes dropped)", &text[..end], text.len() - end)
    }
}
