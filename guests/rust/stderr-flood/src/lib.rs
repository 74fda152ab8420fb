//! Hostile on purpose: writes 64 MiB to its stderr (which goes to the host's log, never
//! the response), then answers `200` with `survived the flood\n`, on every path but
//! `/ok` (which answers `ok\n` at once). The host keeps the first `--max-log` bytes
//! (default 1 MiB) of a request's stdout and stderr, drops the rest with one log line
//! naming the limit, and the response is unaffected.

use std::io::Write as _;

use wasgi_guest::{Environ, Result, StartResponse};

/// What the guest writes: 64 MiB in lines of 64 bytes.
const FLOOD: usize = 64 << 20;

fn app(environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    if environ.path() == b"/ok" {
        return Ok(["ok\n"]);
    }
    let line = format!(
        "stderr-flood {}\n",
        "~".repeat(64 - "stderr-flood \n".len())
    );
    let block = line.repeat(1024);
    let mut out = std::io::stderr();
    for _ in 0..FLOOD / block.len() {
        // A host that refuses the rest is within its rights: keep going regardless.
        let _ = out.write_all(block.as_bytes());
    }
    Ok(["survived the flood\n"])
}

wasgi_guest::export!(app);
