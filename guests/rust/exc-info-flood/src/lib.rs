//! Hostile on purpose (exc_info misuse): before its headers, calls `start_response`
//! with an exc_info description of 1 MiB, 64 times over, each call replacing the
//! stored response (which PEP 3333 allows while nothing was sent), then answers `200`
//! with `survived\n`; on `/ok` it answers `ok\n` at once. The response is the last one
//! stored; the host logs each exc_info, and its log must stay bounded (a guest may not
//! write more than `--max-log` to the log by way of exc_info either).

use wasgi_guest::{Environ, Result, StartResponse};

/// How many times the guest reports its error.
const REPORTS: usize = 64;

fn app(environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    let headers = [("Content-Type", "text/plain")];
    start_response.call("200 OK", headers)?;
    if environ.path() == b"/ok" {
        return Ok(["ok\n"]);
    }
    let description = format!("exc-info-flood: {}", "x".repeat(1 << 20));
    for _ in 0..REPORTS {
        start_response.call_with_exc_info("200 OK", headers, &description)?;
    }
    Ok(["survived\n"])
}

wasgi_guest::export!(app);
