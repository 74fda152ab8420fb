//! Answers `204 No Content` with a Content-Type, which a response with no body has no
//! use for (`wasgi check`: `content-type-without-body`).

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 0]> {
    start_response.call("204 No Content", [("Content-Type", "text/plain")])?;
    Ok([])
}

wasgi_guest::export!(app);
