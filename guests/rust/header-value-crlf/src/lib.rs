//! Breaks a rule on purpose: a header value holding CR LF, the response-splitting
//! attack. The gateway refuses it (invalid-header); the app propagates the refusal.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call(
        "200 OK",
        [
            ("Content-Type", "text/plain"),
            ("X-Next", "a\r\nSet-Cookie: session=stolen"),
        ],
    )?;
    Ok(["unreachable\n"])
}

wasgi_guest::export!(app);
