//! Unmodified WSGI framework apps (Django, Pyramid, Falcon, Bottle), each built by one
//! `wasgi-py build -r requirements.txt` (guests/build.sh), against PEP 3333's own CGI
//! gateway byte for byte (differential.rs), and the same responses under
//! `wasgi serve`. What they prove beyond tests/python.rs: the files a component
//! carries (lazy imports at request time, templates and static files read with
//! `open()`, `importlib.resources`, the standard library's own lazy imports, sqlite3
//! through a `--dir` grant), and dependencies resolved for CPython 3.14.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use crate::differential::{App, Request, conforms, get, run_wasgi};
use crate::guests::python::*;
use crate::util::*;

/// Requests every framework app answers in its own way: its routes (`/`, `/api/items`,
/// `/form`, ...; a route an app lacks is its 404), methods, query strings and paths
/// with encoded and raw bytes, bodies, cookies, server variables, SCRIPT_NAME, HTTPS
/// and an exception escaping the app.
fn common_corpus() -> Vec<Request> {
    vec![
        get("home", "/"),
        get("home with a query", "/?name=Wasm"),
        get("home with a utf-8 query", "/?name=caf%C3%A9"),
        get("head of home", "/").method("HEAD"),
        get("items as json", "/api/items"),
        get("one item", "/api/items/1"),
        get("another item", "/api/items/2"),
        get("a missing item", "/api/items/99"),
        get("an item id that is not a number", "/api/items/tea"),
        get("delete an item", "/api/items/1").method("DELETE"),
        get("hello with a name", "/hello/J%C3%B6rg"),
        get("form page", "/form"),
        get("post a form", "/form").form(b"comment=hi+there&name=J%C3%B6rg&empty="),
        get("post an empty form", "/form").form(b""),
        get("post json", "/api/items")
            .method("POST")
            .header("Content-Type: application/json")
            .body(br#"{"name": "Cup"}"#),
        get("post json without a name", "/api/items")
            .method("POST")
            .header("Content-Type: application/json")
            .body(br#"{"price": 1}"#),
        get("echo a body", "/echo")
            .method("POST")
            .header("Content-Type: text/plain")
            .body(b"first line\nsecond line\n"),
        get("put a body", "/echo")
            .method("PUT")
            .header("Content-Type: text/plain")
            .body("caf\u{e9}".as_bytes()),
        get("first visit", "/visits"),
        get("a later visit", "/visits").header("Cookie: visits=41"),
        get("a redirect", "/redirect"),
        get("not found", "/no/such/page"),
        get("not found, encoded", "/a%20b/c%2Fd"),
        get("not found, raw bytes", "/").var("PATH_INFO", b"/J\xf6rg"),
        get("method not allowed", "/api/items/1").method("PATCH"),
        get("options", "/api/items").method("OPTIONS"),
        get("https", "/api/items/1").var("HTTPS", b"on"),
        get("server variables", "/api/items/2")
            .var("SERVER_NAME", b"example.org")
            .var("SERVER_PORT", b"8080")
            .var("HTTP_HOST", b"example.org:8080"),
        get("script name", "/").var("SCRIPT_NAME", b"/app"),
        get("script name and a form", "/form").var("SCRIPT_NAME", b"/mount/point"),
        get("accept json", "/api/items/2").header("Accept: application/json"),
        get("exception escaping the app", "/unhandled"),
    ]
}

#[test]
fn falcon_conforms_to_run_with_cgi() {
    let mut corpus = common_corpus();
    corpus.push(get("an error handler", "/brew"));
    conforms(&App::new(FALCON_APP), corpus);
}

#[test]
fn pyramid_conforms_to_run_with_cgi() {
    conforms(&App::new(PYRAMID_APP), common_corpus());
}

#[test]
fn bottle_conforms_to_run_with_cgi() {
    conforms(&App::new(BOTTLE_APP), common_corpus());
}

/// Django's CSRF middleware masks its token with fresh random bytes on every render,
/// so two renders of one form never match: the masked token is replaced in both
/// outputs (the cookie's secret, which decides, is the request's and compared), and
/// so is the cookie's expiry time.
fn mask_csrf(bytes: Vec<u8>) -> Vec<u8> {
    let marker = b"name=\"csrfmiddlewaretoken\" value=\"";
    let mut out = bytes;
    if let Some(at) = out.windows(marker.len()).position(|w| w == marker) {
        let start = at + marker.len();
        let end = out[start..]
            .iter()
            .position(|&b| b == b'"')
            .map_or(out.len(), |n| start + n);
        out.splice(start..end, b"MASKED".iter().copied());
    }
    // The cookie's expiry is now plus a year, to the second: the two runs may fall on
    // either side of a second.
    let expires = b"; expires=";
    if let Some(at) = out.windows(expires.len()).position(|w| w == expires) {
        let start = at + expires.len();
        let end = out[start..]
            .iter()
            .position(|&b| b == b';')
            .map_or(out.len(), |n| start + n);
        out.splice(start..end, b"A YEAR FROM NOW".iter().copied());
    }
    out
}

/// A CSRF secret as Django's cookie holds one (32 letters and digits).
const CSRF_SECRET: &str = "wasgiwasgiwasgiwasgiwasgiwasgi01";

fn django_corpus() -> Vec<Request> {
    let cookie = format!("Cookie: csrftoken={CSRF_SECRET}");
    let order = format!("csrfmiddlewaretoken={CSRF_SECRET}&item=Teapot&quantity=2&note=gift");
    vec![
        get("index, template inheritance and an include", "/shop/"),
        get("index with a query", "/shop/?who=caf%C3%A9"),
        get("head of index", "/shop/").method("HEAD"),
        get("item list", "/shop/items/"),
        get("item list filtered", "/shop/items/?tag=tea"),
        get("item list filtered to nothing", "/shop/items/?tag=none"),
        get("int converter", "/shop/items/2/"),
        get(
            "int converter, missing item: the 404 template",
            "/shop/items/9/",
        ),
        get("slug converter", "/shop/items/red-teapot/reviews/"),
        get("custom converter", "/shop/archive/2026/"),
        get("custom converter refuses", "/shop/archive/26/"),
        get("json", "/shop/api/items/1/"),
        get("json, not found", "/shop/api/items/7/"),
        get("append slash redirect", "/shop/items"),
        get("append slash redirect with a query", "/shop/items?tag=tea"),
        get("append slash on a post", "/shop/items").form(b"a=1"),
        get("not found at the root", "/"),
        get("not found, raw bytes", "/").var("PATH_INFO", b"/shop/J\xf6rg/"),
        get("order form", "/shop/order/").header(&cookie),
        get("order posted with its csrf token", "/shop/order/")
            .header(&cookie)
            .form(order.as_bytes()),
        get("order posted with bad fields", "/shop/order/")
            .header(&cookie)
            .form(format!("csrfmiddlewaretoken={CSRF_SECRET}&item=&quantity=500").as_bytes()),
        get("order posted without a csrf token: 403", "/shop/order/")
            .form(b"item=Teapot&quantity=1"),
        get("streaming response", "/shop/feed/?n=4"),
        get("streaming response, no lines", "/shop/feed/?n=0"),
        get("file response of a static file", "/shop/logo/"),
        get("500 page with DEBUG off", "/shop/boom/"),
        get("disallowed host: 400", "/shop/").header("Host: evil.example"),
        get("mounted under SCRIPT_NAME", "/shop/echo-meta/").var("SCRIPT_NAME", b"/site"),
        get("mounted, a redirect keeps the mount", "/shop/items").var("SCRIPT_NAME", b"/site"),
        get("mounted, templates link under the mount", "/shop/").var("SCRIPT_NAME", b"/site"),
        get("https and a host", "/shop/echo-meta/")
            .var("HTTPS", b"on")
            .var("HTTP_HOST", b"example.org"),
        get("options", "/shop/").method("OPTIONS"),
    ]
}

#[test]
fn django_conforms_to_run_with_cgi() {
    let mut app = App::new(DJANGO_APP);
    app.normalize = mask_csrf;
    conforms(&app, django_corpus());
}

/// A fresh sqlite database for the Django app, migrated by Django itself on this
/// machine's Python (from the app's resolved dependencies), in its own directory.
fn migrated_database(dir: &std::path::Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("database dir");
    let database = dir.join("shop.sqlite3");
    let app = root().join("guests/python/django-app");
    let out = std::process::Command::new(crate::differential::python3())
        .env_clear()
        .env("SHOP_DATABASE", &database)
        .env("PYTHONPATH", crate::differential::deps_dir(DJANGO_APP))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg(app.join("manage.py"))
        .args(["migrate", "--verbosity", "0"])
        .current_dir(&app)
        .output()
        .expect("python3 manage.py migrate");
    assert!(out.status.success(), "migrate failed: {}", stderr(&out));
    database
}

#[test]
fn django_saves_and_reads_a_model_through_a_dir_grant() {
    let scratch = scratch("django-db");
    let reference_db = migrated_database(&scratch.join("reference"));
    let guest_dir = scratch.join("guest");
    migrated_database(&guest_dir);
    let mut app = App::new(DJANGO_APP);
    app.reference_env = vec![("SHOP_DATABASE".into(), reference_db)];
    // The settings name /data/shop.sqlite3 (read at build time, in the component).
    app.wasgi_args = vec!["--dir".into(), format!("{}::/data", guest_dir.display())];
    conforms(
        &app,
        vec![
            get("no notes yet", "/shop/notes/"),
            get("save a note", "/shop/notes/").form(b"text=first+note"),
            get("save another", "/shop/notes/").form("text=caf%C3%A9".as_bytes()),
            get("read them back", "/shop/notes/"),
        ],
    );
    std::fs::remove_dir_all(&scratch).expect("clean up");
}

/// What a carried file system gives a request, exact bytes: a module imported first
/// inside the request, `open()` of a file next to the app, `importlib.resources`, a
/// standard-library module nothing imported at build time, and a write into the
/// app's own directory, refused (the carried files are read-only).
#[test]
fn carried_files_serve_lazy_imports_open_and_resources_read_only() {
    let component = python_guest(FILES);
    let cases: [(&str, &[u8]); 5] = [
        ("/lazy", b"imported lazily\n"),
        ("/open", "a data file, caf\u{e9}\n".as_bytes()),
        ("/resource", "a data file, caf\u{e9}\n".as_bytes()),
        ("/stdlib", b"(0.0, 1.0, 1.0)\n"),
        ("/write", b"refused: PermissionError\n"),
    ];
    for (path, body) in cases {
        let out = run_wasgi(&component, &get("files", path), &[]);
        let want = [
            b"Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n".as_slice(),
            body,
        ]
        .concat();
        expect(&out, &want, 0, &[]);
    }
}

/// A `.cwasm` from `wasgi compile` carries the files too, and `--no-cache` runs
/// extract them to a temporary directory: the same bytes either way.
#[test]
fn carried_files_survive_wasgi_compile_and_no_cache() {
    let component = python_guest(FILES);
    let dir = scratch("files-cwasm");
    let cwasm = dir.join("files.cwasm");
    let compiled = output(
        wasgi()
            .arg("compile")
            .arg(&component)
            .arg("-o")
            .arg(&cwasm)
            .stdin(std::process::Stdio::null()),
    );
    assert_eq!(code(&compiled), 0, "{}", stderr(&compiled));
    let want =
        "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\na data file, caf\u{e9}\n";
    let cache = dir.join("cache");
    let cache = ["--cache-dir".to_owned(), cache.display().to_string()];
    let ran = run_wasgi(&cwasm, &get("open, from a .cwasm", "/open"), &cache);
    expect(&ran, want.as_bytes(), 0, &[]);
    let ran = run_wasgi(
        &component,
        &get("open, no cache", "/resource"),
        &["--no-cache".to_owned()],
    );
    expect(&ran, want.as_bytes(), 0, &[]);
    // No cache named at all: the files go to the private fallback cache in $TMPDIR.
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let ran = output(
        wasgi()
            .env("TMPDIR", &tmp)
            .arg("run")
            .arg(&cwasm)
            .args(["--path", "/open"])
            .stdin(std::process::Stdio::null()),
    );
    expect(&ran, want.as_bytes(), 0, &[]);
    let fallback = tmp.join(format!(
        "wasgi-cache-{}",
        std::fs::metadata(&tmp).expect("tmp").uid()
    ));
    let trees = std::fs::read_dir(fallback.join("files")).expect("extracted into the fallback");
    assert_eq!(
        trees
            .filter(|e| e.as_ref().expect("entry").path().is_dir())
            .count(),
        1
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// Without the `--dir` grant its settings name, Django's database cannot be opened:
/// the carried app directory is no place to write it.
#[test]
fn django_without_its_database_grant_answers_500() {
    let component = python_guest(DJANGO_APP);
    let out = run_wasgi(&component, &get("notes, no grant", "/shop/notes/"), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        out.stdout
            .starts_with(b"Status: 500 Internal Server Error\r\n"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// ---- the same responses under `wasgi serve` -----------------------------------------

/// A response as a client sees it, from CGI output: status code, headers (names in
/// lower case, sorted, as hyper groups them), body.
fn from_cgi(stdout: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let head_end = stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&stdout[..head_end]);
    let mut status = 0;
    let mut headers = Vec::new();
    for line in head.split("\r\n") {
        let (name, value) = line.split_once(": ").expect("a header line");
        if name == "Status" {
            status = value[..3].parse().expect("a status code");
        } else {
            headers.push((name.to_ascii_lowercase(), value.to_owned()));
        }
    }
    headers.sort();
    (status, headers, stdout[head_end + 4..].to_vec())
}

/// Serves `app` and checks that each path answers what `wasgi run` answers for the
/// same request (same host, so absolute URLs agree).
fn serves_the_same(app: &str, paths: &[&str]) {
    let component = python_guest(app);
    let mut cmd = wasgi();
    cmd.env("WASGI_CACHE_DIR", target_dir().join("wasgi-cache"))
        .arg("serve")
        .arg(&component)
        .args(["--addr", "127.0.0.1:0"]);
    let server = Server::spawn(cmd);
    // Redirects are responses to compare, not to follow.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    for path in paths {
        let seen = seen(
            agent
                .get(server.url(path))
                .header("Host", "localhost")
                .call(),
        );
        // The request ureq sent: its own `Accept: */*` included (WebOb, for one,
        // picks a redirect's body by it).
        let request = get("same request", path)
            .header("Host: localhost")
            .header("Accept: */*")
            .var("SERVER_NAME", b"127.0.0.1")
            .var("SERVER_PORT", server.addr.port().to_string().as_bytes())
            .var("SERVER_PROTOCOL", b"HTTP/1.1");
        let ran = run_wasgi(&component, &request, &[]);
        assert_eq!(code(&ran), 0, "{}", stderr(&ran));
        let (status, mut headers, body) = from_cgi(&ran.stdout);
        let mut served: Vec<_> = seen
            .headers
            .iter()
            .filter(|(n, _)| n != "transfer-encoding")
            .cloned()
            .collect();
        // Without the app's own Content-Length, serve chunks the body.
        if !headers.iter().any(|(n, _)| n == "content-length") {
            served.retain(|(n, _)| n != "content-length");
        }
        served.sort();
        headers.sort();
        assert_eq!(seen.status, status, "{app} {path}");
        assert_eq!(served, headers, "{app} {path}");
        assert_eq!(
            String::from_utf8_lossy(seen.body.as_ref().expect("a whole body")),
            String::from_utf8_lossy(&body),
            "{app} {path}"
        );
    }
}

#[test]
fn django_serves_the_same_responses() {
    serves_the_same(
        DJANGO_APP,
        &[
            "/shop/",
            "/shop/items/2/",
            "/shop/api/items/1/",
            "/shop/items",
            "/shop/feed/?n=3",
            "/shop/logo/",
            "/shop/nope/",
            "/shop/boom/",
        ],
    );
}

#[test]
fn pyramid_falcon_and_bottle_serve_the_same_responses() {
    for app in [PYRAMID_APP, FALCON_APP, BOTTLE_APP] {
        serves_the_same(
            app,
            &[
                "/",
                "/?name=Wasm",
                "/api/items",
                "/api/items/2",
                "/api/items/99",
                "/form",
                "/redirect",
                "/no/such/page",
            ],
        );
    }
}
