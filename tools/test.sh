#!/bin/sh
# The whole test suite, from a fresh Debian 12 machine (the README's second command and
# what CI runs):
#   1. tools/setup.sh installs what is missing (apt packages, .venv from PyPI);
#   2. a normal build (warnings are errors) and its tests: Criterion unit tests, CLI tests;
#   3. the model tests: the model zoo, PyTorch exports (tests/models/export_models.py),
#      expected outputs from onnxruntime, each run through `onnxcc test`, the C built with
#      clang (one thread) and gcc (a pool of two threads); then a model whose 320 MiB of
#      weights live in a side file (tests/models/external_data.py);
#   4. the ONNX conformance suite (tests/conformance/run.py: the onnx package's node
#      cases and its simple/, pytorch-converted/ and pytorch-operator/ folders through
#      `onnxcc test`, two at a time; it fails on a failure not listed in
#      tests/conformance/expected_failures.txt and on a listed case that passes), its
#      generated C built with clang, then with gcc (`onnxcc test` always builds with
#      -Wall -Wextra -Werror);
#   5. a smoke run of the benchmark (two small models against onnxruntime: it fails on a
#      wrong output, never on speed);
#   6. all of it again with onnxcc and the generated code built under AddressSanitizer and
#      UndefinedBehaviorSanitizer (the conformance suite included), then the model tests
#      with two threads under ThreadSanitizer.
# Exits non-zero on the first failing stage.  Set ONNXCC_SKIP_SANITIZE=1 to skip stage 6.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=$(nproc 2>/dev/null || echo 2)
CASES=build/model-cases
# `onnxcc run` and `onnxcc test` keep the runtime's objects in a cache (one entry per
# compiler and flags, compiler/driver/rt_cache.c): here a fresh one inside build/, so that
# every test run builds them anew and nothing is written outside the project.
export ONNXCC_CACHE_DIR="$ROOT/build/rt-cache"
rm -rf "$ONNXCC_CACHE_DIR"
SAN_FLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all"

stage() { printf '\n==== %s\n' "$*"; }

stage "setup"
tools/setup.sh

stage "build (build/, warnings are errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$JOBS"

stage "unit and CLI tests"
(cd build && ctest --output-on-failure)

stage "exporting the model tests into $CASES (PyTorch, references from onnxruntime)"
.venv/bin/python tests/models/export_models.py "$CASES"

stage "model tests (generated code built with clang)"
tests/models/run_models.sh build/onnxcc "$CASES"

stage "model tests (generated code built with gcc, run with a pool of 2 threads)"
ONNXCC_TEST_ARGS="--cc gcc --threads 2" tests/models/run_models.sh build/onnxcc "$CASES"

stage "external data: a model with 320 MiB of weights in a side file"
.venv/bin/python tests/models/external_data.py build/onnxcc build

stage "ONNX conformance suite (tests/conformance/run.py), generated C built with clang"
.venv/bin/python tests/conformance/run.py build/onnxcc --jobs "$JOBS"

stage "ONNX conformance suite, generated C built with gcc"
.venv/bin/python tests/conformance/run.py build/onnxcc --jobs "$JOBS" --cc gcc

stage "benchmark smoke run (correctness only; bench/run.sh --smoke)"
ONNXCC="$ROOT/build/onnxcc" bench/run.sh --smoke

if [ "${ONNXCC_SKIP_SANITIZE:-0}" = 1 ]; then
    echo "ONNXCC_SKIP_SANITIZE=1: skipping the sanitizer stage"
    exit 0
fi

stage "build with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DONNXCC_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$JOBS"

stage "unit and CLI tests under the sanitizers"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure)

stage "model tests: onnxcc and the generated code under the sanitizers"
ONNXCC_CFLAGS="$SAN_FLAGS" \
    tests/models/run_models.sh build-asan/onnxcc "$CASES"

stage "external data: onnxcc and the generated code under the sanitizers"
.venv/bin/python tests/models/external_data.py build-asan/onnxcc build-asan -- \
    --cflags "$SAN_FLAGS"

stage "ONNX conformance suite: onnxcc and the generated code under the sanitizers"
.venv/bin/python tests/conformance/run.py build-asan/onnxcc --jobs "$JOBS" \
    --cflags "$SAN_FLAGS" --timeout 300

stage "model tests: the generated code with 2 threads under ThreadSanitizer"
ONNXCC_CFLAGS="-O1 -g -fsanitize=thread" ONNXCC_TEST_ARGS="--threads 2" \
    tests/models/run_models.sh build/onnxcc "$CASES"

echo
echo "all tests passed"
