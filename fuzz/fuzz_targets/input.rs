//! wsgi.input over an arbitrary byte source (short reads, interruptions, failures)
//! with an arbitrary CONTENT_LENGTH, read in arbitrary sizes: never more than asked,
//! never past CONTENT_LENGTH, bytes in order, and the reader untouched when nothing
//! may be read.

#![no_main]

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasgi_fuzz::{Digits, plain_decimal};
use wasgi_gateway::environ::Environ;
use wasgi_gateway::gateway::Violation;
use wasgi_gateway::input::{Input, MAX_READ};
use wasgi_gateway::response::ClientFault;

/// What the reader does on one call.
#[derive(Arbitrary, Clone, Debug)]
enum Step {
    /// Give at most this many bytes (at least one: a read of 0 is the end).
    Give(u16),
    Interrupted,
    TimedOut,
    TooLarge,
    Broken,
}

#[derive(Arbitrary, Debug)]
enum Length {
    Absent,
    Number(u32),
    Digits(Digits),
    Any(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Request {
    body: Vec<u8>,
    steps: Vec<Step>,
    length: Length,
    terminated: bool,
    reads: Vec<u32>,
}

/// One call the reader got: the size of the buffer, and what it returned.
type Call = (usize, Result<usize, io::ErrorKind>);

/// A scripted reader: gives `body` as the steps say (all it is asked once the steps
/// run out) and records every call.
struct Source {
    body: Vec<u8>,
    at: usize,
    steps: std::vec::IntoIter<Step>,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Source {
    fn step(&mut self, buf: &mut [u8]) -> Result<usize, io::ErrorKind> {
        let most = match self.steps.next() {
            None => buf.len(),
            Some(Step::Give(n)) => usize::from(n).clamp(1, buf.len()),
            Some(Step::Interrupted) => return Err(io::ErrorKind::Interrupted),
            Some(Step::TimedOut) => return Err(io::ErrorKind::TimedOut),
            Some(Step::TooLarge) => return Err(io::ErrorKind::FileTooLarge),
            Some(Step::Broken) => return Err(io::ErrorKind::BrokenPipe),
        };
        let n = most.min(self.body.len() - self.at);
        buf[..n].copy_from_slice(&self.body[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.step(buf);
        self.calls.lock().expect("lock").push((buf.len(), result));
        result.map_err(io::Error::from)
    }
}

fuzz_target!(|request: Request| {
    let mut environ = Environ::new();
    match &request.length {
        Length::Absent => {}
        Length::Number(n) => environ.set("CONTENT_LENGTH", n.to_string()),
        Length::Digits(d) => environ.set("CONTENT_LENGTH", d.0.clone()),
        Length::Any(v) => environ.set("CONTENT_LENGTH", v.clone()),
    }
    environ.input_terminated = request.terminated;
    let length = environ.get("CONTENT_LENGTH").and_then(plain_decimal);
    // Bytes that may be read: CONTENT_LENGTH, else the whole body if terminated, else
    // none.
    let bound = match length {
        Some(n) => Some(n),
        None if request.terminated => None,
        None => Some(0),
    };
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut input = Input::new(
        Box::new(Source {
            body: request.body.clone(),
            at: 0,
            steps: request.steps.clone().into_iter(),
            calls: Arc::clone(&calls),
        }),
        &environ,
    );

    let mut got: Vec<u8> = Vec::new();
    for &max in &request.reads {
        let left = bound.map(|b| b - got.len() as u64);
        let most = (max as usize)
            .min(MAX_READ)
            .min(left.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)));
        let before = calls.lock().expect("lock").len();
        let result = input.read(max);
        let calls = calls.lock().expect("lock");
        let new = &calls[before..];
        if most == 0 {
            assert!(
                new.is_empty(),
                "the reader was touched with nothing to read"
            );
        }
        assert!(
            new.iter().all(|&(n, _)| n <= most),
            "the reader was asked for {new:?}, at most {most}"
        );
        match (result, new.last()) {
            (Ok(chunk), last) => {
                assert!(chunk.len() <= most, "{} bytes, at most {most}", chunk.len());
                // What the reader gave, as it gave it (no call when nothing may be read).
                let expected = (most > 0).then_some(Ok(chunk.len()));
                assert_eq!(last.map(|(_, r)| *r), expected);
                got.extend(chunk);
            }
            (Err(Violation::InputFailed(_)), Some((_, Err(kind)))) => {
                let fault = match kind {
                    io::ErrorKind::TimedOut => Some(ClientFault::Timeout),
                    io::ErrorKind::FileTooLarge => Some(ClientFault::TooLarge),
                    io::ErrorKind::InvalidData => Some(ClientFault::Malformed),
                    _ => None,
                };
                assert_ne!(
                    *kind,
                    io::ErrorKind::Interrupted,
                    "an interrupted read is retried"
                );
                assert_eq!(input.fault(), fault);
            }
            (Err(Violation::InputFailed(_)), Some((_, Ok(0)))) => {
                assert!(bound.is_some(), "a terminated body may end anywhere");
                assert!(got.len() as u64 >= request.body.len() as u64, "ended early");
            }
            (result, last) => panic!("read gave {result:?} after the reader gave {last:?}"),
        }
        assert!(request.body.starts_with(&got), "bytes out of order");
        if let Some(bound) = bound {
            assert!(got.len() as u64 <= bound, "read past CONTENT_LENGTH");
        }
    }
    // The body read to its end is the whole bound, or the whole body if shorter.
    if let Some(bound) = bound {
        let whole = (request.body.len() as u64).min(bound);
        if got.len() as u64 == whole && whole == bound {
            assert!(input.read(u32::MAX).is_ok_and(|c| c.is_empty()));
        }
    }
});
