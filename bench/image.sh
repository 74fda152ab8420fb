#!/usr/bin/env bash
# The container image's wasgi (static, musl, mimalloc: deploy/image.sh) against the
# ordinary glibc build, the same hello app, same machine, same run. (Without mimalloc,
# on musl's own allocator, the static build served 0.5x the glibc build's requests.)
#
#   bench/image.sh                 32 connections, 10 s each
#   DURATION=30s bench/image.sh    longer runs
#
# Both serve guests/rust/hello (compiled at start, no cache) on loopback; wrk drives
# each with 2 threads, alternating, twice. Prints a Markdown table: requests/s, p50 and
# p99 latency, errors, peak RSS, and the musl build's ratio to the glibc one. Not a
# test: nothing here asserts a time.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}

need wrk
need curl
build_wasgi
cargo build --quiet --locked --release -p wasgi --manifest-path "$root/Cargo.toml" \
    --target x86_64-unknown-linux-musl
musl=$target/x86_64-unknown-linux-musl/release/wasgi
"$root/guests/build.sh" rust
app=$target/guests/rust/hello.wasm

servers
start glibc "$wasgi" serve "$app" --addr 127.0.0.1:0 --no-cache
glibc_url=$url glibc_pid=$pid
# As the image runs it (deploy/Containerfile's ENV).
start musl env MIMALLOC_ARENA_EAGER_COMMIT=0 "$musl" serve "$app" --addr 127.0.0.1:0 --no-cache
musl_url=$url musl_pid=$pid

warm_up "$glibc_url" "$musl_url"

echo "| connections | build | requests/s | p50 | p99 | errors | ratio (musl / glibc) |"
echo "|---|---|---|---|---|---|---|"
for c in $connections; do
    for round in 1 2; do
        compare "$c" "musl (image)" "$musl_url" glibc "$glibc_url"
    done
done
echo
echo "peak RSS: musl $(rss "$musl_pid"), glibc $(rss "$glibc_pid")"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wasgi $("$wasgi" --version | cut -d' ' -f2)"
