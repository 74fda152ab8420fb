//! Yields two empty chunks, then replaces its response through `exc_info`. That only
//! works because empty chunks do not send the headers (PEP 3333: "don't send headers
//! until body appears"; wsgiref would have sent them).

use wasgi_guest::{Environ, Error, Result, StartResponse};

fn app(
    _environ: Environ,
    start_response: StartResponse,
) -> Result<impl Iterator<Item = Result<&'static str>>> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    let mut step = 0;
    Ok(std::iter::from_fn(move || {
        step += 1;
        Some(match step {
            1 | 2 => Ok(""),
            3 => start_response
                .call_with_exc_info(
                    "404 Not Found",
                    [("Content-Type", "text/plain")],
                    &Error::msg("the item vanished while rendering"),
                )
                .map(|_| "not found\n")
                .map_err(Error::from),
            _ => return None,
        })
    }))
}

wasgi_guest::export!(app);
