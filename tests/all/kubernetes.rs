//! The Kubernetes manifests in deploy/kubernetes/: valid for current Kubernetes
//! (`kubernetes-validate` 1.37.0 from PyPI, offline, strict: an unknown field fails),
//! the Deployment's memory arithmetic holding against its own args, its security
//! context and probes as docs/DEPLOY.md says, the pieces selecting the same pods, and
//! the ConfigMap variant differing from the Deployment only in how the app arrives.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::guests::*;
use crate::util::*;

/// The Kubernetes versions the manifests are checked against: the oldest one still
/// supported upstream when this was written (December 2026) and the newest
/// kubernetes-validate 1.37.0 has schemas for.
const VERSIONS: [&str; 2] = ["1.35.0", "1.37.0"];

/// What deployment.yaml's comment allows wasgi itself, beside the guests and /tmp.
const HOST_ALLOWANCE: u64 = 64 << 20;

/// The venv under target/ with kubernetes-validate (and PyYAML, which it brings),
/// made and filled the first time a test asks.
fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = target_dir().join("k8s-venv");
        if !venv.join("bin/kubernetes-validate").exists() {
            let made = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3");
            assert!(made.success(), "python3 -m venv failed");
            let installed = Command::new(venv.join("bin/pip"))
                .args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "kubernetes-validate==1.37.0",
                ])
                .status()
                .expect("pip");
            assert!(
                installed.success(),
                "pip install kubernetes-validate failed"
            );
        }
        venv
    })
}

/// Every manifest under deploy/kubernetes/.
fn manifests() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root().join("deploy/kubernetes")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("deploy/kubernetes") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `kubernetes-validate --strict -k VERSION FILES`.
fn validate(version: &str, files: &[PathBuf]) -> std::process::Output {
    output(
        Command::new(venv().join("bin/kubernetes-validate"))
            .args(["--strict", "--no-warn", "-k", version])
            .args(files),
    )
}

/// The YAML documents of `path`, as JSON (read by PyYAML, as kubectl would).
fn documents(path: &Path) -> Vec<Value> {
    let out = output(
        Command::new(venv().join("bin/python"))
            .args([
                "-c",
                "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
            ])
            .arg(path),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The one document of `deploy/kubernetes/NAME`.
fn manifest(name: &str) -> Value {
    let mut docs = documents(&root().join("deploy/kubernetes").join(name));
    assert_eq!(docs.len(), 1, "{name}: one document");
    docs.remove(0)
}

#[test]
fn the_manifests_are_valid_for_current_kubernetes() {
    let files = manifests();
    assert_eq!(files.len(), 5, "{files:?}");
    for version in VERSIONS {
        let out = validate(version, &files);
        assert_eq!(
            code(&out),
            0,
            "{version}: {}{}",
            stderr(&out),
            String::from_utf8_lossy(&out.stdout)
        );
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert_eq!(
            said.matches(" passed for resource ").count(),
            files.len(),
            "{said}"
        );
    }
}

#[test]
fn the_validator_refuses_a_misspelt_field() {
    // So that the test above can fail: strict validation knows every field.
    let good =
        std::fs::read_to_string(root().join("deploy/kubernetes/deployment.yaml")).expect("read");
    let bad = scratch("kubernetes-misspelt").join("deployment.yaml");
    std::fs::write(
        &bad,
        good.replace("readOnlyRootFilesystem", "readOnlyRootFileSystem"),
    )
    .expect("write");
    let out = validate(VERSIONS[1], &[bad]);
    assert_eq!(code(&out), 1);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        said.contains("'readOnlyRootFileSystem' was unexpected"),
        "{said}"
    );
}

/// The value after `flag` in `args`.
fn arg<'a>(args: &'a [Value], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1)?.as_str()
}

/// A wasgi size (`64MiB`, `1GiB`, `512KiB`, bytes).
fn wasgi_size(text: &str) -> u64 {
    for (suffix, shift) in [("KiB", 10), ("MiB", 20), ("GiB", 30)] {
        if let Some(n) = text.strip_suffix(suffix) {
            return n.parse::<u64>().expect("a number") << shift;
        }
    }
    text.parse().expect("bytes")
}

/// A Kubernetes memory quantity in binary units (`640Mi`, `1Gi`).
fn quantity(value: &Value) -> u64 {
    let text = value.as_str().expect("a quantity");
    for (suffix, shift) in [("Ki", 10), ("Mi", 20), ("Gi", 30)] {
        if let Some(n) = text.strip_suffix(suffix) {
            return n.parse::<u64>().expect("a number") << shift;
        }
    }
    panic!("write memory in Ki, Mi or Gi: {text}")
}

