#!/usr/bin/env bash
# The container image's wasgi (static, musl, mimalloc: deploy/image.sh) against the
# ordinary glibc build, the same hello app, same machine, same run. (Without mimalloc,
# on musl's own allocator, the static build served 0.5x the glibc build's requests.)
#
#   bench/image.sh                 32 connections, 10 s each
#   DURATION=30s bench/image.sh    longer runs
#
# Both serve guests/rust/hello (compiled at start, no cache) on loopback; wrk drives
# each with 2 threads, alternating twice. Prints a Markdown table: requests/s, p50 and
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

for url in "$glibc_url" "$musl_url"; do
    body=$(curl -s "$url")
    [ "$body" = "Hello, World!" ] || { echo "unexpected body from $url: $body" >&2; exit 1; }
    wrk -t2 -c32 -d2s "$url" >/dev/null # warm up
done

# run URL CONNECTIONS: prints "req/s p50 p99 errors" from one wrk run.
run() {
    wrk -t2 -c"$2" -d"$duration" --latency "$1" | awk '
        /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
        /Requests\/sec/ { rps = $2 }
        /Socket errors/ { split($0, e, /[ ,]+/); for (i in e) if (e[i] ~ /^[0-9]+$/) errors += e[i] }
        /Non-2xx/ { errors += $NF }
        END { printf "%s %s %s %d\n", rps, p50, p99, errors }'
}

rss() { awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$1/status"; }

echo "| connections | build | requests/s | p50 | p99 | errors | ratio (musl / glibc) |"
echo "|---|---|---|---|---|---|---|"
for c in $connections; do
    for round in 1 2; do
        read -r g_rps g_p50 g_p99 g_err < <(run "$glibc_url" "$c")
        read -r m_rps m_p50 m_p99 m_err < <(run "$musl_url" "$c")
        ratio=$(awk -v a="$m_rps" -v b="$g_rps" 'BEGIN { printf "%.2f×", a / b }')
        echo "| $c | musl (image) | $m_rps | $m_p50 | $m_p99 | $m_err | **$ratio** |"
        echo "| $c | glibc | $g_rps | $g_p50 | $g_p99 | $g_err | |"
    done
done
echo
echo "peak RSS: musl $(rss "$musl_pid"), glibc $(rss "$glibc_pid")"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wasgi $("$wasgi" --version | cut -d' ' -f2)"
