//! Hostile on purpose: sends its headers and a first chunk, then loops forever inside
//! `next()`, on every path but `/ok` (which answers `ok\n` at once, to show the server
//! still serves while the loop runs). The host's time limit (`--timeout`) stops it; the
//! headers already went out, so the response is aborted and the log names the limit.

use std::io::Write as _;

use wasgi_guest::{Environ, Result, StartResponse};

fn app(
    environ: Environ,
    start_response: StartResponse,
) -> Result<Box<dyn Iterator<Item = &'static str>>> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    if environ.path() == b"/ok" {
        return Ok(Box::new(std::iter::once("ok\n")));
    }
    let mut sent = false;
    Ok(Box::new(std::iter::from_fn(move || {
        if !sent {
            sent = true;
            return Some("first\n");
        }
        let _ = writeln!(wasgi_guest::errors(), "infinite-loop-mid-body: spinning");
        let mut spins: u64 = 0;
        loop {
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
    })))
}

wasgi_guest::export!(app);
