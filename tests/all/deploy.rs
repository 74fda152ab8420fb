//! wasgi under real web servers, from Debian's packages: Apache httpd (mod_cgi) and
//! nginx + fcgiwrap running `wasgi` as their CGI program, and nginx as a reverse proxy
//! in front of `wasgi serve` processes. Each test starts its own servers on free
//! 127.0.0.1 ports with the configs in tests/deploy/ (the ones docs/DEPLOY.md quotes),
//! and drives them with a real HTTP client.
//!
//! The servers must be installed (`apt-get install -y apache2 nginx fcgiwrap`, as
//! tests/run.sh does): without them these tests fail, saying so.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::guests::*;
use crate::util::*;

/// A web server binary from Debian's packages; the test fails clearly without it.
fn tool(name: &str) -> PathBuf {
    let dirs = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"];
    dirs.iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed: run `apt-get install -y apache2 nginx fcgiwrap` \
                 (tests/run.sh does) to run the deployment tests"
            )
        })
}

/// A free port on 127.0.0.1 (the kernel's pick, released for the server to take).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// tests/deploy/`name` with every `@KEY@` filled in; fails if one is left.
fn template(name: &str, values: &[(&str, &str)]) -> String {
    let mut text = fs::read_to_string(root().join("tests/deploy").join(name))
        .unwrap_or_else(|e| panic!("cannot read tests/deploy/{name}: {e}"));
    for (key, value) in values {
        text = text.replace(&format!("@{key}@"), value);
    }
    let left = text.split('@').nth(1).filter(|rest| {
        let key: String = rest.chars().take_while(|c| *c != '@').collect();
        !key.is_empty() && key.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    });
    assert!(
        left.is_none(),
        "tests/deploy/{name}: unfilled @{}@",
        left.unwrap_or("")
    );
    text
}

fn text(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// A server process (and its children, in its own process group), stopped when
/// dropped; its output goes to `log`.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(name: &'static str, cmd: &mut Command, log: PathBuf) -> Self {
        let out = fs::File::create(&log).expect("create the log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {name}: {e}"));
        Self { name, child, log }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Blocks on connection attempts until `addr` accepts, failing the test if the
    /// server exits or does not listen within [`HANG`].
    fn wait_for(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + HANG;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "{} exited ({status}) before listening:\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {addr} within {HANG:?}:\n{}",
                self.name,
                self.log()
            );
            std::thread::yield_now();
        }
    }
}

/// Waits until the file at `log` holds `needle`, failing the test if it does not
/// within [`HANG`].
fn wait_for_log(log: &Path, needle: &str) {
    let deadline = Instant::now() + HANG;
    loop {
        let text = fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} never appeared in {}:\n{text}",
            log.display()
        );
        std::thread::yield_now();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let kill = |signal: &str| {
            let _ = Command::new("kill")
                .args(["-s", signal, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        kill("TERM");
        let deadline = Instant::now() + HANG;
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                kill("KILL");
                break;
            }
            std::thread::yield_now();
        }
        let _ = self.child.wait();
    }
}

/// The two CGI set-ups under test.
#[derive(Clone, Copy, Debug)]
enum Cgi {
    /// Apache httpd, prefork MPM and mod_cgi, tests/deploy/apache.conf.
    Apache,
    /// nginx with fcgiwrap, tests/deploy/nginx-fcgiwrap.conf.
    Nginx,
}

/// A running web server with wasgi as its CGI program, every Rust guest an app under
/// `/apps/NAME`.
struct CgiServer {
    port: u16,
    /// Where the CGI program's stderr ends up.
    cgi_log: PathBuf,
    _daemons: Vec<Daemon>,
}

