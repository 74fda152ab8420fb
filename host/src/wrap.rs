//! `wasgi wrap`: a wasgi app as a `wasi:http/incoming-handler` component, with
//! wasgi's gateway inside, for any wasi:http host (wasmtime serve, Spin, wasmCloud).
//!
//! The wrapped component holds three components, composed with `wac-graph`:
//!
//! ```text
//!            wasi:http/incoming-handler (the one export)
//!                       │
//!   handler ── application ──▶ app (unchanged) ── server ──▶ core
//!      └──────────────── control ─────────────────────────────▶ core
//! ```
//!
//! The core (wrap/core: the gateway crate, compiled for wasm32-wasip2) serves the
//! app's `server` and the handler's private `control`; the handler (wrap/handler)
//! exports the incoming handler and drives the app. One component serving both sides
//! would form a cycle with the app, which composition forbids (wrap/wit/wrap.wit).
//! Both helpers are built from source by `build.rs` and embedded here. The wrapped
//! component imports what the app imports, `wasi:http/types`, and the few WASI
//! interfaces the helpers' standard library asks for; nothing of wasgi's.

use std::path::Path;

use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, NodeId, PackageId};

use crate::app::APPLICATION_EXPORT;
use crate::artifact::{self, Kind};
use crate::error::{Error, read_file};

/// The core component, built by `build.rs` from wrap/core.
const CORE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasgi_wrap_core.wasm"));
/// The handler component, built by `build.rs` from wrap/handler.
const HANDLER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/wasgi_wrap_handler.wasm"));

/// The interface the app imports and the core exports.
const SERVER: &str = "wasgi:gateway/server@0.1.0";
/// The types both sides share, which the core exports too.
const TYPES: &str = "wasgi:gateway/types@0.1.0";
/// The private interface between the handler and the core.
const CONTROL: &str = "wasgi:wrap/control@0.1.0";
/// The wrapped component's one export. 0.2.0, the oldest 0.2 release: every wasi:http
/// host of the 0.2 line finds it (they look exports up by semver).
pub const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@0.2.0";

/// Wraps the wasgi app at `path` and returns the wrapped component's bytes.
pub fn wrap(path: &Path) -> Result<Vec<u8>, Error> {
    match artifact::kind(path)? {
        Kind::Component => {}
        Kind::Precompiled => {
            return Err(Error::Invalid {
                path: path.to_owned(),
                reason: "it is a .cwasm; wrap the .wasm it was made from".to_owned(),
            });
        }
    }
    let app = read_file(path)?;
    let not_an_app = |reason: String| Error::NotAnApp {
        path: path.to_owned(),
        reason,
    };
    let mut graph = CompositionGraph::new();
    let app = Package::from_bytes("wasgi:app", None, app, graph.types_mut()).map_err(|e| {
        Error::Invalid {
            path: path.to_owned(),
            reason: chain(&*e),
        }
    })?;
    let app = register(&mut graph, app)?;
    let world = &graph.types()[graph[app].ty()];
    if !world.exports.contains_key(APPLICATION_EXPORT) {
        return Err(not_an_app(format!(
            "it does not export `{APPLICATION_EXPORT}`"
        )));
    }
    if let Some(foreign) = world
        .imports
        .keys()
        .find(|name| name.starts_with("wasgi:") && *name != SERVER && *name != TYPES)
    {
        return Err(not_an_app(format!(
            "it imports `{foreign}`, which wasgi does not provide"
        )));
    }
    let core = helper(&mut graph, "wasgi:wrap-core", CORE)?;
    let handler = helper(&mut graph, "wasgi:wrap-handler", HANDLER)?;

    let core = graph.instantiate(core);
    let app = graph.instantiate(app);
    let handler = graph.instantiate(handler);
    let imports_of = |graph: &CompositionGraph, package: PackageId, name: &str| {
        graph.types()[graph[package].ty()]
            .imports
            .contains_key(name)
    };
    let app_package = graph[app]
        .package()
        .expect("an instantiation has a package");
    for name in [TYPES, SERVER] {
        if imports_of(&graph, app_package, name) {
            plug(&mut graph, core, name, app).map_err(|e| not_an_app(e.reason))?;
        }
    }
    plug(&mut graph, app, APPLICATION_EXPORT, handler).map_err(|e| not_an_app(e.reason))?;
    plug(&mut graph, core, TYPES, handler).map_err(compose_failed)?;
    plug(&mut graph, core, CONTROL, handler).map_err(compose_failed)?;
    let entry = graph
        .alias_instance_export(handler, INCOMING_HANDLER)
        .map_err(|e| compose_failed(Plug::from(&e)))?;
    graph
        .export(entry, INCOMING_HANDLER)
        .map_err(|e| compose_failed(Plug::from(&e)))?;
    graph
        .encode(EncodeOptions::default())
        .map_err(|e| compose_failed(Plug::from(&e)))
}

/// Why wiring one instance's export to another's import failed.
struct Plug {
    reason: String,
}

impl<E: std::error::Error + 'static> From<&E> for Plug {
    fn from(e: &E) -> Self {
        Self { reason: chain(e) }
    }
}

/// Hands `from`'s export `name` to `to`'s import of the same name.
fn plug(graph: &mut CompositionGraph, from: NodeId, name: &str, to: NodeId) -> Result<(), Plug> {
    let export = graph
        .alias_instance_export(from, name)
        .map_err(|e| Plug::from(&e))?;
    graph
        .set_instantiation_argument(to, name, export)
        .map_err(|e| Plug::from(&e))
}

/// Registers one of the embedded helper components.
fn helper(graph: &mut CompositionGraph, name: &str, bytes: &[u8]) -> Result<PackageId, Error> {
    let package = Package::from_bytes(name, None, bytes, graph.types_mut())
        .map_err(|e| compose_failed(Plug { reason: chain(&*e) }))?;
    register(graph, package)
}

fn register(graph: &mut CompositionGraph, package: Package) -> Result<PackageId, Error> {
    graph
        .register_package(package)
        .map_err(|e| compose_failed(Plug::from(&e)))
}

/// A failure of the composition itself, not of the app: a bug of wasgi's.
fn compose_failed(plug: Plug) -> Error {
    Error::Wrap(plug.reason)
}

/// An error and its causes on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line.replace('\n', " ")
}
