//! `wasgi wrap`'s handler: the wasi:http entry point of a wrapped wasgi app.
//!
//! It owns no rule. It runs PEP 3333's fixed sequence (wsgiref's `BaseHandler.run`,
//! and `wasgi serve`'s own): call the application, pull the body's chunks, close the
//! body, finish, and tells the core (`wasgi:wrap/control`) each step; the core's
//! gateway decides everything about the response. The app's `call` and `next` are
//! the handler's imports, so the core never imports the app and the composition has
//! no cycle (see wrap/wit/wrap.wit).

// Generated code: its exports are `unsafe extern "C"` functions.
#[allow(missing_docs, unsafe_code, clippy::all)]
mod bindings {
    use super::Handler;

    wit_bindgen::generate!({
        path: ["../../wit", "../wit"],
        world: "wasgi:wrap/handler",
        generate_all,
    });

    export!(Handler with_types_in self);
}

use bindings::exports::wasi::http::incoming_handler::Guest;
use bindings::wasgi::gateway::application::{self, Body};
use bindings::wasgi::wrap::control;
use bindings::wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Handler;

impl Guest for Handler {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let environ = control::begin(request, out);
        match application::call(&environ) {
            Ok(body) => {
                drain(&body);
                // Close the body (PEP 3333's `close()`) whatever happened: the core
                // takes no output from the app while it runs.
                control::seal();
                drop(body);
            }
            Err(message) => control::app_error(&message),
        }
        control::finish();
    }
}

/// Pulls the body's chunks into the gateway until it ends, fails, or the gateway
/// refuses more.
fn drain(body: &Body) {
    loop {
        match body.next() {
            Ok(Some(chunk)) => {
                if !control::chunk(&chunk) {
                    return;
                }
            }
            Ok(None) => return control::end_of_body(),
            Err(message) => return control::app_error(&message),
        }
    }
}
