//! Signals while serving, beyond the first SIGINT or SIGTERM (which starts the graceful
//! stop): a second SIGINT or SIGTERM during the graceful stop ends the process at once.
//! (SIGHUP reloads: see `reload`.)

use tokio::signal::unix::{SignalKind, signal};

/// Exit status after a second stop signal: 128 + the signal's number, as a shell
/// reports a program that signal ended (130 for SIGINT, 143 for SIGTERM).
pub(super) fn forced_exit_status(signal: i32) -> i32 {
    128 + signal
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
