#!/usr/bin/env bash
# Every benchmark of docs/PERFORMANCE.md, each against its baseline in the same run.
#
#   bench/run.sh              P1 to P5
#   bench/run.sh p1 p4        a subset
#
#   P1  `wasgi run` of the Rust hello (cached) against `wasmtime run` of the same bytes
#       from a precompiled wasi:cli program (bench/cli-hello), CPython running the
#       Python hello under wsgiref's CGIHandler and under PEP 3333's run_with_cgi, and
#       /bin/true. hyperfine, no shell in between (RUNS=200 each). Then the target's
#       measure: `wasgi run` and `wasmtime run` alternating, the median of the per-pair
#       ratios (bench/pairs.py, PAIRS=200).
#   P2  one request in process, Rust hello (cargo bench --bench request).
#   P3  `wasgi serve` against `wasmtime serve` (bench/serve.sh; DURATION, CONNECTIONS).
#   P4  1 GiB in 64 KiB chunks (bench/big-body) from `wasgi run` to /dev/null, against
#       `cat` of a 1 GiB file through a pipe (P4_RUNS=5 each).
#   P5  one request in process, Python hello, fresh and reused instances (cargo bench
#       --bench request, which also times the JavaScript and C hellos when they are
#       built: docs/PERFORMANCE.md, "Guest languages").
#
# Builds what it needs (wasgi, the guests, the bench crates), installs hyperfine, wrk and
# GNU time with apt and wasmtime 49 with pip (tests/wasmtime-cli.sh, into target/wasmtime-venv) when missing.
# Prints each benchmark's own output, then one Markdown table: median, baseline, ratio,
# target, peak RSS; and the binary's size. Not a test: nothing here asserts a time.
set -euo pipefail
shopt -s inherit_errexit

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
runs=${RUNS:-200}
pairs=${PAIRS:-200}
p4_runs=${P4_RUNS:-5}
cache=$target/wasgi-cache
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rows=()
# row FIGURE MEASURED BASELINE RATIO TARGET MET RSS: one line of the final table.
row() {
    local IFS='|'
    rows+=("|$*|")
}

# rss COMMAND...: the command's peak resident set, in MiB, from one run (output dropped).
rss() {
    /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1 </dev/null
    awk 'END { printf "%.1f MiB", $1 / 1024 }' "$work/rss"
}

# calc EXPR [FORMAT]: awk arithmetic, printed with FORMAT (default: 3 significant digits).
calc() { awk "BEGIN { printf \"${2:-%.3g}\", ($1) }"; }

# median FILE NAME: hyperfine's median for the command named NAME, in seconds.
median() {
    python3 -c 'import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print(r[sys.argv[2]]["median"])' "$1" "$2"
}

# check_eq WHAT EXPECTED ACTUAL: stop when a benchmarked program answers wrong.
check_eq() {
    [ "$2" = "$3" ] || { echo "run.sh: $1 answered wrong:" >&2; diff <(echo "$2") <(echo "$3") >&2; exit 1; }
}

