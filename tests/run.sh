#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every test.
#
#   tests/run.sh                   every test of the workspace
#   tests/run.sh -- cli::          arguments go to both `cargo test` runs (here: only
#                                  the tests whose name holds `cli::`)
#
# What it installs, each only when missing (so a second run installs nothing):
#   - with apt-get (as root, as CI runs): apache2, nginx and fcgiwrap, the web servers
#     the deployment tests (tests/all/deploy.rs) run wasgi under; python3-venv when
#     python3 cannot make a venv (the Python guests are built in one); systemd, whose
#     systemd-socket-activate and systemd-analyze test socket activation and the unit
#     files (tests/all/listen.rs); podman and runc, which build and run the container
#     image, and musl-tools and binutils, for its static wasgi (tests/all/container.rs);
#   - with rustup: the wasm32-wasip2 target the guests are built for, and the
#     x86_64-unknown-linux-musl target of the image's static wasgi;
#   - with pip: the wasmtime 49 CLI (tests/wasmtime-cli.sh, into target/wasmtime-venv),
#     which serves the wrapped apps of tests/all/wrap.rs.
# The first container test builds that static wasgi (deploy/image.sh: a release build
# of wasmtime for musl, minutes; cargo reuses it after), and the first Kubernetes test
# installs kubernetes-validate into a venv under target/ (tests/all/kubernetes.rs).
# The first test build then builds the Rust guests (tests/artifacts); the first Python
# test sets up the venv under target/ with pip and builds the Python guests
# (guests/build.sh python).
#
# The tests run as two `cargo test`s: the host (`wasgi`: unit, integration and doc
# tests) alone, so that it builds with exactly the dependency features of
# `cargo build -p wasgi` and reuses that build of wasmtime, and then every other crate
# of the workspace (the guest SDK, which brings wit-bindgen's own dependency features).
# Both run to the end (--no-fail-fast); the exit status is non-zero if any test failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# ---- What the tests need ----------------------------------------------------------

# The Debian packages from `$@` that are not installed.
missing_packages() {
    local package
    for package in "$@"; do
        dpkg-query -W -f '${Status}\n' "$package" 2>/dev/null | grep -qx 'install ok installed' ||
            echo "$package"
    done
}

# apt_install PACKAGE...: installs them, updating the package lists first only if the
# install fails (a fresh machine's lists may be missing or stale).
apt_install() {
    if [[ $(id -u) != 0 ]]; then
        echo "tests/run.sh: the tests need $*: run \`apt-get install -y $*\` as root" >&2
        exit 1
    fi
    echo "tests/run.sh: installing $*" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "$@" || { apt-get update && apt-get install -y "$@"; }
}

mapfile -t packages < <(missing_packages apache2 nginx fcgiwrap systemd podman runc musl-tools binutils)
# Debian splits venv (and ensurepip, which venv needs) out of python3.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    packages+=(python3-venv)
fi
if ((${#packages[@]})); then
    apt_install "${packages[@]}"
fi

for target in wasm32-wasip2 x86_64-unknown-linux-musl; do
    if ! rustup target list --installed | grep -qx "$target"; then
        rustup target add "$target"
    fi
done

tests/wasmtime-cli.sh >/dev/null

# ---- Every test -------------------------------------------------------------------

failed=0
# The vendored wasmtime is crates.io's plus its documented patches (vendor/README.md).
vendor/check.sh || failed=1
cargo test --release --no-fail-fast -p wasgi "$@" || failed=1
cargo test --release --no-fail-fast --workspace --exclude wasgi "$@" || failed=1
if ((failed)); then
    echo "tests/run.sh: some tests failed (see above)" >&2
fi
exit "$failed"
