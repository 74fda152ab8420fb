//! Hostile on purpose: asks the host for its stdout stream ten million times and keeps
//! every handle, before its headers, on every path but `/ok` (which answers `ok\n`).
//! Each handle is an entry in the host's resource table; the host's cap
//! (`--max-resources`, default 1000) stops it: the guest traps, the client gets the
//! generic 500 and the log names the limit.

use std::io::Write as _;

use wasgi_guest::{Environ, Result, StartResponse};

/// How many handles the guest tries to hold.
const WANT: usize = 10_000_000;

fn app(environ: Environ, start_response: StartResponse) -> Result<[String; 1]> {
    if environ.path() == b"/ok" {
        start_response.call("200 OK", [("Content-Type", "text/plain")])?;
        return Ok(["ok\n".to_owned()]);
    }
    let _ = writeln!(wasgi_guest::errors(), "resource-hog: hoarding");
    let held: Vec<_> = (0..WANT).map(|_| wasi::cli::stdout::get_stdout()).collect();
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok([format!("holding {} streams\n", held.len())])
}

wasgi_guest::export!(app);
