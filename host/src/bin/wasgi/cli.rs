//! The command line: its types, the flags' parsers and their defaults. Parsing only;
//! what each command does is in `commands.rs`.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand};
use wasgi::cache::Cache;
use wasgi::cgi;
use wasgi::grants::{self, DirGrant, Grants};
use wasgi::limits::{GuestLimits, ResponseLimits};
use wasgi::serve::{Address, Limits, LogFormat};

/// The `wasgi` command line.
#[derive(Parser)]
#[command(
    name = "wasgi",
    version,
    about = "Run web applications compiled to WebAssembly components (PEP 3333 for wasm)",
    after_help = "\
CGI handler form: run by a web server with no arguments (or only the search words of
a query string) and WASGI_APP set in its environment, wasgi is `wasgi run $WASGI_APP`.
Apache and nginx + fcgiwrap set it up that way: see docs/DEPLOY.md."
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands. Each one's flags are defined only when it is the one run (`defer`):
/// building every command's flags for `wasgi run` was a seventh of a cached run's
/// instructions. So what must apply to the flags (`mut_args`) goes on the options
/// struct, and the options structs (and those flattened into them) have no doc
/// comment, which clap would make the help's summary in place of the command's, now
/// set first.
#[derive(Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Run one request CGI style: environ from the CGI variables, response on stdout.
    #[command(after_help = "\
Exit status:
  0   the response completed
  3   the application failed before its headers went out: a 500 was sent
  4   the response was aborted after its headers went out (it is incomplete)
  10  the file cannot be read (the application, or the --body file)
  11  the file is not a WebAssembly component (or a .cwasm this wasgi cannot load)
  12  the component does not implement the wasgi world
  1   the host itself failed (stdout unavailable, engine setup)
  2   the command line is wrong")]
    Run(RunArgs),
    /// Compile an application ahead of time into a .cwasm that `wasgi run` and `wasgi
    /// serve` load without compiling.
    #[command(after_help = "\
The .cwasm is machine code for this machine, this wasgi build and its engine settings;
another wasgi refuses it (recompile it then). It is checked before it is loaded (a
header with the wasgi build, the engine settings and a BLAKE3 digest of the code), which
catches a stale, truncated or corrupted file, not a forged one: run only .cwasm files
you compiled or trust, as you would a program. `wasgi run` and `wasgi serve` also keep
their own cache of compiled components (--cache-dir); `wasgi compile` is for shipping
an application compiled, or for a machine without a writable cache.

Exit status:
  0   the .cwasm was written
  10  the application cannot be read
  11  the file is not a WebAssembly component
  12  the component does not implement the wasgi world
  1   the output cannot be written, or the host itself failed
  2   the command line is wrong")]
    Compile(CompileArgs),
    /// Serve the application over HTTP/1.1: a fresh instance per request (or, with
    /// --reuse, one a clean earlier request left).
    #[command(after_help = "\
Once listening it prints `listening on http://ADDR` on stderr (after `admin on
http://ADDR` with --admin-addr). SIGINT or SIGTERM stop it gracefully: /readyz says
503, no new connections, requests in flight finish (up to --shutdown-timeout), exit 0;
a second SIGINT or SIGTERM stops it at once (exit 130 or 143). SIGHUP (or, with
--watch, a change to APP) loads APP again in the background and swaps it in: requests
in flight finish on the old one; if the new one fails to load, the old one keeps
serving and the log says why. One access-log line per response goes to stderr, with
the request id the guest gets as REQUEST_ID; RUST_LOG sets the verbosity (for example
RUST_LOG=wasgi=debug).

Every option can also be set in the environment: WASGI_ and the option's name in
capitals with _ for - (WASGI_ADDR, WASGI_MAX_CONCURRENCY, WASGI_REUSE=true), and APP
as WASGI_APP; an option on the command line wins. A repeatable option takes one value
from the environment, a comma-separated list for --trusted-proxy and --allow-connect.
--cache-dir's is WASGI_CACHE_DIR, as for every command. See docs/DEPLOY.md.")]
    Serve(ServeArgs),
    /// Check an application against PEP 3333, wsgiref.validate and RFC 9110: what it
    /// imports and needs, then a corpus of requests, each deviation a diagnostic.
    #[command(after_help = "\
Static: the wasgi world it implements (and its version), its imports and the grants
they need (--dir, --env, --allow-connect), its size and compiled size, and the
toolchain that built it (its producers sections; a .cwasm keeps none).

