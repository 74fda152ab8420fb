#!/usr/bin/env bash
# The long part of the network probe of `wasgi serve` (issue 13); the fast cases are
# tests/attack.rs. Loopback only (127.0.0.1), every phase bounded in time and count:
#
#   bench/probe.sh                     all phases (about 2 minutes)
#   STORM=2000 SOAK=10 bench/probe.sh  a quicker run
#
# 1. connection storm: $STORM (10 000) idle keep-alive connections, each served one
#    request, held $HOLD s, closed; the server's RSS before, at the peak and after
#    (with --max-connections above $STORM, so every connection is held);
# 2. the default cap: the same storm against a server with the default
#    --max-connections (1024): how many were refused with 503;
# 3. soak: ab -k, 256 connections for $SOAK (60) s; requests/s, failures, RSS after;
# 4. slow bodies: 80 POSTs dripping a byte a second against 64 slots with
#    --body-timeout 5, and a GET's latency meanwhile (before the fix: 9-12 s or a
#    timeout).
#
# Prints a Markdown summary (the numbers in docs/SECURITY.md come from it). Not a test:
# nothing here asserts.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
storm=${STORM:-10000}
hold=${HOLD:-5}
soak=${SOAK:-60}
probe=$root/bench/probe.py

need ab apache2-utils
build_wasgi
"$root/guests/build.sh" rust >/dev/null
ulimit -n $((storm + 512))

servers

rss() { awk '/VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$1/status"; }
hello=$target/guests/rust/hello.wasm

echo "## wasgi serve probe ($(date -u +%F), $(nproc) cores)"
echo

start storm "$wasgi" serve --addr 127.0.0.1:0 --cache-dir "$target/wasgi-cache" "$hello" --max-connections $((storm + 100))
echo "### 1. $storm idle keep-alive connections, held ${hold} s"
echo "- RSS before: $(rss "$pid")"
python3 "$probe" storm "$port" "$storm" "$hold" >"$work/storm.json" &
storm_pid=$!
peak=0
while kill -0 "$storm_pid" 2>/dev/null; do
    now=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    ((now > peak)) && peak=$now
    sleep 0.5
done
echo "- clients: $(cat "$work/storm.json")"
echo "- RSS at the peak: $(awk -v k="$peak" 'BEGIN {printf "%.1f MB", k / 1024}')"
# The server sees each close, frees its connection, and trims memory once the
# storm has passed; give it a few seconds.
sleep 3
echo "- RSS 3 s after they closed: $(rss "$pid")"
echo "- after: $(python3 "$probe" get "$port")"
storm_pid=$pid
echo

start capped "$wasgi" serve --addr 127.0.0.1:0 --cache-dir "$target/wasgi-cache" "$hello"
echo "### 2. the same storm against the default --max-connections"
echo "- clients: $(python3 "$probe" storm "$port" "$storm" 1)"
echo "- log lines about refusals: $(grep -c 'refused a connection' "$work/capped.log" || true)"
echo "- RSS after: $(rss "$pid")"
echo

echo "### 3. soak: ab -k -c 256 -t $soak"
ab -k -c 256 -t "$soak" -n 100000000 "http://127.0.0.1:$port/" >"$work/ab.txt" 2>&1 || true
grep -E '^(Complete requests|Failed requests|Non-2xx responses|Requests per second)' "$work/ab.txt" | sed 's/^/- /'
echo "- RSS after: $(rss "$pid")"
echo

start drip "$wasgi" serve --addr 127.0.0.1:0 --cache-dir "$target/wasgi-cache" "$target/guests/rust/read-past-content-length.wasm" --body-timeout 5
echo "### 4. 80 bodies dripping a byte a second, 64 slots, --body-timeout 5"
python3 "$probe" drip "$port" 80 12 >"$work/drip.json" &
drip_pid=$!
sleep 3
echo "- a GET meanwhile: $(python3 "$probe" get "$port" /ok)"
wait "$drip_pid"
echo "- drips: $(cat "$work/drip.json")"
echo "- 408 lines in the access log: $(grep -c ' 408 ' "$work/drip.log" || true)"
