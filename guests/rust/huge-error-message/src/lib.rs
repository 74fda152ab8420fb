//! Hostile on purpose: the entry point returns an error whose message is 64 MiB, on
//! every path but `/ok` (which answers `ok\n`). The client gets the generic 500; the
//! message goes to the host's log, which must stay bounded (a guest may not write more
//! than `--max-log` to the log by way of its errors either).

use wasgi_guest::{Environ, Error, Result, StartResponse};

/// The size of the error message.
const MESSAGE: usize = 64 << 20;

fn app(environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    if environ.path() != b"/ok" {
        return Err(Error::msg(format!(
            "huge-error-message: {}",
            "e".repeat(MESSAGE)
        )));
    }
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok(["ok\n"])
}

wasgi_guest::export!(app);
