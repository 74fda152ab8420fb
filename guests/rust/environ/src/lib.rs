//! Environ: answers with the request's environ as JSON. Variable values are shown as
//! PEP 3333 shows them to Python: each byte one code point (latin-1), so bytes that
//! are not UTF-8 survive the trip.

use serde_json::{Map, Value, json};
use wasgi_guest::{Environ, Result, StartResponse};

fn environ(environ: Environ, start_response: StartResponse) -> Result<[Vec<u8>; 1]> {
    let variables: Map<String, Value> = environ
        .vars()
        .map(|(name, value)| {
            (
                name.to_owned(),
                Value::String(value.iter().map(|&b| char::from(b)).collect()),
            )
        })
        .collect();
    let body = json!({
        "variables": variables,
        "wsgi.url_scheme": environ.url_scheme(),
        "wsgi.multithread": environ.multithread(),
        "wsgi.multiprocess": environ.multiprocess(),
        "wsgi.run_once": environ.run_once(),
        "wsgi.input_terminated": environ.input_terminated(),
    });
    start_response.call("200 OK", [("Content-Type", "application/json")])?;
    Ok([serde_json::to_vec_pretty(&body)?])
}

wasgi_guest::export!(environ);
