#!/usr/bin/env bash
# Checks that vendor/wasmtime is crates.io's wasmtime (the version it names) with
# vendor/wasmtime-*.patch applied, in name order, and nothing else (vendor/README.md).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/vendor/wasmtime/Cargo.toml" | head -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A throwaway package depending on that exact version fetches it into cargo's cache.
mkdir -p "$work/fetch/src"
cat >"$work/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-wasmtime"
version = "0.0.0"
edition = "2021"
[dependencies]
wasmtime = { version = "=$version", default-features = false }
[workspace]
TOML
touch "$work/fetch/src/lib.rs"
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"
registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
original=$(find "$registry" -mindepth 2 -maxdepth 2 -type d -name "wasmtime-$version" | head -1)
if [[ -z $original ]]; then
    echo "vendor/check.sh: wasmtime $version was not found under $registry after cargo fetch" >&2
    exit 1
fi

cp -r "$original" "$work/patched"
rm -f "$work/patched/.cargo-ok"
patches=("$root"/vendor/wasmtime-*.patch)
for patch in "${patches[@]}"; do
    (cd "$work/patched" && git apply -p1 "$patch")
done
names=$(printf ' vendor/%s' "${patches[@]##*/}")
if ! diff -r "$work/patched" "$root/vendor/wasmtime" >"$work/diff"; then
    echo "vendor/check.sh: vendor/wasmtime is not wasmtime $version plus$names:" >&2
    head -40 "$work/diff" >&2
    exit 1
fi
echo "vendor/check.sh: vendor/wasmtime is wasmtime $version plus$names" >&2
