//! Breaks a rule on purpose: sends `Connection: close`, a hop-by-hop header that only
//! the server may send. The gateway refuses it; the app propagates the refusal.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call(
        "200 OK",
        [("Content-Type", "text/plain"), ("Connection", "close")],
    )?;
    Ok(["unreachable\n"])
}

wasgi_guest::export!(app);
