//! Sends a header whose value holds a byte past ASCII (`é` in latin-1): it crosses the
//! gateway intact, but clients read such bytes differently (`wasgi check`:
//! `non-ascii-header-value`).

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call(
        "200 OK",
        [
            ("Content-Type", &b"text/plain"[..]),
            ("X-Greeting", &b"caf\xe9"[..]),
        ],
    )?;
    Ok(["bonjour\n"])
}

wasgi_guest::export!(app);
