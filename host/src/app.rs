//! A loaded application, and the one sequence that runs a request through it.
//!
//! [`Application::load`] checks a file once (is it a component? does it implement the
//! wasgi world?) and prepares it for instantiation. [`Application::handle`] is
//! wsgiref's `BaseHandler.run` for components: a fresh instance (or, opted into with
//! [`Application::with_reuse`], an instance a clean earlier request left), call, pull
//! the body chunk by chunk into the [`Gateway`], close the body, finish or fail. Front
//! ends call `handle` with a [`Sink`]; every rule lives in the gateway core.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::component::{Component, Linker, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use wasgi_gateway::environ::Environ;
use wasgi_gateway::gateway::{Failure, Gateway, Header, Outcome, Sink, Violation};
use wasgi_gateway::input::Input;
use wasgi_gateway::log::LogBudget;
use wasgi_gateway::observe::Observer;
use wasgi_gateway::response::{ClientFault, Head};

use crate::artifact::{self, Kind, cwasm};
use crate::bundle::Carried;
use crate::cache::Cache;
use crate::error::{Error, one_line};
use crate::grants::Grants;
use crate::limits::{self, GuestLimits, LogStream, MemoryLimiter, TimeChecks};
use crate::metrics::Limit;
use crate::turn::Turn;

mod link;

mod bindings {
    wasmtime::component::bindgen!({ path: "../wit", world: "app" });
}

use bindings::exports::wasgi::gateway::application::Guest as AppExports;
use bindings::wasgi::gateway::types::{Environ as WitEnviron, GatewayError};

/// The export every wasgi application provides.
pub const APPLICATION_EXPORT: &str = "wasgi:gateway/application@0.1.0";

/// The engine configuration every front end uses: one place, so compiled forms agree.
/// Fuel metering is compiled in only when `limits` sets a fuel budget, time checks
/// only as `checks` says (each costs every guest some speed); a compiled form is
/// cached per setting.
pub fn engine(limits: &GuestLimits, checks: TimeChecks) -> Result<Engine, Error> {
    build_engine(wasmtime::Config::new(), limits, checks)
}

/// The largest span of a linear memory's initial data that is always made one image
/// (mapped copy-on-write into each instance), however sparse the data in it. Past
/// wasmtime's default, 16 MiB, a span more than twice its data is initialised by
/// copying every segment into every instance instead: a pre-initialised CPython's
/// snapshot (thousands of segments over 20–50 MiB, the zero runs between them left
/// out) fell back to that and cost a fresh instance three times the CPU
/// (PERFORMANCE.md). The image holds the span's zeros too, in the compiled form.
pub(crate) const DENSE_IMAGE_SPAN: u64 = 128 * 1024 * 1024;

/// Every engine: epoch interruption as `checks` says (for `--timeout`; its ticker
/// starts with the first application given a timeout, see
/// [`Application::with_limits`]); every memory of up to [`DENSE_IMAGE_SPAN`] of
/// initial data made a copy-on-write image.
fn build_engine(
    mut config: wasmtime::Config,
    limits: &GuestLimits,
    checks: TimeChecks,
) -> Result<Engine, Error> {
    config.epoch_interruption(checks == TimeChecks::On);
    config.memory_guaranteed_dense_image_size(DENSE_IMAGE_SPAN);
    config.consume_fuel(limits.fuel.is_some());
    Engine::new(&config).map_err(|e| Error::Engine(one_line(&e)))
}

/// Bytes of the pages a finished instance dirtied in each linear memory that the pool
/// resets in place, with memcpy from the component's image, and keeps mapped (see
/// [`pooled_engine`]); pages dirtied past it are decommitted. A Rust guest dirties a
/// few pages; a pre-initialised CPython a few hundred, scattered over its heap (about
/// 800 pages, 3 MiB, for a Flask request; PERFORMANCE.md): 16 MiB keeps all of them,
/// so its next instance starts without a page fault. Also the most an idle slot holds.
pub const LINEAR_MEMORY_KEEP_RESIDENT: usize = 16 * 1024 * 1024;
/// Bytes of each table reset in place: CPython's function table (5,676 entries,
/// 45 KiB), filled at every instantiation.
const TABLE_KEEP_RESIDENT: usize = 64 * 1024;

