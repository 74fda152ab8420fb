//! The response side: `start_response`, the legacy `write`, and what a body chunk is.

use std::fmt;

use crate::__private::bindings::wasgi::gateway::server;
use crate::{Error, GatewayError, Result};

/// PEP 3333's `start_response`. Copy it freely (into a body iterator, say): every copy
/// talks to the same response.
#[derive(Clone, Copy, Debug)]
pub struct StartResponse {
    _private: (),
}

impl StartResponse {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// Stores the status (`"200 OK"`) and headers; nothing is sent until the first
    /// non-empty chunk. Returns the legacy [`Write`]. Fails if called a second time
    /// (use [`StartResponse::call_with_exc_info`] for an error page), or if the status
    /// or a header breaks a rule; propagate the error with `?`.
    pub fn call(
        &self,
        status: impl AsRef<[u8]>,
        headers: impl HeaderList,
    ) -> Result<Write, GatewayError> {
        server::start_response(status.as_ref(), &headers.into_headers(), None)?;
        Ok(Write { _private: () })
    }

    /// `start_response` with `exc_info`: replaces the stored status and headers with an
    /// error page if nothing was sent yet. If the headers already went out it fails
    /// with [`GatewayError::HeadersAlreadySent`] and the response is aborted:
    /// propagate the error. `error` is logged by the host.
    pub fn call_with_exc_info(
        &self,
        status: impl AsRef<[u8]>,
        headers: impl HeaderList,
        error: &dyn fmt::Display,
    ) -> Result<Write, GatewayError> {
        let exc_info = error.to_string();
        server::start_response(status.as_ref(), &headers.into_headers(), Some(&exc_info))?;
        Ok(Write { _private: () })
    }
}

/// PEP 3333's legacy `write` callable: sends data now, headers first. Prefer returning
/// chunks from the application.
#[derive(Clone, Copy, Debug)]
pub struct Write {
    _private: (),
}

impl Write {
    /// Sends `data`, flushed, before returning. Fails once the response is closed or
    /// aborted; propagate the error.
    pub fn write(&self, data: impl AsRef<[u8]>) -> Result<(), GatewayError> {
        server::write(data.as_ref())
    }
}

/// A list of response headers: an array `[("Name", "value")]`, a slice or a `Vec` of pairs.
/// Names are text; values are anything that is bytes (`&str`, `String`, `Vec<u8>`).
pub trait HeaderList {
    /// The headers as the contract carries them.
    fn into_headers(self) -> Vec<(String, Vec<u8>)>;
}

impl<N: AsRef<str>, V: AsRef<[u8]>> HeaderList for &[(N, V)] {
    fn into_headers(self) -> Vec<(String, Vec<u8>)> {
        self.iter()
            .map(|(n, v)| (n.as_ref().to_owned(), v.as_ref().to_vec()))
            .collect()
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>, const K: usize> HeaderList for &[(N, V); K] {
    fn into_headers(self) -> Vec<(String, Vec<u8>)> {
        self.as_slice().into_headers()
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>, const K: usize> HeaderList for [(N, V); K] {
    fn into_headers(self) -> Vec<(String, Vec<u8>)> {
        self.as_slice().into_headers()
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> HeaderList for Vec<(N, V)> {
    fn into_headers(self) -> Vec<(String, Vec<u8>)> {
        self.as_slice().into_headers()
    }
}

/// One body chunk: bytes or text, or a `Result` of them, whose error fails the
/// response (a 500 if nothing was sent, else an aborted response).
pub trait Chunk {
    /// The chunk's bytes, or the error that ends the body.
    fn into_chunk(self) -> Result<Vec<u8>>;
}

impl Chunk for Vec<u8> {
    fn into_chunk(self) -> Result<Vec<u8>> {
        Ok(self)
    }
}

impl Chunk for String {
    fn into_chunk(self) -> Result<Vec<u8>> {
        Ok(self.into_bytes())
    }
}

impl Chunk for &'static str {
    fn into_chunk(self) -> Result<Vec<u8>> {
        Ok(self.as_bytes().to_vec())
    }
}

impl Chunk for &'static [u8] {
    fn into_chunk(self) -> Result<Vec<u8>> {
        Ok(self.to_vec())
    }
}

impl<const K: usize> Chunk for &'static [u8; K] {
    fn into_chunk(self) -> Result<Vec<u8>> {
        Ok(self.to_vec())
    }
}

impl<C: Chunk, E: Into<Error>> Chunk for std::result::Result<C, E> {
    fn into_chunk(self) -> Result<Vec<u8>> {
        self.map_err(Into::into)?.into_chunk()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lists_keep_order_and_bytes() {
        let want = vec![
            ("A".to_owned(), b"1".to_vec()),
            ("A".to_owned(), b"\xe9".to_vec()),
        ];
        assert_eq!([("A", &b"1"[..]), ("A", b"\xe9")].into_headers(), want);
        assert_eq!(
            vec![("A", b"1".to_vec()), ("A", b"\xe9".to_vec())].into_headers(),
            want
        );
        assert_eq!(
            (&[("X", "y")]).into_headers(),
            [("X".to_owned(), b"y".to_vec())]
        );
    }

    #[test]
    fn chunks_convert_and_errors_pass_through() {
        assert_eq!("a".into_chunk().ok(), Some(b"a".to_vec()));
        assert_eq!(b"ab".into_chunk().ok(), Some(b"ab".to_vec()));
        let failed: std::result::Result<&'static str, Error> = Err(Error::msg("boom"));
        assert_eq!(
            failed
                .into_chunk()
                .map_err(|e| e.to_string())
                .err()
                .as_deref(),
            Some("boom")
        );
    }
}
