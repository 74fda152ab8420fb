//! Breaks a rule on purpose: a header name holding LF (`X-Bad\nName`), on every path but
//! `/ok` (which answers `ok\n`). A name must be a token: the gateway refuses it
//! (invalid-header), the app propagates the refusal, and the client gets the generic
//! 500.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    if environ.path() == b"/ok" {
        start_response.call("200 OK", [("Content-Type", "text/plain")])?;
        return Ok(["ok\n"]);
    }
    start_response.call(
        "200 OK",
        [("Content-Type", "text/plain"), ("X-Bad\nName", "value")],
    )?;
    Ok(["unreachable\n"])
}

wasgi_guest::export!(app);
