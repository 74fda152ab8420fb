//! The `wasgi` command. See `wasgi --help`; the work is in the library.

use std::ffi::OsString;
use std::fs::File;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasgi::{Application, Error, Outcome, Request, cgi};

/// Exit codes, documented in `wasgi run --help` and the README.
mod exit {
    pub const COMPLETED: u8 = 0;
    pub const HOST: u8 = 1;
    pub const APP_FAILED: u8 = 3;
    pub const ABORTED: u8 = 4;
    pub const UNREADABLE: u8 = 10;
    pub const NOT_A_COMPONENT: u8 = 11;
    pub const NOT_AN_APP: u8 = 12;
}

#[derive(Parser)]
#[command(
    name = "wasgi",
    version,
    about = "Run web applications compiled to WebAssembly components (PEP 3333 for wasm)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one request CGI style: environ from the CGI variables, response on stdout.
    #[command(after_help = "\
Exit status:
  0   the response completed
  3   the application failed before its headers went out: a 500 was sent
  4   the response was aborted after its headers went out (it is incomplete)
  10  the file cannot be read
  11  the file is not a WebAssembly component
  12  the component does not implement the wasgi world
  1   the host itself failed (stdout unavailable, engine setup)
  2   the command line is wrong")]
    Run {
        /// The application: a wasm component implementing the wasgi world.
        app: PathBuf,
        /// REQUEST_METHOD (default: the CGI variable, else GET).
        #[arg(long)]
        method: Option<String>,
        /// The request target: PATH_INFO, percent-decoded, and an optional ?QUERY_STRING.
        #[arg(long)]
        path: Option<String>,
        /// A request header, 'Name: value'; repeat it for more.
        #[arg(long = "header", value_name = "NAME: VALUE", value_parser = cgi::parse_header)]
        headers: Vec<(String, Vec<u8>)>,
        /// The request body: a file, or - for stdin (read to its end). Without it the
        /// body is stdin bounded by CONTENT_LENGTH, and empty with no CONTENT_LENGTH.
        #[arg(long, value_name = "FILE")]
        body: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| "wasgi=info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .init();
    let code = match Cli::parse().command {
        Command::Run {
            app,
            method,
            path,
            headers,
            body,
        } => run(
            app,
            cgi::Overrides {
                method,
                path,
                headers,
            },
            body,
        ),
    };
    ExitCode::from(code)
}

fn run(app: PathBuf, overrides: cgi::Overrides, body: Option<PathBuf>) -> u8 {
    match try_run(&app, &overrides, body) {
        Ok(Outcome::Completed) => exit::COMPLETED,
        Ok(Outcome::Failed) => exit::APP_FAILED,
        Ok(Outcome::Aborted) => exit::ABORTED,
        Err(e) => {
            eprintln!("wasgi: error: {e:#}");
            match e.downcast_ref::<Error>() {
                Some(Error::Read { .. }) => exit::UNREADABLE,
                Some(Error::NotWasm { .. } | Error::CoreModule { .. } | Error::Invalid { .. }) => {
                    exit::NOT_A_COMPONENT
                }
                Some(Error::NotAnApp { .. }) => exit::NOT_AN_APP,
                _ => exit::HOST,
            }
        }
    }
}

fn try_run(
    app: &std::path::Path,
    overrides: &cgi::Overrides,
    body: Option<PathBuf>,
) -> anyhow::Result<Outcome> {
    let body = match body {
        None => cgi::Body::Stdin,
        Some(p) if p.as_os_str() == "-" => cgi::Body::StdinToEnd,
        Some(p) => {
            cgi::Body::File(File::open(&p).map_err(|source| Error::Read { path: p, source })?)
        }
    };
    let engine = wasgi::engine()?;
    let application = Application::load(&engine, app)?;
    let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let (environ, input) = cgi::request(vars, overrides, body)?;
    let sink = cgi::CgiSink::stdout()?;
    Ok(application.handle(Request { environ, input }, Box::new(sink)))
}
