//! Hostile on purpose: calls `start_response` with one header whose value is 1 MiB, on
//! every path but `/ok` (which answers `ok\n`). The host refuses it at its header-size
//! limit (`--max-response-header-bytes`, default 64 KiB); the app propagates the
//! refusal and the client gets the generic 500.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    if environ.path() == b"/ok" {
        start_response.call("200 OK", [("Content-Type", "text/plain")])?;
        return Ok(["ok\n"]);
    }
    let value = "v".repeat(1 << 20);
    start_response.call(
        "200 OK",
        [("Content-Type", "text/plain"), ("X-Huge", value.as_str())],
    )?;
    Ok(["unreachable\n"])
}

wasgi_guest::export!(app);
