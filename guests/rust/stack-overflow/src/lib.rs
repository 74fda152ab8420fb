//! Hostile on purpose: recurses without bound before it calls `start_response`, on
//! every path but `/ok` (which answers `ok\n`). Wasm's call stack runs out, which is
//! a trap: the instance is torn down and the client gets the generic 500; the trap
//! ("call stack exhausted") goes to the log.

use std::io::Write as _;

use wasgi_guest::{Environ, Result, StartResponse};

/// Recurses `depth` times. Each level works on the result of the one below (no
/// accumulator the optimizer could turn into a loop) and keeps nothing in linear
/// memory, so the frames are wasm frames: called with `u64::MAX`, wasm's own call
/// stack runs out first.
#[inline(never)]
fn dive(depth: u64) -> u64 {
    if depth == 0 {
        return 0;
    }
    dive(depth - 1).rotate_left(7) ^ depth
}

fn app(environ: Environ, start_response: StartResponse) -> Result<[String; 1]> {
    if environ.path() == b"/ok" {
        start_response.call("200 OK", [("Content-Type", "text/plain")])?;
        return Ok(["ok\n".to_owned()]);
    }
    let _ = writeln!(wasgi_guest::errors(), "stack-overflow: diving");
    let depth = dive(std::hint::black_box(u64::MAX));
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok([format!("reached the bottom at {depth}\n")])
}

wasgi_guest::export!(app);