Dynamic: a built-in corpus of requests (GET, HEAD, OPTIONS, POST forms and JSON, a
1 MiB body, every byte value, paths that are not UTF-8, a SCRIPT_NAME, ...) and those
of --requests FILE (JSON lines: {\"name\", \"method\", \"path\", \"script_name\",
\"headers\": [[name, value]], \"body\"}), each in a fresh instance under wasgi serve's
default limits (--timeout 30, --max-memory 256MiB; the guest flags change them).
Every refusal of the gateway is an error naming its rule; what it lets through but a
careful server warns about is a warning. The rules and their sources: docs/CHECK.md.
The guest's own stderr and stdout go to stderr, as under wasgi run.

Exit status:
  0   no error (warnings allowed, unless --strict)
  5   the check found errors (or, with --strict, warnings)
  10  the file cannot be read
  11  the file is not a WebAssembly component (or a .cwasm this wasgi cannot load)
  12  the component does not implement the wasgi world (the report says why)
  1   the host itself failed
  2   the command line is wrong (a --requests file included)")]
    Check(CheckArgs),
    /// Wrap an application into a wasi:http component, with wasgi's gateway inside,
    /// for wasmtime serve, Spin, wasmCloud and other wasi:http hosts.
    #[command(after_help = "\
The output exports wasi:http/incoming-handler@0.2.0 and holds the application
unchanged, with wasgi's gateway between it and the platform: the same environ, rules
and error handling as `wasgi serve`; limits are then the platform's. See
docs/WASI-HTTP.md. Run it with, for example, `wasmtime serve -S cli APP.http.wasm`.

Exit status:
  0   the wrapped component was written
  10  the application cannot be read
  11  the file is not a WebAssembly component
  12  the component does not implement the wasgi world
  1   the output cannot be written, or the host itself failed
  2   the command line is wrong")]
    Wrap(WrapArgs),
}

// `wasgi wrap`'s options (not a doc comment: see `Command`).
#[derive(clap::Args)]
pub struct WrapArgs {
    /// The application: a wasm component implementing the wasgi world.
    pub app: PathBuf,
    /// Where to write the wrapped component (default: APP with the extension
    /// .http.wasm).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

// `wasgi check`'s options (not a doc comment: see `Command`).
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The application: a wasm component, or a .cwasm written by `wasgi compile`.
    pub app: PathBuf,
    /// More requests, one JSON object per line (see below and docs/CHECK.md).
    #[arg(long, value_name = "FILE")]
    pub requests: Option<PathBuf>,
    /// Make only the --requests, not the built-in corpus.
    #[arg(long, requires = "requests")]
    pub no_builtin: bool,
    /// `human`, grouped by rule; or `json`, for CI.
    #[arg(long, value_enum, default_value = "human")]
    pub format: CheckFormat,
    /// Fail on warnings too.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub guest: GuestArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// How `wasgi check` writes its report.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum CheckFormat {
    /// For people: grouped by rule, each finding with the requests that showed it.
    Human,
    /// One JSON object (docs/CHECK.md).
    Json,
}

// `wasgi run`'s options (not a doc comment: see `Command`).
#[derive(clap::Args)]
pub struct RunArgs {
    /// The application: a wasm component implementing the wasgi world, or a
    /// .cwasm written by `wasgi compile`.
    pub app: PathBuf,
    /// REQUEST_METHOD (default: the CGI variable, else GET).
    #[arg(long)]
    pub method: Option<String>,
    /// The request target: PATH_INFO, percent-decoded, and an optional ?QUERY_STRING.
    #[arg(long)]
    pub path: Option<String>,
    /// A request header, 'Name: value'; repeat it for more.
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = cgi::parse_header)]
    pub headers: Vec<(String, Vec<u8>)>,
    /// The request body: a file, or - for stdin (read to its end). Without it the
    /// body is stdin bounded by CONTENT_LENGTH, and empty with no CONTENT_LENGTH.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// Write the whole HTTP response (status line, Date, framing) as a
    /// non-parsed-headers CGI program does; automatic when wasgi runs under a file
    /// name starting with `nph-`.
    #[arg(long)]
    pub nph: bool,
    /// How the body's end is marked: `stream` sends each chunk as it comes;
    /// `length` holds a body the app gave no Content-Length, then sends it with
    /// one, so that a server holding the body to it (nginx + fcgiwrap) shows an
    /// abort to the client as a short body. Default: $WASGI_FRAMING, else stream.
    #[arg(long, value_name = "stream|length", value_parser = |s: &str| cgi::Framing::from_variable(Some(s.as_ref())))]
    pub framing: Option<cgi::Framing>,
    /// Refused with a note: `wasgi run` handles one request, so it has no instance
    /// to reuse (the flag is `wasgi serve`'s).
    #[arg(long, hide = true)]
    pub reuse: bool,
    #[command(flatten)]
    pub guest: GuestArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
}

