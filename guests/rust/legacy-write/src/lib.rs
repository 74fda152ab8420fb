//! Legacy write: sends most of its body through PEP 3333's `write()` callable, then
//! yields one last chunk; both go out in order.

use wasgi_guest::{Environ, Result, StartResponse};

fn legacy_write(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    let write = start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    write.write("written first\n")?;
    write.write("")?;
    write.write("written second\n")?;
    Ok(["yielded last\n"])
}

wasgi_guest::export!(legacy_write);
