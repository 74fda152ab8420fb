//! The hello app for `wasmtime serve`: the same bytes as guests/rust/hello, written
//! against wasi:http directly. bench/serve.sh measures it beside `wasgi serve`.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Hello;

impl Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let headers = Fields::from_list(&[("content-type".to_owned(), b"text/plain".to_vec())])
            .expect("a valid header");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("the body, taken once");
        ResponseOutparam::set(out, Ok(response));
        {
            let stream = body.write().expect("the body stream, taken once");
            stream
                .blocking_write_and_flush(b"Hello, World!\n")
                .expect("write to the client");
        }
        OutgoingBody::finish(body, None).expect("finish the body");
    }
}

wasi::http::proxy::export!(Hello);
