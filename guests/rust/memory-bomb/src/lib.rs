//! Hostile on purpose: allocates 16 MiB blocks, touching each, until memory runs out.
//! The host's memory cap (`--max-memory`) refuses the growth; the guest aborts, and the
//! client gets a 500.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[String; 1]> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1; 16 << 20]);
        if hoard.len() == 1024 {
            break;
        }
    }
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok([format!("hoarded {} blocks\n", hoard.len())])
}

wasgi_guest::export!(app);
