#!/usr/bin/env bash
# Python at server speed (issue #18): `wasgi serve` of a framework guest, a fresh
# instance per request and `--reuse`, against the servers a Python author would
# otherwise use, on the same app, route, machine and run.
#
#   bench/python.sh                        the Flask app, 10 s each, 32 connections
#   PYAPP=django-app bench/python.sh       another of guests/python's framework apps:
#                                          flask-app, django-app, pyramid-app,
#                                          falcon-app, bottle-app (its JSON item route)
#   DURATION=30s CONNECTIONS=64 bench/python.sh
#   WASGI_ARGS="--max-concurrency 4" bench/python.sh   extra flags for both wasgi runs
#   SERVERS="gunicorn-sync wasgi" bench/python.sh      a subset (names as in the table)
#   WASGI=path/to/wasgi bench/python.sh                 another wasgi binary (not built)
#   APP=target/flask-warm.wasm bench/python.sh          another build of that app
#
# Servers, one at a time (each alone on the cores with wrk): `wasgi serve` (defaults),
# `wasgi serve --reuse`, gunicorn 23.0.0 sync with one worker per core, gunicorn
# gthread (one worker per core, 8 threads each), waitress 3.0.2 (8 threads). gunicorn,
# waitress and the guest's pinned requirements go into target/bench-py-venv-APP,
# installed by this script. Each server starts on 127.0.0.1 port 0, must answer the
# route with the same body as gunicorn, gets a 2 s warm-up, then `wrk -t1 -cN
# --latency` for the duration. Memory, over the server's whole process tree, read
# before it is stopped: peak RSS, the sum of VmHWM (each process's peak resident set),
# counts a page once per mapping of it (for the forking servers, pages shared after
# fork once per process; for wasgi, a page of the component's image once per pool
# slot that has mapped it, though the kernel holds it once); PSS, the sum of Pss
# after the run, counts a page shared by N mappings as 1/N each: the memory really
# used.
# Prints a Markdown table with each server's ratio to gunicorn sync. Not a test:
# nothing here asserts a time.
set -euo pipefail
shopt -s inherit_errexit

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
read -r -a wasgi_args <<<"${WASGI_ARGS:-}"
servers_wanted=${SERVERS:-wasgi wasgi-reuse gunicorn-sync gunicorn-gthread waitress}
cores=$(nproc)
pyapp=${PYAPP:-flask-app}
# Each app's WSGI callable and a route answering one item as JSON (the word in it
# that shows the route worked).
case $pyapp in
flask-app) spec=app:application route=/api/items/3 marker='"item":3' ;;
django-app) spec=mysite.wsgi:application route=/shop/api/items/3/ marker=Kettle ;;
pyramid-app | falcon-app | bottle-app) spec=app:application route=/api/items/2 marker=Kettle ;;
*)
    echo "python.sh: PYAPP=$pyapp: one of flask-app, django-app, pyramid-app, falcon-app, bottle-app" >&2
    exit 2
    ;;
esac

need wrk
need curl
if [ -n "${WASGI:-}" ]; then wasgi=$WASGI; else build_wasgi; fi
"$root/guests/build.sh" python
app_dir=$root/guests/python/$pyapp
component=${APP:-$target/guests/python/$pyapp.wasm}
venv=$target/bench-py-venv-$pyapp
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    gunicorn==23.0.0 waitress==3.0.2 -r "$app_dir/requirements.txt"

servers

