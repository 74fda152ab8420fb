//! The guests the integration tests run, as constants (wasmtime's
//! `crates/test-programs/artifacts` pattern).
//!
//! This crate's build script builds every Rust guest in `guests/rust/` for
//! `wasm32-wasip2` with the workspace's `guest` profile, once, when the tests are built
//! (and again only when a guest, the guest SDK or the contract changed). It then writes:
//!
//! - one constant per Rust guest, named for its directory in upper snake case
//!   (`guests/rust/two-set-cookie` is `TWO_SET_COOKIE`), holding the path of its
//!   `.wasm`; every one lies in the same directory as `NAME.wasm`;
//! - one constant per Python guest in [`python`], holding its directory's name (the
//!   tests build those on first use with `guests/build.sh python`: a venv and pip);
//! - [`foreach_rust_guest!`] and [`foreach_python_guest!`], which hand every constant's
//!   name to a macro of the caller's.
//!
//! The test binary turns the lists into constants of its own in a module under
//! `#[deny(dead_code)]`: a guest that no test uses is a compile error there, and so is a
//! misspelt one (no such constant).

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
