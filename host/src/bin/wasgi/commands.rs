//! What each command does, once its flags are parsed: `wasgi run` (and the CGI
//! handler form), `wasgi compile`, `wasgi serve` and `wasgi wrap`.

use std::ffi::OsString;
use std::fs::File;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use wasgi::cache::Cache;
use wasgi::grants::Grants;
use wasgi::limits::GuestLimits;
use wasgi::serve::Limits;
use wasgi::{Application, Error, Outcome, Request, cgi};

use crate::cli::{
    CacheArgs, Command, CompileArgs, RunArgs, SERVE_GUEST_LIMITS, ServeArgs, WrapArgs,
};
use crate::exit::Failure;

/// What one request's guest may take and reach.
struct Guest {
    limits: GuestLimits,
    grants: Grants,
}

/// How `wasgi run` writes its response.
struct Output {
    /// The whole HTTP response, as a non-parsed-headers CGI program.
    nph: bool,
    /// `--framing`, else `$WASGI_FRAMING`.
    framing: Option<cgi::Framing>,
}

/// `wasgi run`, `wasgi compile`, `wasgi serve` or `wasgi wrap`; `nph_name` says wasgi runs under an
/// `nph-` name.
pub fn dispatch(command: Command, nph_name: bool) -> Result<Outcome, Failure> {
    match command {
        Command::Compile(args) => compile(args),
        Command::Run(args) => run(args, nph_name),
        Command::Serve(args) => serve(args).map(|()| Outcome::Completed),
        Command::Wrap(args) => wrap(args),
    }
}

/// `wasgi wrap`.
fn wrap(args: WrapArgs) -> Result<Outcome, Failure> {
    let output = args
        .output
        .unwrap_or_else(|| args.app.with_extension("http.wasm"));
    let wrapped = wasgi::wrap::wrap(&args.app)?;
    std::fs::write(&output, wrapped).map_err(|cause| Error::Write {
        path: output.clone(),
        cause,
    })?;
    Ok(Outcome::Completed)
}

/// The CGI handler form: `wasgi run $WASGI_APP` with every default.
pub fn handler(app: PathBuf, nph: bool) -> Result<Outcome, Failure> {
    let guest = Guest {
        limits: GuestLimits::LOOSE,
        grants: Grants::default(),
    };
    let output = Output { nph, framing: None };
    let cache = CacheArgs::default().cache();
    respond(
        &app,
        &cgi::Overrides::default(),
        None,
        output,
        guest,
        cache.as_ref(),
    )
}

/// `wasgi compile`.
fn compile(args: CompileArgs) -> Result<Outcome, Failure> {
    let output = args
        .output
        .unwrap_or_else(|| args.app.with_extension("cwasm"));
    let engine = wasgi::engine(&GuestLimits {
        fuel: args.fuel.then_some(1),
        ..GuestLimits::LOOSE
    })?;
    Application::compile_to(&engine, &args.app, &output, std::io::stderr().is_terminal())?;
    Ok(Outcome::Completed)
}

/// `wasgi run`.
fn run(args: RunArgs, nph_name: bool) -> Result<Outcome, Failure> {
    if args.reuse {
        return Err(Failure::Usage(
            "--reuse is a `wasgi serve` flag: `wasgi run` handles one request, so it has no instance to reuse".to_owned(),
        ));
    }
    let overrides = cgi::Overrides {
        method: args.method,
        path: args.path,
        headers: args.headers,
    };
    let output = Output {
        nph: args.nph || nph_name,
        framing: args.framing,
    };
    let guest = Guest {
        limits: args.guest.limits(GuestLimits::LOOSE),
        grants: args.guest.grants(),
    };
    let cache = args.cache.cache();
    respond(
        &args.app,
        &overrides,
        args.body,
        output,
        guest,
        cache.as_ref(),
    )
}

/// One request from the process, the response on stdout.
fn respond(
    app: &Path,
    overrides: &cgi::Overrides,
    body: Option<PathBuf>,
    output: Output,
    guest: Guest,
    cache: Option<&Cache>,
) -> Result<Outcome, Failure> {
    let body = match body {
        None => cgi::Body::Stdin,
        Some(p) if p.as_os_str() == "-" => cgi::Body::StdinToEnd,
        Some(path) => match File::open(&path) {
            Ok(file) => cgi::Body::File(file),
            Err(cause) => return Err(Failure::Body { path, cause }),
        },
    };
    let application = load(app, guest, cache, wasgi::engine)?;
    let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let (environ, input) = cgi::request(vars, overrides, body)?;
    let framing = match output.framing {
        Some(framing) => framing,
        None => cgi::Framing::from_variable(std::env::var_os("WASGI_FRAMING").as_deref())
            .map_err(Failure::Usage)?,
    };
    let stdout = cgi::stdout()?;
    let sink: Box<dyn wasgi::Sink> = match (output.nph, framing) {
        (true, _) => Box::new(cgi::NphSink::new(
            stdout,
            environ.get("SERVER_PROTOCOL").unwrap_or_default(),
        )),
        (false, cgi::Framing::Length) => Box::new(cgi::LengthSink::new(stdout)),
        (false, cgi::Framing::Stream) => Box::new(cgi::CgiSink::new(stdout)),
    };
    Ok(application.handle(Request { environ, input }, sink))
}

/// Loads the application on an engine made for its limits, with its grants.
fn load(
    app: &Path,
    guest: Guest,
    cache: Option<&Cache>,
    engine: impl FnOnce(&GuestLimits) -> Result<wasmtime::Engine, Error>,
) -> Result<Application, Failure> {
    let engine = engine(&guest.limits)?;
    let application = Application::load(&engine, app, cache)?.with_limits(guest.limits);
    application
        .with_grants(guest.grants)
        .map_err(Failure::Usage)
}

/// `wasgi serve`: HTTP until SIGINT or SIGTERM; with `--reuse`, instances left by
/// clean requests serve later ones.
fn serve(args: ServeArgs) -> Result<(), Failure> {
    let limits: Limits = args.limits.limits();
    let guest = Guest {
        limits: args.guest.limits(SERVE_GUEST_LIMITS),
        grants: args.guest.grants(),
    };
    let max_instances = u32::try_from(limits.max_concurrency).unwrap_or(u32::MAX);
    let mut application = load(&args.app, guest, args.cache.cache().as_ref(), |guest| {
        wasgi::pooled_engine(max_instances, guest)
    })?;
    if args.reuse {
        // At most one spare per slot: no more can be busy at once.
        application = application.with_reuse(limits.max_concurrency);
    }
    let addr: SocketAddr = args.addr;
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(limits.max_concurrency + 16)
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let addr = listener.local_addr()?;
        // The stop signals are handled from here on, before the server says it is
        // listening (see `stop_signal`).
        let stop = stop_signal();
        let ready = || eprintln!("listening on http://{addr}");
        wasgi::serve::serve(application, listener, limits, stop, ready).await
    })?;
    // Requests still in flight past --shutdown-timeout (a guest with --timeout 0 may
    // never return) must not keep the process: dropping the runtime would wait for
    // their threads.
    runtime.shutdown_background();
    Ok(())
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed when this
/// is called, not when the future is first polled: a stop signal that arrives as soon
/// as the server says it is listening must start the graceful stop, not kill it.
fn stop_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let signals = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    );
    async move {
        let (Ok(mut int), Ok(mut term)) = signals else {
            tracing::error!("cannot listen for SIGINT/SIGTERM; stop the server with SIGKILL");
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}
