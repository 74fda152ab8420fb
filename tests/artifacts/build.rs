//! Builds the Rust guests for the tests and writes `$OUT_DIR/guests.rs` (see the crate
//! docs): wasmtime's `crates/test-programs/artifacts/build.rs`, for wasgi's guests.
//!
//! The guests build with a cargo of their own, in `target/guest-build`
//! (`wasgi-build-support` says why). Each `.wasm` is then copied to `$OUT_DIR/rust/NAME.wasm`, one directory holding
//! every guest under its directory's name, as the deployment tests' web servers want.

use std::collections::BTreeSet;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use wasgi_build_support::{TARGET, build, dep_info, ensure_target, repository_root};

fn main() {
    let root = repository_root(2);
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
    let built = build(&root, &rust, "the test guests");
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
