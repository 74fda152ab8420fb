//! Answers with the status `200 ` (a code, a space, no reason phrase): the gateway
//! takes it, PEP 3333 wants a reason phrase (`wasgi check`: `no-reason-phrase`).

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call("200 ", [("Content-Type", "text/plain")])?;
    Ok(["no reason\n"])
}

wasgi_guest::export!(app);
