//! Traps after its first chunk went out: a panic in a guest built with
//! `panic = "abort"` is a wasm trap. The instance is torn down and the response
//! aborted.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(
    _environ: Environ,
    start_response: StartResponse,
) -> Result<impl Iterator<Item = &'static str>> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    let mut step = 0;
    Ok(std::iter::from_fn(move || {
        step += 1;
        assert!(step < 2, "index out of range in the page renderer");
        Some("first\n")
    }))
}

wasgi_guest::export!(app);
