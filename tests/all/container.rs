//! The container image of deploy/Containerfile, built by deploy/image.sh: FROM
//! scratch, holding only a static (musl) wasgi and the hello app compiled by it; run
//! by Debian's podman (with Debian's runc) with a read-only root as a non-root user,
//! answering the exact hello bytes, and stopped by SIGTERM to wasgi as PID 1 (exit 0).
//!
//! podman runs here as `podman --runtime /usr/sbin/runc --cgroup-manager=cgroupfs run
//! --network host`, with the default ulimits dropped (CONTAINERS_CONF): crun refuses
//! this kind of machine's cgroups (docs/DEPLOY.md).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::guests::*;
use crate::util::*;

/// The image's name in podman's local storage.
const IMAGE: &str = "localhost/wasgi-test-hello:latest";

/// The image, built once per test run (the musl build of wasgi is cargo's to reuse).
fn image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        // No deadline: the first run builds wasmtime for musl (minutes on 2 cores).
        let status = Command::new("bash")
            .arg(root().join("deploy/image.sh"))
            .args([HELLO, IMAGE])
            .env("CARGO_TARGET_DIR", target_dir())
            .status()
            .expect("failed to run deploy/image.sh");
        assert!(status.success(), "deploy/image.sh failed: {status}");
    });
    IMAGE
}

/// A containers.conf without default ulimits (podman's defaults fail here).
fn containers_conf() -> PathBuf {
    let conf = target_dir().join("containers.conf");
    std::fs::write(&conf, "[containers]\ndefault_ulimits = []\n").expect("containers.conf");
    conf
}

/// `podman` with the runtime and cgroup manager that work on this machine.
fn podman() -> Command {
    let mut cmd = Command::new("podman");
    cmd.args(["--runtime", "/usr/sbin/runc", "--cgroup-manager=cgroupfs"])
        .env("CONTAINERS_CONF", containers_conf());
    cmd
}

/// Removes the container `name` when dropped, however the test ended.
struct Removed(&'static str);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = podman()
            .args(["rm", "--force", "--ignore", self.0])
            .output();
    }
}

#[test]
fn the_image_serves_hello_with_a_read_only_root_as_a_non_root_user() {
    let name = "wasgi-test-hello";
    let _removed = Removed(name);
    let mut cmd = podman();
    cmd.args(["run", "--rm", "--name", name, "--network", "host"])
        .args(["--read-only", "--read-only-tmpfs=false"])
        .args(["--user", "10001:10001", "--cap-drop", "ALL"])
        .args(["--security-opt", "no-new-privileges"])
        .arg(image())
        // A free port of the host's, since the container shares its network.
        .args(["/app.cwasm", "--addr", "127.0.0.1:0"]);
    let server = Server::spawn(cmd);
    assert_bytes(
        &server.exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\nE\r\nHello, World!\n\r\n0\r\n\r\n",
    );
    // podman passes SIGTERM on to wasgi, PID 1 in the container.
    server.signal("TERM");
    server.wait_for_log("all requests finished");
    assert_eq!(server.exit_code(), COMPLETED);
}

#[test]
fn the_image_holds_only_wasgi_and_the_app_and_runs_them_as_non_root() {
    let inspect =
        output(podman().args(["image", "inspect", "--format", "{{json .Config}}", image()]));
    assert_eq!(code(&inspect), 0, "{}", stderr(&inspect));
    let config: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("JSON");
    assert_eq!(config["User"], "65532:65532");
    let env = config["Env"].as_array().expect("Env");
    assert!(
        env.iter().any(|e| e == "MIMALLOC_ARENA_EAGER_COMMIT=0"),
        "{env:?}"
    );
    assert_eq!(config["Entrypoint"], serde_json::json!(["/wasgi", "serve"]));
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["/app.cwasm", "--addr", "0.0.0.0:8080"])
    );
    // One layer per COPY, and in them exactly the two files.
    let save = scratch("container-save");
    let saved = output(
        podman()
            .args(["image", "save", "--format", "oci-dir", "--output"])
            .arg(save.join("image"))
            .arg(image()),
    );
    assert_eq!(code(&saved), 0, "{}", stderr(&saved));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(save.join("image/index.json")).expect("index.json"))
            .expect("JSON");
    let digest = manifest["manifests"][0]["digest"].as_str().expect("digest");
    let blob = |digest: &str| save.join("image/blobs").join(digest.replace(':', "/"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(digest)).expect("manifest")).expect("JSON");
    let mut files = Vec::new();
    for layer in manifest["layers"].as_array().expect("layers") {
        let listed = output(
            Command::new("tar")
                .arg("--list")
                .arg("--file")
                .arg(blob(layer["digest"].as_str().expect("digest"))),
        );
        assert_eq!(code(&listed), 0, "{}", stderr(&listed));
        files.extend(
            String::from_utf8(listed.stdout)
                .expect("names")
                .lines()
                .map(str::to_owned),
        );
    }
    files.sort();
    assert_eq!(files, ["app.cwasm", "wasgi"]);
}
