//! Breaks a rule on purpose: calls `write()` from `close()`, after the body ended.
//! The gateway refuses (output-closed) and the response stays as it was.

use std::io::Write as _;

use wasgi_guest::{Environ, Result, StartResponse};

fn app(
    _environ: Environ,
    start_response: StartResponse,
) -> Result<impl Iterator<Item = &'static str>> {
    let write = start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok(wasgi_guest::with_close(["complete body\n"], move || {
        let refused = write.write("smuggled after close\n");
        let _ = writeln!(
            wasgi_guest::errors(),
            "write-after-close: write in close gave {refused:?}"
        );
    }))
}

wasgi_guest::export!(app);