p1() {
    need hyperfine
    wasmtime_cli
    build_wasgi
    "$root/guests/build.sh" rust
    bench_guest cli-hello
    "$wasmtime" compile "$wasm" -o "$work/cli-hello.cwasm"
    local hello=$target/guests/rust/hello.wasm app=$root/guests/python/hello py
    # Each binary as an install leaves it, a fresh copy of the file: the linker's own
    # output sits in the page cache in small pieces, which made every run of the same
    # bytes 12-20% slower (more page faults; docs/PERFORMANCE.md, P1).
    cp "$wasgi" "$work/wasgi"
    cp "$wasmtime" "$work/wasmtime"
    local wasgi=$work/wasgi wasmtime=$work/wasmtime
    # The interpreter itself, not a wrapper such as a pyenv shim (a shell script).
    py=$(python3 -c 'import sys; print(sys.executable)')
    "$root/guests/build.sh" python
    local -A cmd=(
        [wasgi run]="$wasgi run --cache-dir $cache $hello"
        [wasgi run --no-cache]="$wasgi run --no-cache $hello"
        [wasgi run, Python hello]="$wasgi run --cache-dir $cache $target/guests/python/hello.wasm"
        [wasmtime run]="$wasmtime run --allow-precompiled $work/cli-hello.cwasm"
        [wsgiref CGIHandler]="$py -I -S $root/bench/wsgiref_cgi.py $app"
        [run_with_cgi]="$py -I -S $root/tests/reference/run_with_cgi.py {} app:application $app"
        [/bin/true]="/bin/true"
    )
    # The same response from each (wsgiref adds a Content-Length), the cache filled.
    local expected name
    expected=$($wasgi run --cache-dir "$cache" "$hello" </dev/null | od -c)
    check_eq "wasmtime run" "$expected" "$(${cmd[wasmtime run]} </dev/null | od -c)"
    check_eq "run_with_cgi" "$expected" "$(${cmd[run_with_cgi]} </dev/null | od -c)"
    check_eq "the Python hello" "$expected" "$(${cmd[wasgi run, Python hello]} </dev/null | od -c)"
    [[ $(${cmd[wsgiref CGIHandler]} </dev/null) == *$'\r\n\r\nHello, World!' ]] ||
        { echo "run.sh: wsgiref answered wrong" >&2; exit 1; }

    local args=()
    for name in "wasgi run" "wasmtime run" "wsgiref CGIHandler" "run_with_cgi" "/bin/true" \
        "wasgi run --no-cache" "wasgi run, Python hello"; do
        args+=(-n "$name" "${cmd[$name]}")
    done
    hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/p1.json" "${args[@]}"
    # The target's own measure: wasgi and wasmtime alternating, a ratio per pair.
    python3 "$root/bench/pairs.py" "$pairs" 10 "${cmd[wasgi run]}" "${cmd[wasmtime run]}" |
        tee "$work/pairs.json"

    local w
    w=$(median "$work/p1.json" "wasgi run")
    row "P1 \`wasgi run\` hello (cached)" "$(calc "$w * 1000" %.2f) ms" "" "" "" "" "$(rss ${cmd[wasgi run]})"
    # The ratios of medians (the target is judged on the pairs below).
    for name in "wasmtime run" "wsgiref CGIHandler" "run_with_cgi" "/bin/true"; do
        local b
        b=$(median "$work/p1.json" "$name")
        row "P1 baseline" "" "$name $(calc "$b * 1000" %.2f) ms" "$(calc "$w / $b")×" "" "" \
            "$(rss ${cmd[$name]})"
    done
    # pair KEY: a number from pairs.py's report.
    pair() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/pairs.json" "$1"; }
    local pw
    pw=$(pair ratio_wall)
    row "P1 \`wasgi run\` hello (cached), $(pair pairs) pairs with \`wasmtime run\`" \
        "$(calc "$(pair a_wall) * 1000" %.2f) ms (CPU $(calc "$(pair a_cpu) * 1000" %.2f) ms)" \
        "$(calc "$(pair b_wall) * 1000" %.2f) ms (CPU $(calc "$(pair b_cpu) * 1000" %.2f) ms)" \
        "**$(calc "$pw")×** median pair ratio (CPU $(calc "$(pair ratio_cpu)")×)" "≤ 0.5×" \
        "$(calc "($pw <= 0.5) ? \"yes\" : \"no\"" %s)" ""
    # What the compile cache saves, and the Python hello against CPython running it.
    row "P1 \`wasgi run --no-cache\` hello" "$(calc "$(median "$work/p1.json" "wasgi run --no-cache") * 1000" %.2f) ms" \
        "cached $(calc "$w * 1000" %.2f) ms" "$(calc "$(median "$work/p1.json" "wasgi run --no-cache") / $w")×" \
        "" "" "$(rss ${cmd[wasgi run --no-cache]})"
    local p r
    p=$(median "$work/p1.json" "wasgi run, Python hello")
    r=$(median "$work/p1.json" "run_with_cgi")
    row "P1 \`wasgi run\` Python hello (cached)" "$(calc "$p * 1000" %.2f) ms" \
        "run_with_cgi $(calc "$r * 1000" %.2f) ms" "$(calc "$p / $r")×" "" "" \
        "$(rss ${cmd[wasgi run, Python hello]})"
}

# The criterion benchmark binary (bench/request/benches/request.rs), built.
request_bench() {
    cargo bench --locked --manifest-path "$root/Cargo.toml" -p wasgi-bench --bench request \
        --no-run --message-format=json-render-diagnostics |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "request" and m.get("executable"):
        print(m["executable"])'
}

# criterion GROUP: runs the group's benchmarks (each reports its median), under GNU time.
criterion() {
    local exe
    exe=$(request_bench)
    [ -x "$exe" ] || { echo "run.sh: no benchmark binary" >&2; exit 1; }
    rm -rf "$target/criterion/$1" # no stale figure survives a failed run
    (cd "$root/host" && CARGO_TARGET_DIR=$target /usr/bin/time -f %M -o "$work/rss" \
        "$exe" --bench "$1" >&2)
    awk 'END { printf "%.1f MiB", $1 / 1024 }' "$work/rss"
}

# criterion_median GROUP NAME: the benchmark's median, in µs.
criterion_median() {
    python3 -c 'import json, sys
print(round(json.load(open(sys.argv[1]))["median"]["point_estimate"] / 1000, 2))' \
        "$target/criterion/$1/$2/new/estimates.json"
}

p2() {
    need /usr/bin/time time
    "$root/guests/build.sh" rust
    local peak pooled demand reuse
    peak=$(criterion rust-hello)
    pooled=$(criterion_median rust-hello pooled)
    demand=$(criterion_median rust-hello on-demand)
    reuse=$(criterion_median rust-hello pooled-reuse)
    row "P2 Rust hello in process, pooled" "$pooled µs" "" "$(calc "$pooled / 10")× the target" \
        "≤ 10 µs" "$(calc "($pooled <= 10) ? \"yes\" : \"no\"" %s)" "$peak (process)"
    row "P2 Rust hello in process, on-demand" "$demand µs" "pooled $pooled µs" \
        "$(calc "$demand / $pooled")×" "" "" ""
    row "P2 Rust hello in process, pooled, reuse" "$reuse µs" "pooled $pooled µs" \
        "$(calc "$reuse / $pooled")×" "" "" ""
}