/// How many instances a server's requests may hold at once: one running per slot, and
/// as many again still being torn down (a server releases a request's slot when its
/// response is finished, before its instance is dropped, so the next request may
/// instantiate meanwhile). The server takes one of these before it instantiates and
/// gives it back once the instance is dropped, so that teardowns falling behind make
/// a request wait instead of finding the pool full.
pub fn instances_in_flight(max_concurrency: usize) -> usize {
    max_concurrency.max(1).saturating_mul(2)
}

/// The instances a server's pool holds: [`instances_in_flight`] plus one spare per
/// slot (what `--reuse` keeps; a reload retires the replaced application's:
/// [`Application::retire`]). Each keeps up to [`LINEAR_MEMORY_KEEP_RESIDENT`] of the
/// pages its last instance wrote while it waits (deploy/kubernetes counts them).
pub fn pool_instances(max_concurrency: usize) -> usize {
    instances_in_flight(max_concurrency).saturating_add(max_concurrency.max(1))
}

/// The engine for a server: the same settings as [`engine`] (so compiled forms are
/// shared), with wasmtime's pooling allocator sized for [`pool_instances`], so an
/// instance costs no mmap/munmap per request and the pool never runs out.
pub fn pooled_engine(
    max_concurrency: usize,
    limits: &GuestLimits,
    checks: TimeChecks,
) -> Result<Engine, Error> {
    let instances = u32::try_from(pool_instances(max_concurrency)).unwrap_or(u32::MAX);
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    // A component holds several core instances, memories and tables (a Python guest
    // a dozen instances); size the pool so `max_concurrency` of them always fit.
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(32))
        .total_memories(instances.saturating_mul(4))
        .total_tables(instances.saturating_mul(8))
        // Reset the pages a finished instance dirtied in place rather than with
        // madvise: madvise changes page tables, and every change is a TLB shootdown
        // across cores and a page fault for the next instance (the top cost of a
        // small request, and of a fresh CPython instance, by perf).
        .linear_memory_keep_resident(LINEAR_MEMORY_KEEP_RESIDENT)
        .table_keep_resident(TABLE_KEEP_RESIDENT)
        // With PAGEMAP_SCAN (Linux 6.7+) the reset finds the pages the guest actually
        // dirtied, wherever they are (a Rust guest's stack sits at 1 MiB, far past the
        // first pages), and resets only those: no page faults, no madvise, no TLB
        // shootdowns. Halves the cost of a small request, and of a fresh CPython
        // instance more than that, with the fix in vendor/wasmtime (the scan no
        // longer stops after 32 runs of dirty pages); older kernels fall back.
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = wasmtime::Config::new();
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    build_engine(config, limits, checks)
}

/// One request, as the front end hands it over.
pub struct Request {
    /// The environ (built by [`Environ`]'s pure builder).
    pub environ: Environ,
    /// The request body, bounded by the environ (see [`Input`]).
    pub input: Input,
    /// The request's turn to run guest code, given up while its guest waits in
    /// `wasi:io/poll` (see [`crate::turn`]); `None`: not bounded.
    pub turn: Option<Arc<Turn>>,
}

/// What one request's guest took, as [`Application::handle_observed`] measures it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of the largest of its memories, at their largest.
    pub peak_memory: usize,
    /// A memory or table growth was refused (`--max-memory`).
    pub memory_refused: bool,
}

