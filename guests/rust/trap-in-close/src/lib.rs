//! Traps in `close()`: every chunk went out, then the body's close panics. The
//! failure must stay visible: the response is aborted, never reported complete.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(
    _environ: Environ,
    start_response: StartResponse,
) -> Result<impl Iterator<Item = &'static str>> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok(wasgi_guest::with_close(["all of the body\n"], || {
        panic!("connection pool poisoned while closing");
    }))
}

wasgi_guest::export!(app);
