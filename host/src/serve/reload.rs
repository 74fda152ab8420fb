//! Zero-downtime reload: on SIGHUP, or when the component's file changes (`--watch`),
//! the component is loaded again on a blocking thread while the old one serves, then
//! swapped in. A request takes the application of the moment when it starts and keeps
//! it (an [`Arc`]) to its end, so requests in flight finish on the old one, which is
//! dropped after the last of them. A load that fails leaves the old one serving, and
//! the log says why on one line.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use tokio::signal::unix::{SignalKind, signal};

use crate::app::Application;

/// Loads the application again, as it was first loaded (same engine, limits, grants,
/// cache); `Err` is why, on one line.
pub type Loader = Box<dyn Fn() -> Result<Application, String> + Send + Sync>;

/// How often `--watch` looks at the file.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

/// What [`super::serve`] serves, and how to load it again.
pub struct Service {
    /// The application, as first loaded.
    pub app: Application,
    /// The file it was loaded from: the one `--watch` watches, whose digest the
    /// metrics show.
    pub path: PathBuf,
    /// How long the first load took (a metric).
    pub loaded_in: Duration,
    /// Loads the file again, for a reload.
    pub reload: Loader,
    /// Reload when the file changes (its size or modification time, polled every
    /// [`WATCH_EVERY`]).
    pub watch: bool,
    /// The admin listener (`--admin-addr`): probes and metrics.
    pub admin: Option<tokio::net::TcpListener>,
}

/// The application of the moment.
pub(super) struct Current(RwLock<Arc<Application>>);

impl Current {
    pub(super) fn new(app: Application) -> Self {
        Self(RwLock::new(Arc::new(app)))
    }

    /// The application a new request runs on, to its end.
    pub(super) fn get(&self) -> Arc<Application> {
        // The lock is held only to clone or replace the Arc, which cannot panic.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, app: Application) {
        // The old application is dropped by the last request holding it, not here;
        // its spare instances now, off the async threads (dropping a large instance
        // resets its memory).
        let old = std::mem::replace(
            &mut *self.0.write().unwrap_or_else(PoisonError::into_inner),
            Arc::new(app),
        );
        tokio::task::spawn_blocking(move || old.retire());
    }
}

/// Records the first load in the metrics.
pub(super) fn first_load(path: &Path, took: Duration) {
    crate::metrics::count(|m| m.loaded(&digest(path), took));
}

/// Reloads on each SIGHUP and, with `watch`, each change to the file, one reload at a
/// time (signals that arrive during a reload make one more), for as long as the
/// runtime runs.
pub(super) fn start(current: Arc<Current>, path: PathBuf, reload: Loader, watch: bool) {
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => Some(hangups),
        Err(e) => {
            tracing::warn!("cannot handle SIGHUP ({e}): it will stop the server");
            None
        }
    };
    let reload = Arc::new(reload);
    tokio::spawn(async move {
        let mut seen = watch.then(|| stamp(&path));
        let mut every = tokio::time::interval(WATCH_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let why = tokio::select! {
                Some(()) = async { hangups.as_mut()?.recv().await } => "SIGHUP",
                _ = every.tick(), if seen.is_some() => {
                    let now = stamp(&path);
                    if seen.as_ref() == Some(&now) {
                        continue;
                    }
                    // Noted before the load: a change during the load is seen next time.
                    seen = Some(now);
                    "the file changed"
                }
                else => return,
            };
            once(&current, &path, &reload, why).await;
        }
    });
}

/// One reload: load on a blocking thread, then swap in, or keep the old one.
async fn once(current: &Current, path: &Path, reload: &Arc<Loader>, why: &str) {
    tracing::info!("reloading {} ({why})", path.display());
    let started = Instant::now();
    let (load, file) = (reload.clone(), path.to_owned());
    let loaded = tokio::task::spawn_blocking(move || load().map(|app| (app, digest(&file))))
        .await
        .unwrap_or_else(|e| Err(format!("the load panicked: {e}")));
    let took = started.elapsed();
    match loaded {
        Ok((app, digest)) => {
            current.set(app);
            crate::metrics::count(|m| {
                m.reloaded(true);
                m.loaded(&digest, took);
            });
            tracing::info!(
                "reloaded {} in {took:.2?} ({digest}): new requests run on it",
                path.display()
            );
            let _ = tokio::task::spawn_blocking(super::accept::trim).await;
        }
        Err(e) => {
            crate::metrics::count(|m| m.reloaded(false));
            tracing::warn!("reload failed, the previous component keeps serving: {e}");
        }
    }
}

/// What `--watch` compares: the file's size and modification time (`None` while it
/// cannot be read: its reappearance is a change).
fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// `blake3:HEX` of the file, or `unknown` when it cannot be read (it was loaded, so
/// that is a race with its replacement; the metric says so rather than guess).
fn digest(path: &Path) -> String {
    let mut hasher = blake3::Hasher::new();
    match hasher.update_mmap(path) {
        Ok(_) => format!("blake3:{}", hasher.finalize().to_hex()),
        Err(_) => "unknown".to_owned(),
    }
}
