//! Hostile on purpose: loops forever before its headers, on every path but `/ok`
//! (which answers at once, to show the server still serves while a loop runs). The
//! host's time limit (`--timeout`) stops it: a 500, and a log line naming the limit.

use std::io::Write as _;

use wasgi_guest::{Environ, Result, StartResponse};

fn app(environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    if environ.path() != b"/ok" {
        let _ = writeln!(
            wasgi_guest::errors(),
            "infinite-loop-before-headers: spinning"
        );
    }
    let mut spins: u64 = 0;
    while environ.path() != b"/ok" {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok(["ok\n"])
}

wasgi_guest::export!(app);
