#!/usr/bin/env bash
# A against B: two `wasgi serve` configurations (binaries, components or flags), the CPU
# each spends a request, in simultaneous pinned pairs. Both servers run at once, each
# pinned to its own core with its own `wrk`, cores swapped every other pair, so that
# the machine's speed, which moves by a fifth or more from one hour to the next here,
# falls on both alike: a few percent resolve that one invocation after another cannot
# (docs/PERFORMANCE.md).
#
#   B_ARGS="--timeout 0" bench/ab-serve.sh /api/items/3     flags (the Flask guest)
#   A_APP=old.wasm B_APP=new.wasm bench/ab-serve.sh /        two builds of an app
#   A_WASGI=target/wasgi-old bench/ab-serve.sh /api/items/3  two binaries
#
# A_APP (default: the Flask guest, target/guests/python/flask-app.wasm) and B_APP
# (default: A_APP); A_ARGS and B_ARGS, more flags for `wasgi serve` (both run with
# --max-running 1); A_WASGI and B_WASGI (default: the release build, built if either
# is unset); PAIRS (6), DURATION of each pair's run (8s, after a 2 s warm-up),
# CONNECTIONS per server (8). Prints each pair's CPU a request and B/A, then the
# median of B/A: below 1, B spends less. Needs two cores. Not a test: nothing here
# asserts a time.
set -euo pipefail
shopt -s inherit_errexit

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
route=${1:?usage: bench/ab-serve.sh ROUTE (the path both servers answer; see the header)}
pairs=${PAIRS:-6}
duration=${DURATION:-8s}
connections=${CONNECTIONS:-8}
[ "$(nproc)" -ge 2 ] || { echo "ab-serve.sh: needs two cores, one per server" >&2; exit 2; }
need wrk
need curl
need taskset util-linux
if [ -z "${A_WASGI:-}" ] || [ -z "${B_WASGI:-}" ]; then build_wasgi; fi
a_app=${A_APP:-$target/guests/python/flask-app.wasm}
b_app=${B_APP:-$a_app}
read -r -a a_args <<<"${A_ARGS:-}"
read -r -a b_args <<<"${B_ARGS:-}"
ticks=$(getconf CLK_TCK)

servers

# serve NAME CORE WASGI APP ARGS...: that server on that core; sets $pid and $url.
serve() {
    local name=$1 core=$2 binary=$3 app=$4
    shift 4
    start "$name" taskset -c "$core" "$binary" serve --addr 127.0.0.1:0 \
        --cache-dir "$target/wasgi-cache" --max-running 1 "$@" "$app"
    curl -sf -o /dev/null "$url${route#/}" ||
        { echo "ab-serve.sh: $name does not answer $route: $(cat "$work/$name.log")" >&2; exit 1; }
}

# cpu PID: its CPU time so far (user + system), in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# load CORE URL SECONDS: wrk on that core; prints the requests it got answered.
load() { taskset -c "$1" wrk -t1 -c"$connections" -d"$3" "$2" | awk '/requests in/ { print $1 }'; }

ratios=()
echo "| pair | A's core | A: CPU a request | B: CPU a request | B/A |"
echo "|---|---|---|---|---|"
for n in $(seq "$pairs"); do
    a_core=$((n % 2))
    b_core=$((1 - a_core))
    serve "a$n" "$a_core" "${A_WASGI:-$wasgi}" "$a_app" "${a_args[@]}"
    a_pid=$pid a_url=$url${route#/}
    serve "b$n" "$b_core" "${B_WASGI:-$wasgi}" "$b_app" "${b_args[@]}"
    b_pid=$pid b_url=$url${route#/}
    load "$a_core" "$a_url" 2s >/dev/null &
    load "$b_core" "$b_url" 2s >/dev/null
    wait $!
    a0=$(cpu "$a_pid") b0=$(cpu "$b_pid")
    load "$a_core" "$a_url" "$duration" >"$work/a.requests" &
    b_requests=$(load "$b_core" "$b_url" "$duration")
    wait $!
    a_requests=$(<"$work/a.requests")
    a1=$(cpu "$a_pid") b1=$(cpu "$b_pid")
    kill "$a_pid" "$b_pid"
    line=$(awk -v a="$((a1 - a0))" -v na="$a_requests" -v b="$((b1 - b0))" -v nb="$b_requests" \
        -v t="$ticks" -v n="$n" -v core="$a_core" 'BEGIN {
            ma = a * 1000 / t / na; mb = b * 1000 / t / nb
            printf "| %d | %d | %.3f ms (%d) | %.3f ms (%d) | %.3f |\n", n, core, ma, na, mb, nb, mb / ma
        }')
    echo "$line"
    ratios+=("$(awk -F'|' '{ print $6 }' <<<"$line")")
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END {
    m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
    printf "\nmedian B/A over %d pairs: %.3f\n", NR, m
}'
