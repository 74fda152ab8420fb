//! The library's error type: what can go wrong before a request runs.
//!
//! Failures *during* a request are not errors of this kind: the gateway turns them into
//! a response (a 500 or an aborted body, see [`crate::gateway::Outcome`]).

use std::path::{Path, PathBuf};

/// Why an application could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read {path:?}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why (part of the message, so not repeated as a source).
        cause: std::io::Error,
    },
    /// The file is not WebAssembly at all.
    #[error(
        "{path:?} is not a WebAssembly component (it does not start with the \\0asm magic): build your app for wasm32-wasip2"
    )]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// The file is a core module, not a component.
    #[error(
        "{path:?} is a core WebAssembly module, not a component: build it for wasm32-wasip2, or wrap it with `wasm-tools component new`"
    )]
    CoreModule {
        /// The file.
        path: PathBuf,
    },
    /// The file starts like a component but does not validate or compile.
    #[error("{path:?} is not a valid WebAssembly component: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the validator said, on one line.
        reason: String,
    },
    /// A valid component that does not implement the wasgi world.
    #[error(
        "{path:?} does not implement the wasgi world: {reason}; build it against wit/gateway.wit (world `wasgi:gateway/app`)"
    )]
    NotAnApp {
        /// The file.
        path: PathBuf,
        /// Which import or export is missing or wrong.
        reason: String,
    },
    /// A precompiled file that this wasgi will not load: truncated, corrupt, or
    /// written by another wasgi or wasmtime or for other engine settings.
    #[error("{path:?} cannot be loaded: {reason}; recompile it with `wasgi compile`")]
    Precompiled {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An output file could not be written.
    #[error("cannot write {path:?}: {cause}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why (part of the message, so not repeated as a source).
        cause: std::io::Error,
    },
    /// `wasgi wrap` could not compose the wrapped component (wasgi's fault, not the
    /// app's).
    #[error("failed to compose the wrapped component: {0}; please report this as a bug of wasgi")]
    Wrap(String),
    /// The wasm engine could not be set up (a host problem, not the app's).
    #[error("failed to set up the wasm engine: {0}")]
    Engine(String),
}

impl Error {
    /// The file at `path` could not be read.
    pub(crate) fn read(path: &Path, cause: std::io::Error) -> Self {
        Self::Read {
            path: path.to_owned(),
            cause,
        }
    }

    /// The component at `path` does not validate, compile or load.
    pub(crate) fn invalid(path: &Path, e: &wasmtime::Error) -> Self {
        Self::Invalid {
            path: path.to_owned(),
            reason: one_line(e),
        }
    }
}

/// The whole file at `path`.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|cause| Error::read(path, cause))
}

/// One line from a wasmtime error chain: its messages joined with `: `.
pub(crate) fn one_line(e: &wasmtime::Error) -> String {
    e.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
}
