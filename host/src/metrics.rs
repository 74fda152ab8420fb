//! The server's Prometheus metrics, every name prefixed `wasgi_` (the list, with types
//! and labels, is in docs/DEPLOY.md), counted where the events happen: the access log
//! line of each response (`serve::log`), instance creation and reuse and the limits a
//! guest hits (`app`), compile-cache hits and misses (`cache`), loads and reloads
//! (`serve::reload`).
//!
//! One set per process, like the log subscriber: [`install`] it (`wasgi serve
//! --admin-addr` does) and the counting starts; without it each hook is one atomic load
//! and nothing more. Every count is an atomic add (prometheus-client's types), so the
//! hot path takes no lock; the text is encoded only when `/metrics` is scraped.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A limit that stopped (or trimmed) a guest, as the `kind` label names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// `--timeout`: the request ran too long.
    Timeout,
    /// `--max-memory`: a memory or table could not grow.
    Memory,
    /// `--fuel`: the CPU budget ran out.
    Fuel,
    /// `--max-output`: the response body was too long.
    Output,
    /// `--max-log`: the guest wrote too much to the log.
    Log,
    /// `--max-resources`: the guest held too many host resources.
    Resources,
}

impl Limit {
    const ALL: [Self; 6] = [
        Self::Timeout,
        Self::Memory,
        Self::Fuel,
        Self::Output,
        Self::Log,
        Self::Resources,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Memory => "memory",
            Self::Fuel => "fuel",
            Self::Output => "output",
            Self::Log => "log",
            Self::Resources => "resources",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    class: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComponentLabels {
    digest: String,
}

/// Every metric, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Histogram,
    in_flight: Gauge,
    queued: Gauge,
    instances_created: Counter,
    instances_reused: Counter,
    limits: Family<KindLabel, Counter>,
    bytes_in: Counter,
    bytes_out: Counter,
    cache_hits: Counter,
    cache_misses: Counter,
    component: Family<ComponentLabels, Gauge>,
    load_seconds: Gauge<f64, AtomicU64>,
    reloads: Family<ResultLabel, Counter>,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// Starts counting, once per process; later calls return the same metrics.
pub fn install() -> &'static Metrics {
    METRICS.get_or_init(Metrics::new)
}

/// The metrics, if [`install`]ed.
pub fn get() -> Option<&'static Metrics> {
    METRICS.get()
}

/// Runs `count` on the metrics, if they are installed.
pub(crate) fn count(count: impl FnOnce(&Metrics)) {
    if let Some(metrics) = get() {
        count(metrics);
    }
}

impl Metrics {
    fn new() -> Self {
        let mut metrics = Self {
            registry: Registry::with_prefix("wasgi"),
            requests: Family::default(),
            // 0.5 ms to 16 s, doubling.
            duration: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            in_flight: Gauge::default(),
            queued: Gauge::default(),
            instances_created: Counter::default(),
            instances_reused: Counter::default(),
            limits: Family::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            component: Family::default(),
            load_seconds: Gauge::default(),
            reloads: Family::default(),
        };
        // Every limit kind and reload result shows from the start, at 0: a dashboard's
        // rate() needs the series before its first increment.
        for limit in Limit::ALL {
            let _ = metrics.limits.get_or_create(&KindLabel {
                kind: limit.label(),
            });
        }
        for result in ["ok", "failed"] {
            let _ = metrics.reloads.get_or_create(&ResultLabel { result });
        }
        metrics.register();
        metrics
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        r.register(
            "requests",
            "Responses, by status class (2xx..5xx) and outcome (completed, failed: before its headers, aborted: after them, client: the client's fault, busy: no room)",
            self.requests.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time from a request's head to the end of its response",
            self.duration.clone(),
        );
        r.register(
            "requests_in_flight",
            "Requests in flight now (each holding a slot of --max-concurrency)",
            self.in_flight.clone(),
        );
        r.register(
            "requests_queued",
            "Requests waiting for a slot (--max-concurrency) now",
            self.queued.clone(),
        );
        r.register(
            "instances_created",
            "Guest instances created",
            self.instances_created.clone(),
        );
        r.register(
            "instances_reused",
            "Requests served by a spare instance (--reuse)",
            self.instances_reused.clone(),
        );
        r.register(
            "limit_hits",
            "Guest limits hit, by kind (timeout, memory, fuel, output, log, resources)",
            self.limits.clone(),
        );
        r.register(
            "request_body_bytes",
            "Request body bytes received",
            self.bytes_in.clone(),
        );
        r.register(
            "response_body_bytes",
            "Response body bytes sent",
            self.bytes_out.clone(),
        );
        r.register(
            "compile_cache_hits",
            "Components loaded compiled from the cache",
            self.cache_hits.clone(),
        );
        r.register(
            "compile_cache_misses",
            "Components compiled (and stored in the cache)",
            self.cache_misses.clone(),
        );
        r.register(
            "component_info",
            "The component being served: 1, labelled with the BLAKE3 digest of its file",
            self.component.clone(),
        );
        r.register(
            "component_load_seconds",
            "How long the component being served took to load (compile or cache hit)",
            self.load_seconds.clone(),
        );
        r.register(
            "reloads",
            "Reloads (SIGHUP, --watch), by result (ok, failed: the old component kept serving)",
            self.reloads.clone(),
        );
    }

    /// One response ended: its status, how it ended (the access log's word), how long
    /// it took (unknown for a request head hyper refused) and its body bytes.
    pub(crate) fn response(
        &self,
        status: u16,
        outcome: &'static str,
        took: Option<Duration>,
        bytes: u64,
    ) {
        let class = match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        };
        self.requests
            .get_or_create(&RequestLabels { class, outcome })
            .inc();
        if let Some(took) = took {
            self.duration.observe(took.as_secs_f64());
        }
        self.bytes_out.inc_by(bytes);
    }

    /// Request body bytes arrived.
    pub(crate) fn received(&self, bytes: u64) {
        self.bytes_in.inc_by(bytes);
    }

    /// A request got a new instance (`reused: false`) or a spare.
    pub(crate) fn instance(&self, reused: bool) {
        if reused {
            self.instances_reused.inc();
        } else {
            self.instances_created.inc();
        }
    }

    /// A guest hit `limit`.
    pub(crate) fn limit(&self, limit: Limit) {
        self.limits
            .get_or_create(&KindLabel {
                kind: limit.label(),
            })
            .inc();
    }

    /// A component came from the compile cache (`hit`) or was compiled into it.
    pub(crate) fn cache(&self, hit: bool) {
        if hit {
            self.cache_hits.inc();
        } else {
            self.cache_misses.inc();
        }
    }

    /// A component was loaded and now serves: its file's digest and its load time.
    pub(crate) fn loaded(&self, digest: &str, took: Duration) {
        self.component.clear();
        self.component
            .get_or_create(&ComponentLabels {
                digest: digest.to_owned(),
            })
            .set(1);
        self.load_seconds.set(took.as_secs_f64());
    }

    /// A reload ended: `ok`, or failed with the old component still serving.
    pub(crate) fn reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.reloads.get_or_create(&ResultLabel { result }).inc();
    }

    /// The metrics in Prometheus' text format, with the gauges of the moment:
    /// `in_flight` requests running and `queued` waiting.
    pub fn encode(&self, in_flight: usize, queued: usize) -> String {
        self.in_flight
            .set(i64::try_from(in_flight).unwrap_or(i64::MAX));
        self.queued.set(i64::try_from(queued).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing to a String cannot fail; a failed encode would leave a short text.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!("failed to encode the metrics: {e}");
        }
        text
    }
}
