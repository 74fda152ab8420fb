//! Turns to run guest code: `wasgi serve --max-running`.
//!
//! `--max-concurrency` bounds the requests in flight, each with its own instance.
//! Fewer of them may run guest code at once: a request's guest runs only with a turn;
//! it gives the turn up while it waits (on its client, for a body still arriving or a
//! response the client is slow to take, and in `wasi:io/poll`, a sleep or a socket),
//! and after each [`SLICE`] of CPU time it spends, and takes one again before it goes
//! on; it gives the turn up for good once its instance is dropped or kept as a spare.
//! With as many turns as the machine has cores (the default), CPU-bound guests run one
//! per core instead of time-slicing dozens of instances (each with its own memory to
//! warm and keep), while slow clients, sleeping guests and spinning guests cannot hold
//! the turns.
//!
//! A turn is a thread running requests one after another, like a worker of a
//! pre-forked server: a request that ends hands its turn, on the same thread, to the
//! next request waiting for one, so a busy server wakes no thread per request. A turn
//! given up for a wait goes first to a request that waited and is ready to go on (it
//! holds an instance already), then to the next new request (on a new thread, as the
//! waiting one keeps its own), else it is free.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The CPU time a request's guest runs before it gives its turn to a request waiting
/// for one (checked at each epoch tick, so only while the epoch ticks: a server with
/// `--timeout 0` has no ticker, and a request then holds its turn to its end).
pub const SLICE: Duration = Duration::from_millis(20);

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
    /// New requests, first come first served, each with its [`Ticket`]'s number.
    jobs: VecDeque<(u64, Job)>,
    /// The number of the next ticket.
    tickets: u64,
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