# tree PID: PID and its descendants.
tree() {
    local all=("$1") frontier=("$1") next child
    while [ ${#frontier[@]} -gt 0 ]; do
        next=()
        for child in $(ps -o pid= --ppid "$(IFS=,; echo "${frontier[*]}")" 2>/dev/null); do
            next+=("$child")
        done
        all+=("${next[@]}")
        frontier=("${next[@]}")
    done
    echo "${all[@]}"
}

# tree_cpu PID: the CPU time (user + system) of PID's tree so far, in clock ticks.
tree_cpu() {
    local pid ticks=0
    for pid in $(tree "$1"); do
        # Fields 14 and 15 of stat, counted after the command's closing parenthesis.
        ticks=$((ticks + $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0)))
    done
    echo "$ticks"
}

# tree_memory PID: the sum over PID's tree of VmHWM (peak resident set: a page mapped
# twice counts twice) and of Pss (proportional set now: a page shared by N mappings
# counts 1/N each), in MiB.
tree_memory() {
    local pid hwm=0 pss=0
    for pid in $(tree "$1"); do
        hwm=$((hwm + $(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
        pss=$((pss + $(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)))
    done
    echo "$((hwm / 1024)) $((pss / 1024))"
}

# ms TIME: wrk's latency (123.45us, 1.23ms, 1.02s) in milliseconds.
ms() {
    awk -v t="$1" 'BEGIN {
        if (t ~ /us$/) v = t / 1000; else if (t ~ /ms$/) v = t + 0; else if (t ~ /m$/) v = t * 60000;
        else v = t * 1000; printf "%.2f", v }'
}

# Quiet Python servers: no .pyc written into the app's directory.
export PYTHONDONTWRITEBYTECODE=1
declare -A command=(
    [wasgi]="$wasgi serve $component --addr 127.0.0.1:0 --cache-dir $target/wasgi-cache ${wasgi_args[*]}"
    [wasgi-reuse]="$wasgi serve $component --addr 127.0.0.1:0 --cache-dir $target/wasgi-cache --reuse ${wasgi_args[*]}"
    [gunicorn-sync]="$venv/bin/gunicorn --chdir $app_dir -b 127.0.0.1:0 -w $cores -k sync $spec"
    [gunicorn-gthread]="$venv/bin/gunicorn --chdir $app_dir -b 127.0.0.1:0 -w $cores -k gthread --threads 8 $spec"
    [waitress]="env -C $app_dir $venv/bin/waitress-serve --listen=127.0.0.1:0 --threads=8 $spec"
)
declare -A label=(
    [wasgi]="\`wasgi serve\` (fresh instance per request)"
    [wasgi-reuse]="\`wasgi serve --reuse\`"
    [gunicorn-sync]="gunicorn 23.0.0 sync, $cores workers"
    [gunicorn-gthread]="gunicorn 23.0.0 gthread, $cores workers × 8 threads"
    [waitress]="waitress 3.0.2, 8 threads"
)

# Compile the component into the cache first, so no server's CPU or peak memory
# counts a compile (a guest just rebuilt has none cached).
"$wasgi" run "$component" --cache-dir "$target/wasgi-cache" --path "$route" </dev/null >/dev/null

# The body every server must answer with: gunicorn's (the reference), from its own run.
expected=""
declare -A result
for name in gunicorn-sync $servers_wanted; do
    [ -n "${result[$name]:-}" ] && continue
    # shellcheck disable=SC2086 # the commands are word lists
    start "$name" ${command[$name]}
    # With one Host for all, bodies that hold their own URL compare equal.
    got=$(curl -s -A wasgi-bench -H "Host: localhost" "$url${route#/}")
    if [ -z "$expected" ]; then
        expected=$got
        [[ $expected == *"$marker"* ]] || { echo "python.sh: $name answered wrong: $got" >&2; exit 1; }
    elif [ "$got" != "$expected" ]; then
        echo "python.sh: $name answered differently from gunicorn:" >&2
        diff <(echo "$expected") <(echo "$got") >&2
        exit 1
    fi
    wrk -t1 -c"$connections" -d2s "$url${route#/}" >/dev/null # warm up
    cpu_before=$(tree_cpu "$pid")
    read -r rps p50 p99 errors < <(run "$url${route#/}" "$connections" 1)
    cpu=$(($(tree_cpu "$pid") - cpu_before))
    # CPU per request: what the server spent, which other load on the machine changes
    # far less than it changes requests/s.
    cpu_ms=$(awk -v c="$cpu" -v t="$(getconf CLK_TCK)" -v r="$rps" -v d="${duration%s}" \
        'BEGIN { printf "%.3f", c * 1000 / t / (r * d) }')
    result[$name]="$rps $(ms "$p50") $(ms "$p99") $errors $(tree_memory "$pid") $cpu_ms"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
done

read -r base _ _ _ base_rss base_pss base_cpu <<<"${result[gunicorn-sync]}"
echo "| server | requests/s | p50 | p99 | p99 / p50 | errors | CPU per request | peak RSS | PSS after | req/s vs gunicorn sync | CPU vs gunicorn sync | RSS vs gunicorn sync | PSS vs gunicorn sync |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for name in $servers_wanted; do
    read -r rps p50 p99 errors rss pss cpu <<<"${result[$name]}"
    awk -v l="${label[$name]}" -v r="$rps" -v a="$p50" -v b="$p99" -v e="$errors" -v m="$rss" \
        -v q="$pss" -v c="$cpu" -v br="$base" -v bm="$base_rss" -v bq="$base_pss" -v bc="$base_cpu" 'BEGIN {
        printf "| %s | %.0f | %.2f ms | %.2f ms | %.1f× | %d | %.2f ms | %d MiB | %d MiB | %.2f× | %.2f× | %.2f× | %.2f× |\n",
            l, r, a, b, (a > 0 ? b / a : 0), e, c, m, q, r / br, c / bc, m / bm, q / bq }'
done
echo
echo "$pyapp, route $route, wrk -t1 -c$connections -d$duration; wasgi flags: ${WASGI_ARGS:-(defaults)}"
echo "machine: $cores cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); wasgi $("$wasgi" --version | cut -d' ' -f2); $("$venv/bin/python" --version)"
