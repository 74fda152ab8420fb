//! Sleeps the milliseconds its query names (`?ms=N`, 0 without) before it answers:
//! a request that takes most of its `--timeout` (`wasgi check`: `slow-request`).

use std::time::Duration;

use wasgi_guest::{Environ, Error, Result, StartResponse};

fn app(environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    let ms: u64 = match environ.query_param("ms") {
        Some(ms) => String::from_utf8_lossy(&ms).parse().map_err(Error::from)?,
        None => 0,
    };
    std::thread::sleep(Duration::from_millis(ms));
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok(["awake\n"])
}

wasgi_guest::export!(app);
