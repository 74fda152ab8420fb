//! Turns to run guest code: `wasgi serve --max-running`.
//!
//! `--max-concurrency` bounds the requests in flight, each with its own instance.
//! Fewer of them may run guest code at once: a request's guest runs only with a turn;
//! it gives the turn up while it waits (on its client, for a body still arriving or a
//! response the client is slow to take, and in `wasi:io/poll`, a sleep or a socket),
//! takes one again before it goes on, and gives it up for good once its instance is
//! dropped or kept as a spare. With as many turns as the machine has cores,
//! CPU-bound guests run one per core instead of time-slicing dozens of instances (each
//! with its own memory to warm and keep), while slow clients and sleeping guests cannot
//! hold the turns.
//!
//! A turn is a thread running requests one after another, like a worker of a
//! pre-forked server: a request that ends hands its turn, on the same thread, to the
//! next request waiting for one, so a busy server wakes no thread per request. A turn
//! given up for a wait goes first to a request that waited and is ready to go on (it
//! holds an instance already), then to the next new request (on a new thread, as the
//! waiting one keeps its own), else it is free.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// A request's guest code, run with a turn.
type Job = Box<dyn FnOnce() + Send>;

/// The turns of one server.
#[derive(Debug)]
pub struct Turns {
    queue: Mutex<Queue>,
    runtime: tokio::runtime::Handle,
}

#[derive(Default)]
struct Queue {
    /// Turns no request holds.
    free: usize,
    /// Requests that gave their turn up for a wait and are ready to go on, first come
    /// first served; each waits on its own signal.
    resuming: VecDeque<Arc<Signal>>,
    /// New requests, first come first served.
    jobs: VecDeque<Job>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("free", &self.free)
            .field("resuming", &self.resuming.len())
            .field("jobs", &self.jobs.len())
            .finish()
    }
}

/// A turn handed to a request waiting to go on.
#[derive(Default)]
struct Signal {
    handed: Mutex<bool>,
    ready: Condvar,
}

/// What becomes of a turn a request gives up.
enum Next {
    /// Handed to a request waiting to go on, or free.
    Done,
    /// A new request to run with it.
    Run(Job),
}

impl Turns {
    /// `count` turns, running guests on the blocking threads of the current runtime.
    pub fn new(count: usize) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(Queue {
                free: count,
                ..Queue::default()
            }),
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// Runs `job` (a request's guest code, which ends its [`Turn`]) with a turn: now on
    /// a new thread if one is free, else once one is handed on.
    pub fn run(self: &Arc<Self>, job: impl FnOnce() + Send + 'static) {
        let job: Job = Box::new(job);
        {
            let mut queue = lock(&self.queue);
            if queue.free == 0 {
                queue.jobs.push_back(job);
                return;
            }
            queue.free -= 1;
        }
        self.start(job);
    }

    /// A turn's thread: `job`, then whatever the turn is handed to next.
    fn start(self: &Arc<Self>, job: Job) {
        let turns = self.clone();
        drop(self.runtime.spawn_blocking(move || {
            let mut job = job;
            loop {
                job();
                match turns.give_up() {
                    Next::Run(next) => job = next,
                    Next::Done => return,
                }
            }
        }));
    }

    /// A turn given up: to a request waiting to go on, else to a new request, else
    /// free.
    fn give_up(&self) -> Next {
        let mut queue = lock(&self.queue);
        if let Some(signal) = queue.resuming.pop_front() {
            drop(queue);
            *lock(&signal.handed) = true;
            signal.ready.notify_one();
            return Next::Done;
        }
        match queue.jobs.pop_front() {
            Some(job) => Next::Run(job),
            None => {
                queue.free += 1;
                Next::Done
            }
        }
    }