// `wasgi compile`'s options (not a doc comment: see `Command`).
#[derive(clap::Args)]
pub struct CompileArgs {
    /// The application: a wasm component implementing the wasgi world.
    pub app: PathBuf,
    /// Where to write the compiled application (default: APP with the extension
    /// .cwasm).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Compile fuel metering in, for runs with a --fuel budget (which refuse a
    /// .cwasm without it, and the other way round). Time checks are always compiled
    /// in, for runs with a --timeout and without.
    #[arg(long)]
    pub fuel: bool,
}

// `wasgi serve`'s options (not a doc comment: see `Command`), from the environment too.
#[derive(clap::Args)]
#[command(mut_args = from_env)]
pub struct ServeArgs {
    /// The application: a wasm component implementing the wasgi world, or a
    /// .cwasm written by `wasgi compile`.
    pub app: PathBuf,
    /// The address to listen on: HOST:PORT (port 0 picks a free port), or
    /// unix:PATH for a unix-domain socket (mode 0660, removed at exit). Default:
    /// 127.0.0.1:8000, or the socket systemd passes (socket activation, LISTEN_FDS).
    #[arg(long, value_name = "HOST:PORT|unix:PATH")]
    pub addr: Option<Address>,
    /// Serve the probes (/livez, /readyz) and the Prometheus metrics (/metrics) on
    /// this address, never the app's. Default: no admin listener.
    #[arg(long, value_name = "ADDR")]
    pub admin_addr: Option<SocketAddr>,
    /// The log's format: one line of text an event, or one JSON object a line.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormatArg,
    /// Reload APP when its file changes (its size or modification time, looked at
    /// every second), as on SIGHUP. Replace the file by renaming a complete one
    /// over it.
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Reuse instances between requests: after a request that ran cleanly its
    /// instance serves a later one, saving a heavy guest (Python, JavaScript) the
    /// milliseconds of a new instance. What it gives up: the guest's globals and
    /// heap survive between requests (what one request leaves there, the next
    /// sees), and memory a guest leaks adds up until --max-memory stops it. A
    /// request that traps, fails or hits a limit drops its instance. Each request
    /// still gets its own environ, input, response and limits.
    #[arg(long)]
    pub reuse: bool,
    #[command(flatten)]
    pub guest: GuestArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// `--log-format`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    /// One line of text an event.
    Text,
    /// One JSON object a line.
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(format: LogFormatArg) -> Self {
        match format {
            LogFormatArg::Text => Self::Text,
            LogFormatArg::Json => Self::Json,
        }
    }
}

impl Cli {
    /// How the log is written: `wasgi serve --log-format`, else text.
    pub fn log_format(&self) -> LogFormat {
        match &self.command {
            Command::Serve(args) => args.log_format.into(),
            _ => LogFormat::Text,
        }
    }
}

/// `wasgi serve`'s options from the environment too: `--max-queue` from
/// `WASGI_MAX_QUEUE`, APP from `WASGI_APP` (the command line wins). Only `serve`'s:
/// `wasgi run` is a CGI program, whose environment is its web server's.
fn from_env(arg: clap::Arg) -> clap::Arg {
    let name = match (arg.get_id().as_str(), arg.get_long()) {
        // Already the cache's variable, for every command (see `CacheArgs`).
        (_, Some("cache-dir" | "help" | "version")) => return arg,
        ("app", None) => "WASGI_APP".to_owned(),
        (_, Some(long)) => format!("WASGI_{}", long.to_uppercase().replace('-', "_")),
        (_, None) => return arg,
    };
    let arg = arg.env(name);
    match arg.get_long() {
        // Lists of addresses, which hold no comma.
        Some("trusted-proxy" | "allow-connect") => arg.value_delimiter(','),
        _ => arg,
    }
}

