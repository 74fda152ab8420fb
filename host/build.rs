//! Builds `wasgi wrap`'s two helper components (wrap/core and wrap/handler) for
//! wasm32-wasip2 and puts them in `$OUT_DIR`, where `src/wrap.rs` embeds them: they
//! are built from source with every build of `wasgi`, never committed as binaries.

use std::env;
use std::fs;
use std::path::PathBuf;

use wasgi_build_support::{build, dep_info, ensure_target, repository_root};

/// The helper crates, by package name.
const HELPERS: [&str; 2] = ["wasgi-wrap-core", "wasgi-wrap-handler"];

fn main() {
    let root = repository_root(1);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    for watched in ["wrap", "wit", "gateway", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    ensure_target();
    let names: Vec<String> = HELPERS.iter().map(|&n| n.to_owned()).collect();
    let built = build(&root, &names, "the components of `wasgi wrap`");
    for name in HELPERS {
        let file = format!("{}.wasm", name.replace('-', "_"));
        let artifact = built.join(&file);
        fs::copy(&artifact, out_dir.join(&file))
            .unwrap_or_else(|e| panic!("failed to copy {} to $OUT_DIR: {e}", artifact.display()));
        for dep in dep_info(&artifact.with_extension("d")) {
            println!("cargo:rerun-if-changed={dep}");
        }
    }
}