/// A component checked against the wasgi world and ready to instantiate, once per
/// request.
pub struct Application {
    pre: bindings::AppPre<RequestState>,
    limits: GuestLimits,
    grants: Grants,
    /// The files the component carries, mounted read-only before any grant.
    carried: Option<Carried>,
    /// Instances kept for the next request (see [`Application::with_reuse`]); `None`,
    /// a fresh instance for every request.
    reuse: Option<Spares>,
}

impl Application {
    /// Reads, checks and compiles the component at `path`, through `cache` when
    /// given; or loads the `.cwasm` at `path` that `wasgi compile` wrote, after
    /// checking it. Every refusal says which file and what is wrong with it.
    pub fn load(engine: &Engine, path: &Path, cache: Option<&Cache>) -> Result<Self, Error> {
        let component = load_component(engine, path, cache)?;
        Self::from_component(engine, path, &component, cache)
    }

    /// Prepares the component loaded from `path` (by [`load_component`]), with the
    /// files it carries (extracted into `cache`'s directory when given).
    pub(crate) fn from_component(
        engine: &Engine,
        path: &Path,
        component: &Component,
        cache: Option<&Cache>,
    ) -> Result<Self, Error> {
        // Hook: the component's carried files (see `bundle`).
        let carried =
            Carried::load(path, cache.map(Cache::dir)).map_err(|reason| Error::Invalid {
                path: path.to_owned(),
                reason,
            })?;
        let mut app = Self::new(engine, path, component)?;
        app.grants.dirs = carried.iter().flat_map(Carried::grants).collect();
        app.carried = carried;
        Ok(app)
    }

    /// `wasgi compile`: compiles the component at `app`, checks that it is a wasgi
    /// application, and writes it to `out` as a `.cwasm` for this wasgi and `engine`'s
    /// settings. Refuses what [`Application::load`] refuses, with the same errors.
    /// With `notice`, says on stderr that it is compiling and how long it took.
    pub fn compile_to(engine: &Engine, app: &Path, out: &Path, notice: bool) -> Result<(), Error> {
        if same_file(app, out) {
            return Err(Error::Write {
                path: out.to_owned(),
                cause: std::io::Error::other("it is the application being compiled"),
            });
        }
        if artifact::kind(app)? == Kind::Precompiled {
            return Err(Error::Invalid {
                path: app.to_owned(),
                reason: "it is already a .cwasm; compile the .wasm it was made from".to_owned(),
            });
        }
        let (compiled, component) = artifact::compile_file(engine, app, notice.then_some(""))?;
        Self::new(engine, app, &component)?;
        let files = crate::bundle::carried_files(app)?;
        cwasm::write(engine, &compiled, &files, out)
    }

