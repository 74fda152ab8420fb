//! `wasgi wrap`'s core: wasgi's gateway inside a wasi:http component.
//!
//! It exports `wasgi:gateway/server` to the wrapped app and `wasgi:wrap/control` to
//! the handler (wrap/wit/wrap.wit says why there are two components). Every rule is
//! the gateway crate's, the same code `wasgi serve` runs: the environ builder
//! ([`request`]), validation, held headers, exc_info, the error page and the cut body
//! ([`sink`] only puts the gateway's bytes on the wasi:http response).
//!
//! One request's state lives in a global. A wasi:http host may instantiate the
//! component once per request (wasmtime serve and Spin do) or reuse it; `begin`
//! replaces whatever an earlier request left, so nothing leaks between requests
//! either way.

// Generated code: its exports are `unsafe extern "C"` functions.
#[allow(missing_docs, unsafe_code, clippy::all)]
mod bindings {
    use super::Core;

    wit_bindgen::generate!({
        path: ["../../wit", "../wit"],
        world: "wasgi:wrap/core",
        generate_all,
    });

    export!(Core with_types_in self);
}
mod log;
mod request;
mod sink;

use std::cell::RefCell;

use wasgi_gateway::input::Input;
use wasgi_gateway::{Failure, Gateway, Violation};

use bindings::exports::wasgi::gateway::server;
use bindings::exports::wasgi::gateway::types::{Environ as WitEnviron, GatewayError, Header};
use bindings::exports::wasgi::wrap::control;
use bindings::wasi::http::types::{IncomingRequest, ResponseOutparam};

/// The request in progress.
struct Request {
    gateway: Gateway,
    input: Input,
    /// What ended the response early, for `finish`.
    failure: Option<Failure>,
}

thread_local! {
    static REQUEST: RefCell<Option<Request>> = const { RefCell::new(None) };
}

/// Runs `f` on the request in progress; `None` when there is none (a call outside
/// `application.call` and its body).
fn with_request<T>(f: impl FnOnce(&mut Request) -> T) -> Option<T> {
    REQUEST.with_borrow_mut(|request| request.as_mut().map(f))
}

fn no_request() -> GatewayError {
    GatewayError::OutputClosed("no request is in progress".to_owned())
}

struct Core;

impl server::Guest for Core {
    fn start_response(
        status: Vec<u8>,
        headers: Vec<Header>,
        exc_info: Option<String>,
    ) -> Result<(), GatewayError> {
        with_request(|r| r.gateway.start_response(status, headers, exc_info))
            .ok_or_else(no_request)?
            .map_err(wit_error)
    }

    fn write(data: Vec<u8>) -> Result<(), GatewayError> {
        with_request(|r| r.gateway.write(&data))
            .ok_or_else(no_request)?
            .map_err(wit_error)
    }

    fn read_input(max_bytes: u32) -> Result<Vec<u8>, GatewayError> {
        with_request(|r| r.input.read(max_bytes))
            .ok_or_else(no_request)?
            .map_err(wit_error)
    }
}

impl control::Guest for Core {
    fn begin(request: IncomingRequest, out: ResponseOutparam) -> WitEnviron {
        log::install();
        let (environ, input) = request::environ_and_input(request);
        let method = environ.get("REQUEST_METHOD").unwrap_or_default().to_vec();
        let gateway = Gateway::new(Box::new(sink::HttpSink::new(out))).for_method(&method);
        let wit = WitEnviron {
            url_scheme: environ.url_scheme().to_owned(),
            multithread: environ.multithread,
            multiprocess: environ.multiprocess,
            run_once: environ.run_once,
            input_terminated: environ.input_terminated,
            variables: environ.into_variables(),
        };
        REQUEST.set(Some(Request {
            gateway,
            input,
            failure: None,
        }));
        wit
    }

    fn chunk(data: Vec<u8>) -> bool {
        with_request(|r| match r.gateway.write(&data) {
            Ok(()) => true,
            Err(violation) => {
                r.failure.get_or_insert(Failure::Rule(violation));
                false
            }
        })
        .unwrap_or(false)
    }

    fn end_of_body() {
        with_request(|r| {
            if let Err(failure) = r.gateway.end_of_body() {
                r.failure.get_or_insert(failure);
            }
        });
    }

    fn app_error(message: String) {
        with_request(|r| {
            r.failure.get_or_insert(Failure::App(message));
        });
    }

    fn seal() {
        with_request(|r| r.gateway.seal());
    }

    fn finish() {
        let Some(mut request) = REQUEST.take() else {
            return;
        };
        if let Some(fault) = request.input.fault() {
            request.gateway.blame_client(fault);
        }
        request.gateway.finish(request.failure.take());
    }
}

/// A gateway refusal as the WIT `gateway-error`, case for case.
fn wit_error(v: Violation) -> GatewayError {
    match v {
        Violation::WriteBeforeStartResponse => GatewayError::WriteBeforeStartResponse,
        Violation::HeadersAlreadySet => GatewayError::HeadersAlreadySet,
        Violation::HeadersAlreadySent => GatewayError::HeadersAlreadySent,
        Violation::InvalidStatus(m) => GatewayError::InvalidStatus(m),
        Violation::InvalidHeader(m) => GatewayError::InvalidHeader(m),
        Violation::OutputClosed(m) => GatewayError::OutputClosed(m),
        Violation::InputFailed(m) => GatewayError::InputFailed(m),
    }
}
