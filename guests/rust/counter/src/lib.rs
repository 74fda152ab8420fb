//! Counts the requests its instance has served, in a global: always 1 on a fresh
//! instance per request; 1, 2, 3… when `wasgi serve --reuse` keeps the instance. Every
//! response carries the count in `X-Count`. By path, it also shows what each request
//! must keep to itself however many requests its instance served before:
//!
//! - `/echo`: the request body, exactly;
//! - `/skip`: never reads the request body;
//! - `/tag`: adds `X-Tag` with the query string (a later request must not carry it);
//! - `/hold`: sends `count=N holding`, then waits for the whole request body before it
//!   ends (so a client can keep requests in flight at once);
//! - `/fail-after-headers`: one chunk, then an error (an aborted response);
//! - `/trap`: panics before its headers (a trap: the instance is gone);
//! - `/scatter`: counts the pages of a 1 MiB zeroed array that are not zero on entry,
//!   then writes to every other page (128 runs of dirty pages, far more than one scan
//!   of the pool's reset used to take): `scatter seen=N`, 0 on a fresh instance;
//! - anything else: `count=N path=PATH query=QUERY`.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use wasgi_guest::{Environ, Error, GatewayError, Result, StartResponse};

/// Requests this instance has served.
static SERVED: AtomicU64 = AtomicU64::new(0);

/// Wasm pages are 64 KiB but the host's are 4 KiB: what `/scatter` dirties.
const PAGE: usize = 4096;
/// Zeroed (in the module's bss): 256 host pages that `/scatter` dirties and checks.
static SCATTERED: [AtomicU8; 256 * PAGE] = [const { AtomicU8::new(0) }; 256 * PAGE];

/// The pages of [`SCATTERED`] not zero on entry; then marks every other page.
fn scatter() -> usize {
    let seen = (0..256)
        .filter(|page| SCATTERED[page * PAGE].load(Ordering::Relaxed) != 0)
        .count();
    for page in (0..256).step_by(2) {
        SCATTERED[page * PAGE].store(1, Ordering::Relaxed);
    }
    seen
}

/// A response body, pulled one chunk at a time.
type Body = Box<dyn Iterator<Item = Result<Vec<u8>>>>;

fn counter(environ: Environ, start_response: StartResponse) -> Result<Body> {
    let count = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
    let count_header = count.to_string();
    let mut headers = vec![
        ("Content-Type", "text/plain".as_bytes()),
        ("X-Count", count_header.as_bytes()),
    ];
    let body: Body = match environ.path() {
        b"/echo" => Box::new(std::iter::once(Ok(read_all(&environ)?))),
        b"/skip" => Box::new(std::iter::once(Ok(b"skipped\n".to_vec()))),
        b"/tag" => {
            headers.push(("X-Tag", environ.query()));
            Box::new(std::iter::once(Ok(b"tagged\n".to_vec())))
        }
        b"/hold" => {
            let first = format!("count={count} holding\n").into_bytes();
            let rest = std::iter::once_with(move || {
                read_all(&environ)?;
                Ok(b"done\n".to_vec())
            });
            Box::new(std::iter::once(Ok(first)).chain(rest))
        }
        b"/fail-after-headers" => Box::new(
            [
                Ok(b"partial\n".to_vec()),
                Err(Error::msg("counter: failed after its headers")),
            ]
            .into_iter(),
        ),
        b"/trap" => panic!("counter: trapped on request {count}"),
        b"/scatter" => Box::new(std::iter::once(Ok(
            format!("scatter seen={}\n", scatter()).into_bytes()
        ))),
        path => {
            let line = format!(
                "count={count} path={} query={}\n",
                String::from_utf8_lossy(path),
                String::from_utf8_lossy(environ.query())
            );
            Box::new(std::iter::once(Ok(line.into_bytes())))
        }
    };
    start_response.call("200 OK", headers)?;
    Ok(body)
}

/// The whole request body.
fn read_all(environ: &Environ) -> Result<Vec<u8>, GatewayError> {
    let mut body = Vec::new();
    for piece in environ.input().chunks(64 * 1024) {
        body.extend_from_slice(&piece?);
    }
    Ok(body)
}

wasgi_guest::export!(counter);
