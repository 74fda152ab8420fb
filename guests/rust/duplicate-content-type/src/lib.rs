//! Sends two Content-Type headers: not a list, so a client picks one of them, which
//! one it pleases (`wasgi check`: `duplicate-header`).

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call(
        "200 OK",
        [
            ("Content-Type", "text/plain"),
            ("Content-Type", "text/html"),
        ],
    )?;
    Ok(["<p>plain or html?</p>\n"])
}

wasgi_guest::export!(app);
