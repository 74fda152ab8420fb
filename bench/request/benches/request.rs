//! P2 and P5 of docs/PERFORMANCE.md: one request in process, through the library API.
//!
//! Each benchmark loads a guest once (compiled through the cache in
//! `target/wasgi-cache`) and times [`Application::handle`]: instantiate, call, drain
//! the body into a sink that counts bytes and drops them, drop the instance. The
//! environ is built outside the timed part. Two engines, as the front ends use them:
//! `pooled` is `wasgi serve`'s (instances from a pool), `on-demand` is `wasgi run`'s
//! (an mmap per instance); and `pooled-reuse`, the pooled engine with
//! [`Application::with_reuse`] (`wasgi serve --reuse`): the instance a request leaves
//! serves the next.
//!
//! ```sh
//! guests/build.sh                    # target/guests/{rust,python}/hello.wasm
//! cargo bench -p wasgi-bench --bench request        # every benchmark
//! cargo bench -p wasgi-bench --bench request -- rust-hello
//! ```
//!
//! bench/run.sh runs it and turns the medians into the table's ratios. Not a test:
//! nothing here asserts a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use wasgi::cache::Cache;
use wasgi::input::Input;
use wasgi::limits::GuestLimits;
use wasgi::response::Head;
use wasgi::{Application, Environ, Outcome, Request, Sink, TimeChecks};

/// The body both hello guests answer with.
const HELLO: &[u8] = b"Hello, World!\n";

/// A sink that drops the response and counts the body bytes it was given.
struct Discard(Arc<AtomicUsize>);

impl Sink for Discard {
    fn send_headers(&mut self, _head: &Head<'_>) -> std::io::Result<()> {
        Ok(())
    }

    fn send_chunk(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.0.fetch_add(chunk.len(), Ordering::Relaxed);
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    fn abort(&mut self) {}
}

/// The target directory: where guests/build.sh puts the guests.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// `GET /`, as `wasgi run` builds it with no CGI variables set.
fn request() -> Request {
    let mut environ = Environ::new();
    environ.apply_defaults();
    Request {
        environ,
        input: Input::empty(),
        turn: None,
    }
}

/// Loads `target/guests/LANG/hello.wasm` on `engine`, checks one request answers with
/// [`HELLO`], and returns it with the counter its sinks add to.
fn hello(engine: &wasmtime::Engine, lang: &str) -> (Application, Arc<AtomicUsize>) {
    let path = target_dir().join("guests").join(lang).join("hello.wasm");
    assert!(
        path.exists(),
        "no guest at {} (build it with guests/build.sh {lang})",
        path.display()
    );
    let cache = Cache::new(target_dir().join("wasgi-cache"));
    let app = Application::load(engine, &path, Some(&cache)).expect("the hello guest loads");
    let sent = Arc::new(AtomicUsize::new(0));
    let outcome = app.handle(request(), Box::new(Discard(Arc::clone(&sent))));
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(sent.swap(0, Ordering::Relaxed), HELLO.len());
    (app, sent)
}

/// Times one request of `lang`'s hello: a fresh instance on a pooled and on an
/// on-demand engine, and a reused instance ([`Application::with_reuse`]) on the pooled
/// one.
fn bench_hello(c: &mut Criterion, lang: &str) {
    // Every group's set-up runs whatever the filter: a language whose guests are not
    // built (bench/run.sh builds only Rust and Python) is left out, saying so.
    let built = target_dir().join("guests").join(lang).join("hello.wasm");
    if !built.exists() {
        eprintln!(
            "{lang}-hello left out: no {} (build it with guests/build.sh {lang})",
            built.display()
        );
        return;
    }
    let limits = GuestLimits::LOOSE;
    // As the front ends make them: `wasgi serve`'s with time checks (its default
    // timeout), `wasgi run`'s without (no timeout by default).
    let pooled = wasgi::pooled_engine(64, &limits, TimeChecks::On).expect("a pooled engine");
    let on_demand = wasgi::engine(&limits, TimeChecks::Off).expect("an engine");
    let variants = [
        ("pooled", hello(&pooled, lang)),
        ("on-demand", hello(&on_demand, lang)),
        ("pooled-reuse", {
            let (app, sent) = hello(&pooled, lang);
            (app.with_reuse(1), sent)
        }),
    ];
    let mut group = c.benchmark_group(format!("{lang}-hello"));
    for (name, (app, sent)) in &variants {
        group.bench_function(*name, |b| {
            b.iter_batched(
                request,
                |request| {
                    let outcome = app.handle(request, Box::new(Discard(Arc::clone(sent))));
                    assert_eq!(outcome, Outcome::Completed);
                },
                BatchSize::SmallInput,
            )
        });
        // Every timed request sent the whole body: nothing above was cut short.
        assert_eq!(sent.load(Ordering::Relaxed) % HELLO.len(), 0);
    }
    group.finish();
}

/// P2: the Rust hello.
fn rust_hello(c: &mut Criterion) {
    bench_hello(c, "rust");
}

/// P5: the Python hello (CPython inside the component), fresh and reused instances.
fn python_hello(c: &mut Criterion) {
    bench_hello(c, "python");
}

/// The JavaScript hello (StarlingMonkey inside the component, componentize-js).
fn js_hello(c: &mut Criterion) {
    bench_hello(c, "js");
}

/// The C hello (wasi-libc, wasgi.h).
fn c_hello(c: &mut Criterion) {
    bench_hello(c, "c");
}

criterion_group!(benches, rust_hello, python_hello, js_hello, c_hello);
criterion_main!(benches);