/// A request's place in the queue for a turn: dropped before its turn comes (its
/// client went away), the request leaves the queue, and what its job holds (its slot
/// and instance) is released at once.
#[must_use = "dropping the ticket takes the request out of the queue"]
pub struct Ticket {
    turns: Arc<Turns>,
    number: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let removed = {
            let mut queue = lock(&self.turns.queue);
            let at = queue.jobs.iter().position(|(n, _)| *n == self.number);
            at.and_then(|at| queue.jobs.remove(at))
        };
        // Dropped outside the lock: the job's captures may take other locks.
        drop(removed);
    }
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
    /// a new thread if one is free, else once one is handed on, unless the returned
    /// ticket is dropped first.
    pub fn run(self: &Arc<Self>, job: impl FnOnce() + Send + 'static) -> Ticket {
        let job: Job = Box::new(job);
        let mut queue = lock(&self.queue);
        let number = queue.tickets;
        queue.tickets += 1;
        if queue.free == 0 {
            queue.jobs.push_back((number, job));
        } else {
            queue.free -= 1;
            drop(queue);
            self.start(job);
        }
        Ticket {
            turns: self.clone(),
            number,
        }
    }

    /// A turn's thread: `job`, then whatever the turn is handed to next. A job that
    /// panics (a bug in the host) ends its request, not the turn.
    fn start(self: &Arc<Self>, job: Job) {
        let turns = self.clone();
        drop(self.runtime.spawn_blocking(move || {
            let mut job = job;
            loop {
                if catch_unwind(AssertUnwindSafe(job)).is_err() {
                    tracing::error!("a request's thread panicked; its turn goes on to the next");
                }
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
            Some((_, job)) => Next::Run(job),
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
    /// Held, by the request's guest code running; since the guest's thread had spent
    /// this much CPU time (once an epoch tick has seen it run).
    Held(Option<Duration>),
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
            state: Mutex::new(State::Held(None)),
        })
    }

    /// Runs `wait` (blocking the guest's thread) with the turn given up, then takes
    /// one again, ahead of requests not yet started.
    pub fn aside<T>(&self, wait: impl FnOnce() -> T) -> T {
        let held = {
            let mut state = lock(&self.state);
            let held = matches!(*state, State::Held(_));
            if held {
                *state = State::Aside;
            }
            held
        };
        if held && let Next::Run(job) = self.turns.give_up() {
            self.turns.start(job);
        }
        // Even if the wait panics, the turn is taken again: the request's thread hands
        // on exactly one turn when its job ends.
        let waited = catch_unwind(AssertUnwindSafe(wait));
        if held {
            self.turns.take_back();
            let mut state = lock(&self.state);
            if *state == State::Aside {
                *state = State::Held(Some(thread_cpu_time()));
            }
        }
        waited.unwrap_or_else(|panic| resume_unwind(panic))
    }

    /// At an epoch tick, on the guest's thread: once the guest has run a [`SLICE`] of
    /// CPU time since it took its turn, the turn goes to a request waiting for one
    /// (if any), and the guest waits for one again.
    pub fn at_tick(&self) {
        let now = thread_cpu_time();
        let slice_over = match &mut *lock(&self.state) {
            State::Held(since @ None) => {
                *since = Some(now);
                false
            }
            State::Held(Some(since)) => now.saturating_sub(*since) >= SLICE,
            State::Aside | State::Ended => false,
        };
        if slice_over {
            self.aside(|| ());
        }
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

/// The CPU time the calling thread has spent (zero if the clock cannot be read).
#[allow(unsafe_code)]
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given and nothing else.
    let read = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    match (read, u64::try_from(now.tv_sec), u32::try_from(now.tv_nsec)) {
        (0, Ok(secs), Ok(nanos)) => Duration::new(secs, nanos),
        _ => Duration::ZERO,
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

    /// Spins (yielding) until `done` holds, failing after 10 s.
    fn eventually(done: impl Fn() -> bool) {
        let start = std::time::Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(10), "never happened");
            std::thread::yield_now();
        }
    }

    /// What `events` receives until its senders are gone (or 10 s pass without one).
    fn waited<T>(events: &mpsc::Receiver<T>) -> impl Iterator<Item = T> {
        std::iter::from_fn(|| events.recv_timeout(Duration::from_secs(10)).ok())
    }

    fn free(turns: &Turns) -> usize {
        lock(&turns.queue).free
    }

    /// With one turn: A gives it up for a wait, during which B starts and C queues; A,
    /// ready to go on while B runs, gets the turn when B ends, before C.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_turn_given_up_runs_the_next_request_and_comes_back_before_new_ones() {
        let turns = Turns::new(1);
        let (events, seen) = mpsc::channel();
        let (b_started, b_has_started) = mpsc::channel();
        let (keep, kept) = mpsc::channel();
        let a = Turn::new(&turns);
        let job = {
            let (turns, events) = (turns.clone(), events.clone());
            move || {
                events.send("a runs").expect("the test's channel");
                a.aside(|| {
                    let (b_events, c_events) = (events.clone(), events.clone());
                    let b_turns = turns.clone();
                    let b = turns.run(move || {
                        b_events.send("b runs").expect("the test's channel");
                        b_started.send(()).expect("the test's channel");
                        // B ends only once A waits to go on.
                        eventually(|| !lock(&b_turns.queue).resuming.is_empty());
                        b_events.send("b ends").expect("the test's channel");
                    });
                    let c = turns.run(move || c_events.send("c runs").expect("the test's channel"));
                    keep.send((b, c)).expect("the test's channel");
                    b_has_started.recv().expect("the test's channel");
                });
                events.send("a goes on").expect("the test's channel");
                a.end();
            }
        };
        let _a = turns.run(job);
        drop(events);
        let (order, _tickets): (Vec<_>, _) = tokio::task::spawn_blocking(move || {
            let tickets = kept.recv().expect("the test's channel");
            (waited(&seen).collect(), tickets)
        })
        .await
        .expect("the collecting thread");
        assert_eq!(order, ["a runs", "b runs", "b ends", "a goes on", "c runs"]);
        eventually(|| free(&turns) == 1);
    }

    /// A wait after the end gives no turn up: a request started meanwhile stays queued.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn after_its_end_a_request_gives_up_no_turn() {
        let turns = Turns::new(1);
        let (ran, b_ran) = mpsc::channel();
        let (keep, kept) = mpsc::channel();
        let a = Turn::new(&turns);
        let a_turns = turns.clone();
        let _a = turns.run(move || {
            a.end();
            a.aside(|| {
                let b = a_turns.run(move || ran.send(()).expect("the test's channel"));
                assert_eq!(lock(&a_turns.queue).jobs.len(), 1, "B is queued");
                keep.send(b).expect("the test's channel");
            });
        });
        tokio::task::spawn_blocking(move || {
            let _b = kept.recv().expect("the test's channel");
            b_ran
                .recv_timeout(Duration::from_secs(10))
                .expect("B runs once A's job returns");
        })
        .await
        .expect("the collecting thread");
        eventually(|| free(&turns) == 1);
    }

    /// A request whose ticket is dropped before its turn comes leaves the queue at
    /// once, and what it holds is dropped with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_dropped_ticket_takes_its_request_out_of_the_queue() {
        let turns = Turns::new(1);
        let (release, released) = mpsc::channel::<()>();
        let _a = turns.run(move || released.recv().expect("the test's channel"));
        let held = Arc::new(());
        let b_held = held.clone();
        let b = turns.run(move || {
            let _held = b_held;
            panic!("B must not run");
        });
        assert_eq!(Arc::strong_count(&held), 2);
        drop(b);
        assert_eq!(Arc::strong_count(&held), 1);
        assert!(lock(&turns.queue).jobs.is_empty());
        release.send(()).expect("the test's channel");
        eventually(|| free(&turns) == 1);
    }

    /// A job that panics, or panics in a wait, ends its request and not its turn.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_panicking_request_hands_its_turn_on() {
        let turns = Turns::new(1);
        let _a = turns.run(|| panic!("a bug in the host"));
        let b = Turn::new(&turns);
        let _b = turns.run(move || b.aside(|| panic!("a bug in a wait")));
        let (ran, c_ran) = mpsc::channel();
        let _c = turns.run(move || ran.send(()).expect("the test's channel"));
        tokio::task::spawn_blocking(move || {
            c_ran.recv_timeout(Duration::from_secs(10)).expect("C runs")
        })
        .await
        .expect("the collecting thread");
        eventually(|| free(&turns) == 1);
    }
}
