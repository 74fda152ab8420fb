//! What each command does, once its flags are parsed: `wasgi run` (and the CGI
//! handler form), `wasgi compile`, `wasgi serve`, `wasgi check` and `wasgi wrap`.

use std::ffi::OsString;
use std::fs::File;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use wasgi::cache::Cache;
use wasgi::grants::Grants;
use wasgi::limits::GuestLimits;
use wasgi::serve::{Address, Limits, Listener, Service};
use wasgi::{Application, Error, Outcome, Request, TimeChecks, cgi};

use crate::cli::{
    CacheArgs, CheckArgs, CheckFormat, Command, CompileArgs, LogFormatArg, RunArgs,
    SERVE_GUEST_LIMITS, ServeArgs, WrapArgs,
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
        Command::Check(args) => check(args).map(|()| Outcome::Completed),
        Command::Wrap(args) => wrap(args),
    }
}

/// `wasgi check`: the report on stdout; a failed check is an error (see `exit.rs`).
fn check(args: CheckArgs) -> Result<(), Failure> {
    use std::io::Write as _;
    use wasgi::check::{self, corpus};
    use wasgi::rules::{Rule, Severity};
    let mut requests = if args.no_builtin {
        Vec::new()
    } else {
        corpus::builtin()
    };
    if let Some(path) = &args.requests {
        let file = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("cannot read --requests {file}: {e}")))?;
        let more =
            corpus::parse(&text).map_err(|e| Failure::Usage(format!("--requests {file}: {e}")))?;
        requests.extend(more);
    }
    let limits = args.guest.limits(SERVE_GUEST_LIMITS);
    let engine = wasgi::engine(&limits, TimeChecks::for_run(&args.app, &limits)?)?;
    let cache = args.cache.cache();
    let report = check::check(
        &engine,
        &args.app,
        cache.as_ref(),
        limits,
        args.guest.grants(),
        &requests,
    )
    .map_err(|e| match e {
        check::CheckError::Load(e) => Failure::Load(e),
        check::CheckError::Grants(e) => Failure::Usage(e),
    })?;
    let text = match args.format {
        CheckFormat::Human => report.human(),
        CheckFormat::Json => format!("{}\n", report.json()),
    };
    std::io::stdout().write_all(text.as_bytes())?;
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    if errors > 0 || (args.strict && warnings > 0) {
        return Err(Failure::Checked {
            app: args.app,
            errors,
            warnings,
            world: report.diagnostics.iter().any(|d| d.rule == Rule::World),
        });
    }
    Ok(())
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
    let limits = GuestLimits {
        fuel: args.fuel.then_some(1),
        ..GuestLimits::LOOSE
    };
    let engine = wasgi::engine(&limits, TimeChecks::CWASM)?;
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
    let application = load(app, guest, cache, |limits, checks| {
        Ok(wasgi::engine(limits, checks)?)
    })?;
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
    let outcome = application.handle(
        Request {
            environ,
            input,
            turn: None,
        },
        sink,
    );
    // The process ends with this response (the sink, and with it stdout, is already
    // closed): freeing the compiled component and its linker one allocation at a time
    // is work the exit does at once (5% of a cached run's instructions).
    std::mem::forget(application);
    Ok(outcome)
}

/// Loads the application on an engine made for its limits and the time checks it
/// needs, with its grants.
fn load(
    app: &Path,
    guest: Guest,
    cache: Option<&Cache>,
    engine: impl FnOnce(&GuestLimits, TimeChecks) -> Result<wasmtime::Engine, Failure>,
) -> Result<Application, Failure> {
    let engine = engine(&guest.limits, TimeChecks::for_run(app, &guest.limits)?)?;
    let application = Application::load(&engine, app, cache)?.with_limits(guest.limits)?;
    application
        .with_grants(guest.grants)
        .map_err(Failure::Usage)
}

