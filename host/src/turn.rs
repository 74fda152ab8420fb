//! Turns to run guest code: `wasgi serve --max-running`.
//!
//! `--max-concurrency` bounds the requests in flight, each with its own thread and
//! instance. Fewer of them may run guest code at once: a request takes a turn before
//! its instance is made, gives it up while its guest waits (on its client, for a body
//! still arriving or a response the client is slow to take, and in `wasi:io/poll`, a
//! sleep or a socket), takes one again before the guest goes on, and gives it up for
//! good once its instance is dropped or kept as a spare. With as many turns as the
//! machine has cores, CPU-bound guests run one per core instead of time-slicing
//! dozens of instances (each with its own memory to warm and keep), while slow
//! clients and sleeping guests cannot hold the turns. The default is as many turns
//! as `--max-concurrency`: measured, fewer turns cut memory to gunicorn's but cost
//! CPU per request (docs/PERFORMANCE.md), so it is the operator's choice.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One request's turn, shared by the guest's thread and what it waits on.
#[derive(Debug)]
pub struct Turn {
    turns: Arc<Semaphore>,
    state: Mutex<State>,
    runtime: tokio::runtime::Handle,
}

#[derive(Debug)]
enum State {
    /// Held: the permit is given back when it drops.
    Held(#[expect(dead_code, reason = "kept for its drop")] OwnedSemaphorePermit),
    /// Given up for a wait, to be taken again after it.
    Aside,
    /// Given up for good.
    Ended,
}

impl Turn {
    /// Waits for one of `turns` (on the server's runtime, before the guest's thread
    /// starts).
    pub async fn take(turns: &Arc<Semaphore>) -> Arc<Self> {
        // The semaphore is never closed; if it were, the request would run unbounded.
        let state = match turns.clone().acquire_owned().await {
            Ok(permit) => State::Held(permit),
            Err(_) => State::Ended,
        };
        Arc::new(Self {
            turns: turns.clone(),
            state: Mutex::new(state),
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// Runs `wait` (blocking the guest's thread) with the turn given up, then waits
    /// for one again, behind the requests that queued for one meanwhile.
    pub fn aside<T>(&self, wait: impl FnOnce() -> T) -> T {
        {
            let mut state = self.lock();
            if matches!(*state, State::Held(_)) {
                *state = State::Aside;
            }
        }
        let waited = wait();
        if matches!(*self.lock(), State::Aside) {
            let permit = self.runtime.block_on(self.turns.clone().acquire_owned());
            let mut state = self.lock();
            if let (State::Aside, Ok(permit)) = (&*state, permit) {
                *state = State::Held(permit);
            }
        }
        waited
    }

    /// Waits for `future` on the server's runtime (blocking the guest's thread), with
    /// the turn given up meanwhile.
    pub fn wait_for<F: Future>(&self, future: F) -> F::Output {
        self.aside(|| self.runtime.block_on(future))
    }

    /// Gives the turn up for good: the request runs no more guest code.
    pub fn end(&self) {
        *self.lock() = State::Ended;
    }

    /// The state; nothing panics while holding it, so poisoning is ignored.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_turn_is_free_while_aside_and_held_again_after() {
        let turns = Arc::new(Semaphore::new(1));
        let turn = Turn::take(&turns).await;
        assert_eq!(turns.available_permits(), 0);
        let inside = turns.clone();
        let seen = tokio::task::spawn_blocking({
            let turn = turn.clone();
            move || {
                let during = turn.aside(|| inside.available_permits());
                (during, inside.available_permits())
            }
        })
        .await
        .expect("guest thread");
        assert_eq!(seen, (1, 0));
        turn.end();
        assert_eq!(turns.available_permits(), 1);
        // Ended: a wait after the end takes no turn back.
        tokio::task::spawn_blocking(move || turn.aside(|| ()))
            .await
            .expect("guest thread");
        assert_eq!(turns.available_permits(), 1);
    }
}
