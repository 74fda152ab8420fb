//! Hostile on purpose: calls `start_response` with 100 000 headers, on every path but
//! `/ok` (which answers `ok\n`). The host refuses the call at its header-count limit
//! (`--max-response-headers`, default 100), as for an invalid header; the app
//! propagates the refusal and the client gets the generic 500.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    if environ.path() == b"/ok" {
        start_response.call("200 OK", [("Content-Type", "text/plain")])?;
        return Ok(["ok\n"]);
    }
    let mut headers = vec![("Content-Type".to_owned(), "text/plain".to_owned())];
    headers.extend((0..100_000).map(|i| (format!("X-Bomb-{i}"), i.to_string())));
    start_response.call("200 OK", headers)?;
    Ok(["unreachable\n"])
}

wasgi_guest::export!(app);
