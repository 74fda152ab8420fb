#!/usr/bin/env bash
# Builds the container image of deploy/Containerfile for one app:
#
#   deploy/image.sh APP.wasm IMAGE      (e.g. deploy/image.sh hello.wasm wasgi-hello)
#
# 1. a static wasgi: `cargo build --release --target x86_64-unknown-linux-musl -p wasgi`
#    (the rustup target and Debian's musl-tools, for the C and assembly parts of the
#    dependencies, are installed by tests/run.sh); cargo reuses the build, so only the
#    first run pays for it (about 7 minutes on 2 cores);
# 2. that binary stripped of its symbols (smaller; a host panic's backtrace loses its
#    function names), and the app compiled by it (`wasgi compile`);
# 3. `podman build` of a context holding just those two files.
# Prints the image's size in bytes on its last line.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

if (($# != 2)); then
    echo "usage: deploy/image.sh APP.wasm IMAGE" >&2
    exit 2
fi
app=$1 image=$2
musl=x86_64-unknown-linux-musl

cargo build --quiet --locked --release --manifest-path "$root/Cargo.toml" -p wasgi \
    --target "$musl" --target-dir "$target"
binary=$target/$musl/release/wasgi
# Static: no program interpreter (ld.so), which the image does not have.
if readelf --program-headers "$binary" | grep -q INTERP; then
    echo "deploy/image.sh: $binary is dynamically linked; the image has no libc" >&2
    exit 1
fi

context=$(mktemp -d "$target/image-context.XXXXXX")
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/wasgi"
strip --strip-all "$context/wasgi"
"$context/wasgi" compile "$app" --output "$context/app.cwasm"
# The files as the image's non-root user reads them: world-readable, not writable.
chmod 0555 "$context/wasgi"
chmod 0444 "$context/app.cwasm"

podman build --quiet --file "$root/deploy/Containerfile" --tag "$image" "$context" >/dev/null
podman image inspect --format '{{.Size}}' "$image"
