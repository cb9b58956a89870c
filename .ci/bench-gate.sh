#!/usr/bin/env bash
# The performance gate asgibench's own CI runs after the tests (called by .ci/run).
#
# 1. The micro-benchmarks once each with --benchmark-disable, so they cannot rot.
# 2. THE GATE: instructions per request, counted by callgrind (`bench cost`), of asgibench
#    on uvloop + httptools and on asyncio + h11, plaintext and json (not pipelined), each
#    compared by `bench compare` with the committed baseline of the same combination
#    (.ci/cost-baseline/LOOP-PARSER.json). Exit 1 when an entry does more work than the
#    threshold (default 2%), failed to be counted or is missing, 2 for bad input. An
#    entry bench cost could not count (its exit 1, the file written) is still compared,
#    and fails by name; the other combination is compared whatever happened to one.
#    Counts do not move with the machine's load: identical builds agree within about
#    0.6% (docs/ci.md), so one measurement is a verdict; nothing is measured twice.
# 3. INFORMATION ONLY: a short wall-clock measurement (asgibench, uvloop, httptools; json
#    c=128 and plaintext c=256 pipelined x16; ROUNDS separate `bench run --repeat 1`
#    merged) and `bench compare --normalise --statistic best` against .ci/bench-baseline.json.
#    Its verdict is printed; it never fails CI (a 2-core shared machine moves requests/s
#    by 25-40% between identical builds).
#
# Environment:
#   ASGIBENCH_GATE_COST_BASELINE  directory of the cost baselines (default .ci/cost-baseline)
#   ASGIBENCH_GATE_COST_THRESHOLD threshold for the cost comparison (default 2%)
#   ASGIBENCH_GATE_COST_REQUESTS  counted requests per test type (default 200; warm-up 50)
#   ASGIBENCH_GATE_THRESHOLD      threshold of the wall-clock comparison (default 30%)
#   ASGIBENCH_GATE_BASELINE       wall-clock baseline (default .ci/bench-baseline.json)
#   ASGIBENCH_GATE_ROUNDS         wall-clock rounds (default 5)
#   ASGIBENCH_GATE_WALLCLOCK=0    skip the wall-clock information
#   ASGIBENCH_GATE_OUT            keep the counts, runs, comparisons and their Markdown
#                                 here (default: a temporary directory, removed at exit)
#   ASGIBENCH_GATE_SKIP=1         skip the measurements (micro-benchmarks still run)
#
# Making the baselines (docs/ci.md, "Refreshing the baselines"):
#   .ci/bench-gate.sh --cost-baseline   # the instruction counts (about 45 s)
#   .ci/bench-gate.sh --baseline        # both: the counts and the wall-clock runs
set -uo pipefail
cd "$(dirname "$0")/.."

cost_dir="${ASGIBENCH_GATE_COST_BASELINE:-.ci/cost-baseline}"
cost_threshold="${ASGIBENCH_GATE_COST_THRESHOLD:-2%}"
cost_requests="${ASGIBENCH_GATE_COST_REQUESTS:-200}"
threshold="${ASGIBENCH_GATE_THRESHOLD:-30%}"
baseline="${ASGIBENCH_GATE_BASELINE:-.ci/bench-baseline.json}"
rounds="${ASGIBENCH_GATE_ROUNDS:-5}"
# The gated combinations: the fastest pair and the pure-Python one, LOOP:PARSER.
combos=(uvloop:httptools asyncio:h11)
if [ -n "${ASGIBENCH_GATE_OUT:-}" ]; then
    out="$ASGIBENCH_GATE_OUT"
    mkdir -p "$out"
else
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi

# Count one combination's instructions per request into $3. With $4 = partial, an entry
# bench cost could not count (its exit 1, the file written) is not an error here: the
# comparison then fails that entry by name. Returns bench cost's 2 (bad input) as 2,
# any other failure as 1.
count() {
    local loop="$1" parser="$2" dest="$3" partial="${4:-}"
    rm -f "$dest"
    python -m asgibench cost --server asgibench --loop "$loop" --proto "$parser" \
        --test plaintext,json --no-floor --requests "$cost_requests" --warmup 50 \
        --out "$dest" >"$dest.txt" 2>&1
    local status=$?
    if [ "$status" -eq 0 ]; then
        return 0
    fi
    cat "$dest.txt" >&2
    if [ "$status" -eq 1 ] && [ "$partial" = partial ] && [ -s "$dest" ]; then
        echo "bench gate: bench cost could not count every entry of $loop/$parser" \
            "(exit 1): compared anyway, the uncounted ones fail" >&2
        return 0
    fi
    echo "bench gate: bench cost failed for $loop/$parser (exit $status)" >&2
    if [ "$status" -eq 2 ]; then
        return 2
    fi
    return 1
}

