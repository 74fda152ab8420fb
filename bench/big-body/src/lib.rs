//! Big body: `?chunks=N` (default 16384, 1 GiB) chunks of 64 KiB, each yielded only when
//! the host asks for the next. bench/run.sh (P4) streams it to /dev/null beside `cat`.
//! Lives with the benchmarks, not in guests/: it is a load, not an example or a rule.

use wasgi_guest::{Environ, Result, StartResponse};

/// One chunk's bytes.
static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

fn big_body(
    environ: Environ,
    start_response: StartResponse,
) -> Result<impl Iterator<Item = &'static [u8]>> {
    let chunks = match environ.query_param("chunks") {
        Some(n) => String::from_utf8_lossy(&n)
            .parse()
            .map_err(wasgi_guest::Error::from)?,
        None => 16 * 1024,
    };
    start_response.call("200 OK", [("Content-Type", "application/octet-stream")])?;
    Ok(std::iter::repeat_n(&CHUNK[..], chunks))
}

wasgi_guest::export!(big_body);
