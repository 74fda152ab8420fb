//! Echo: streams the request body back as it arrives. Each piece the client sends is
//! one chunk of the response, so the first bytes go back before the last arrive.

use wasgi_guest::{Environ, GatewayError, Result, StartResponse};

fn echo(
    environ: Environ,
    start_response: StartResponse,
) -> Result<impl Iterator<Item = Result<Vec<u8>, GatewayError>>> {
    let content_type = environ
        .get("CONTENT_TYPE")
        .filter(|t| !t.is_empty())
        .unwrap_or(b"application/octet-stream");
    start_response.call("200 OK", [("Content-Type", content_type)])?;
    Ok(environ.input().chunks(64 * 1024))
}

wasgi_guest::export!(echo);