p3() {
    "$root/bench/serve.sh" | tee "$work/p3"
    local c w t ratio
    while read -r c w t ratio; do
        row "P3 \`wasgi serve\`, $c connections" "$w req/s" "wasmtime serve $t req/s" "$ratio" "≥ 1.2×" \
            "$(calc "(${ratio%×} >= 1.2) ? \"yes\" : \"no\"" %s)" "$(sed -n 's/^peak RSS: //p' "$work/p3")"
    done < <(awk -F'|' '{ for (i = 2; i <= 8; i++) gsub(/[ *]/, "", $i) }
        $3 == "wasgiserve" { c = $2; w = $4; ratio = $8 }
        $3 == "wasmtimeserve" { print c, w, $4, ratio }' "$work/p3")
}

p4() {
    need hyperfine
    need /usr/bin/time time
    build_wasgi
    bench_guest big-body
    local big=$wasm file=$target/bench-1gib chunks=16384
    [ "$(stat -c %s "$file" 2>/dev/null)" = 1073741824 ] ||
        head -c 1073741824 /dev/zero >"$file"
    # The right bytes, on a small body: the headers, then 16 chunks of 64 KiB.
    local head=$'Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n'
    "$wasgi" run --cache-dir "$cache" --path '/?chunks=16' "$big" </dev/null >"$work/small"
    check_eq "big-body" "$( (printf %s "$head"; head -c $((16 * 65536)) /dev/zero | tr '\0' x) | sha256sum)" \
        "$(sha256sum <"$work/small")"
    local run="$wasgi run --cache-dir $cache --path '/?chunks=$chunks' $big"
    hyperfine --warmup 1 --runs "$p4_runs" --export-json "$work/p4.json" \
        -n "wasgi run > /dev/null" "$run >/dev/null" \
        -n "wasgi run | cat > /dev/null" "$run | cat >/dev/null" \
        -n "cat | cat > /dev/null" "cat $file | cat >/dev/null"
    local cat_s name s
    cat_s=$(median "$work/p4.json" "cat | cat > /dev/null")
    row "P4 1 GiB, cat file \| cat > /dev/null" "$(calc "1024 / $cat_s" %.0f) MiB/s" "" "" "" "" \
        "$(rss cat "$file")"
    for name in "wasgi run > /dev/null" "wasgi run | cat > /dev/null"; do
        s=$(median "$work/p4.json" "$name")
        row "P4 1 GiB, ${name//|/\\|}" "$(calc "1024 / $s" %.0f) MiB/s" "cat $(calc "1024 / $cat_s" %.0f) MiB/s" \
            "$(calc "$cat_s / $s")×" "≥ 0.5×" "$(calc "($cat_s / $s >= 0.5) ? \"yes\" : \"no\"" %s)" \
            "$(rss "$wasgi" run --cache-dir "$cache" --path "/?chunks=$chunks" "$big")"
    done
}

p5() {
    need /usr/bin/time time
    "$root/guests/build.sh" python
    local peak pooled demand reuse
    peak=$(criterion python-hello)
    pooled=$(criterion_median python-hello pooled)
    demand=$(criterion_median python-hello on-demand)
    reuse=$(criterion_median python-hello pooled-reuse)
    row "P5 Python hello in process, fresh instance, pooled" "$pooled µs" "" "" "" "" \
        "$peak (process)"
    row "P5 Python hello in process, fresh instance, on-demand" "$demand µs" \
        "pooled $pooled µs" "$(calc "$demand / $pooled")×" "" "" ""
    row "P5 Python hello in process, reuse" "$reuse µs" "fresh, pooled $pooled µs" \
        "$(calc "$reuse / $pooled")×" "" "" ""
}

figures=("$@")
[ ${#figures[@]} -gt 0 ] || figures=(p1 p2 p3 p4 p5)
for figure in "${figures[@]}"; do
    case $figure in
    p1 | p2 | p3 | p4 | p5) echo "== $figure" >&2; "$figure" ;;
    *) echo "usage: bench/run.sh [p1] [p2] [p3] [p4] [p5]" >&2; exit 2 ;;
    esac
done

echo
echo "| figure | measured (median) | baseline (median) | ratio | target | met | peak RSS |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
build_wasgi
strip -o "$work/wasgi" "$wasgi"
echo "binary: target/release/wasgi $(($(stat -c %s "$wasgi") / 1024)) KiB, stripped $(($(stat -c %s "$work/wasgi") / 1024)) KiB"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); wasgi $("$wasgi" --version | cut -d' ' -f2)"
