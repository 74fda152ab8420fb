//! Sandbox probe: tries to reach what a guest gets only by grant, and says what
//! happened, one line. The query string is the target:
//! - `/read?PATH`: read the file at PATH → `read N bytes: FIRST-LINE`
//! - `/write?PATH`: create and write the file at PATH → `wrote PATH`
//! - `/env?NAME`: the guest's environment variable NAME → `NAME=VALUE`
//! - `/connect?IP:PORT`: open a TCP connection → `connected to IP:PORT`
//! - `/recv?IP:PORT`: open a TCP connection and read from it (blocking) until the peer
//!   sends a line or closes → `received: LINE`
//!
//! A refusal answers `denied: ERROR`. Always 200: the test reads the line.

use std::io::Write as _;

use wasgi_guest::{Environ, Result, StartResponse};

fn probe(environ: Environ, start_response: StartResponse) -> Result<[String; 1]> {
    let target = String::from_utf8_lossy(environ.query()).into_owned();
    let outcome = match environ.path() {
        b"/read" => std::fs::read(&target).map(|bytes| {
            let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
            format!(
                "read {} bytes: {}",
                bytes.len(),
                String::from_utf8_lossy(first)
            )
        }),
        b"/write" => std::fs::File::create(&target)
            .and_then(|mut file| file.write_all(b"written by the guest\n"))
            .map(|()| format!("wrote {target}")),
        b"/env" => std::env::var(&target)
            .map(|value| format!("{target}={value}"))
            .map_err(std::io::Error::other),
        b"/connect" => {
            std::net::TcpStream::connect(&target).map(|_| format!("connected to {target}"))
        }
        b"/recv" => std::net::TcpStream::connect(&target).and_then(|stream| {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut line)
                .map(|_| format!("received: {}", line.trim_end()))
        }),
        other => Err(std::io::Error::other(format!(
            "unknown probe {}",
            String::from_utf8_lossy(other)
        ))),
    };
    let line = match outcome {
        Ok(done) => done,
        Err(e) => format!("denied: {e}"),
    };
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok([line + "\n"])
}

wasgi_guest::export!(probe);
