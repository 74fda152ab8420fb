//! The request as the application sees it: PEP 3333's environ, with typed accessors,
//! and wsgi.input as a `std::io::Read`.

use crate::__private::WitEnviron;
use crate::__private::bindings::wasgi::gateway::server;
use crate::GatewayError;

/// The request's environ: CGI variables as raw bytes, plus the `wsgi.*` flags.
#[derive(Debug)]
pub struct Environ {
    raw: WitEnviron,
}

impl Environ {
    pub(crate) fn new(raw: WitEnviron) -> Self {
        Self { raw }
    }

    /// A variable's raw bytes (`"PATH_INFO"`, `"HTTP_ACCEPT"`, ...).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.raw
            .variables
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// A variable as text, if present and UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every variable, in the order the host gave them.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.raw
            .variables
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// REQUEST_METHOD (`GET`, `POST`, ...).
    pub fn method(&self) -> &str {
        self.get_str("REQUEST_METHOD").unwrap_or("GET")
    }

    /// PATH_INFO, percent-decoded raw bytes (may not be UTF-8).
    pub fn path(&self) -> &[u8] {
        self.get("PATH_INFO").unwrap_or_default()
    }

    /// SCRIPT_NAME: where the application is mounted.
    pub fn script_name(&self) -> &[u8] {
        self.get("SCRIPT_NAME").unwrap_or_default()
    }

    /// QUERY_STRING, as sent (still percent-encoded).
    pub fn query(&self) -> &[u8] {
        self.get("QUERY_STRING").unwrap_or_default()
    }

    /// The value of a query parameter (`?name=value`), percent-decoded; `+` is a
    /// space, as in HTML forms.
    pub fn query_param(&self, name: &str) -> Option<Vec<u8>> {
        self.query().split(|&b| b == b'&').find_map(|pair| {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &b""[..]),
            };
            (form_decode(key) == name.as_bytes()).then(|| form_decode(value))
        })
    }

    /// A request header by its HTTP name (`"Accept"`, `"content-type"`).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.get(&variable_of_header(name))
    }

    /// All request headers: lower-case names (`content-type`, `x-forwarded-for`) and
    /// raw values. Repeated headers arrive joined with `, `.
    pub fn headers(&self) -> impl Iterator<Item = (String, &[u8])> {
        self.vars().filter_map(|(name, value)| {
            let http = match name {
                "CONTENT_TYPE" | "CONTENT_LENGTH" => name,
                _ => name.strip_prefix("HTTP_")?,
            };
            Some((http.to_ascii_lowercase().replace('_', "-"), value))
        })
    }

    /// CONTENT_LENGTH, when present and a number.
    pub fn content_length(&self) -> Option<u64> {
        self.get_str("CONTENT_LENGTH")?.parse().ok()
    }

    /// wsgi.url_scheme: `http` or `https`.
    pub fn url_scheme(&self) -> &str {
        &self.raw.url_scheme
    }

    /// wsgi.multithread.
    pub fn multithread(&self) -> bool {
        self.raw.multithread
    }

    /// wsgi.multiprocess.
    pub fn multiprocess(&self) -> bool {
        self.raw.multiprocess
    }

    /// wsgi.run_once.
    pub fn run_once(&self) -> bool {
        self.raw.run_once
    }

    /// wsgi.input_terminated: the input may be read to its end even without
    /// CONTENT_LENGTH.
    pub fn input_terminated(&self) -> bool {
        self.raw.input_terminated
    }

    /// wsgi.input: the request body, streamed from the client as it is read. The host
    /// never returns more than CONTENT_LENGTH bytes.
    pub fn input(&self) -> Input {
        Input { _private: () }
    }
}

/// wsgi.input: the request body. Every `Input` reads from the same stream.
#[derive(Debug)]
pub struct Input {
    _private: (),
}

impl Input {
    /// Reads the next piece of the body, at most `max` bytes; an empty `Vec` means the
    /// end of the body.
    pub fn read_chunk(&mut self, max: u32) -> Result<Vec<u8>, GatewayError> {
        server::read_input(max)
    }

    /// The rest of the body as an iterator of pieces of at most `max` bytes, each
    /// yielded as soon as the client sent it.
    pub fn chunks(mut self, max: u32) -> impl Iterator<Item = Result<Vec<u8>, GatewayError>> {
        std::iter::from_fn(move || match self.read_chunk(max) {
            Ok(chunk) if chunk.is_empty() => None,
            other => Some(other),
        })
    }
}

impl std::io::Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let max = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let chunk = self.read_chunk(max).map_err(std::io::Error::other)?;
        buf[..chunk.len()].copy_from_slice(&chunk);
        Ok(chunk.len())
    }
}

fn variable_of_header(name: &str) -> String {
    let upper = name.to_ascii_uppercase().replace('-', "_");
    match upper.as_str() {
        "CONTENT_TYPE" | "CONTENT_LENGTH" => upper,
        _ => format!("HTTP_{upper}"),
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn form_decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environ(vars: &[(&str, &[u8])]) -> Environ {
        Environ::new(WitEnviron {
            variables: vars
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_vec()))
                .collect(),
            url_scheme: "http".into(),
            multithread: false,
            multiprocess: true,
            run_once: true,
            input_terminated: false,
        })
    }

    #[test]
    fn accessors_read_the_cgi_variables() {
        let env = environ(&[
            ("REQUEST_METHOD", b"POST"),
            ("PATH_INFO", b"/caf\xe9"),
            ("QUERY_STRING", b"a=1&b=x+y%21&c"),
            ("CONTENT_TYPE", b"text/plain"),
            ("CONTENT_LENGTH", b"12"),
            ("HTTP_X_FORWARDED_FOR", b"a, b"),
        ]);
        assert_eq!(env.method(), "POST");
        assert_eq!(env.path(), b"/caf\xe9");
        assert_eq!(env.get_str("PATH_INFO"), None, "not UTF-8");
        assert_eq!(env.query_param("b").as_deref(), Some(&b"x y!"[..]));
        assert_eq!(env.query_param("c").as_deref(), Some(&b""[..]));
        assert_eq!(env.query_param("zz"), None);
        assert_eq!(env.header("x-forwarded-for"), Some(&b"a, b"[..]));
        assert_eq!(env.header("Content-Type"), Some(&b"text/plain"[..]));
        assert_eq!(env.content_length(), Some(12));
        let headers: Vec<String> = env.headers().map(|(n, _)| n).collect();
        assert_eq!(
            headers,
            ["content-type", "content-length", "x-forwarded-for"]
        );
    }

    #[test]
    fn form_decoding_keeps_bad_escapes() {
        assert_eq!(form_decode(b"%41%4"), b"A%4");
        assert_eq!(form_decode(b"%zz+%"), b"%zz %");
    }
}
