//! Breaks a rule on purpose: calls `write()` before `start_response()`. The gateway
//! refuses; the app propagates the refusal, which gives a 500.

use wasgi_guest::{Environ, Result, StartResponse, raw};

fn app(_environ: Environ, start_response: StartResponse) -> Result<Vec<Vec<u8>>> {
    raw::write(b"too early")?;
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Vec::new())
}

wasgi_guest::export!(app);
