//! Hostile on purpose: sends a first chunk, then yields a single chunk of 1 GiB, on
//! every path but `/ok` (which answers `ok\n`). The host's output limit
//! (`--max-output`) refuses the chunk: the headers already went out, so the response
//! is aborted and the log names the limit. (The guest needs more than 1 GiB of memory:
//! run it with a `--max-memory` above that.)

use wasgi_guest::{Environ, Result, StartResponse};

/// The size of the big chunk.
const GIB: usize = 1 << 30;

fn app(
    environ: Environ,
    start_response: StartResponse,
) -> Result<Box<dyn Iterator<Item = Vec<u8>>>> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    if environ.path() == b"/ok" {
        return Ok(Box::new(std::iter::once(b"ok\n".to_vec())));
    }
    let mut step = 0;
    Ok(Box::new(std::iter::from_fn(move || {
        step += 1;
        match step {
            1 => Some(b"first\n".to_vec()),
            2 => Some(vec![b'x'; GIB]),
            _ => None,
        }
    })))
}

wasgi_guest::export!(app);