// What one request's guest may take, and what it may reach (not a doc comment: see
// `Command`). Limits a guest hits end its response as a failure does (a 500, or an
// aborted response) with a log line naming the flag; see docs/SECURITY.md for every
// default.
#[derive(clap::Args, Default)]
pub struct GuestArgs {
    /// Seconds one request may run, guest code included, before it is stopped (a 500,
    /// or an aborted response); 0 for no limit (a component is then compiled without
    /// time checks, which cost a CPU-bound Python guest about a tenth of its speed).
    /// Default: none for run, 30 for serve.
    #[arg(long, value_name = "SECS", value_parser = seconds_or_zero)]
    timeout: Option<f64>,
    /// Bytes each of the guest's memories (and tables) may grow to (suffixes KiB, MiB, GiB); 0 for
    /// no limit beyond wasm's 4 GiB. Default: none for run, 256MiB for serve.
    #[arg(long, value_name = "SIZE", value_parser = size)]
    max_memory: Option<usize>,
    /// CPU budget per request, in wasmtime fuel (about one unit per wasm
    /// instruction). Default: none (no metering is compiled in).
    #[arg(long, value_name = "UNITS", value_parser = clap::value_parser!(u64).range(1..))]
    fuel: Option<u64>,
    /// Bytes of response body; past it, a 500 (or an aborted response); 0 for no
    /// limit. Default: none.
    #[arg(long, value_name = "SIZE", value_parser = size)]
    max_output: Option<usize>,
    /// Headers one response may set; past it, start_response fails (a 500).
    #[arg(long, value_name = "N", default_value_t = GuestLimits::LOOSE.response.max_headers)]
    max_response_headers: usize,
    /// Bytes of the response's status line and headers; past it, start_response
    /// fails (a 500).
    #[arg(long, value_name = "SIZE", value_parser = size, default_value = "64KiB")]
    max_response_header_bytes: usize,
    /// Bytes a request's guest may write to its stdout and stderr (the log); the rest
    /// is dropped.
    #[arg(long, value_name = "SIZE", value_parser = size, default_value = "1MiB")]
    max_log: usize,
    /// Host resources (WASI streams, pollables, files) an instance may hold at once;
    /// past it, the guest is stopped.
    #[arg(long, value_name = "N", default_value_t = GuestLimits::LOOSE.max_resources)]
    max_resources: usize,
    /// Grant a host directory, read-write: HOST, or HOST::GUEST to show it at GUEST.
    /// Repeat for more. Default: no host file is visible.
    #[arg(long = "dir", value_name = "HOST[::GUEST]", value_parser = |s: &str| DirGrant::parse(s, false))]
    dirs: Vec<DirGrant>,
    /// Grant a host directory, read-only: HOST, or HOST::GUEST.
    #[arg(long = "ro-dir", value_name = "HOST[::GUEST]", value_parser = |s: &str| DirGrant::parse(s, true))]
    ro_dirs: Vec<DirGrant>,
    /// Give the guest an environment variable: NAME=VALUE, or NAME for the host's
    /// value. Default: an empty environment.
    #[arg(long = "env", value_name = "NAME[=VALUE]", value_parser = grants::parse_env)]
    env: Vec<(String, String)>,
    /// Let the guest connect (TCP, or UDP datagrams) to IP:PORT. Default: no network.
    #[arg(long = "allow-connect", value_name = "IP:PORT")]
    connect: Vec<SocketAddr>,
}

impl GuestArgs {
    /// The limits, with `default` for what was not given.
    pub fn limits(&self, default: GuestLimits) -> GuestLimits {
        GuestLimits {
            timeout: match self.timeout {
                Some(0.0) => None,
                Some(s) => Some(Duration::from_secs_f64(s)),
                None => default.timeout,
            },
            max_memory: match self.max_memory {
                Some(0) => None,
                Some(n) => Some(n),
                None => default.max_memory,
            },
            fuel: self.fuel,
            max_resources: self.max_resources,
            max_log: self.max_log,
            response: ResponseLimits {
                max_headers: self.max_response_headers,
                max_header_bytes: self.max_response_header_bytes,
                max_output: match self.max_output {
                    Some(0) | None => None,
                    Some(n) => Some(n as u64),
                },
            },
        }
    }

    /// The grants, in flag order (read-write directories first).
    pub fn grants(&self) -> Grants {
        Grants {
            dirs: self.dirs.iter().chain(&self.ro_dirs).cloned().collect(),
            env: self.env.clone(),
            connect: self.connect.clone(),
        }
    }
}

/// `wasgi serve`'s default guest limits: `wasgi run`'s, plus time and memory.
pub const SERVE_GUEST_LIMITS: GuestLimits = GuestLimits {
    timeout: Some(Duration::from_secs(30)),
    max_memory: Some(256 << 20),
    ..GuestLimits::LOOSE
};

/// A number of seconds, 0 included.
fn seconds_or_zero(text: &str) -> Result<f64, String> {
    if text == "0" {
        return Ok(0.0);
    }
    seconds(text)
}