    /// Prepares an already compiled component.
    pub fn new(engine: &Engine, path: &Path, component: &Component) -> Result<Self, Error> {
        let not_an_app = |reason: String| Error::NotAnApp {
            path: path.to_owned(),
            reason,
        };
        let mut linker = Linker::<RequestState>::new(engine);
        link::add_wasi(&mut linker, engine, component).map_err(|e| Error::Engine(one_line(&e)))?;
        bindings::App::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| Error::Engine(one_line(&e)))?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| not_an_app(one_line(&e)))?;
        if component
            .component_type()
            .get_export(engine, APPLICATION_EXPORT)
            .is_none()
        {
            return Err(not_an_app(format!(
                "it does not export `{APPLICATION_EXPORT}`"
            )));
        }
        let pre = bindings::AppPre::new(pre).map_err(|e| not_an_app(one_line(&e)))?;
        Ok(Self {
            pre,
            limits: GuestLimits::LOOSE,
            grants: Grants::default(),
            carried: None,
            reuse: None,
        })
    }

    /// The same application, its guests held to `limits`. A fuel budget needs an
    /// engine made for it, a timeout one with time checks (see [`engine`]). A
    /// timeout starts the engine's epoch ticker, once per engine; without one no
    /// thread is started (5% of a cached `wasgi run`'s time).
    pub fn with_limits(mut self, limits: GuestLimits) -> Result<Self, Error> {
        if limits.timeout.is_some() {
            if !self.pre.engine().get_epoch_interruption() {
                return Err(Error::Engine(
                    "a timeout needs an engine made with time checks (TimeChecks::On)".into(),
                ));
            }
            limits::ensure_ticker(self.pre.engine()).map_err(|e| Error::Engine(e.to_string()))?;
        }
        self.limits = limits;
        Ok(self)
    }

    /// The same application, its guests given `grants` (checked: every granted
    /// directory must open).
    pub fn with_grants(mut self, mut grants: Grants) -> Result<Self, String> {
        // Hook: the carried files come first (see `bundle`).
        grants
            .dirs
            .splice(0..0, self.carried.iter().flat_map(Carried::grants));
        grants.check()?;
        self.grants = grants;
        Ok(self)
    }

    /// The same application, reusing instances: a request that ran cleanly (no trap,
    /// no error, no limit hit) leaves its instance for a later request, up to
    /// `max_spare` kept at once; concurrent requests never share one. Instantiating
    /// costs a heavy guest (Python, JavaScript) milliseconds where calling it again
    /// costs a fraction of one.
    ///
    /// What it gives up: isolation between requests. The guest's globals and heap
    /// survive from one request to the next, so whatever it keeps (a cache, a
    /// counter, a secret from an earlier request) later requests see, and memory it
    /// leaks adds up until `--max-memory` stops it (the instance is then dropped).
    /// What stays per request: the environ, the input, the response (status,
    /// headers, body), the time, fuel and log budgets. A trap, an error or a limit
    /// hit drops the instance; the next request gets a fresh one.
    pub fn with_reuse(mut self, max_spare: usize) -> Self {
        self.reuse = Some(Spares {
            instances: Mutex::new(Vec::new()),
            max: AtomicUsize::new(max_spare),
        });
        self
    }

    /// Keeps no spare instances from now on and drops those kept (a server calls it
    /// on the application a reload replaced, so that the pool's room for spares goes
    /// to the new one: see [`pooled_engine`]). Requests still running finish as they
    /// would; their instances are then dropped.
    pub fn retire(&self) {
        if let Some(spares) = &self.reuse {
            spares.retire();
        }
    }

    /// Runs one request on a fresh (or, with reuse, a spare) instance and reports how
    /// the response ended. Never fails: whatever the guest does becomes a response (a
    /// 500, an aborted body) and a log line.
    pub fn handle(&self, request: Request, sink: Box<dyn Sink>) -> Outcome {
        self.handle_observed(request, sink, None).0
    }

    /// [`Application::handle`], telling `observer` what the gateway saw (see
    /// [`wasgi_gateway::observe`]; the input is observed if the caller gave it the
    /// observer too), and measuring what the guest took.
    pub fn handle_observed(
        &self,
        request: Request,
        sink: Box<dyn Sink>,
        observer: Option<Arc<dyn Observer>>,
    ) -> (Outcome, Usage) {
        let Request {
            environ,
            input,
            turn,
        } = request;
        let method = environ.get("REQUEST_METHOD").unwrap_or_default().to_vec();
        let wit_environ = WitEnviron {
            url_scheme: environ.url_scheme().to_owned(),
            multithread: environ.multithread,
            multiprocess: environ.multiprocess,
            run_once: environ.run_once,
            input_terminated: environ.input_terminated,
            variables: environ.into_variables(),
        };
        let spare = self.reuse.as_ref().and_then(Spares::take);
        let mut instance = match spare.map_or_else(|| self.new_instance(), Ok) {
            Ok(instance) => instance,
            Err(e) => {
                let log = LogBudget::new(self.limits.max_log);
                let gateway = self.gateway(sink, &method, log, observer);
                return (gateway.fail_with(Failure::Trap(e)), Usage::default());
            }
        };
        let log = instance.store.data().log.clone();
        let gateway = self.gateway(sink, &method, log, observer);
        let failure = match begin(&mut instance.store, &self.limits, gateway, input, turn) {
            Ok(()) => self.run(&mut instance, &wit_environ).err(),
            Err(failure) => Some(failure),
        };
        let (mut gateway, fault) = end(&mut instance.store);
        count_limits(&instance.store, &gateway);
        if let Some(fault) = fault {
            gateway.blame_client(fault);
        }
        let memory = &instance.store.data().memory;
        let usage = Usage {
            peak_memory: memory.peak(),
            memory_refused: memory.refused(),
        };
        // A spare goes back before the response ends, so the client's next request
        // finds it; any other instance is dropped after, off the response's path.
        let dropped = match &self.reuse {
            Some(spares) if failure.is_none() && !instance.store.data().memory.refused() => {
                spares.put(instance);
                None
            }
            _ => Some(instance),
        };
        let outcome = gateway.finish(failure);
        drop(dropped);
        (outcome, usage)
    }

    /// The gateway of one response.
    fn gateway(
        &self,
        sink: Box<dyn Sink>,
        method: &[u8],
        log: LogBudget,
        observer: Option<Arc<dyn Observer>>,
    ) -> Gateway {
        let gateway = Gateway::new(sink)
            .for_method(method)
            .with_limits(self.limits.response)
            .with_log_budget(log);
        match observer {
            Some(observer) => gateway.with_observer(observer),
            None => gateway,
        }
    }

    /// A new store, not yet instantiated (that happens in [`Self::run`], within the
    /// request's limits).
    fn new_instance(&self) -> Result<Instance, String> {
        let log = LogBudget::new(self.limits.max_log);
        let (stdout, stderr) = LogStream::pair(&log);
        let wasi = self.grants.wasi(stdout, stderr)?;
        let mut table = ResourceTable::new();
        table.set_max_capacity(self.limits.max_resources);
        let state = RequestState {
            wasi,
            table,
            gateway: Gateway::new(Box::new(NoRequest)),
            input: Input::empty(),
            memory: MemoryLimiter::new(self.limits.max_memory),
            log,
            deadline: None,
            turn: None,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.memory);
        store.epoch_deadline_callback(|store| {
            let state = store.data();
            Ok(limits::at_epoch_deadline(
                state.deadline,
                state.turn.as_deref(),
            ))
        });
        Ok(Instance { store, app: None })
    }

    /// Instantiate (unless the instance is a spare), call, drain, close. `Err` is the
    /// failure that ends the response.
    fn run(&self, instance: &mut Instance, environ: &WitEnviron) -> Result<(), Failure> {
        let store = &mut instance.store;
        crate::metrics::count(|m| m.instance(instance.app.is_some()));
        let app = match &instance.app {
            Some(app) => app,
            None => instance
                .app
                .insert(self.pre.instantiate(&mut *store).map_err(trapped)?),
        };
        let api = app.wasgi_gateway_application();
        let body = api
            .call_call(&mut *store, environ)
            .map_err(trapped)?
            .map_err(Failure::App)?;
        store.data_mut().gateway.body_returned();
        let drained = drain(api, store, body);
        if let Err(Failure::Trap(_)) = drained {
            // A trapped instance cannot run its close; it is torn down with the store.
            return drained;
        }
        store.data_mut().gateway.seal();
        let closed = body.resource_drop(&mut *store).map_err(trapped);
        drained.and(closed)
    }
}

