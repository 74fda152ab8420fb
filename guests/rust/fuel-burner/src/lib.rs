//! Hostile on purpose: a pure computation of 2^40 steps (hours of CPU) that calls
//! nothing and checks nothing, before its headers, on every path but `/ok` (which
//! answers `ok\n`). The host's CPU budget (`--fuel`) runs out first: the guest traps,
//! the client gets the generic 500 and the log names the limit.

use std::io::Write as _;

use wasgi_guest::{Environ, Result, StartResponse};

fn app(environ: Environ, start_response: StartResponse) -> Result<[String; 1]> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    if environ.path() == b"/ok" {
        return Ok(["ok\n".to_owned()]);
    }
    let _ = writeln!(wasgi_guest::errors(), "fuel-burner: burning");
    let mut state: u64 = 1;
    for _ in 0..std::hint::black_box(1u64 << 40) {
        state = std::hint::black_box(
            state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
    Ok([format!("burned down to {state}\n")])
}

wasgi_guest::export!(app);