/// A size in bytes: `1048576`, `512KiB`, `64MiB`, `1GiB`.
fn size(text: &str) -> Result<usize, String> {
    let (digits, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |at| text.split_at(at));
    let shift = match unit {
        "" => 0,
        "KiB" | "K" => 10,
        "MiB" | "M" => 20,
        "GiB" | "G" => 30,
        _ => {
            return Err(format!(
                "{text:?}: write a size as bytes, or with KiB, MiB or GiB"
            ));
        }
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{text:?} is not a size in bytes"))
}

// `wasgi serve`'s protections (not a doc comment: see `Command`); the defaults are
// `serve::Limits::default()`.
#[derive(clap::Args)]
pub struct LimitArgs {
    /// Requests in flight at once, each with its own thread and instance; past
    /// this they wait in the queue.
    #[arg(long, default_value_t = Limits::default().max_concurrency, value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    max_concurrency: usize,
    /// Of those, requests running guest code at once. A request gives its turn up
    /// while its guest waits on the client or in a sleep or poll, and after each 20 ms
    /// of CPU time (not with --timeout 0). Default: one per core (bounds memory:
    /// docs/PERFORMANCE.md).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    max_running: Option<usize>,
    /// Requests that may wait for a slot; past this, 503.
    #[arg(long, default_value_t = Limits::default().max_queue)]
    max_queue: usize,
    /// Header fields per request; past this, 431.
    #[arg(long, default_value_t = Limits::default().max_headers, value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    max_headers: usize,
    /// Bytes of request line and headers; past this, 431.
    #[arg(long, default_value_t = Limits::default().max_header_bytes, value_parser = clap::value_parser!(u32).range(1024..).map(|n| n as usize))]
    max_header_bytes: usize,
    /// Bytes of request body; past this, 413.
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: u64,
    /// Seconds a request head, or the next piece of a body, may take; past this, 408.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().read_timeout.as_secs_f64(), value_parser = seconds)]
    read_timeout: f64,
    /// Seconds a whole request body may take to arrive, from its head on; past this,
    /// 408 (a body trickling in holds a guest's slot no longer than this).
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().body_timeout.as_secs_f64(), value_parser = seconds)]
    body_timeout: f64,
    /// Connections open at once; past this a new one gets a 503 and is closed.
    /// Default: 1024, or fewer when the file-descriptor limit (ulimit -n) is lower.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    max_connections: Option<usize>,
    /// Pass request headers whose names hold '_' to the app (dropped by default: as
    /// CGI variables they look like their dashed forms, which a proxy may have vetted).
    #[arg(long)]
    allow_underscore_headers: bool,
    /// Seconds a client may take no response data before its response is aborted.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().write_timeout.as_secs_f64(), value_parser = seconds)]
    write_timeout: f64,
    /// Seconds shutdown waits for requests in flight.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().shutdown_timeout.as_secs_f64(), value_parser = seconds)]
    shutdown_timeout: f64,
    /// A proxy whose X-Forwarded-For and X-Forwarded-Proto set REMOTE_ADDR and
    /// wsgi.url_scheme; repeat it for more. Default: none (docs/DEPLOY.md).
    #[arg(long = "trusted-proxy", value_name = "IP")]
    trusted_proxies: Vec<IpAddr>,
}

impl LimitArgs {
    /// The server's limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_concurrency: self.max_concurrency,
            max_running: self.max_running,
            max_queue: self.max_queue,
            max_headers: self.max_headers,
            max_header_bytes: self.max_header_bytes,
            max_body_bytes: self.max_body_bytes,
            read_timeout: Duration::from_secs_f64(self.read_timeout),
            body_timeout: Duration::from_secs_f64(self.body_timeout),
            max_connections: self.max_connections,
            allow_underscore_headers: self.allow_underscore_headers,
            write_timeout: Duration::from_secs_f64(self.write_timeout),
            shutdown_timeout: Duration::from_secs_f64(self.shutdown_timeout),
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }
}

/// A positive, finite number of seconds.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(s),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

// Where compiled components are kept (not a doc comment: see `Command`).
#[derive(clap::Args, Default)]
pub struct CacheArgs {
    /// Keep compiled components here (default: $WASGI_CACHE_DIR, else
    /// $XDG_CACHE_HOME/wasgi, else $HOME/.cache/wasgi, else a private
    /// $TMPDIR/wasgi-cache-UID, /tmp by default).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile the component on every run; never read or write the cache.
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
}

impl CacheArgs {
    /// The cache, if any; it tells about a compile when stderr is a terminal.
    pub fn cache(&self) -> Option<Cache> {
        if self.no_cache {
            return None;
        }
        self.cache_dir
            .clone()
            .or_else(|| Cache::default_or_fallback_dir(|name| std::env::var_os(name)))
            .map(|dir| Cache::new(dir).with_notice(std::io::stderr().is_terminal()))
    }
}
