//! Hostile on purpose: calls `start_response` with a status line of 1 MiB (a valid
//! code and a reason phrase a mebibyte long), on every path but `/ok` (which answers
//! `ok\n`). The host refuses it at its header-size limit
//! (`--max-response-header-bytes`, default 64 KiB, status line included); the app
//! propagates the refusal and the client gets the generic 500.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    if environ.path() == b"/ok" {
        start_response.call("200 OK", [("Content-Type", "text/plain")])?;
        return Ok(["ok\n"]);
    }
    let status = format!("200 {}", "O".repeat(1 << 20));
    start_response.call(status, [("Content-Type", "text/plain")])?;
    Ok(["unreachable\n"])
}

wasgi_guest::export!(app);
