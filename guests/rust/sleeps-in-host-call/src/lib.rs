//! Hostile on purpose: sleeps for an hour before its headers, on every path but `/ok`
//! (which answers `ok\n`). The sleep is a host call (a WASI clock pollable), not guest
//! code, so no instruction of the guest runs while it waits. The host's time limit
//! (`--timeout`) must still stop it: the client gets the generic 500 and the log names
//! the limit.

use std::io::Write as _;
use std::time::Duration;

use wasgi_guest::{Environ, Result, StartResponse};

fn app(environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    if environ.path() != b"/ok" {
        let _ = writeln!(wasgi_guest::errors(), "sleeps-in-host-call: sleeping");
        std::thread::sleep(Duration::from_secs(3600));
    }
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok(["ok\n"])
}

wasgi_guest::export!(app);
