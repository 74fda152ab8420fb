//! Build-script helpers shared by the crates that embed or test wasm32-wasip2
//! components: `host` (the helper components of `wasgi wrap`) and `tests/artifacts`
//! (the test guests). wasmtime's `crates/test-programs/artifacts/build.rs` is the
//! model: the components build with a cargo of their own, in `target/guest-build`
//! (the directory `guests/build.sh` uses, so every build shares one guest build; never
//! the outer build's target directory, whose lock the outer cargo holds).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the components are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// The repository's root, from a crate `depth` directories below it.
pub fn repository_root(depth: usize) -> PathBuf {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    manifest_dir
        .ancestors()
        .nth(depth)
        .expect("the crate is inside the repository")
        .to_owned()
}

/// Adds the `wasm32-wasip2` target with rustup when it is missing (`cargo clippy`
/// runs the build scripts before anything else of the project could install it).
pub fn ensure_target() {
    let Ok(installed) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        // No rustup: the toolchain came some other way; cargo says if the target is
        // missing.
        return;
    };
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == TARGET)
    {
        return;
    }
    println!(
        "cargo:warning=adding the {TARGET} target (rustup target add {TARGET}) to build the wasm components"
    );
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    if !matches!(added, Ok(status) if status.success()) {
        panic!(
            "wasgi's wasm components need the {TARGET} target and `rustup target add {TARGET}` failed: run it by hand"
        );
    }
}

/// Builds the workspace packages `names` for [`TARGET`] with the `guest` profile and
/// returns the directory holding their `.wasm` files (`what` names them in messages).
pub fn build(root: &Path, names: &[String], what: &str) -> PathBuf {
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("guest-build");
    let mut cargo = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .arg("build")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .args(["--locked", "--profile", "guest", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        // What the outer cargo tells its build scripts, not meant for this build: its
        // flags for the host target, and under `cargo clippy` the clippy driver.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR");
    for name in names {
        cargo.args(["-p", name]);
    }
    // Its stdout would be read as this script's instructions to cargo.
    let status = cargo
        .stdout(std::io::stderr())
        .status()
        .unwrap_or_else(|e| panic!("failed to run cargo to build {what}: {e}"));
    assert!(
        status.success(),
        "building {what} failed ({status}): see the errors above"
    );
    target_dir.join(TARGET).join("guest")
}

/// The files a cargo dep-info file (`NAME.d`, a makefile rule) lists as inputs.
pub fn dep_info(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the dep-info file {}: {e}", path.display()));
    let mut files = Vec::new();
    for line in text.lines() {
        let Some((_, inputs)) = line.split_once(": ") else {
            continue;
        };
        let mut words = inputs.split(' ').filter(|w| !w.is_empty());
        while let Some(word) = words.next() {
            // A space inside a path is written `\ `.
            let mut file = word.to_owned();
            while file.ends_with('\\') {
                file.pop();
                file.push(' ');
                file.push_str(words.next().unwrap_or_default());
            }
            files.push(file);
        }
    }
    files
}
