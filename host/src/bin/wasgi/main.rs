//! The `wasgi` command: parse, dispatch, exit. See `wasgi --help`; the flags are in
//! `cli.rs`, what each command does in `commands.rs`, the exit codes in `exit.rs`, and
//! the work in the library.

mod cli;
mod commands;
mod exit;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser as _;
use wasgi::cgi;
use wasgi::serve::LogFormat;

/// The static (musl) build's allocator: musl's own serialises a threaded server's
/// allocations (host/Cargo.toml).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let nph = args.next().is_some_and(|argv0| cgi::is_nph(&argv0));
    let args: Vec<OsString> = args.collect();
    let result = match cgi::handler_app(&args, |name| std::env::var_os(name)) {
        Some(app) => {
            log(LogFormat::Text);
            commands::handler(app, nph)
        }
        None => {
            let cli = cli::Cli::parse();
            log(cli.log_format());
            commands::dispatch(cli.command, nph)
        }
    };
    exit::code(result)
}

/// The log on stderr, in `format`; RUST_LOG filters it (default: wasgi's info lines).
fn log(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| "wasgi=info".into());
    let log = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => log
            .with_ansi(std::io::stderr().is_terminal())
            .without_time()
            .with_target(false)
            .init(),
        // Timestamps for a log collector; the target tells the access log
        // (`wasgi::access`) from the server's events.
        LogFormat::Json => log
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
    wasgi::serve::set_log_format(format);
}
