//! Stream: yields `n` numbered lines (query `?n=`, default 10), one chunk each,
//! produced only when the host asks for the next. Logs how far it got when closed.

use std::io::Write as _;

use wasgi_guest::{Environ, Result, StartResponse};

struct Lines {
    sent: u64,
    total: u64,
}

impl Iterator for Lines {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        (self.sent < self.total).then(|| {
            self.sent += 1;
            format!("line {}\n", self.sent)
        })
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = writeln!(
            wasgi_guest::errors(),
            "stream: closed after {} of {} lines",
            self.sent,
            self.total
        );
    }
}

fn stream(environ: Environ, start_response: StartResponse) -> Result<Lines> {
    let total = match environ.query_param("n") {
        Some(n) => String::from_utf8_lossy(&n)
            .parse()
            .map_err(wasgi_guest::Error::from)?,
        None => 10,
    };
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Lines { sent: 0, total })
}

wasgi_guest::export!(stream);
