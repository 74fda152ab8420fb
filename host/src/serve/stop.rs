//! Signals while serving, beyond the first SIGINT or SIGTERM (which starts the graceful
//! stop): SIGHUP is logged and ignored, never fatal (its default action would kill the
//! server with requests in flight; reloading is for later), and a second SIGINT or
//! SIGTERM during the graceful stop ends the process at once.

use tokio::signal::unix::{SignalKind, signal};

/// Exit status after a second stop signal: 128 + the signal's number, as a shell
/// reports a program that signal ended (130 for SIGINT, 143 for SIGTERM).
pub(super) fn forced_exit_status(signal: i32) -> i32 {
    128 + signal
}

/// Makes SIGHUP harmless for the life of the process: each one is logged.
pub(super) fn ignore_hangups() {
    match signal(SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    tracing::info!(
                        "SIGHUP ignored: wasgi serve does not reload; SIGTERM or SIGINT stops it"
                    );
                }
            });
        }
        Err(e) => tracing::warn!("cannot handle SIGHUP ({e}): it will stop the server"),
    }
}

/// Resolves with the signal's number on the next SIGINT or SIGTERM; call it once the
/// graceful stop has begun, so the first signal is not counted again.
pub(super) async fn next_stop_signal() -> i32 {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => libc::SIGINT,
        _ = term.recv() => libc::SIGTERM,
    }
}
