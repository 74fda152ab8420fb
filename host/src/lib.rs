//! wasgi — the WebAssembly Server Gateway Interface.
//!
//! PEP 3333 (WSGI) for WebAssembly components: the host gives a guest
//! `start-response` and `write` through the WIT contract in `wit/gateway.wit`, calls
//! its exported application with a CGI/WSGI environ, and streams the chunks its body
//! yields to a front end, keeping PEP 3333's header-ordering guards.
//!
//! The pieces, each usable alone:
//! - [`environ`]: the pure environ builder (no wasmtime);
//! - [`validate`]: status and header checks at `wsgiref.validate` grade;
//! - [`gateway`]: the PEP 3333 state machine, writing to a [`Sink`], and [`response`]:
//!   what it decides about a response (its head and framing, the error pages);
//! - [`app`]: loading a component and running one request through the gateway;
//! - [`cache`]: compiled components, kept so a second run does not compile;
//! - [`bundle`]: the files a component carries, mounted read-only where its build saw
//!   them;
//! - [`artifact`]: what a file is, compiling it, and the `.cwasm` files of `wasgi
//!   compile` (under the loader and the cache, using neither);
//! - [`limits`]: how much time, CPU, memory, output and resources one request's guest
//!   may take;
//! - [`grants`]: what a guest may reach beyond its request (nothing by default);
//! - [`check`]: `wasgi check`, diagnostics for an application at `wsgiref.validate`
//!   grade;
//! - [`cgi`]: the CGI front end (`wasgi run`);
//! - [`serve`]: the HTTP front end (`wasgi serve`), [`turn`]: its bound on guests
//!   running at once, and [`metrics`]: what it counts;
//! - [`wrap`]: the app as a wasi:http component with the gateway inside (`wasgi wrap`).
//!
//! The first ones, to `response`, are the gateway core, its own crate (`wasgi-gateway`, re-exported
//! here), which has no wasmtime in it: the fuzz targets in `fuzz/` build on it alone.
//!
//! Running one request, CGI style:
//!
//! ```no_run
//! use wasgi::{Application, Request, cgi};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (path, limits) = ("hello.wasm".as_ref(), wasgi::limits::GuestLimits::LOOSE);
//! let engine = wasgi::engine(&limits, wasgi::TimeChecks::for_run(path, &limits)?)?;
//! let cache = wasgi::cache::Cache::new("/tmp/wasgi-cache");
//! let app = Application::load(&engine, path, Some(&cache))?;
//! let (environ, input) = cgi::request(std::env::vars_os(), &cgi::Overrides::default(), cgi::Body::Stdin)?;
//! let outcome = app.handle(Request { environ, input, turn: None }, Box::new(cgi::CgiSink::new(cgi::stdout()?)));
//! assert_eq!(outcome, wasgi::Outcome::Completed);
//! # Ok(())
//! # }
//! ```

pub mod app;
pub mod artifact;
pub mod bundle;
pub mod cache;
pub mod cgi;
pub mod check;
mod error;
pub mod grants;
pub mod limits;
pub mod metrics;
pub mod serve;
pub mod turn;
pub mod wrap;

/// The gateway core, re-exported: it is its own crate (`wasgi-gateway`, no wasmtime).
pub use wasgi_gateway::{environ, gateway, input, lint, log, observe, response, rules, validate};

pub use app::{
    Application, LINEAR_MEMORY_KEEP_RESIDENT, Request, Usage, engine, instances_in_flight,
    pool_instances, pooled_engine,
};
pub use error::Error;
pub use limits::TimeChecks;
pub use wasgi_gateway::{Environ, Outcome, Sink};
