//! Write wasgi applications in Rust.
//!
//! A wasgi application is PEP 3333's `application(environ, start_response)` compiled
//! to a WebAssembly component. With this crate it is one function and one macro; the
//! generated bindings stay out of sight:
//!
//! ```no_run
//! use wasgi_guest::{Environ, StartResponse};
//!
//! fn hello(_environ: Environ, start_response: StartResponse) -> wasgi_guest::Result<[&'static str; 1]> {
//!     start_response.call("200 OK", [("Content-Type", "text/plain")])?;
//!     Ok(["Hello, World!\n"])
//! }
//!
//! wasgi_guest::export!(hello);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release` (crate type `cdylib`)
//! and run it with `wasgi run target/wasm32-wasip2/release/hello.wasm`.
//!
//! The function returns any iterator of chunks ([`Chunk`]: bytes, strings, or
//! `Result`s of them for a body that can fail half-way). The host pulls the chunks one
//! at a time and streams them; dropping the iterator is PEP 3333's `close()`, so put
//! clean-up in a `Drop` impl. Gateway errors ([`GatewayError`]) propagate with `?`, as
//! PEP 3333 asks ("re-raise").

// The generated bindings name this crate by its path, from inside it too.
extern crate self as wasgi_guest;

use std::cell::RefCell;
use std::fmt;

mod environ;
mod response;

pub use environ::{Environ, Input};
pub use response::{Chunk, HeaderList, StartResponse, Write};

/// A refusal from the gateway, naming the rule that was broken. Propagate it.
pub use __private::bindings::wasgi::gateway::types::GatewayError;

/// The contract's imports, unwrapped: for guests that test the gateway by breaking its
/// rules (calling `write` before `start_response`, say), which the typed API does not
/// let an application express.
pub mod raw {
    pub use crate::__private::bindings::wasgi::gateway::server::{
        read_input, start_response, write,
    };
}

/// An application error: logged by the host (never shown to the client), which then
/// sends a generic 500 if the headers have not gone out, or aborts the response.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    /// An error with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self(message.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// wsgi.errors: the host's log. Anything written here (or printed to stderr or
/// stdout) goes to the host's stderr, never to the response.
pub fn errors() -> std::io::Stderr {
    std::io::stderr()
}

/// Attaches PEP 3333's `close()` to a body: `close` runs when the host closes the body
/// (after the last chunk, after an error, after a failed write), exactly once.
pub fn with_close<I: IntoIterator, F: FnOnce()>(body: I, close: F) -> WithClose<I::IntoIter, F> {
    WithClose {
        body: body.into_iter(),
        close: Some(close),
    }
}

/// A body with a `close` hook; see [`with_close`].
pub struct WithClose<I, F: FnOnce()> {
    body: I,
    close: Option<F>,
}

impl<I: Iterator, F: FnOnce()> Iterator for WithClose<I, F> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        self.body.next()
    }
}

impl<I, F: FnOnce()> Drop for WithClose<I, F> {
    fn drop(&mut self) {
        if let Some(close) = self.close.take() {
            close();
        }
    }
}

/// Exports `app` as the component's wasgi application. `app` is a function
/// `fn(Environ, StartResponse) -> Result<B>` where `B` is any `IntoIterator` of
/// [`Chunk`]s that owns its data (`'static`).
#[macro_export]
macro_rules! export {
    ($app:path) => {
        const _: () = {
            struct WasgiApplication;

            impl $crate::__private::Guest for WasgiApplication {
                type Body = $crate::__private::BodyIter;

                fn call(
                    environ: $crate::__private::WitEnviron,
                ) -> ::core::result::Result<$crate::__private::Body, ::std::string::String>
                {
                    $crate::__private::call(environ, $app)
                }
            }

            $crate::__private::bindings::__export_app!(WasgiApplication);
        };
    };
}

/// What the `export!` macro expands to. Not a public API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    #[allow(missing_docs, unsafe_code, clippy::all)]
    pub mod bindings {
        wit_bindgen::generate!({
            path: "../wit",
            world: "app",
            pub_export_macro: true,
            export_macro_name: "__export_app",
            default_bindings_module: "wasgi_guest::__private::bindings",
            runtime_path: "wasgi_guest::__private::wit_bindgen::rt",
        });
    }

    pub use bindings::exports::wasgi::gateway::application::{Body, Guest, GuestBody};
    pub use bindings::wasgi::gateway::types::Environ as WitEnviron;
    pub use wit_bindgen;

    /// The body resource: the application's iterator, behind the resource handle.
    pub struct BodyIter(RefCell<Box<dyn Iterator<Item = Result<Vec<u8>>>>>);

    impl GuestBody for BodyIter {
        fn next(&self) -> std::result::Result<Option<Vec<u8>>, String> {
            self.0
                .borrow_mut()
                .next()
                .transpose()
                .map_err(|e| e.to_string())
        }
    }

    /// Runs the user's application function for one request.
    pub fn call<F, B>(environ: WitEnviron, app: F) -> std::result::Result<Body, String>
    where
        F: FnOnce(Environ, StartResponse) -> Result<B>,
        B: IntoIterator,
        B::IntoIter: 'static,
        B::Item: Chunk + 'static,
    {
        let body = app(Environ::new(environ), StartResponse::new()).map_err(|e| e.to_string())?;
        let chunks = body.into_iter().map(Chunk::into_chunk);
        Ok(Body::new(BodyIter(RefCell::new(Box::new(chunks)))))
    }
}
