//! Hostile on purpose: its body yields a first chunk, then recurses without bound inside
//! the next `next()`, on every path but `/ok` (which answers `ok\n`). Each level keeps a
//! frame in linear memory (Rust's shadow stack), which runs out below address 0: a
//! trap ("out of bounds memory access") after the headers went out. The response is
//! aborted, never completed, and the trap goes to the log.

use wasgi_guest::{Environ, Result, StartResponse};

/// The body: each call to `next` after the first descends one level deeper, for ever.
struct Deeper {
    sent: bool,
}

impl Deeper {
    /// One more level: a frame the optimizer cannot fold away, then the next level.
    fn level(&mut self, depth: u64) -> Option<String> {
        let frame = std::hint::black_box([depth; 64]);
        if depth == 0 {
            return Some(format!("{}\n", frame[0]));
        }
        self.level(depth - 1)
            .map(|line| format!("{line}{}", frame[63]))
    }
}

impl Iterator for Deeper {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        if !self.sent {
            self.sent = true;
            return Some("first\n".to_owned());
        }
        self.level(std::hint::black_box(u64::MAX))
    }
}

fn app(
    environ: Environ,
    start_response: StartResponse,
) -> Result<Box<dyn Iterator<Item = String>>> {
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    if environ.path() == b"/ok" {
        return Ok(Box::new(std::iter::once("ok\n".to_owned())));
    }
    Ok(Box::new(Deeper { sent: false }))
}

wasgi_guest::export!(app);
