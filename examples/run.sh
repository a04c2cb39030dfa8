#!/bin/sh
# The first thing to try: sets up the machine, builds onnxcc, compiles the bundled digits
# classifier (examples/digits/model.onnx) to C, builds it with examples/digits/main.c and
# runs it on the held-out test images.  Runs from any folder.
#   usage: examples/run.sh
# BUILD_DIR (default: build/ in the repository) and CC (default: clang) can be overridden.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD_DIR:-build}
CC=${CC:-clang}
OUT="$BUILD/example-digits"

step() { printf '\n== %s\n' "$*"; }

step "setting up (tools/setup.sh)"
tools/setup.sh

step "building onnxcc into $BUILD/ (Release)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target onnxcc

step "compiling examples/digits/model.onnx to C in $OUT/"
rm -rf "$OUT"
"$BUILD/onnxcc" compile examples/digits/model.onnx -o "$OUT" --name digits --emit-runtime

step "building $OUT/digits with $CC"
# shellcheck disable=SC2086 # the glob must expand
$CC -std=c11 -O2 -Wall -Wextra "$OUT"/*.c examples/digits/main.c -I"$OUT" -lm -pthread \
    -o "$OUT/digits"

step "running it on the 450 held-out digits"
"$OUT/digits" examples/digits/test_images.bin examples/digits/test_labels.bin
