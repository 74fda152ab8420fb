//! Hostile on purpose: sends a first chunk, then allocates 16 MiB blocks, touching
//! each, until memory runs out, on every path but `/ok` (which answers `ok\n`). The
//! host's memory cap (`--max-memory`) refuses the growth and the guest aborts (a trap)
//! after the headers went out: the response is aborted and the log names the limit.

use wasgi_guest::{Environ, Result, StartResponse};

/// Allocates until the allocator gives up (the guest aborts), or 16 GiB were taken.
fn hoard() -> Option<String> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    while hoard.len() < 1024 {
        hoard.push(vec![1; 16 << 20]);
    }
    Some(format!("hoarded {} blocks\n", hoard.len()))
}

fn app(
    environ: Environ,
    start_response: StartResponse,
) -> Result<Box<dyn Iterator<Item = String>>> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    if environ.path() == b"/ok" {
        return Ok(Box::new(std::iter::once("ok\n".to_owned())));
    }
    let mut step = 0;
    Ok(Box::new(std::iter::from_fn(move || {
        step += 1;
        match step {
            1 => Some("first\n".to_owned()),
            2 => hoard(),
            _ => None,
        }
    })))
}

wasgi_guest::export!(app);
