//! Breaks a rule on purpose: the status `200OK` is not `NNN reason`. The gateway
//! refuses it (invalid-status); the app propagates the refusal, which gives a 500.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call("200OK", [("Content-Type", "text/plain")])?;
    Ok(["unreachable\n"])
}

wasgi_guest::export!(app);
