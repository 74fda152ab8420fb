//! Fails before its headers went out. The gateway logs the error and sends its generic
//! 500; the error's text never reaches the client.

use wasgi_guest::{Environ, Error, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Err(Error::msg("database password rejected for user admin"))
}

wasgi_guest::export!(app);