/// The pod templates' specs of the Deployments (in the image, from the ConfigMap),
/// each with its file's name.
fn pod_specs() -> Vec<(&'static str, Value)> {
    ["deployment.yaml", "app-from-configmap/deployment.yaml"]
        .into_iter()
        .map(|name| (name, manifest(name)["spec"]["template"]["spec"].take()))
        .collect()
}

#[test]
fn the_memory_limit_covers_every_guest_at_its_max_memory() {
    for (name, pod) in pod_specs() {
        let container = &pod["containers"][0];
        let args = container["args"].as_array().expect("args");
        let concurrency: u64 = arg(args, "--max-concurrency")
            .expect("--max-concurrency")
            .parse()
            .expect("a number");
        let max_memory = wasgi_size(arg(args, "--max-memory").expect("--max-memory"));
        // With --reuse an idle instance per slot keeps its memory too.
        let instances = concurrency
            * if args.iter().any(|a| a == "--reuse") {
                2
            } else {
                1
            };
        // Every other place in the pool keeps the pages its last instance wrote.
        let pool = wasgi::pool_instances(concurrency as usize) as u64;
        let kept = wasgi::LINEAR_MEMORY_KEEP_RESIDENT as u64;
        let retained = (pool - instances) * kept.min(max_memory);
        let in_memory_volumes: u64 = pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .filter(|v| v["emptyDir"]["medium"] == "Memory")
            .map(|v| quantity(&v["emptyDir"]["sizeLimit"]))
            .sum();
        let limit = quantity(&container["resources"]["limits"]["memory"]);
        let needed = instances * max_memory + retained + in_memory_volumes + HOST_ALLOWANCE;
        assert!(
            limit >= needed,
            "{name}: a memory limit of {limit} bytes is less than {instances} instances x {max_memory} + {retained} kept by the pool's other places + {in_memory_volumes} of /tmp + {HOST_ALLOWANCE} for wasgi = {needed}"
        );
        assert_eq!(
            container["resources"]["requests"]["memory"],
            container["resources"]["limits"]["memory"],
            "{name}: the node must keep the memory the guests may take"
        );
    }
}

#[test]
fn the_pods_run_locked_down_and_are_probed_on_the_admin_port() {
    for (name, pod) in pod_specs() {
        let container = &pod["containers"][0];
        let security = &container["securityContext"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_ne!(pod["securityContext"]["runAsUser"], 0, "{name}");
        assert_eq!(security["runAsNonRoot"], true, "{name}");
        assert_eq!(security["readOnlyRootFilesystem"], true, "{name}");
        assert_eq!(security["allowPrivilegeEscalation"], false, "{name}");
        assert_eq!(
            security["capabilities"]["drop"],
            serde_json::json!(["ALL"]),
            "{name}"
        );
        assert_eq!(
            security["seccompProfile"]["type"], "RuntimeDefault",
            "{name}"
        );
        let args = container["args"].as_array().expect("args");
        assert_eq!(arg(args, "--addr"), Some("0.0.0.0:8080"), "{name}");
        assert_eq!(arg(args, "--admin-addr"), Some("0.0.0.0:9090"), "{name}");
        assert_eq!(
            container["ports"],
            serde_json::json!([
                {"name": "http", "containerPort": 8080},
                {"name": "admin", "containerPort": 9090},
            ]),
            "{name}"
        );
        for (probe, path) in [
            ("startupProbe", "/readyz"),
            ("livenessProbe", "/livez"),
            ("readinessProbe", "/readyz"),
        ] {
            let get = &container[probe]["httpGet"];
            assert_eq!(get["path"], path, "{name} {probe}");
            assert_eq!(get["port"], "admin", "{name} {probe}");
        }
        // SIGKILL comes only after the preStop pause and the graceful stop.
        let shutdown: u64 = arg(args, "--shutdown-timeout")
            .expect("--shutdown-timeout")
            .parse()
            .expect("seconds");
        let pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
            .as_u64()
            .expect("preStop sleep");
        let grace = pod["terminationGracePeriodSeconds"]
            .as_u64()
            .expect("grace");
        assert!(
            grace > pause + shutdown,
            "{name}: {grace} <= {pause} + {shutdown}"
        );
    }
}

#[test]
fn the_service_autoscaler_and_budget_act_on_the_deployments_pods() {
    let deployment = manifest("deployment.yaml");
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], labels);
    let service = manifest("service.yaml");
    assert_eq!(&service["spec"]["selector"], labels);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    let budget = manifest("pdb.yaml");
    assert_eq!(&budget["spec"]["selector"]["matchLabels"], labels);
    let autoscaler = manifest("hpa.yaml");
    let target = &autoscaler["spec"]["scaleTargetRef"];
    assert_eq!(target["kind"], "Deployment");
    assert_eq!(target["name"], deployment["metadata"]["name"]);
    // The budget leaves a pod up at the autoscaler's floor.
    let floor = autoscaler["spec"]["minReplicas"]
        .as_u64()
        .expect("minReplicas");
    let unavailable = budget["spec"]["maxUnavailable"]
        .as_u64()
        .expect("maxUnavailable");
    assert!(floor > unavailable, "{floor} pods, {unavailable} may go");
}

