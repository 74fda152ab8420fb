//! The admin listener (`--admin-addr`), for the platform rather than the clients:
//! `GET /livez` (or `/healthz`) says the process answers, `GET /readyz` whether it
//! should get traffic (200 once the component is loaded and the app's listener
//! accepts; 503 before that and while draining after SIGTERM), and `GET /metrics` the
//! Prometheus metrics ([`crate::metrics`]). It keeps answering during the drain, so a
//! probe sees the 503 and the load balancer stops sending before the process exits.
//!
//! It is a port of its own: a probe must not wait in the app's queue, and the
//! metrics are for the operator's network, not the world's.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::Shared;
use crate::metrics::Metrics;

/// Connections the admin listener holds open at once; past it a connection is
/// closed at once (probes and a scraper need a few).
const MAX_CONNECTIONS: usize = 64;

/// How long a request head may take on the admin port.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The content type of Prometheus' text format as prometheus-client writes it.
const METRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves the admin endpoints on `listener` for as long as the runtime runs.
pub(super) fn start(listener: TcpListener, shared: Arc<Shared>, metrics: &'static Metrics) {
    let open = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of descriptors: the app's acceptor backs off and warns; here a
                // short pause keeps this loop from spinning.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok(permit) = open.clone().try_acquire_owned() else {
                continue;
            };
            let shared = shared.clone();
            let service = hyper::service::service_fn(move |request| {
                let response = answer(&shared, metrics, &request);
                async move { Ok::<_, Infallible>(response) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = conn.await;
                drop(permit);
            });
        }
    });
}

/// The answer to one admin request.
fn answer<B>(
    shared: &Shared,
    metrics: &Metrics,
    request: &hyper::Request<B>,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    match request.uri().path() {
        "/livez" | "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" if shared.ready.load(Ordering::Relaxed) => text(StatusCode::OK, "ready\n"),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        "/metrics" => {
            let in_flight = shared.limits.max_concurrency - shared.slots.available_permits();
            let queued = shared.waiting.load(Ordering::Relaxed);
            let body = metrics.encode(in_flight, queued);
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_TYPE));
            response
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: the admin endpoints are /livez, /readyz and /metrics\n",
        ),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}
