//! Breaks a rule on purpose: returns a body without ever calling `start_response`.
//! Its first non-empty chunk is refused and the gateway sends a 500.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, _start_response: StartResponse) -> Result<[&'static str; 2]> {
    Ok(["", "a body with no status\n"])
}

wasgi_guest::export!(app);
