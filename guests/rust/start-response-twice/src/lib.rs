//! Breaks a rule on purpose: calls `start_response()` a second time without
//! `exc_info`. The gateway refuses ("headers already set"); the app propagates it.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    start_response.call("404 Not Found", [("Content-Type", "text/plain")])?;
    Ok(["unreachable\n"])
}

wasgi_guest::export!(app);
