//! wasgi's gateway core: the rules of PEP 3333, with no runtime in them.
//!
//! A front end (`wasgi run`'s CGI, `wasgi serve`'s HTTP, a wasi:http component) builds
//! an [`Environ`] from its request, hands the [`Gateway`] a [`Sink`] that knows only
//! how to put bytes on its wire, and feeds the gateway what the application does.
//! Every rule of docs/GATEWAY.md lives here, once:
//!
//! - [`environ`]: the pure environ builder (CGI variables, HTTP requests, defaults);
//! - [`validate`]: status and header checks at `wsgiref.validate` grade;
//! - [`gateway`]: the PEP 3333 state machine, writing to a [`Sink`];
//! - [`response`]: what is decided about a response before it is written (its
//!   [`Head`] and [`Framing`], which responses carry no body, the error pages);
//! - [`input`]: wsgi.input, bounded by CONTENT_LENGTH;
//! - [`log`]: the guest's share of the host's log;
//! - [`rules`]: every rule, named, with its severity and source; [`observe`]: what the
//!   gateway saw, told to an observer; [`lint`]: diagnostics from that (`wasgi check`).
//!
//! No wasmtime and no tokio: the crate builds for `wasm32-wasip2` as well as the host.
//!
//! One response, written to a `Vec`:
//!
//! ```
//! use std::io;
//! use wasgi_gateway::{Gateway, Head, Outcome, Sink};
//!
//! struct Wire(Vec<u8>);
//! impl Sink for Wire {
//!     fn send_headers(&mut self, head: &Head<'_>) -> io::Result<()> {
//!         self.0.extend_from_slice(head.status);
//!         Ok(())
//!     }
//!     fn send_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
//!         self.0.extend_from_slice(chunk);
//!         Ok(())
//!     }
//!     fn finish(&mut self) -> io::Result<()> {
//!         Ok(())
//!     }
//!     fn abort(&mut self) {}
//! }
//!
//! let mut gateway = Gateway::new(Box::new(Wire(Vec::new()))).for_method(b"GET");
//! gateway.write(b"too early").unwrap_err(); // write() before start_response()
//! gateway
//!     .start_response(b"200 OK".to_vec(), vec![("Content-Type".into(), b"text/plain".to_vec())], None)
//!     .unwrap();
//! gateway.write(b"Hello").unwrap();
//! assert_eq!(gateway.finish(None), Outcome::Completed);
//! ```

pub mod environ;
pub mod gateway;
pub mod input;
pub mod lint;
pub mod log;
pub mod observe;
pub mod response;
pub mod rules;
pub mod validate;

pub use environ::Environ;
pub use gateway::{Failure, Gateway, Header, Outcome, Sink, Violation};
pub use response::{ClientFault, ErrorPage, Framing, Head, ResponseLimits};
pub use rules::{Rule, Severity};
