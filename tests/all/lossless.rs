//! Nothing lost (issue #5 §4): 1 GiB of pseudo-random bytes streamed through the echo
//! guest comes back with the same SHA-256, in `wasgi run` and in `wasgi serve`, without
//! either side ever holding the whole of it; and a response of 100 000 small chunks
//! arrives complete and in order, in both.
//!
//! The data is generated and hashed as it goes (a writer thread feeds the request, the
//! test thread hashes the response as it arrives), so the test itself stays small in
//! memory. Each 1 GiB test prints how long it took (the test never asserts a time).

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Instant;

use crate::guests::*;
use crate::util::*;
use sha2::{Digest, Sha256};

/// What goes through the echo guest: 1 GiB.
const TOTAL: u64 = 1 << 30;

/// Writes [`TOTAL`] pseudo-random bytes (xorshift64*, fixed seed) to `to`, in 64 KiB
/// pieces, and returns their SHA-256.
fn send_random(mut to: impl Write) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 64 << 10];
    let mut sent = 0;
    while sent < TOTAL {
        for word in block.chunks_exact_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        hasher.update(&block);
        to.write_all(&block).expect("send the body");
        sent += block.len() as u64;
    }
    to.flush().expect("flush the body");
    hasher.finalize().into()
}

/// Reads `from` to its end; returns the byte count and SHA-256 of what came.
fn hash_all(mut from: impl Read) -> (u64, [u8; 32]) {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0;
    loop {
        let n = from.read(&mut buf).expect("read the response");
        if n == 0 {
            return (total, hasher.finalize().into());
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

/// Reads a response head (up to and including the blank line) from `from`.
fn read_head(from: &mut impl BufRead) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        from.read_line(&mut line).expect("read the head");
        assert!(!line.is_empty(), "the response ended in its head: {head}");
        head.push_str(&line);
        if line == "\r\n" {
            return head;
        }
    }
}

/// Decodes an HTTP/1.1 chunked body as it arrives, handing each piece to `sink`;
/// fails the test if the body ends without its last chunk.
fn dechunk(from: &mut impl BufRead, mut sink: impl FnMut(&[u8])) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let mut line = String::new();
        from.read_line(&mut line).expect("read a chunk size");
        let size = u64::from_str_radix(line.trim_end(), 16)
            .unwrap_or_else(|_| panic!("not a chunk size: {line:?}"));
        let mut left = size;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            from.read_exact(&mut buf[..want]).expect("read a chunk");
            sink(&buf[..want]);
            left -= want as u64;
        }
        let mut end = [0u8; 2];
        from.read_exact(&mut end).expect("read a chunk's end");
        assert_eq!(&end, b"\r\n");
        if size == 0 {
            return;
        }
    }
}

#[test]
fn a_gib_through_echo_in_run_keeps_every_byte() {
    let started = Instant::now();
    let mut child = wasgi()
        .arg("run")
        .arg(ECHO)
        .env("CONTENT_LENGTH", TOTAL.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("failed to start wasgi run");
    let stdin = child.stdin.take().expect("stdin");
    let sender = std::thread::spawn(move || send_random(stdin));
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    assert_eq!(
        read_head(&mut stdout),
        "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let (received, got) = hash_all(stdout);
    let sent = sender.join().expect("the sender");
    let out = wait(child);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(received, TOTAL);
    assert_eq!(
        got, sent,
        "SHA-256 of the response differs from the request's"
    );
    eprintln!("1 GiB through echo in wasgi run: {:?}", started.elapsed());
}

#[test]
fn a_gib_through_echo_in_serve_keeps_every_byte() {
    // A body of 1 GiB is past serve's defaults (10 MiB of body, 30 s a request).
    let total = TOTAL.to_string();
    let server = Server::start(ECHO, &["--max-body-bytes", &total, "--timeout", "300"]);
    let started = Instant::now();
    let mut stream = server.connect();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {TOTAL}\r\n\r\n"
    )
    .expect("send the head");
    let upload = stream.try_clone().expect("clone the socket");
    let sender = std::thread::spawn(move || send_random(upload));
    let mut from = BufReader::new(stream);
    let head = read_head(&mut from);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
    let mut hasher = Sha256::new();
    let mut received = 0;
    dechunk(&mut from, |piece| {
        hasher.update(piece);
        received += piece.len() as u64;
    });
    let sent = sender.join().expect("the sender");
    assert_eq!(received, TOTAL);
    assert_eq!(
        <[u8; 32]>::from(hasher.finalize()),
        sent,
        "SHA-256 of the response differs from the request's"
    );
    eprintln!("1 GiB through echo in wasgi serve: {:?}", started.elapsed());
    server.wait_for_log("completed");
}

/// What the stream guest sends for `?n=100000`.
fn hundred_thousand_lines() -> Vec<u8> {
    (1..=100_000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect()
}

#[test]
fn a_hundred_thousand_small_chunks_arrive_complete_and_in_order_in_run() {
    let out = wasgi_run(STREAM, &["--path", "/?n=100000"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        body(&out.stdout) == hundred_thousand_lines(),
        "body differs"
    );
    assert_logged(&out, "stream: closed after 100000 of 100000 lines");
}

#[test]
fn a_hundred_thousand_small_chunks_arrive_complete_and_in_order_in_serve() {
    let server = Server::start(STREAM, &[]);
    let r = server.get("/?n=100000");
    assert_eq!(r.status, 200);
    let got = r.body.expect("a whole body");
    assert!(got == hundred_thousand_lines(), "body differs");
    server.wait_for_log("stream: closed after 100000 of 100000 lines");
}
