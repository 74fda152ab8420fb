//! Fails after its first chunk went out. The status cannot change, so the gateway
//! aborts the response; the body is still closed.

use std::io::Write as _;

use wasgi_guest::{Environ, Error, Result, StartResponse};

fn app(
    _environ: Environ,
    start_response: StartResponse,
) -> Result<impl Iterator<Item = Result<&'static str>>> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    let chunks = [
        Ok("first\n"),
        Err(Error::msg("disk read failed")),
        Ok("never sent\n"),
    ];
    Ok(wasgi_guest::with_close(chunks, || {
        let _ = writeln!(wasgi_guest::errors(), "error-mid-body: body closed");
    }))
}

wasgi_guest::export!(app);
