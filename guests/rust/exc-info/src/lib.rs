//! Exc-info: error handling the PEP 3333 way, byte for byte as the exc-info guest of
//! every other language (the conformance suite's `exc-info` behaviour).
//!
//! - `/` starts a 200, fails, and replaces it with an error page through
//!   `start_response` with `exc_info`: possible because no body was sent yet.
//! - `/after-headers` sends part of the body, fails, and calls `start_response` with
//!   `exc_info` again: the headers are gone, so the gateway refuses, the response is
//!   aborted, and the app propagates the refusal (PEP 3333's re-raise).
//! - `/unhandled` fails before any headers: the server's 500.

use wasgi_guest::{Environ, Error, Result, StartResponse};

const TEXT: [(&str, &str); 1] = [("Content-Type", "text/plain")];

type Body = Box<dyn Iterator<Item = Result<&'static str>>>;

fn after_headers(start_response: StartResponse) -> Result<Body> {
    start_response.call("200 OK", TEXT)?;
    let mut step = 0;
    Ok(Box::new(std::iter::from_fn(move || {
        step += 1;
        match step {
            1 => Some(Ok("partial body\n")),
            2 => {
                let failure = Error::msg("Boom: failed mid-body");
                let refused =
                    start_response.call_with_exc_info("500 Internal Server Error", TEXT, &failure);
                Some(refused.map(|_| "never sent\n").map_err(Error::from))
            }
            _ => None,
        }
    })))
}

fn app(environ: Environ, start_response: StartResponse) -> Result<Body> {
    match environ.path() {
        b"/after-headers" => after_headers(start_response),
        b"/unhandled" => Err(Error::msg("Boom: unhandled before the headers")),
        _ => {
            start_response.call("200 OK", TEXT)?;
            let failure = Error::msg("Boom: failed before the body");
            start_response.call_with_exc_info("500 Internal Server Error", TEXT, &failure)?;
            Ok(Box::new(std::iter::once(Ok(
                "error page: failed before the body\n",
            ))))
        }
    }
}

wasgi_guest::export!(app);
