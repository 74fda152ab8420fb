//! The real apps of the JavaScript and C guests, byte for byte through `wasgi run`:
//! `guests/js/bookshelf` (mustache from npm, unmodified) and `guests/c/guestbook` (a
//! form read from wsgi.input). Their conformance-suite siblings are checked by
//! `conformance`; these show that an ordinary app with a dependency or a form works.

use std::process::Stdio;

use crate::conformance::{compiled, guest};
use crate::util::{COMPLETED, Then, expect, output, output_with_input, target_dir, wasgi};

/// `wasgi run APP ARGS...` with the shared compile cache (filled first, however long
/// compiling takes), and `body` on stdin if any.
fn run(app: &std::path::Path, args: &[&str], body: Option<&[u8]>) -> std::process::Output {
    compiled(app.to_str().expect("a UTF-8 path"));
    let mut cmd = wasgi();
    cmd.env("WASGI_CACHE_DIR", target_dir().join("wasgi-cache"))
        .arg("run")
        .arg(app)
        .args(args);
    match body {
        Some(body) => output_with_input(cmd.arg("--body").arg("-"), body, Then::Close),
        None => output(cmd.stdin(Stdio::null())),
    }
}

const HTML: &str = "Content-Type: text/html; charset=utf-8\r\n";

#[test]
fn bookshelf_renders_a_book_with_mustache() {
    let out = run(&guest("js", "bookshelf"), &["--path", "/books/ddia"], None);
    let want = format!(
        "Status: 200 OK\r\n{HTML}\r\n<!doctype html>\n<title>Designing Data-Intensive Applications</title>\n\
         <h1>Designing Data-Intensive Applications</h1>\n\
         <p>Designing Data-Intensive Applications, by Martin Kleppmann (2017).</p>\n<p><a href=\"/\">All books</a></p>\n"
    );
    expect(&out, want.as_bytes(), COMPLETED, &[]);
}

#[test]
fn bookshelf_escapes_the_query_it_echoes() {
    let out = run(
        &guest("js", "bookshelf"),
        &["--path", "/?q=%3Cb%3Ekn"],
        None,
    );
    let want = format!(
        "Status: 200 OK\r\n{HTML}\r\n<!doctype html>\n<title>Bookshelf</title>\n<h1>Bookshelf</h1>\n\
         <p>Books matching “&lt;b&gt;kn”:</p>\n<ul>\n<li>No book matches.</li>\n</ul>\n"
    );
    expect(&out, want.as_bytes(), COMPLETED, &[]);
}

#[test]
fn bookshelf_refuses_other_methods_with_allow() {
    let out = run(
        &guest("js", "bookshelf"),
        &["--method", "DELETE", "--path", "/"],
        None,
    );
    let want = format!(
        "Status: 405 Method Not Allowed\r\n{HTML}Allow: GET, HEAD\r\n\r\n<!doctype html>\n\
         <title>Method not allowed</title>\n<h1>Method not allowed</h1>\n\
         <p>DELETE is not allowed here: the shelf is read-only.</p>\n"
    );
    expect(&out, want.as_bytes(), COMPLETED, &[]);
}

#[test]
fn guestbook_thanks_the_signer_html_escaped() {
    let out = run(
        &guest("c", "guestbook"),
        &["--method", "POST", "--path", "/sign"],
        Some(b"name=Ada+%3Cb%3E"),
    );
    let want = format!(
        "Status: 200 OK\r\n{HTML}\r\n<!doctype html>\n<title>Thanks</title>\n<p>Thank you, Ada &lt;b&gt;!</p>\n"
    );
    expect(&out, want.as_bytes(), COMPLETED, &[]);
}

#[test]
fn guestbook_wants_a_name() {
    let out = run(
        &guest("c", "guestbook"),
        &["--method", "POST", "--path", "/sign"],
        Some(b"other=1"),
    );
    let want = "Status: 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\r\na name, please\n";
    expect(&out, want.as_bytes(), COMPLETED, &[]);
}

#[test]
fn guestbook_answers_unknown_paths_and_methods() {
    let app = guest("c", "guestbook");
    let out = run(&app, &["--path", "/nope"], None);
    let want =
        "Status: 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nnot found\n";
    expect(&out, want.as_bytes(), COMPLETED, &[]);
    let out = run(&app, &["--method", "GET", "--path", "/sign"], None);
    let want = "Status: 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nAllow: POST\r\n\r\nmethod not allowed\n";
    expect(&out, want.as_bytes(), COMPLETED, &[]);
}