/// `deployment` without how its app arrives: the image, the app's path in the
/// args, and the `app` volume and its mount.
fn without_the_app(mut deployment: Value) -> Value {
    let not_app = |v: &Value| v["name"] != "app";
    let pod = &mut deployment["spec"]["template"]["spec"];
    pod["volumes"]
        .as_array_mut()
        .expect("volumes")
        .retain(not_app);
    let container = &mut pod["containers"][0];
    container["image"] = Value::Null;
    container["args"][0] = Value::Null;
    container["volumeMounts"]
        .as_array_mut()
        .expect("volumeMounts")
        .retain(not_app);
    deployment
}

#[test]
fn the_configmap_variant_differs_only_in_how_the_app_arrives() {
    let variant = manifest("app-from-configmap/deployment.yaml");
    let pod = &variant["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["args"][0], "/app/app.wasm");
    assert_eq!(
        pod["volumes"][1]["configMap"]["items"][0]["key"],
        "app.wasm"
    );
    assert_eq!(
        without_the_app(variant),
        without_the_app(manifest("deployment.yaml"))
    );
}

#[test]
fn the_configmap_the_variant_reads_holds_an_app_and_is_valid() {
    // What `kubectl create configmap wasgi-app --from-file=app.wasm=hello.wasm`
    // makes, written by Python (base64) and validated like the manifests.
    let configmap = scratch("kubernetes-configmap").join("configmap.yaml");
    let made = output(
        Command::new(venv().join("bin/python"))
            .args([
                "-c",
                "import base64, sys, yaml\n\
                 data = base64.b64encode(open(sys.argv[1], 'rb').read()).decode()\n\
                 doc = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'wasgi-app'},\n\
                        'binaryData': {'app.wasm': data}}\n\
                 yaml.safe_dump(doc, open(sys.argv[2], 'w'))\n",
                HELLO,
            ])
            .arg(&configmap),
    );
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    // A ConfigMap holds at most 1 MiB.
    assert!(std::fs::metadata(&configmap).expect("written").len() < 1 << 20);
    let out = validate(VERSIONS[1], &[configmap]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
}

/// The Deployment's own args, run by this wasgi (the app and the two addresses
/// swapped for the hello guest and free local ports): they parse, the probes' paths
/// answer on the admin listener, and the app answers on its own.
#[test]
fn the_deployments_args_serve_the_app_and_answer_its_probes() {
    let deployment = manifest("deployment.yaml");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<String> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .skip(1) // the app in the image
        .map(|a| match a.as_str().expect("a string arg") {
            "0.0.0.0:8080" | "0.0.0.0:9090" => "127.0.0.1:0".to_owned(),
            other => other.to_owned(),
        })
        .collect();
    let mut cmd = wasgi();
    cmd.arg("serve").arg(HELLO).args(&args);
    let server = Server::spawn(cmd);
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let path = container[probe]["httpGet"]["path"]
            .as_str()
            .expect("a path");
        assert_eq!(get(&server.admin_url(path)).status, 200, "{probe} {path}");
    }
    let hello = server.get("/");
    assert_eq!(hello.status, 200);
    assert_eq!(hello.body.as_deref(), Ok(&b"Hello, World!\n"[..]));
    // Counted with its access-log line, which may follow the client's last byte.
    server.wait_for_lines(" GET / 200 14B ", 1);
    assert!(
        server
            .metrics()
            .contains(r#"wasgi_requests_total{class="2xx",outcome="completed"} 1"#)
    );
}
