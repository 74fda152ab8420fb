//! Uses `exc_info` as PEP 3333 intends: after `start_response("200 OK")` something
//! fails before any body went out, so the app calls `start_response` again with
//! `exc_info` and an error page replaces the stored response.

use wasgi_guest::{Environ, Error, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call("200 OK", [("Content-Type", "text/html")])?;
    let failure = Error::msg("template rendering failed");
    start_response.call_with_exc_info(
        "503 Service Unavailable",
        [("Content-Type", "text/plain"), ("Retry-After", "5")],
        &failure,
    )?;
    Ok(["try again soon\n"])
}

wasgi_guest::export!(app);
