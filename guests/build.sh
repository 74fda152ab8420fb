#!/usr/bin/env bash
# Builds every guest into target/guests/<lang>/<name>.wasm.
#
# Rust guests: each directory of guests/rust is one crate, built for wasm32-wasip2 with
# the workspace's `guest` profile. They build in their own target directory
# (target/guest-build), so the test suite can call this script while `cargo test`
# holds the lock on the main one.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
out=$target/guests/rust

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi

names=()
packages=()
for dir in "$root"/guests/rust/*/; do
    name=$(basename "$dir")
    names+=("$name")
    packages+=(-p "$name")
done

cargo build --quiet --manifest-path "$root/Cargo.toml" --locked \
    --profile guest --target wasm32-wasip2 --target-dir "$target/guest-build" \
    "${packages[@]}"

mkdir -p "$out"
for name in "${names[@]}"; do
    cp "$target/guest-build/wasm32-wasip2/guest/${name//-/_}.wasm" "$out/$name.wasm"
done
echo "built ${#names[@]} Rust guests into ${out#"$root"/}" >&2
