//! Traps before its headers went out: the gateway sends its generic 500 and logs the
//! trap, whose text never reaches the client.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    if environ.get("HTTP_X_API_KEY").is_none() {
        panic!("secret-api-key-1234 was rejected upstream");
    }
    Ok(["authorized\n"])
}

wasgi_guest::export!(app);