/// The component at `path`: compiled (through `cache` when given), or loaded from the
/// `.cwasm` that `wasgi compile` wrote, after checking it.
pub(crate) fn load_component(
    engine: &Engine,
    path: &Path,
    cache: Option<&Cache>,
) -> Result<Component, Error> {
    Ok(match (artifact::kind(path)?, cache) {
        (Kind::Precompiled, _) => cwasm::load(engine, path)?,
        (Kind::Component, Some(cache)) => cache.component(engine, path)?,
        (Kind::Component, None) => artifact::compile_file(engine, path, None)?.1,
    })
}

/// Hands `store` one request: its gateway and input, and its own budgets of time,
/// fuel, memory and log. Everything a request owns is set here, in one place, so a
/// spare instance starts each request as a fresh one would, but for the guest's own
/// state.
fn begin(
    store: &mut Store<RequestState>,
    limits: &GuestLimits,
    gateway: Gateway,
    input: Input,
    turn: Option<Arc<Turn>>,
) -> Result<(), Failure> {
    let state = store.data_mut();
    state.gateway = gateway;
    state.input = input;
    let has_turn = turn.is_some();
    state.turn = turn;
    state.log.refill();
    state.memory = MemoryLimiter::new(limits.max_memory);
    state.deadline = limits
        .timeout
        .map(|timeout| tokio::time::Instant::now() + timeout);
    store.set_epoch_deadline(limits.first_deadline_ticks(has_turn));
    if let Some(fuel) = limits.fuel {
        store
            .set_fuel(fuel)
            .map_err(|e| Failure::Trap(one_line(&e)))?;
    }
    Ok(())
}