    /// A turn again for a request that waited, ahead of new requests (blocking its
    /// thread).
    fn take_back(&self) {
        let signal = {
            let mut queue = lock(&self.queue);
            if queue.free > 0 {
                queue.free -= 1;
                return;
            }
            let signal = Arc::new(Signal::default());
            queue.resuming.push_back(signal.clone());
            signal
        };
        let mut handed = lock(&signal.handed);
        while !*handed {
            handed = signal
                .ready
                .wait(handed)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// One request's turn, shared by its guest's thread and what that guest waits on.
#[derive(Debug)]
pub struct Turn {
    turns: Arc<Turns>,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Held, by the request's guest code running.
    Held,
    /// Given up for a wait, to be taken again after it.
    Aside,
    /// Given up for good.
    Ended,
}

impl Turn {
    /// The turn of a request whose guest code [`Turns::run`] runs.
    pub fn new(turns: &Arc<Turns>) -> Arc<Self> {
        Arc::new(Self {
            turns: turns.clone(),
            state: Mutex::new(State::Held),
        })
    }

    /// Runs `wait` (blocking the guest's thread) with the turn given up, then takes
    /// one again, ahead of requests not yet started.
    pub fn aside<T>(&self, wait: impl FnOnce() -> T) -> T {
        let held = {
            let mut state = lock(&self.state);
            let held = *state == State::Held;
            if held {
                *state = State::Aside;
            }
            held
        };
        if held && let Next::Run(job) = self.turns.give_up() {
            self.turns.start(job);
        }
        let waited = wait();
        if held {
            self.turns.take_back();
            let mut state = lock(&self.state);
            if *state == State::Aside {
                *state = State::Held;
            }
        }
        waited
    }

    /// Waits for `future` on the server's runtime (blocking the guest's thread), with
    /// the turn given up meanwhile.
    pub fn wait_for<F: Future>(&self, future: F) -> F::Output {
        self.aside(|| self.turns.runtime.block_on(future))
    }

    /// The request runs no more guest code: a wait after this (the instance being
    /// dropped) gives up and takes back no turn. Its thread hands the turn on once its
    /// job returns.
    pub fn end(&self) {
        *lock(&self.state) = State::Ended;
    }
}

/// A lock nothing panics while holding, so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// With one turn: A gives it up for a wait, during which B starts and C queues; A,
    /// ready to go on while B runs, gets the turn when B ends, before C.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_turn_given_up_runs_the_next_request_and_comes_back_before_new_ones() {
        let turns = Turns::new(1);
        let (events, seen) = mpsc::channel();
        let (b_started, b_has_started) = mpsc::channel();
        let a = Turn::new(&turns);
        let job = {
            let (turns, events) = (turns.clone(), events.clone());
            move || {
                events.send("a runs").expect("the test's channel");
                a.aside(|| {
                    let (b_events, c_events) = (events.clone(), events.clone());
                    let b_turns = turns.clone();
                    turns.run(move || {
                        b_events.send("b runs").expect("the test's channel");
                        b_started.send(()).expect("the test's channel");
                        // B ends only once A waits to go on.
                        while lock(&b_turns.queue).resuming.is_empty() {
                            std::thread::yield_now();
                        }
                        b_events.send("b ends").expect("the test's channel");
                    });
                    turns.run(move || c_events.send("c runs").expect("the test's channel"));
                    b_has_started.recv().expect("the test's channel");
                });
                events.send("a goes on").expect("the test's channel");
                a.end();
            }
        };
        turns.run(job);
        drop(events);
        let order: Vec<_> = tokio::task::spawn_blocking(move || seen.iter().collect())
            .await
            .expect("the collecting thread");
        assert_eq!(order, ["a runs", "b runs", "b ends", "a goes on", "c runs"]);
        assert_eq!(lock(&turns.queue).free, 1);
    }

    /// A wait after the end takes no turn back: the turn goes on to the next request
    /// only when the job returns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn after_its_end_a_request_gives_up_no_turn() {
        let turns = Turns::new(1);
        let (events, seen) = mpsc::channel();
        let a = Turn::new(&turns);
        let (a_events, b_events) = (events.clone(), events);
        let b_turns = turns.clone();
        turns.run(move || {
            a.end();
            a.aside(|| b_turns.run(move || b_events.send("b runs").expect("the test's channel")));
            a_events.send("a ends").expect("the test's channel");
        });
        let order: Vec<_> = tokio::task::spawn_blocking(move || seen.iter().collect())
            .await
            .expect("the collecting thread");
        assert_eq!(order, ["a ends", "b runs"]);
    }
}