# One wall-clock measurement: $rounds runs of --repeat 1, merged into $1.
measure() {
    local dest="$1" tag="$2" parts=() i
    for i in $(seq 1 "$rounds"); do
        local part="$out/$tag-round-$i.json"
        python -m asgibench run --server asgibench --loop uvloop --proto httptools \
            --test json,plaintext --duration 1 --warmup 0.5 --repeat 1 \
            --out "$part" --quiet >"$out/$tag-round-$i.txt" 2>&1
        local status=$?
        if [ "$status" -ne 0 ] || [ ! -f "$part" ]; then
            cat "$out/$tag-round-$i.txt" >&2
            echo "bench gate: bench run failed (exit $status)" >&2
            return 1
        fi
        parts+=("$part")
    done
    python -m asgibench merge "${parts[@]}" -o "$dest" 2>/dev/null
}

if [ "${1:-}" = "--baseline" ] || [ "${1:-}" = "--cost-baseline" ]; then
    mkdir -p "$cost_dir"
    for combo in "${combos[@]}"; do
        loop="${combo%%:*}" parser="${combo##*:}"
        echo "+ bench cost asgibench $loop/$parser for the baseline"
        count "$loop" "$parser" "$cost_dir/$loop-$parser.json" || exit $?
        rm -f "$cost_dir/$loop-$parser.json.txt"
    done
    echo "bench gate: cost baselines written to $cost_dir"
    if [ "$1" = "--baseline" ]; then
        echo "+ measuring the wall-clock configuration ($rounds rounds) for the baseline"
        measure "$baseline" baseline || exit 1
        echo "bench gate: wall-clock baseline written to $baseline"
    fi
    exit 0
fi

echo "+ micro-benchmarks (each run once: --benchmark-disable)"
python -m pytest -q -p no:cacheprovider tests/benchmarks --benchmark-disable || exit 1

if [ "${ASGIBENCH_GATE_SKIP:-0}" = 1 ]; then
    echo "bench gate: skipped (ASGIBENCH_GATE_SKIP=1)"
    exit 0
fi

# -- the gate: instruction counts ----------------------------------------------------------
status=0
for combo in "${combos[@]}"; do
    loop="${combo%%:*}" parser="${combo##*:}"
    base="$cost_dir/$loop-$parser.json"
    if [ ! -f "$base" ]; then
        echo "bench gate: cost baseline $base is missing (make it with: $0 --cost-baseline)" >&2
        exit 2
    fi
    cand="$out/cost-$loop-$parser.json"
    echo "+ bench cost asgibench $loop/$parser (plaintext, json; $cost_requests requests)"
    count "$loop" "$parser" "$cand" partial
    one=$?
    if [ "$one" -ne 0 ]; then  # nothing to compare; the other combination still is
        if [ "$one" -gt "$status" ]; then
            status=$one
        fi
        continue
    fi
    python -m asgibench compare "$base" "$cand" --threshold "$cost_threshold" \
        --format md -o "$out/cost-compare-$loop-$parser.md" >/dev/null \
        2>"$out/cost-compare-$loop-$parser.err"
    one=$?
    if [ -s "$out/cost-compare-$loop-$parser.md" ]; then
        cat "$out/cost-compare-$loop-$parser.md"
    else
        cat "$out/cost-compare-$loop-$parser.err" >&2
    fi
    # The worst of the combinations: bad input (2) over a regression (1) over a pass.
    if [ "$one" -gt "$status" ]; then
        status=$one
    fi
done

# -- information only: wall-clock throughput -----------------------------------------------
if [ "${ASGIBENCH_GATE_WALLCLOCK:-1}" != 0 ]; then
    if [ ! -f "$baseline" ]; then
        echo "bench gate (information): wall-clock baseline $baseline is missing"
    elif measure "$out/candidate.json" candidate; then
        echo "+ bench compare $baseline $out/candidate.json --normalise --statistic best" \
            "--threshold $threshold (information only: never fails CI)"
        python -m asgibench compare "$baseline" "$out/candidate.json" --normalise \
            --statistic best --threshold "$threshold" --format md \
            -o "$out/compare.md" >/dev/null 2>"$out/compare.err"
        wall=$?
        if [ -s "$out/compare.md" ]; then
            cat "$out/compare.md"
        else
            cat "$out/compare.err"
        fi
        echo "bench gate (information): wall-clock comparison exit $wall (not gated)"
    else
        echo "bench gate (information): the wall-clock measurement failed (not gated)"
    fi
fi

case "$status" in
    0) echo "bench gate: passed (instruction counts within $cost_threshold of $cost_dir)";;
    1) echo "bench gate: FAILED: more instructions per request than $cost_dir beyond" \
            "$cost_threshold (or an entry not counted)" >&2;;
    *) echo "bench gate: bad input (exit $status)" >&2;;
esac
exit "$status"