/// `wasgi serve`: HTTP until SIGINT or SIGTERM; with `--reuse`, instances left by
/// clean requests serve later ones; SIGHUP (or `--watch`) loads the app again.
fn serve(args: ServeArgs) -> Result<(), Failure> {
    let limits: Limits = args.limits.limits();
    // First: a socket from systemd is descriptor 3 until something else opens a file
    // (loading the app does) and takes that number; and a bad address fails before
    // a long compile.
    let listener = listener(args.addr)?;
    if let Some(admin) = args.admin_addr {
        if let Address::Tcp(addr) = listener.address() {
            same_port(*addr, admin)?;
        }
        // Before the first load, so that its compile-cache hit or miss counts.
        wasgi::metrics::install();
    }
    let (guest_limits, grants) = (args.guest.limits(SERVE_GUEST_LIMITS), args.guest.grants());
    // A reload keeps the engine, so the file it loads must need the same time checks.
    let checks = TimeChecks::for_run(&args.app, &guest_limits)?;
    let engine = wasgi::pooled_engine(limits.max_concurrency, &guest_limits, checks)?;
    let cache = args.cache.cache();
    // At most one spare per slot: no more can be busy at once.
    let reuse = args.reuse.then_some(limits.max_concurrency);
    let path = args.app.clone();
    let load_app = move || {
        let guest = Guest {
            limits: guest_limits,
            grants: grants.clone(),
        };
        let application = load(&path, guest, cache.as_ref(), |_, needed| {
            if needed == checks {
                Ok(engine.clone())
            } else {
                Err(Failure::Usage(format!(
                    "{} is now a .cwasm, which has time checks compiled in, and this server was started on a component with --timeout 0, without them: restart the server to serve it",
                    path.display()
                )))
            }
        })?;
        Ok::<_, Failure>(match reuse {
            Some(spares) => application.with_reuse(spares),
            None => application,
        })
    };
    let started = std::time::Instant::now();
    let application = load_app()?;
    let loaded_in = started.elapsed();
    let admin = match args.admin_addr {
        Some(admin) => {
            let listener = std::net::TcpListener::bind(admin)
                .with_context(|| format!("cannot listen on {admin} (--admin-addr)"))?;
            listener.set_nonblocking(true)?;
            Some(listener)
        }
        None => None,
    };
    let json = matches!(args.log_format, LogFormatArg::Json);
    tracing::info!(
        "up to {} requests at once (--max-concurrency), {} of them running guest code (--max-running)",
        limits.max_concurrency,
        limits.running()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(limits.max_concurrency + 16)
        .build()?;
    runtime.block_on(async {
        let addr = listener.address().clone();
        let admin = admin.map(tokio::net::TcpListener::from_std).transpose()?;
        let admin_addr = admin
            .as_ref()
            .map(tokio::net::TcpListener::local_addr)
            .transpose()?;
        // The stop signals are handled from here on, before the server says it is
        // listening (see `stop_signal`).
        let stop = stop_signal();
        let ready = move || {
            if let Some(admin) = admin_addr {
                say(json, &format!("admin on http://{admin}"));
            }
            say(json, &format!("listening on {addr}"));
        };
        let service = Service {
            app: application,
            path: args.app,
            loaded_in,
            reload: Box::new(move || load_app().map_err(|e| e.to_string())),
            watch: args.watch,
            admin,
        };
        wasgi::serve::serve(service, listener, limits, stop, ready).await
    })?;
    // Requests still in flight past --shutdown-timeout (a guest with --timeout 0 may
    // never return) must not keep the process: dropping the runtime would wait for
    // their threads.
    runtime.shutdown_background();
    Ok(())
}

/// Refuses an admin address that is the app's (the same port on the same, or any,
/// address): the probes and metrics must not be on the app's port.
fn same_port(app: SocketAddr, admin: SocketAddr) -> Result<(), Failure> {
    let overlap =
        app.ip() == admin.ip() || app.ip().is_unspecified() || admin.ip().is_unspecified();
    if app.port() != 0 && app.port() == admin.port() && overlap {
        return Err(Failure::Usage(format!(
            "--admin-addr {admin} is the app's --addr {app}: give the admin listener a port of its own (for example --admin-addr 127.0.0.1:9000)"
        )));
    }
    Ok(())
}

/// A line scripts wait for (`listening on ...`): plain on stderr, or a JSON event in
/// the JSON log.
fn say(json: bool, line: &str) {
    if json {
        tracing::info!("{line}");
    } else {
        eprintln!("{line}");
    }
}

/// The socket systemd passed (socket activation), else `--addr` bound (by default
/// 127.0.0.1:8000). Both at once is a mistake: which one the operator meant is unclear.
fn listener(addr: Option<Address>) -> Result<Listener, Failure> {
    let activated = Listener::from_systemd().map_err(|e| Failure::Host(e.into()))?;
    match (activated, addr) {
        (Some(listener), None) => Ok(listener),
        (Some(listener), Some(addr)) => Err(Failure::Usage(format!(
            "--addr {addr} and a socket from systemd ({}, LISTEN_FDS) both given: drop --addr to serve on systemd's socket, or unset LISTEN_FDS",
            listener.address()
        ))),
        (None, addr) => {
            let addr = addr.unwrap_or(Address::Tcp(SocketAddr::from(([127, 0, 0, 1], 8000))));
            Listener::bind(&addr).map_err(|e| Failure::Host(e.into()))
        }
    }
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
