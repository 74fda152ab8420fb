//! Calls `start_response` with `exc_info` after the headers went out. The status can
//! no longer change: the gateway refuses with headers-already-sent and aborts the
//! response; the app propagates the refusal (PEP 3333's re-raise).

use std::io::Write as _;

use wasgi_guest::{Environ, Error, Result, StartResponse};

fn app(
    _environ: Environ,
    start_response: StartResponse,
) -> Result<impl Iterator<Item = Result<&'static str>>> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    let mut step = 0;
    let body = std::iter::from_fn(move || {
        step += 1;
        match step {
            1 => Some(Ok("partial\n")),
            2 => {
                let failure = Error::msg("lost the database half-way");
                let refused = start_response.call_with_exc_info(
                    "500 Internal Server Error",
                    [("Content-Type", "text/plain")],
                    &failure,
                );
                Some(refused.map(|_| "error page\n").map_err(Error::from))
            }
            _ => None,
        }
    });
    Ok(wasgi_guest::with_close(body, || {
        let _ = writeln!(wasgi_guest::errors(), "exc-info-after-headers: body closed");
    }))
}

wasgi_guest::export!(app);
