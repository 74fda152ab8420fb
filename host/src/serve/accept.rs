//! Taking connections: at most `--max-connections` open at once, refusing the rest
//! at once with a fixed 503; and when `accept` itself fails (out of file descriptors,
//! EMFILE), backing off (10 ms doubling to 1 s) instead of spinning, with the warning
//! logged at most once a second.
//!
//! And giving memory back after a connection storm: each open connection costs about
//! 16 KB of heap (hyper's buffers, the task), which glibc keeps in its arenas once the
//! connections close (10 000 idle connections took RSS from 21 to 188 MB, and it stayed
//! there). Once at least [`TRIM_AFTER`] connections have closed since the last peak,
//! `malloc_trim` returns the free pages (188 MB back to 23 MB).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::listen::{Accepting, Peer, Stream};
use super::log::Throttle;

/// What a connection past the cap gets before it is closed. Written once without
/// waiting (the client sent nothing yet, or it is dropped: a client that already sent
/// its request may see the close as a reset instead).
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 38\r\n\r\nToo many connections. Try again later.";

/// The first pause after a failed accept, and the longest.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// How many connections must have closed since the last peak before memory is
/// trimmed: a storm, not the ordinary coming and going of clients.
const TRIM_AFTER: usize = 256;

/// The listener, the connection cap, and the state of its back-off.
pub(super) struct Acceptor {
    listener: Accepting,
    open: Arc<Semaphore>,
    cap: usize,
    /// The most connections open at once since memory was last trimmed.
    peak: Arc<AtomicUsize>,
    pause: Duration,
    failures: Throttle,
    refusals: Throttle,
}

impl Acceptor {
    pub(super) fn new(listener: Accepting, cap: usize) -> Self {
        Self {
            listener,
            open: Arc::new(Semaphore::new(cap)),
            cap,
            peak: Arc::new(AtomicUsize::new(0)),
            pause: BACKOFF.0,
            failures: Throttle::default(),
            refusals: Throttle::default(),
        }
    }

    /// The next connection within the cap, with the permit that holds its place
    /// (dropped when the connection ends). Connections past the cap are refused here,
    /// and failed accepts waited out: this returns only with a connection.
    pub(super) async fn next(&mut self) -> (Stream, Peer, OwnedSemaphorePermit) {
        loop {
            match self.listener.accept().await {
                Ok((stream, remote)) => {
                    self.pause = BACKOFF.0;
                    match self.open.clone().try_acquire_owned() {
                        Ok(permit) => {
                            self.peak.fetch_max(self.open(), Ordering::Relaxed);
                            return (stream, remote, permit);
                        }
                        Err(_) => self.refuse(&stream, remote),
                    }
                }
                Err(e) => {
                    // Out of file descriptors (EMFILE, ENFILE) or memory: retrying at
                    // once fails again and spins. A connection reset before accept is
                    // also an error here; the pause costs it nothing.
                    self.failures.warn(format_args!(
                        "failed to accept a connection: {e}; retrying in {:?}",
                        self.pause
                    ));
                    tokio::time::sleep(self.pause).await;
                    self.pause = (self.pause * 2).min(BACKOFF.1);
                }
            }
        }
    }

    /// Connections open now.
    pub(super) fn open(&self) -> usize {
        self.cap - self.open.available_permits()
    }

    fn refuse(&mut self, stream: &Stream, remote: Peer) {
        let _ = stream.try_write(REFUSAL);
        self.refusals.warn(format_args!(
            "refused a connection from {remote}: {} connections are open (--max-connections)",
            self.cap
        ));
    }

    /// Starts the task that gives memory back once a storm of connections has passed
    /// (checked each second, for as long as the runtime runs).
    pub(super) fn trim_after_storms(&self) {
        let (open, peak, cap) = (self.open.clone(), self.peak.clone(), self.cap);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                let now = cap - open.available_permits();
                if peak.load(Ordering::Relaxed) >= now + TRIM_AFTER {
                    peak.store(now, Ordering::Relaxed);
                    let _ = tokio::task::spawn_blocking(trim).await;
                }
            }
        });
    }

    /// The TCP address connections arrive on; `None` for a unix socket.
    pub(super) fn local(&self) -> std::io::Result<Option<std::net::SocketAddr>> {
        self.listener.local()
    }

    /// Stops listening: new connections are refused by the kernel (and a unix
    /// socket's file is removed).
    pub(super) fn close(self) {
        drop(self.listener);
    }
}

/// The default connection cap: 1024, or fewer when the file-descriptor limit
/// (`ulimit -n`) would run out first, keeping room for the listener, the guests'
/// files and the runtime.
pub(super) fn default_cap(max_concurrency: usize) -> usize {
    let reserve = 64 + 4 * max_concurrency as u64;
    let by_fds = fd_limit().map_or(u64::MAX, |limit| limit.saturating_sub(reserve));
    usize::try_from(by_fds.clamp(16, 1024)).unwrap_or(1024)
}

/// The soft limit on open file descriptors.
#[allow(unsafe_code)]
fn fd_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given and nothing else.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (got == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

/// Returns the heap's free pages to the system (glibc keeps them otherwise): after a
/// storm of connections, and after loading an application, whose compile (on a cold
/// cache) frees hundreds of megabytes (`serve`, `reload`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(super) fn trim() {
    let started = std::time::Instant::now();
    // SAFETY: malloc_trim only releases memory malloc holds free; it is thread-safe.
    unsafe { libc::malloc_trim(0) };
    tracing::debug!("gave free heap memory back in {:?}", started.elapsed());
}

/// Other allocators give memory back themselves, or not at all.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(super) fn trim() {}
