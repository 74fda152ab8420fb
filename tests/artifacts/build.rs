//! Builds the Rust guests for the tests and writes `$OUT_DIR/guests.rs` (see the crate
//! docs): wasmtime's `crates/test-programs/artifacts/build.rs`, for wasgi's guests.
//!
//! The guests build with a cargo of their own, in `target/guest-build` (the directory
//! `guests/build.sh` uses, so the README's first command and the tests share one guest
//! build; never the outer build's target directory, whose lock the outer cargo holds).
//! Each `.wasm` is then copied to `$OUT_DIR/rust/NAME.wasm`, one directory holding
//! every guest under its directory's name, as the deployment tests' web servers want.

use std::collections::BTreeSet;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the guests are built for.
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .expect("tests/artifacts is two levels below the repository's root")
        .to_owned();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));

    // A new guest directory (or a removed one) changes the lists; the guests' own
    // sources are followed through their dep-info files below.
    for watched in ["guests/rust", "guests/python", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let rust = guest_names(&root.join("guests/rust"));
    let python = guest_names(&root.join("guests/python"));

    ensure_target();
    let built = build_rust_guests(&root, &rust);
    let wasm_dir = out_dir.join("rust");
    fs::create_dir_all(&wasm_dir).expect("failed to create $OUT_DIR/rust");
    let mut deps = BTreeSet::new();
    let mut code = String::new();
    for name in &rust {
        let artifact = built.join(format!("{}.wasm", name.replace('-', "_")));
        let wasm = wasm_dir.join(format!("{name}.wasm"));
        fs::copy(&artifact, &wasm).unwrap_or_else(|e| {
            panic!(
                "failed to copy {} to {}: {e}",
                artifact.display(),
                wasm.display()
            )
        });
        deps.extend(dep_info(&artifact.with_extension("d")));
        writeln!(
            code,
            "/// `guests/rust/{name}`, built for {TARGET}.\npub const {}: &str = {:?};",
            constant(name),
            wasm.to_str().expect("a UTF-8 path"),
        )
        .expect("write to a String");
    }
    for dep in deps {
        println!("cargo:rerun-if-changed={dep}");
    }

    code.push_str("/// The Python guests, by the name of their directory in `guests/python`.\n");
    code.push_str("pub mod python {\n");
    for name in &python {
        writeln!(
            code,
            "    /// `guests/python/{name}`.\n    pub const {}: &str = {name:?};",
            constant(name),
        )
        .expect("write to a String");
    }
    code.push_str("}\n");

    code.push_str(&foreach(
        "foreach_rust_guest",
        "every Rust guest's constant",
        &rust,
    ));
    code.push_str(&foreach(
        "foreach_python_guest",
        "every Python guest's constant (in `python`)",
        &python,
    ));
    fs::write(out_dir.join("guests.rs"), code).expect("failed to write $OUT_DIR/guests.rs");
}

/// The names of the directories under `dir` (each one guest), sorted.
fn guest_names(dir: &Path) -> Vec<String> {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_dir())
        .map(|path| {
            let name = path.file_name().expect("a name").to_str();
            name.expect("a UTF-8 guest name").to_owned()
        })
        .collect();
    names.sort();
    names
}

/// `two-set-cookie` → `TWO_SET_COOKIE`.
fn constant(name: &str) -> String {
    name.replace('-', "_").to_ascii_uppercase()
}

/// A `macro_rules!` that calls `$mac! { NAME NAME … }` with every name in `names`.
fn foreach(macro_name: &str, what: &str, names: &[String]) -> String {
    let list: Vec<String> = names.iter().map(|n| constant(n)).collect();
    format!(
        "/// Calls `$mac! {{ NAME NAME … }}` with the names of {what}.\n\
         #[macro_export]\n\
         macro_rules! {macro_name} {{\n    ($mac:ident) => {{\n        $mac! {{ {} }}\n    }};\n}}\n",
        list.join(" ")
    )
}

/// Adds the `wasm32-wasip2` target with rustup when it is missing (`cargo clippy`
/// runs this script before anything else of the project could install it).
fn ensure_target() {
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
        "cargo:warning=adding the {TARGET} target (rustup target add {TARGET}) to build the test guests"
    );
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    if !matches!(added, Ok(status) if status.success()) {
        panic!(
            "the test guests need the {TARGET} target and `rustup target add {TARGET}` failed: run it by hand"
        );
    }
}

/// Builds every guest in `names` with the `guest` profile and returns the directory
/// holding their `.wasm` files.
fn build_rust_guests(root: &Path, names: &[String]) -> PathBuf {
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
        .unwrap_or_else(|e| panic!("failed to run cargo to build the test guests: {e}"));
    assert!(
        status.success(),
        "building the test guests failed ({status}): see the errors above"
    );
    target_dir.join(TARGET).join("guest")
}

/// The files a cargo dep-info file (`NAME.d`, a makefile rule) lists as inputs.
fn dep_info(path: &Path) -> Vec<String> {
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