/// Takes the request back from `store`: its gateway, to finish the response, and the
/// client's fault if its input failed because of the client. The input goes with it
/// (a request body's channel closes now, not when a spare is next used).
fn end(store: &mut Store<RequestState>) -> (Gateway, Option<ClientFault>) {
    let state = store.data_mut();
    state.turn = None;
    let fault = std::mem::replace(&mut state.input, Input::empty()).fault();
    let gateway = std::mem::replace(&mut state.gateway, Gateway::new(Box::new(NoRequest)));
    (gateway, fault)
}

/// A store and, once instantiated, the application in it.
struct Instance {
    store: Store<RequestState>,
    app: Option<bindings::App>,
}

/// Spare instances, most recently used last.
struct Spares {
    instances: Mutex<Vec<Instance>>,
    /// How many are kept: 0 once the application is retired.
    max: AtomicUsize,
}

impl Spares {
    /// Keeps none from now on, and drops those kept.
    fn retire(&self) {
        self.max.store(0, Ordering::Relaxed);
        let kept = std::mem::take(&mut *self.lock());
        drop(kept);
    }

    /// The most recently used spare, if any.
    fn take(&self) -> Option<Instance> {
        self.lock().pop()
    }

    /// Keeps `instance` for a later request, unless enough are kept already.
    fn put(&self, instance: Instance) {
        let mut instances = self.lock();
        if instances.len() < self.max.load(Ordering::Relaxed) {
            instances.push(instance);
        }
    }

    /// The list; a panic elsewhere while holding it cannot leave it inconsistent
    /// (push and pop do not panic), so poisoning is ignored.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        self.instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sink of an instance between requests. Nothing runs then, so nothing is sent;
/// were anything tried, it would fail.
struct NoRequest;

impl Sink for NoRequest {
    fn send_headers(&mut self, _: &Head<'_>) -> std::io::Result<()> {
        Err(std::io::Error::other("no request is in progress"))
    }

    fn send_chunk(&mut self, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::other("no request is in progress"))
    }

    fn finish(&mut self) -> std::io::Result<()> {
        Err(std::io::Error::other("no request is in progress"))
    }

    fn abort(&mut self) {}
}

/// Whether `a` and `b` name one existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Pull chunks into the gateway until the body ends or fails.
fn drain(
    api: &AppExports,
    store: &mut Store<RequestState>,
    body: ResourceAny,
) -> Result<(), Failure> {
    loop {
        let next = api.body().call_next(&mut *store, body).map_err(trapped)?;
        match next.map_err(Failure::App)? {
            Some(chunk) => store
                .data_mut()
                .gateway
                .write(&chunk)
                .map_err(Failure::Rule)?,
            None => return store.data_mut().gateway.end_of_body(),
        }
    }
}

