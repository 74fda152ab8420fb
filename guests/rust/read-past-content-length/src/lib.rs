//! Hostile on purpose: reads wsgi.input to its end asking for `u32::MAX` bytes a time,
//! then reads 1000 times more past the end, on every path but `/ok` (which answers
//! `ok\n`). The host never reads past CONTENT_LENGTH (and never allocates what the guest
//! asks for, only what it has): the guest answers `200` with what it got, exactly the
//! request body and then nothing.

use wasgi_guest::{Environ, Result, StartResponse};

/// Reads past the end of the input.
const EXTRA_READS: usize = 1000;

fn app(environ: Environ, start_response: StartResponse) -> Result<[String; 1]> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    if environ.path() == b"/ok" {
        return Ok(["ok\n".to_owned()]);
    }
    let mut input = environ.input();
    let mut body = Vec::new();
    loop {
        let chunk = input.read_chunk(u32::MAX)?;
        if chunk.is_empty() {
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let mut extra = 0;
    for _ in 0..EXTRA_READS {
        extra += input.read_chunk(u32::MAX)?.len();
    }
    Ok([format!(
        "read {} bytes {:?}, then {EXTRA_READS} reads past the end gave {extra} bytes\n",
        body.len(),
        String::from_utf8_lossy(&body),
    )])
}

wasgi_guest::export!(app);
