//! Answers `200 OK` with a body and no Content-Type: the gateway lets it through,
//! `wsgiref.validate` asserts against it (`wasgi check`: `no-content-type`).

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call("200 OK", [("X-Kind", "untyped")])?;
    Ok(["what am I?\n"])
}

wasgi_guest::export!(app);