impl CgiServer {
    fn start(kind: Cgi, test: &str) -> Self {
        let dir = scratch(test);
        let cache = dir.join("cache");
        fs::create_dir(&cache).expect("cache dir");
        // The CGI program runs as the server's unprivileged user.
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o1777)).expect("chmod");
        let wasgi = PathBuf::from(env!("CARGO_BIN_EXE_wasgi"));
        // Every Rust guest is `NAME.wasm` in one directory.
        let apps = Path::new(HELLO).parent().expect("guest dir").to_owned();
        let port = free_port();
        match kind {
            Cgi::Apache => Self::apache(&dir, &wasgi, &apps, &cache, port),
            Cgi::Nginx => Self::nginx(&dir, &wasgi, &apps, &cache, port),
        }
    }

    fn apache(dir: &Path, wasgi: &Path, apps: &Path, cache: &Path, port: u16) -> Self {
        let apache2 = tool("apache2");
        let nph_dir = dir.join("nph-bin");
        fs::create_dir(&nph_dir).expect("nph dir");
        let nph = nph_dir.join("nph-wasgi");
        std::os::unix::fs::symlink(wasgi, &nph).expect("nph-wasgi symlink");
        let site = template(
            "apache.conf",
            &[
                ("WASGI", &text(wasgi)),
                ("BIN", &text(wasgi.parent().expect("bin dir"))),
                ("APPS", &text(apps)),
                ("CACHE", &text(cache)),
                ("NPH", &text(&nph)),
                ("NPHDIR", &text(&nph_dir)),
            ],
        );
        fs::write(dir.join("wasgi.conf"), site).expect("write wasgi.conf");
        let modules = "/usr/lib/apache2/modules";
        let load: String = [
            "mpm_prefork",
            "authz_core",
            "alias",
            "cgi",
            "env",
            "setenvif",
        ]
        .iter()
        .map(|m| format!("LoadModule {m}_module {modules}/mod_{m}.so\n"))
        .collect();
        // Started as root, Apache serves (and runs CGI) as User; as anyone else it
        // stays that user and ignores the line.
        let conf = format!(
            "ServerRoot {dir}\nListen 127.0.0.1:{port}\nServerName 127.0.0.1\n\
             PidFile {dir}/apache.pid\nErrorLog {dir}/error.log\nUser www-data\n\
             Group www-data\nDocumentRoot {dir}\n{load}Include {dir}/wasgi.conf\n",
            dir = text(dir),
        );
        fs::write(dir.join("httpd.conf"), conf).expect("write httpd.conf");
        fs::write(dir.join("error.log"), "").expect("create error.log");
        let mut server = Daemon::start(
            "apache2",
            Command::new(apache2)
                .arg("-f")
                .arg(dir.join("httpd.conf"))
                .arg("-DFOREGROUND"),
            dir.join("apache2.out"),
        );
        server.wait_for(([127, 0, 0, 1], port).into());
        Self {
            port,
            // mod_cgi logs the CGI program's stderr to the ErrorLog.
            cgi_log: dir.join("error.log"),
            _daemons: vec![server],
        }
    }

    fn nginx(dir: &Path, wasgi: &Path, apps: &Path, cache: &Path, port: u16) -> Self {
        let fcgiwrap = tool("fcgiwrap");
        let fcgi_port = free_port();
        let mut wrapper = Daemon::start(
            "fcgiwrap",
            Command::new(fcgiwrap)
                .args(["-c", "4", "-s"])
                .arg(format!("tcp:127.0.0.1:{fcgi_port}")),
            dir.join("fcgiwrap.log"),
        );
        wrapper.wait_for(([127, 0, 0, 1], fcgi_port).into());
        let site = template(
            "nginx-fcgiwrap.conf",
            &[
                ("LISTEN", &format!("127.0.0.1:{port}")),
                ("WASGI", &text(wasgi)),
                ("APPS", &text(apps)),
                ("CACHE", &text(cache)),
                ("FCGIWRAP", &format!("127.0.0.1:{fcgi_port}")),
            ],
        );
        let server = start_nginx(dir, &site, port);
        Self {
            port,
            cgi_log: dir.join("fcgiwrap.log"),
            _daemons: vec![server, wrapper],
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// nginx in the foreground with `site` in its http block, listening on `port`.
fn start_nginx(dir: &Path, site: &str, port: u16) -> Daemon {
    let nginx = tool("nginx");
    fs::write(dir.join("wasgi.conf"), site).expect("write wasgi.conf");
    let temp: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|t| format!("{t}_temp_path {}/{t};\n", text(dir)))
        .collect();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log info;\n\
         events {{ worker_connections 256; }}\n\
         http {{\naccess_log off;\n{temp}include {dir}/wasgi.conf;\n}}\n",
        dir = text(dir),
    );
    fs::write(dir.join("nginx.conf"), conf).expect("write nginx.conf");
    let mut server = Daemon::start(
        "nginx",
        Command::new(nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log")),
        dir.join("nginx.out"),
    );
    server.wait_for(([127, 0, 0, 1], port).into());
    server
}

fn hello_bytes_come_through(kind: Cgi, test: &str) {
    let server = CgiServer::start(kind, test);
    let r = get(&server.url("/apps/hello"));
    assert_eq!(r.status, 200, "{kind:?}");
    assert_eq!(r.header("content-type"), ["text/plain"]);
    assert_eq!(r.body.as_deref(), Ok(&b"Hello, World!\n"[..]));
}

fn a_mebibyte_post_streams_through_echo(kind: Cgi, test: &str) {
    let server = CgiServer::start(kind, test);
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let r = seen(
        agent()
            .post(&server.url("/apps/echo"))
            .header("Content-Type", "application/octet-stream")
            .send(&data[..]),
    );
    assert_eq!(r.status, 200, "{kind:?}");
    let body = r.body.expect("a whole body");
    assert_eq!(body.len(), data.len(), "{kind:?}: echoed length");
    assert!(body == data, "{kind:?}: the echoed bytes differ");
}

/// What the server sets: SCRIPT_NAME is the app's URL (`/apps/NAME`), PATH_INFO the
/// rest of the path percent-decoded to raw bytes (`%FF` stays one byte 0xff), and
/// QUERY_STRING the query as sent. Both servers agree byte for byte.
fn script_name_path_info_and_query_are_the_servers(kind: Cgi, test: &str) {
    let server = CgiServer::start(kind, test);
    let cases: [(&str, &str, &[u8], &str); 3] = [
        (
            "/apps/environ/a%20b/caf%C3%A9/%FF?x=%20y&z",
            "/apps/environ",
            b"/a b/caf\xc3\xa9/\xff",
            "x=%20y&z",
        ),
        ("/apps/environ", "/apps/environ", b"", ""),
        // A query with no `=` is passed by Apache as arguments too (RFC 3875 4.4): the
        // handler form ignores them and the app gets the query as usual.
        ("/apps/environ/?a+b", "/apps/environ", b"/", "a+b"),
    ];
    for (target, script_name, path_info, query) in cases {
        let json = get(&server.url(target)).json();
        let what = format!("{kind:?} {target}");
        assert_eq!(
            variable(&json, "SCRIPT_NAME").as_deref(),
            Some(script_name.as_bytes()),
            "{what}"
        );
        assert_eq!(
            variable(&json, "PATH_INFO").as_deref(),
            Some(path_info),
            "{what}"
        );
        assert_eq!(
            variable(&json, "QUERY_STRING").as_deref(),
            Some(query.as_bytes()),
            "{what}"
        );
        assert_eq!(
            variable(&json, "REQUEST_URI").as_deref(),
            Some(target.as_bytes()),
            "{what}"
        );
        // The host's paths and wasgi's own settings never reach the guest.
        for host in [
            "SCRIPT_FILENAME",
            "PATH_TRANSLATED",
            "DOCUMENT_ROOT",
            "CONTEXT_DOCUMENT_ROOT",
            "WASGI_APP",
            "WASGI_CACHE_DIR",
            "PATH",
        ] {
            assert_eq!(
                variable(&json, host),
                None,
                "{what}: {host} reached the guest"
            );
        }
    }
}

fn two_set_cookie_headers_stay_two(kind: Cgi, test: &str) {
    let server = CgiServer::start(kind, test);
    let r = get(&server.url("/apps/two-set-cookie"));
    assert_eq!(r.status, 200, "{kind:?}");
    assert_eq!(
        r.header("set-cookie"),
        ["theme=dark; Path=/", "session=abc123; HttpOnly"],
        "{kind:?}"
    );
    assert_eq!(r.body.as_deref(), Ok(&b"two cookies\n"[..]));
}

fn a_failing_app_gets_the_generic_500(kind: Cgi, test: &str) {
    let server = CgiServer::start(kind, test);
    let r = get(&server.url("/apps/error-before-headers"));
    assert_eq!(r.status, 500, "{kind:?}");
    assert_eq!(r.header("content-type"), ["text/plain"]);
    assert_eq!(r.body.as_deref(), Ok(GENERIC_500_BODY));
}

/// With streaming framing (the default) CGI has no way to mark a body incomplete:
/// wasgi exits 4 and logs the failure, but the server ends the body cleanly, so the
/// client cannot tell. This pins that limit (docs/DEPLOY.md: under Apache use
/// `nph-wasgi`, under nginx `WASGI_FRAMING=length`).
fn an_abort_after_headers_is_only_in_the_log(kind: Cgi, test: &str) {
    let server = CgiServer::start(kind, test);
    let r = get(&server.url("/apps/error-mid-body"));
    assert_eq!(r.status, 200, "{kind:?}");
    // The limit this pins: the body ends cleanly, chunked or (when the server had the
    // whole output before it started sending, as Apache may) with a Content-Length.
    assert_eq!(r.body.as_deref(), Ok(&b"first\n"[..]), "{kind:?}");
    wait_for_log(&server.cgi_log, "application error: disk read failed");
}

#[test]
fn apache_nph_hello_bytes_come_through() {
    let server = CgiServer::start(Cgi::Apache, "apache-nph-hello");
    let r = get(&server.url("/nph/hello"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), ["text/plain"]);
    assert_eq!(r.header("transfer-encoding"), ["chunked"]);
    assert_eq!(r.body.as_deref(), Ok(&b"Hello, World!\n"[..]));
}

#[test]
fn apache_nph_an_abort_after_headers_reaches_the_client() {
    // As an nph- program wasgi frames the body itself: the abort leaves out the last
    // chunk, and the client sees a body cut short, never a complete response.
    let server = CgiServer::start(Cgi::Apache, "apache-nph-abort");
    let r = get(&server.url("/nph/error-mid-body"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), ["chunked"]);
    assert!(r.body.is_err(), "a clean end: {:?}", r.body);
    wait_for_log(&server.cgi_log, "application error: disk read failed");
}

#[test]
fn apache_hello_bytes_come_through() {
    hello_bytes_come_through(Cgi::Apache, "apache-hello");
}

#[test]
fn nginx_fcgiwrap_hello_bytes_come_through() {
    hello_bytes_come_through(Cgi::Nginx, "nginx-hello");
}

#[test]
fn apache_a_mebibyte_post_streams_through_echo() {
    a_mebibyte_post_streams_through_echo(Cgi::Apache, "apache-echo");
}

#[test]
fn nginx_fcgiwrap_a_mebibyte_post_streams_through_echo() {
    a_mebibyte_post_streams_through_echo(Cgi::Nginx, "nginx-echo");
}

#[test]
fn apache_script_name_path_info_and_query() {
    script_name_path_info_and_query_are_the_servers(Cgi::Apache, "apache-paths");
}

#[test]
fn nginx_fcgiwrap_script_name_path_info_and_query() {
    script_name_path_info_and_query_are_the_servers(Cgi::Nginx, "nginx-paths");
}

#[test]
fn apache_two_set_cookie_headers_stay_two() {
    two_set_cookie_headers_stay_two(Cgi::Apache, "apache-cookies");
}

#[test]
fn nginx_fcgiwrap_two_set_cookie_headers_stay_two() {
    two_set_cookie_headers_stay_two(Cgi::Nginx, "nginx-cookies");
}

#[test]
fn apache_a_failing_app_gets_the_generic_500() {
    a_failing_app_gets_the_generic_500(Cgi::Apache, "apache-500");
}

#[test]
fn nginx_fcgiwrap_a_failing_app_gets_the_generic_500() {
    a_failing_app_gets_the_generic_500(Cgi::Nginx, "nginx-500");
}

#[test]
fn apache_an_abort_after_headers_is_only_in_the_log() {
    an_abort_after_headers_is_only_in_the_log(Cgi::Apache, "apache-abort");
}

#[test]
fn nginx_fcgiwrap_an_abort_after_headers_reaches_the_client_as_a_short_body() {
    // The config sets WASGI_FRAMING=length: wasgi holds the body and declares its
    // length, one byte more than it has when the app fails after its headers; nginx
    // holds the body to it and cuts the connection, so the client sees it cut short.
    let server = CgiServer::start(Cgi::Nginx, "nginx-abort");
    let r = get(&server.url("/apps/error-mid-body"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), ["7"]);
    assert!(r.body.is_err(), "a complete body: {:?}", r.body);
    wait_for_log(&server.cgi_log, "application error: disk read failed");
}

#[test]
fn nginx_fcgiwrap_a_whole_body_goes_out_with_its_length() {
    let server = CgiServer::start(Cgi::Nginx, "nginx-length");
    let r = get(&server.url("/apps/stream?n=3"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Vec::<&str>::new());
    let length = r.body.as_ref().expect("a whole body").len().to_string();
    assert_eq!(r.header("content-length"), [length.as_str()]);
}

/// Where the app declared a Content-Length, nginx holds the body to it: an abort
/// short of it reaches the client as a truncated body, never a complete one.
#[test]
fn nginx_fcgiwrap_an_aborted_body_short_of_its_content_length_is_truncated() {
    let server = CgiServer::start(Cgi::Nginx, "nginx-short");
    let r = get(&server.url("/apps/content-length-mismatch"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), ["100"]);
    assert!(r.body.is_err(), "a complete body: {:?}", r.body);
}

/// The address nginx connects to the backends from (`proxy_bind`): a loopback
/// address of its own, so that it differs from the test client's 127.0.0.1.
const PROXY_ADDR: &str = "127.0.0.2";

/// tests/deploy/wasgi.service's ExecStart, as systemd would run it with `vars` for
/// its `${NAME}`s and the real binary for /usr/local/bin/wasgi.
fn unit_command(vars: &[(&str, String)]) -> Command {
    let unit = template("wasgi.service", &[]);
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("the unit has an ExecStart");
    let mut words = line.split_whitespace().map(|word| {
        vars.iter().fold(word.to_owned(), |w, (k, v)| {
            w.replace(&format!("${{{k}}}"), v)
        })
    });
    assert_eq!(words.next().as_deref(), Some("/usr/local/bin/wasgi"));
    let mut cmd = wasgi();
    cmd.args(words);
    cmd
}

/// Two `wasgi serve` processes running `app` behind nginx: the first started by the
/// systemd unit's command line, the second by hand; both trust [`PROXY_ADDR`].
struct ScaledOut {
    nginx: Daemon,
    backends: [Server; 2],
    port: u16,
}

impl ScaledOut {
    fn start(app: &str, test: &str) -> Self {
        let unit = Server::spawn(unit_command(&[
            ("WASGI_APP", app.to_owned()),
            ("WASGI_ADDR", "127.0.0.1:0".to_owned()),
            ("WASGI_TRUSTED_PROXY", PROXY_ADDR.to_owned()),
        ]));
        let other = Server::start(app, &["--trusted-proxy", PROXY_ADDR]);
        let dir = scratch(test);
        let port = free_port();
        let site = template(
            "nginx-proxy.conf",
            &[
                ("LISTEN", &format!("127.0.0.1:{port}")),
                ("BACKEND_1", &unit.addr.to_string()),
                ("BACKEND_2", &other.addr.to_string()),
                ("PROXY_ADDR", PROXY_ADDR),
            ],
        );
        let nginx = start_nginx(&dir, &site, port);
        Self {
            nginx,
            backends: [unit, other],
            port,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Through nginx, REMOTE_ADDR is the client's (the right-most X-Forwarded-For entry
/// that is not the trusted proxy: nginx appended it, so a client's own X-Forwarded-For
/// never wins), and the scheme is nginx's, not what the client claimed. Straight to
/// wasgi, from an address it does not trust, the same headers change nothing.
#[test]
fn behind_nginx_remote_addr_and_scheme_come_from_the_trusted_proxy() {
    let site = ScaledOut::start(ENVIRON, "proxy-forwarded");
    let spoof = |url: &str| {
        seen(
            agent()
                .get(url)
                .header("X-Forwarded-For", "198.51.100.7")
                .header("X-Forwarded-Proto", "https")
                .call(),
        )
        .json()
    };
    let json = spoof(&site.url("/p?q=1"));
    assert_eq!(
        variable(&json, "REMOTE_ADDR").as_deref(),
        Some(&b"127.0.0.1"[..])
    );
    assert_eq!(
        variable(&json, "REMOTE_PORT"),
        None,
        "the proxy's port is not the client's"
    );
    assert_eq!(
        variable(&json, "HTTP_X_FORWARDED_FOR").as_deref(),
        Some(&b"198.51.100.7, 127.0.0.1"[..])
    );
    assert_eq!(
        variable(&json, "HTTP_X_FORWARDED_PROTO").as_deref(),
        Some(&b"http"[..])
    );
    assert_eq!(json["wsgi.url_scheme"], "http");
    assert_eq!(
        variable(&json, "HTTP_HOST"),
        Some(format!("127.0.0.1:{}", site.port).into_bytes())
    );
    assert_eq!(variable(&json, "PATH_INFO").as_deref(), Some(&b"/p"[..]));
    assert_eq!(
        variable(&json, "QUERY_STRING").as_deref(),
        Some(&b"q=1"[..])
    );

    let direct = spoof(&site.backends[1].url("/"));
    assert_eq!(
        variable(&direct, "REMOTE_ADDR").as_deref(),
        Some(&b"127.0.0.1"[..])
    );
    assert!(variable(&direct, "REMOTE_PORT").is_some());
    assert_eq!(direct["wsgi.url_scheme"], "http");
    assert_eq!(variable(&direct, "HTTPS"), None);

    // From a trusted address, X-Forwarded-Proto: https is believed.
    let trusting = Server::start(ENVIRON, &["--trusted-proxy", "127.0.0.1"]);
    let json = spoof(&trusting.url("/"));
    assert_eq!(json["wsgi.url_scheme"], "https");
    assert_eq!(variable(&json, "HTTPS").as_deref(), Some(&b"on"[..]));
    assert_eq!(
        variable(&json, "REMOTE_ADDR").as_deref(),
        Some(&b"198.51.100.7"[..])
    );
    drop(site.nginx);
}

/// Scale-out: one backend dies (SIGKILL) a quarter of the way through a bounded load
/// of GETs; nginx retries each failed attempt on the other, so no request fails but
/// one the dead backend was in the middle of answering: nginx had passed its head on
/// and can only cut its body short (at most one per client, the one in flight).
#[test]
fn behind_nginx_killing_one_backend_fails_no_request() {
    const REQUESTS: usize = 400;
    const CLIENTS: usize = 4;
    let site = ScaledOut::start(HELLO, "proxy-scale-out");
    let done = AtomicUsize::new(0);
    let url = site.url("/");
    let (tx, rx) = std::sync::mpsc::channel();
    let failures: Vec<String> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (done, url, tx) = (&done, &url, tx.clone());
                s.spawn(move || {
                    let agent = agent();
                    let mut failures = Vec::new();
                    for _ in 0..REQUESTS / CLIENTS {
                        let r = seen(agent.get(url).call());
                        if r.status != 200 || r.body.as_deref() != Ok(&b"Hello, World!\n"[..]) {
                            failures.push(format!("{} {:?}", r.status, r.body));
                        }
                        if done.fetch_add(1, Ordering::SeqCst) + 1 == REQUESTS / 4 {
                            let _ = tx.send(());
                        }
                    }
                    failures
                })
            })
            .collect();
        rx.recv_timeout(HANG)
            .expect("the load never reached a quarter of its requests");
        site.backends[0].signal("KILL");
        clients
            .into_iter()
            .flat_map(|c| c.join().expect("client thread"))
            .collect()
    });
    assert_eq!(done.load(Ordering::SeqCst), REQUESTS);
    let cut = failures
        .iter()
        .filter(|f| f.starts_with("200 Err("))
        .count();
    assert!(
        cut == failures.len() && cut <= CLIENTS,
        "{} requests failed, not only responses cut in flight by the kill: {failures:?}",
        failures.len()
    );
    // Both took a share before the kill; the survivor carried the rest.
    for backend in &site.backends {
        assert!(backend.log().contains("GET / 200 14B"), "{}", backend.log());
    }
}

/// Every config docs/DEPLOY.md shows is a file in tests/deploy/ or deploy/, quoted
/// whole: the doc cannot drift from what the tests run (deploy/ is tested by
/// `listen`, `container` and `kubernetes`). The ConfigMap variant of the Kubernetes
/// Deployment is described by its differences instead.
#[test]
fn deploy_doc_quotes_every_tested_config_verbatim() {
    let doc = fs::read_to_string(root().join("docs/DEPLOY.md")).expect("docs/DEPLOY.md");
    let files = |dir: &str| {
        let mut names: Vec<String> = fs::read_dir(root().join(dir))
            .expect(dir)
            .map(|e| e.expect("entry"))
            .filter(|e| e.file_type().expect("type").is_file())
            .map(|e| format!("{dir}/{}", e.file_name().into_string().expect("utf-8")))
            .collect();
        names.sort();
        names
    };
    let quoted: Vec<String> = ["tests/deploy", "deploy/systemd", "deploy/kubernetes"]
        .into_iter()
        .flat_map(files)
        .chain(["deploy/Containerfile".to_owned()])
        .collect();
    assert_eq!(
        quoted,
        [
            "tests/deploy/apache.conf",
            "tests/deploy/nginx-fcgiwrap.conf",
            "tests/deploy/nginx-proxy.conf",
            "tests/deploy/wasgi.service",
            "deploy/systemd/wasgi.service",
            "deploy/systemd/wasgi.socket",
            "deploy/kubernetes/deployment.yaml",
            "deploy/kubernetes/hpa.yaml",
            "deploy/kubernetes/pdb.yaml",
            "deploy/kubernetes/service.yaml",
            "deploy/Containerfile",
        ]
    );
    for name in quoted {
        let config = fs::read_to_string(root().join(&name)).expect("read");
        assert!(
            doc.contains(&format!("\n{config}```\n")),
            "docs/DEPLOY.md does not quote {name} verbatim in a code block"
        );
    }
}