/// Counts the limits a request hit without trapping (those that stop a guest are
/// counted by [`trapped`]): memory that could not grow, log dropped, a body cut at
/// `--max-output`.
fn count_limits(store: &Store<RequestState>, gateway: &Gateway) {
    crate::metrics::count(|m| {
        let state = store.data();
        if state.memory.refused() {
            m.limit(Limit::Memory);
        }
        if state.log.overflowed() {
            m.limit(Limit::Log);
        }
        if gateway.passed_max_output() {
            m.limit(Limit::Output);
        }
    });
}

/// A trap as a failure: its cause on one line (naming the limit, when a limit stopped
/// the guest, and counting it); the wasm backtrace at debug level.
fn trapped(e: wasmtime::Error) -> Failure {
    tracing::debug!("{e:?}");
    let limit = match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => Some((
            Limit::Timeout,
            "the request ran past its time limit (--timeout) and was stopped",
        )),
        Some(wasmtime::Trap::OutOfFuel) => Some((
            Limit::Fuel,
            "the request used up its CPU budget (--fuel) and was stopped",
        )),
        _ => e
            .chain()
            .any(|cause| {
                matches!(
                    cause.downcast_ref::<wasmtime::component::ResourceTableError>(),
                    Some(wasmtime::component::ResourceTableError::Full)
                )
            })
            .then_some((
                Limit::Resources,
                "the guest held more host resources than --max-resources allows and was stopped",
            )),
    };
    if let Some((kind, limit)) = limit {
        crate::metrics::count(|m| m.limit(kind));
        return Failure::Trap(format!("limit: {limit}"));
    }
    let cause = e
        .chain()
        .last()
        .map(ToString::to_string)
        .unwrap_or_default();
    Failure::Trap(cause)
}

/// Everything one instance owns: its WASI context (nothing beyond the grants; stdout
/// and stderr go to the host's log) and the request it is serving (set by [`begin`],
/// taken back by [`end`]).
struct RequestState {
    wasi: WasiCtx,
    table: ResourceTable,
    gateway: Gateway,
    input: Input,
    memory: MemoryLimiter,
    /// The log budget that the guest's stdout and stderr and the gateway draw on,
    /// refilled for each request.
    log: LogBudget,
    /// When the request's time is up (for waits in host calls; wasm code is stopped
    /// by the epoch deadline).
    deadline: Option<tokio::time::Instant>,
    /// The request's turn to run guest code, given up while the guest waits in
    /// `wasi:io/poll`.
    turn: Option<Arc<Turn>>,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl bindings::wasgi::gateway::types::Host for RequestState {}

impl bindings::wasgi::gateway::server::Host for RequestState {
    fn start_response(
        &mut self,
        status: Vec<u8>,
        headers: Vec<Header>,
        exc_info: Option<String>,
    ) -> Result<(), GatewayError> {
        self.gateway
            .start_response(status, headers, exc_info)
            .map_err(Into::into)
    }

    fn write(&mut self, data: Vec<u8>) -> Result<(), GatewayError> {
        self.gateway.legacy_write(&data).map_err(Into::into)
    }

    fn read_input(&mut self, max_bytes: u32) -> Result<Vec<u8>, GatewayError> {
        self.input.read(max_bytes).map_err(Into::into)
    }
}

impl From<Violation> for GatewayError {
    fn from(v: Violation) -> Self {
        match v {
            Violation::WriteBeforeStartResponse => Self::WriteBeforeStartResponse,
            Violation::HeadersAlreadySet => Self::HeadersAlreadySet,
            Violation::HeadersAlreadySent => Self::HeadersAlreadySent,
            Violation::InvalidStatus(m) => Self::InvalidStatus(m),
            Violation::InvalidHeader(m) => Self::InvalidHeader(m),
            Violation::OutputClosed(m) => Self::OutputClosed(m),
            Violation::InputFailed(m) => Self::InputFailed(m),
        }
    }
}
