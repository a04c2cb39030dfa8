#!/bin/sh
# Runs `ONNXCC test CASE` on every model test case under CASES_DIR (a folder holding
# model.onnx + test_data_set_*), two at a time.  Prints PASS/FAIL per case (with the tail
# of the output for a failure) and "N passed, N failed"; exits non-zero if any case failed
# or none was found.
#   usage: tests/models/run_models.sh ONNXCC CASES_DIR
# ONNXCC_CASE_TIMEOUT (seconds, default 600) bounds each case; ONNXCC_JOBS (default 2) the
# number run at once; ONNXCC_TEST_ARGS (e.g. "--no-fuse") is added to each `test` command,
# and ONNXCC_CFLAGS, if set, as --cflags "$ONNXCC_CFLAGS".
set -eu

# Worker mode, run by xargs: tests one case, prints its line, records the verdict.
if [ "${1:-}" = "--one" ]; then
    onnxcc=$2 results=$3 case_dir=$4
    name=$(basename "$case_dir")
    log="$results/$name.log"
    if command -v timeout >/dev/null 2>&1; then
        tmo="timeout ${ONNXCC_CASE_TIMEOUT:-600}"
    else
        tmo=""
    fi
    # ONNXCC_CFLAGS (one string, e.g. the sanitizer flags) becomes --cflags.
    if [ -n "${ONNXCC_CFLAGS:-}" ]; then set -- --cflags "$ONNXCC_CFLAGS"; else set --; fi
    # shellcheck disable=SC2086 # $tmo is empty or "timeout N"; the test args are words
    if $tmo "$onnxcc" test "$case_dir" "$@" ${ONNXCC_TEST_ARGS:-} >"$log" 2>&1; then
        echo pass >"$results/$name.verdict"
        printf 'PASS %s\n' "$name"
    else
        rc=$?
        echo fail >"$results/$name.verdict"
        # One printf so that the two workers' reports do not interleave.
        printf 'FAIL %s (exit %d)\n%s\n' "$name" "$rc" "$(tail -n 15 "$log" | sed 's/^/    /')"
    fi
    exit 0
fi

if [ $# -ne 2 ]; then
    echo "usage: $0 ONNXCC CASES_DIR" >&2
    exit 2
fi
ONNXCC=$1
CASES=$2
[ -x "$ONNXCC" ] || { echo "run_models: $ONNXCC is not an executable" >&2; exit 2; }
[ -d "$CASES" ] || { echo "run_models: $CASES is not a folder" >&2; exit 2; }
ONNXCC=$(cd "$(dirname "$ONNXCC")" && pwd)/$(basename "$ONNXCC")

RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/run_models.XXXXXX")
trap 'rm -rf "$RESULTS"' EXIT INT TERM

find "$CASES" -mindepth 2 -maxdepth 2 -name model.onnx -print | sort >"$RESULTS/list"
if [ ! -s "$RESULTS/list" ]; then
    echo "run_models: no test cases (*/model.onnx) under $CASES" >&2
    echo "0 passed, 0 failed"
    exit 1
fi

sed 's|/model.onnx$||' "$RESULTS/list" | tr '\n' '\0' |
    xargs -0 -n 1 -P "${ONNXCC_JOBS:-2}" sh "$0" --one "$ONNXCC" "$RESULTS"

passed=$(find "$RESULTS" -name '*.verdict' -exec cat {} + | grep -c '^pass$' || true)
failed=$(find "$RESULTS" -name '*.verdict' -exec cat {} + | grep -c '^fail$' || true)
total=$(wc -l <"$RESULTS/list")
# A case with no verdict (the worker was killed) counts as a failure.
missing=$((total - passed - failed))
if [ "$missing" -gt 0 ]; then
    echo "run_models: $missing case(s) produced no verdict" >&2
    failed=$((failed + missing))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
