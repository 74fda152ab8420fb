#!/usr/bin/env bash
# Builds the guests into target/guests/<lang>/<name>.wasm.
#
#   guests/build.sh           every language
#   guests/build.sh rust      the Rust guests only
#   guests/build.sh python    the Python guests only
#
# Rust guests: each directory of guests/rust is one crate, built for wasm32-wasip2 with
# the workspace's `guest` profile. They build in their own target directory
# (target/guest-build), so the test suite can call this script while `cargo test`
# holds the lock on the main one.
#
# Python guests: each directory of guests/python holds a PEP 3333 app, `app:application`
# unless a SPEC file names another `module:callable`, and optionally a
# requirements.txt. The adapter (guest-sdk/python, which brings componentize-py
# 0.25.1) is installed into a venv at target/py-venv, and `wasgi-py build -r
# requirements.txt` resolves the requirements for the component's CPython 3.14 into
# target/py-deps/<name> (the reference gateway of tests/ runs the app from there too)
# and compiles each app with its files. wasgi-py's cache is target/py-cache. A guest
# is rebuilt only when its directory, its requirements or the adapter changed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

build_rust() {
    local out=$target/guests/rust
    if ! rustup target list --installed | grep -qx wasm32-wasip2; then
        rustup target add wasm32-wasip2
    fi

    local names=() packages=() dir name
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
}

# A digest of the files under a directory (build products and caches left out).
digest() {
    (cd "$1" && find . -type f ! -path '*/__pycache__/*' ! -path './build/*' \
        ! -path '*.egg-info/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) |
        sha256sum | cut -c1-64
}

build_python() {
    local out=$target/guests/python venv=$target/py-venv
    local sdk=$root/guest-sdk/python
    if [[ ! -x $venv/bin/python ]] && ! python3 -m venv "$venv"; then
        rm -rf "$venv"
        # Debian splits venv out of python3; install it when we may.
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            apt-get install -y python3-venv || { apt-get update && apt-get install -y python3-venv; }
        fi
        python3 -m venv "$venv" || {
            rm -rf "$venv"
            echo "guests/build.sh: python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2
            exit 1
        }
    fi
    local pip=("$venv/bin/pip" --quiet --disable-pip-version-check)

    local sdk_digest
    sdk_digest=$(digest "$sdk")
    if [[ $(cat "$venv/wasgi-py.digest" 2>/dev/null) != "$sdk_digest" ]]; then
        "${pip[@]}" install "$sdk"
        echo "$sdk_digest" >"$venv/wasgi-py.digest"
    fi

    mkdir -p "$out"
    export WASGI_PY_CACHE=$target/py-cache
    local dir name deps spec want built=0 total=0
    for dir in "$root"/guests/python/*/; do
        name=$(basename "$dir")
        total=$((total + 1))
        deps=()
        want="$sdk_digest $(digest "$dir")"
        if [[ -f $dir/requirements.txt ]]; then
            deps=(-r "$dir/requirements.txt" --deps "$target/py-deps/$name")
        fi
        spec=app:application
        if [[ -f $dir/SPEC ]]; then
            spec=$(<"$dir/SPEC")
        fi
        if [[ -f $out/$name.wasm && $(cat "$out/$name.digest" 2>/dev/null) == "$want" ]]; then
            continue
        fi
        "$venv/bin/wasgi-py" build "$spec" -p "$dir" "${deps[@]}" -o "$out/$name.wasm.tmp"
        mv "$out/$name.wasm.tmp" "$out/$name.wasm"
        echo "$want" >"$out/$name.digest"
        built=$((built + 1))
    done
    echo "built $built of $total Python guests into ${out#"$root"/} (the others were up to date)" >&2
}

case ${1:-all} in
rust) build_rust ;;
python) build_python ;;
all)
    build_rust
    build_python
    ;;
*)
    echo "usage: guests/build.sh [rust|python]" >&2
    exit 2
    ;;
esac
