//! Exit codes, documented in `wasgi run --help` and the README, derived here in one
//! place from how a command ended.

use std::path::PathBuf;
use std::process::ExitCode;

use wasgi::{Error, Outcome};

/// The response completed (or the command did its work).
const COMPLETED: u8 = 0;
/// The host itself failed.
const HOST: u8 = 1;
/// The command line is wrong.
const USAGE: u8 = 2;
/// The application failed before its headers went out.
const APP_FAILED: u8 = 3;
/// The response was aborted after its headers went out.
const ABORTED: u8 = 4;
/// `wasgi check` found errors (or, with `--strict`, warnings).
const CHECK_FAILED: u8 = 5;
/// A file cannot be read.
const UNREADABLE: u8 = 10;
/// The file is not a WebAssembly component (or a loadable .cwasm).
const NOT_A_COMPONENT: u8 = 11;
/// The component does not implement the wasgi world.
const NOT_AN_APP: u8 = 12;

/// Why a command failed before (or instead of) a response.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The application could not be loaded, or `wasgi compile` could not write.
    #[error(transparent)]
    Load(#[from] Error),
    /// `--body FILE` cannot be read.
    #[error("cannot read {path:?} (the request body, --body): {cause}")]
    Body {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The command line names something unusable (a grant that does not open, an
    /// unknown WASGI_FRAMING): exit 2, as clap's own usage errors.
    #[error("{0}")]
    Usage(String),
    /// `wasgi check` found errors, or warnings under `--strict` (its report says
    /// which); `world` when the component does not implement the wasgi world.
    #[error("{app:?}: the check found {errors} errors and {warnings} warnings")]
    Checked {
        /// The application checked.
        app: PathBuf,
        /// Errors found.
        errors: usize,
        /// Warnings found.
        warnings: usize,
        /// Whether it does not implement the wasgi world.
        world: bool,
    },
    /// The host itself failed (stdout unavailable, a socket that does not bind).
    #[error(transparent)]
    Host(#[from] anyhow::Error),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::Host(e.into())
    }
}

impl Failure {
    /// The exit code that says what went wrong.
    fn code(&self) -> u8 {
        match self {
            Self::Load(Error::Read { .. }) | Self::Body { .. } => UNREADABLE,
            Self::Load(
                Error::NotWasm { .. }
                | Error::CoreModule { .. }
                | Error::Invalid { .. }
                | Error::Precompiled { .. },
            ) => NOT_A_COMPONENT,
            Self::Load(Error::NotAnApp { .. }) => NOT_AN_APP,
            Self::Usage(_) => USAGE,
            Self::Checked { world: true, .. } => NOT_AN_APP,
            Self::Checked { .. } => CHECK_FAILED,
            Self::Load(_) | Self::Host(_) => HOST,
        }
    }
}

/// The exit code for how a command ended; a failure is first reported on stderr, in
/// one line.
pub fn code(result: Result<Outcome, Failure>) -> ExitCode {
    ExitCode::from(match result {
        Ok(Outcome::Completed) => COMPLETED,
        Ok(Outcome::Failed) => APP_FAILED,
        Ok(Outcome::Aborted) => ABORTED,
        Err(e) => {
            let message = match &e {
                Failure::Host(e) => format!("{e:#}"),
                e => e.to_string(),
            };
            eprintln!("wasgi: error: {}", message.replace('\n', " "));
            e.code()
        }
    })
}
