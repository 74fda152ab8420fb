//! Hello, World! The smallest wasgi application.

use wasgi_guest::{Environ, Result, StartResponse};

fn hello(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok(["Hello, World!\n"])
}

wasgi_guest::export!(hello);
