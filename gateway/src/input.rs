//! wsgi.input: the request body, read lazily as the guest asks.
//!
//! The bound lives here, once, for every front end: never past CONTENT_LENGTH; with no
//! CONTENT_LENGTH nothing at all, unless the front end knows where the body ends
//! (`wsgi.input_terminated`, as with a chunked request or `--body -`).

use std::io::{self, Read};
use std::sync::Arc;

use crate::environ::Environ;
use crate::gateway::Violation;
use crate::observe::{Event, Observer};
use crate::response::ClientFault;

/// The most one `read-input` call returns: a guest asking for 4 GiB gets this much, so
/// neither side allocates more than a pipe buffer's worth at a time.
pub const MAX_READ: usize = 64 * 1024;

/// The request body of one request.
pub struct Input {
    reader: Box<dyn Read + Send>,
    /// Bytes still allowed; `None` means up to the reader's end.
    remaining: Option<u64>,
    /// Set when the client made a read fail (too slow, too large).
    fault: Option<ClientFault>,
    /// A read gave the end of the body.
    ended: bool,
    observer: Option<Arc<dyn Observer>>,
}

impl Input {
    /// The body behind `reader`, bounded as the environ says: by CONTENT_LENGTH if
    /// present; else to the end if `input_terminated`; else empty.
    pub fn new(reader: Box<dyn Read + Send>, environ: &Environ) -> Self {
        let remaining = match environ.content_length() {
            Some(n) => Some(n),
            None if environ.input_terminated => None,
            None => Some(0),
        };
        Self {
            reader,
            remaining,
            fault: None,
            ended: false,
            observer: None,
        }
    }

    /// Tells `observer` of every read (see [`crate::observe`]).
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// A request with no body.
    pub fn empty() -> Self {
        Self {
            reader: Box::new(io::empty()),
            remaining: Some(0),
            fault: None,
            ended: false,
            observer: None,
        }
    }

    /// The client's fault, if a read failed because of it.
    pub fn fault(&self) -> Option<ClientFault> {
        self.fault
    }

    /// Reads at most `max` bytes (and at most [`MAX_READ`]); an empty result means the
    /// end of the body.
    pub fn read(&mut self, max: u32) -> Result<Vec<u8>, Violation> {
        let read = self.read_bounded(max);
        if let (Some(observer), Ok(bytes)) = (&self.observer, &read) {
            observer.observe(&Event::Read {
                bytes: bytes.len(),
                after_end: self.ended,
            });
        }
        self.ended |= read.as_ref().is_ok_and(Vec::is_empty);
        read
    }

    fn read_bounded(&mut self, max: u32) -> Result<Vec<u8>, Violation> {
        let mut want = (max as usize).min(MAX_READ);
        if let Some(left) = self.remaining {
            want = want.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        if want == 0 {
            // Never touch the reader: even a zero-byte read of a buffered stdin blocks
            // to fill its buffer, and a terminal would hang the request.
            return Ok(Vec::new());
        }
        let mut buf = vec![0; want];
        let n = loop {
            match self.reader.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fault = match e.kind() {
                        io::ErrorKind::TimedOut => Some(ClientFault::Timeout),
                        io::ErrorKind::FileTooLarge => Some(ClientFault::TooLarge),
                        io::ErrorKind::InvalidData => Some(ClientFault::Malformed),
                        _ => None,
                    };
                    return Err(Violation::InputFailed(e.to_string()));
                }
            }
        };
        if n == 0 && self.remaining.is_some() {
            return Err(Violation::InputFailed(format!(
                "the request body ended {} bytes short of its CONTENT_LENGTH",
                self.remaining.unwrap_or_default()
            )));
        }
        buf.truncate(n);
        if let Some(left) = &mut self.remaining {
            *left -= n as u64;
        }
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(body: &'static [u8], vars: &[(&str, &str)], terminated: bool) -> Input {
        let mut env = Environ::new();
        for (n, v) in vars {
            env.set(n, *v);
        }
        env.input_terminated = terminated;
        Input::new(Box::new(body), &env)
    }

    fn read_all(mut input: Input, max: u32) -> Vec<u8> {
        let mut all = Vec::new();
        loop {
            let chunk = input.read(max).expect("read");
            if chunk.is_empty() {
                return all;
            }
            assert!(chunk.len() <= max as usize);
            all.extend(chunk);
        }
    }

    #[test]
    fn input_never_reads_past_content_length() {
        let got = read_all(input(b"hello world", &[("CONTENT_LENGTH", "5")], false), 3);
        assert_eq!(got, b"hello");
    }

    #[test]
    fn input_is_empty_without_content_length() {
        assert_eq!(read_all(input(b"hello", &[], false), 10), b"");
        assert_eq!(
            read_all(input(b"hello", &[("CONTENT_LENGTH", "")], false), 10),
            b""
        );
    }

    #[test]
    fn an_exhausted_input_never_touches_the_reader() {
        struct Unreadable;
        impl Read for Unreadable {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                panic!("the reader was touched");
            }
        }
        let mut i = Input::new(Box::new(Unreadable), &Environ::new());
        assert_eq!(i.read(100).expect("read"), b"");
    }

    #[test]
    fn a_terminated_input_is_read_to_its_end() {
        assert_eq!(read_all(input(b"hello", &[], true), 2), b"hello");
    }

    #[test]
    fn a_body_shorter_than_its_content_length_is_an_input_error() {
        let mut i = input(b"hi", &[("CONTENT_LENGTH", "5")], false);
        assert_eq!(i.read(10).expect("first"), b"hi");
        assert!(matches!(i.read(10), Err(Violation::InputFailed(_))));
    }

    #[test]
    fn one_read_returns_at_most_max_read() {
        static BIG: [u8; 200_000] = [7; 200_000];
        let mut i = input(&BIG, &[("CONTENT_LENGTH", "200000")], false);
        assert_eq!(i.read(u32::MAX).expect("read").len(), MAX_READ);
    }

    #[test]
    fn a_read_the_client_broke_names_its_fault() {
        /// A body that fails with `kind`, as the HTTP front end's pump reports it.
        struct Broken(io::ErrorKind);
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(self.0, "the client broke it"))
            }
        }
        let cases = [
            (io::ErrorKind::TimedOut, Some(ClientFault::Timeout)),
            (io::ErrorKind::FileTooLarge, Some(ClientFault::TooLarge)),
            (io::ErrorKind::InvalidData, Some(ClientFault::Malformed)),
            (io::ErrorKind::Other, None),
        ];
        for (kind, fault) in cases {
            let mut environ = Environ::new();
            environ.input_terminated = true;
            let mut input = Input::new(Box::new(Broken(kind)), &environ);
            assert!(matches!(input.read(10), Err(Violation::InputFailed(_))));
            assert_eq!(input.fault(), fault, "{kind:?}");
        }
    }
}
