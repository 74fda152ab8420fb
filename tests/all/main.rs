//! The integration tests, one binary (as ripgrep's `tests/tests.rs`): the real `wasgi`
//! binary driving the real guests, built once by `wasgi-test-artifacts` when this
//! binary is built.
//!
//! Each module tests one part, its helpers are in [`util`], and every guest is a
//! constant of [`guests`]: a misspelt guest does not compile, and neither does a guest
//! in `guests/` that no test uses.

mod admin;
mod apps;
mod attack;
mod check;
mod cli;
mod compile;
mod conformance;
mod container;
mod deploy;
mod differential;
mod frameworks;
mod hostile;
mod kubernetes;
mod listen;
mod lossless;
mod python;
mod reload;
mod reuse;
mod sandbox;
mod serve;
mod server;
mod turns;
mod util;
mod wrap;

/// The guests, one constant each: the path of a Rust guest's `.wasm`, the name of a
/// Python guest (see [`util::python_guest`]). Under `deny(dead_code)`, a guest that
/// no test uses fails the build.
#[deny(dead_code)]
mod guests {
    /// `pub const NAME: &str = wasgi_test_artifacts::NAME;` for each Rust guest.
    macro_rules! rust_guests {
        ($($name:ident)*) => {
            $(pub const $name: &str = wasgi_test_artifacts::$name;)*
        };
    }
    wasgi_test_artifacts::foreach_rust_guest!(rust_guests);

    /// The Python guests (built on first use: [`crate::util::python_guest`]).
    pub mod python {
        /// `pub const NAME: &str = wasgi_test_artifacts::python::NAME;` for each one.
        macro_rules! python_guests {
            ($($name:ident)*) => {
                $(pub const $name: &str = wasgi_test_artifacts::python::$name;)*
            };
        }
        wasgi_test_artifacts::foreach_python_guest!(python_guests);
    }
}
