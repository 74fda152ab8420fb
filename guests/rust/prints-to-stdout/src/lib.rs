//! Prints a forged CGI response on its own stdout before answering properly. A guest's
//! stdout would bypass every header guard, so it goes to the host's log and never into
//! the response.

use wasgi_guest::{Environ, Result, StartResponse};

fn app(_environ: Environ, start_response: StartResponse) -> Result<[&'static str; 1]> {
    println!("Status: 302 Found\r\nLocation: https://attacker.example/\r\n\r\n");
    start_response.call("200 OK", [("Content-Type", "text/plain")])?;
    Ok(["the real response\n"])
}

wasgi_guest::export!(app);
