//! Sends two `Set-Cookie` headers around another header: the gateway keeps both, in
//! order, on their own lines.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    start_response.call(
        "200 OK",
        [
            ("Set-Cookie", "theme=dark; Path=/"),
            ("Content-Type", "text/plain"),
            ("Set-Cookie", "session=abc123; HttpOnly"),
        ],
    )?;
    Ok(["two cookies\n"])
}

wasgi_guest::export!(app);
