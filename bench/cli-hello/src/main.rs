//! The hello app for `wasmtime run`: the bytes `wasgi run` writes for guests/rust/hello,
//! printed by a plain wasi:cli program. bench/run.sh (P1) times it beside `wasgi run`.

use std::io::Write as _;

fn main() -> std::io::Result<()> {
    std::io::stdout()
        .write_all(b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nHello, World!\n")
}
