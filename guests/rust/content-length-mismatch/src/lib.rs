//! Breaks a rule on purpose: declares `Content-Length: 100` and sends 11 bytes. A body
//! that does not match its Content-Length is aborted, never passed on as complete.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", "100")],
    )?;
    Ok(["short body\n"])
}

wasgi_guest::export!(app);
