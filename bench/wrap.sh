#!/usr/bin/env bash
# `wasgi wrap`: the wrapped Rust hello and Flask app on `wasmtime serve` against the same
# apps on `wasgi serve`, same machine, same run (docs/PERFORMANCE.md, "wasgi wrap").
#
#   bench/wrap.sh                   32 connections, 10 s each
#   DURATION=30s CONNECTIONS="32 128" bench/wrap.sh
#
# wasmtime 49 (tests/wasmtime-cli.sh) serves `wasgi wrap`'s output, precompiled;
# wasgi serves the app itself with its defaults (a fresh instance per request, as
# wasmtime serve makes). wrk drives both on loopback with 2 threads. Prints a
# Markdown table: requests/s, p50 and p99 latency, errors, and the wrapped app's ratio
# to wasgi serve. For the hello app, a third row: bench/wasi-http-hello, the same bytes
# written against wasi:http directly, on wasmtime serve: the cost of the wrapping
# itself (three component instances per request, the gateway between them) apart from
# wasmtime serve's own. Not a test: nothing here asserts a time.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}

need wrk
need curl
wasmtime_cli
build_wasgi
"$root/guests/build.sh" rust
"$root/guests/build.sh" python
bench_guest wasi-http-hello
baseline=$wasm

servers

# row APP PATH EXPECTED [BASELINE_URL]: serves APP both ways and prints its rows (and
# the baseline's, when given).
row() {
    local app=$1 path=$2 expected=$3 name
    name=$(basename "$app" .wasm)
    "$wasgi" wrap "$app" -o "$work/$name.http.wasm"
    "$wasmtime" compile "$work/$name.http.wasm" -o "$work/$name.cwasm"
    start "wasgi-$name" "$wasgi" serve "$app" --addr 127.0.0.1:0 --cache-dir "$target/wasgi-cache"
    local wasgi_url=${url%/}$path
    start "wasmtime-$name" "$wasmtime" serve -S cli --allow-precompiled --addr 127.0.0.1:0 "$work/$name.cwasm"
    local wasmtime_url=${url%/}$path
    for u in "$wasgi_url" "$wasmtime_url"; do
        body=$(curl -s "$u")
        [ "$body" = "$expected" ] || { echo "unexpected body from $u: $body" >&2; exit 1; }
        wrk -t2 -c32 -d2s "$u" >/dev/null # warm up
    done
    for c in $connections; do
        read -r w_rps w_p50 w_p99 w_err < <(run "$wasgi_url" "$c")
        read -r t_rps t_p50 t_p99 t_err < <(run "$wasmtime_url" "$c")
        ratio=$(awk -v a="$t_rps" -v b="$w_rps" 'BEGIN { printf "%.2f×", a / b }')
        echo "| $name | $c | wasgi serve | $w_rps | $w_p50 | $w_p99 | $w_err | |"
        echo "| $name | $c | wrapped, wasmtime serve | $t_rps | $t_p50 | $t_p99 | $t_err | **$ratio** |"
        if [ -n "${4:-}" ]; then
            read -r b_rps b_p50 b_p99 b_err < <(run "$4" "$c")
            ratio=$(awk -v a="$b_rps" -v b="$w_rps" 'BEGIN { printf "%.2f×", a / b }')
            echo "| $name | $c | plain wasi:http app, wasmtime serve | $b_rps | $b_p50 | $b_p99 | $b_err | $ratio |"
        fi
    done
}

echo "| app | connections | server | requests/s | p50 | p99 | errors | ratio (wrapped / wasgi serve) |"
echo "|---|---|---|---|---|---|---|---|"
start baseline "$wasmtime" serve -S cli --addr 127.0.0.1:0 "$baseline"
baseline_url=$url
wrk -t2 -c32 -d2s "$baseline_url" >/dev/null # warm up
row "$target/guests/rust/hello.wasm" / "Hello, World!" "$baseline_url"
row "$target/guests/python/flask-app.wasm" "/?name=wasm" "Hello, wasm!"
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $("$wasmtime" --version); wasgi $("$wasgi" --version | cut -d' ' -f2)"
