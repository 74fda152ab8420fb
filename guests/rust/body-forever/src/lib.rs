//! Hostile on purpose: a body that never ends, 64 KiB chunks of `x` for ever, on every
//! path but `/ok` (which answers `ok\n`). The host's output limit (`--max-output`) ends
//! it: the headers already went out, so the response is aborted (never complete) and
//! the log names the limit.

use wasgi_guest::{Environ, Result, StartResponse};

/// The size of each chunk.
const CHUNK: usize = 64 << 10;

fn app(
    environ: Environ,
    start_response: StartResponse,
) -> Result<Box<dyn Iterator<Item = Vec<u8>>>> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    if environ.path() == b"/ok" {
        return Ok(Box::new(std::iter::once(b"ok\n".to_vec())));
    }
    Ok(Box::new(std::iter::repeat_with(|| vec![b'x'; CHUNK])))
}

wasgi_guest::export!(app);
