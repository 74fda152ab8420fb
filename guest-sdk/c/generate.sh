#!/usr/bin/env bash
# Regenerates gen/ (the C bindings of wit/gateway.wit) with wit-bindgen-cli 0.63.0.
# Never edit gen/ by hand: change the WIT (wit/gateway.wit at the repository's root,
# copied here) and run this script. The generated files are committed because
# `cargo install --locked wit-bindgen-cli@0.63.0` takes minutes; guests/build.sh c
# builds from them. The world's type information is not taken from wit-bindgen's
# object file (a binary) but embedded by `wasm-tools component embed` (wasgi-cc).
set -euo pipefail

sdk=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
want=0.63.0
cp "$sdk/../../wit/gateway.wit" "$sdk/wit/gateway.wit"
if ! version=$(wit-bindgen --version 2>/dev/null) || [[ $version != *" $want"* ]]; then
    echo "generate.sh: needs wit-bindgen $want (have: ${version:-none}): cargo install --locked wit-bindgen-cli@$want" >&2
    exit 1
fi
rm -rf "$sdk/gen"
wit-bindgen c "$sdk/wit" --world app --no-object-file --out-dir "$sdk/gen"
echo "generate.sh: regenerated gen/ with $version" >&2
