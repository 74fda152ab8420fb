//! Empty: a response with no body. The headers go out when the body ends.

use wasgi_guest::{Environ, Result, StartResponse};

fn empty(_environ: Environ, start_response: StartResponse) -> Result<Vec<Vec<u8>>> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Vec::new())
}

wasgi_guest::export!(empty);
