#!/bin/sh
# The benchmark of onnxcc against onnxruntime (see bench/README.md): onnxcc with 1 thread
# and with a pool of 2 threads against onnxruntime with 1 and 2 intra-op threads. One command:
#
#   bench/run.sh            the whole model set; writes bench/results.md and bench/results.png
#   bench/run.sh --smoke    the small version CI runs: the MLP and squeezenet1_1, 2 rounds;
#                           fails on a wrong output (or a model that no longer compiles),
#                           never on a speed ratio; writes only under bench/out/
#   bench/run.sh --only NAME ...   some models of the set (results still go to bench/out/)
#   bench/run.sh --zoo [NAME ...]  the model tests' zoo (tests/models/export_models.py), all
#                           or some; writes bench/results-zoo.md (some: bench/out/)
#   ONNXCC=path/to/onnxcc bench/run.sh ...   benchmark that onnxcc binary, build nothing
#
# Works from any directory. Uses the repo's .venv (tools/setup.sh makes it) and the repo's
# build/onnxcc, which it (re)builds in Release mode when missing or stale. Exported models
# and builds live in bench/out/ (gitignored); models are re-exported only when missing or
# when bench/export.py changed.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
OUT="$BENCH/out"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
BUILD="$ROOT/build"

ALL="mlp5 transformer2 squeezenet1_1 shufflenet_v2_x1_0 mobilenet_v3_small mobilenet_v2 \
efficientnet_b0 resnet18 resnet50"
SMOKE="mlp5 squeezenet1_1"
# The zoo of the model tests (issue 5): every case of tests/models/export_models.py but
# the small MLPs and CNNs that only check fusion.
ZOO="resnet18 resnet50 mobilenet_v2 mobilenet_v3_small mobilenet_v3_small_opset17 \
efficientnet_b0 squeezenet1_1 shufflenet_v2_x1_0 densenet121 googlenet regnet_y_400mf \
convnext_tiny convnext_tiny_opset14 vit_small vit_small_opset17 bert_tiny bert_tiny_opset17 \
gpt_tiny gpt_tiny_opset17 encoder_gelu decoder_causal lstm_bi lstm_bi_opset11 gru_bi \
unet_small unet_small_opset17 keras_cnn keras_mobilenet_v2 dynamo_mobilenet_v3_small dynamo_cnn \
dynamo_bert_tiny dynamo_gpt_tiny dynamo_lstm_bi dynamo_unet_small"

say() { printf 'bench: %s\n' "$*"; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 2; }

mode=full
models=$ALL
cmdline="bench/run.sh"
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) mode=smoke; models=$SMOKE; cmdline="$cmdline --smoke" ;;
        --only)
            shift
            [ $# -gt 0 ] || die "--only needs model names: $ALL"
            mode=only; models="$*"; cmdline="$cmdline --only $*"
            for m in $models; do
                case " $ALL " in *" $m "*) ;; *) die "unknown model $m (known: $ALL)" ;; esac
            done
            break ;;
        --zoo)
            shift
            mode=zoo; models=$ZOO; cmdline="$cmdline --zoo"
            if [ $# -gt 0 ]; then
                mode=zoo-some; models="$*"; cmdline="$cmdline $*"
                for m in $models; do
                    case " $ZOO " in *" $m "*) ;; *) die "unknown zoo model $m (known: $ZOO)" ;; esac
                done
            fi
            break ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (try --help)" ;;
    esac
    shift
done

# --- Python: the repo's venv, plus matplotlib for the chart -------------------------------
if [ ! -x "$PY" ]; then
    say "no $VENV: running tools/setup.sh"
    "$ROOT/tools/setup.sh" || die "tools/setup.sh failed"
fi
if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
    say "installing bench/requirements.txt into .venv"
    "$VENV/bin/pip" install --disable-pip-version-check -q -r "$BENCH/requirements.txt" \
        || die "pip install -r bench/requirements.txt failed"
fi

# --- onnxcc: build/ in Release mode (make rebuilds whatever is stale) ---------------------
# ONNXCC=/path/to/onnxcc benchmarks that binary instead, without building anything.
if [ -n "${ONNXCC:-}" ]; then
    [ -x "$ONNXCC" ] || die "ONNXCC=$ONNXCC is not an executable"
    ONNXCC=$(cd "$(dirname "$ONNXCC")" && pwd)/$(basename "$ONNXCC")
    cmdline="ONNXCC=$ONNXCC $cmdline"
    say "using $ONNXCC (not building build/onnxcc)"
elif ! grep -qx 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    say "configuring $BUILD (Release)"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null \
        || die "cmake configure failed"
fi
jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p "$OUT"
if [ -z "${ONNXCC:-}" ]; then
    cmake --build "$BUILD" --target onnxcc -j "$jobs" >"$OUT/build.log" 2>&1 || {
        grep -m 5 'error' "$OUT/build.log" >&2
        die "building onnxcc (Release) failed (log: $OUT/build.log)"
    }
    ONNXCC="$BUILD/onnxcc"
fi

# --- export the models that are missing or stale ------------------------------------------
# The bench's own set comes from bench/export.py, the zoo from the model tests' exporter.
case $mode in
    zoo*) exporter="$ROOT/tests/models/export_models.py"; models_dir="$OUT/zoo"
          first_input=test_data_set_0/input_0.pb ;;
    *) exporter="$BENCH/export.py"; models_dir="$OUT/models"; first_input=input_0.bin ;;
esac
mkdir -p "$models_dir"
stamp=$(cksum <"$exporter" | cut -d" " -f1)
need=""
for m in $models; do
    d="$models_dir/$m"
    if [ ! -f "$d/model.onnx" ] || [ ! -f "$d/$first_input" ] ||
        [ "$(cat "$d/stamp" 2>/dev/null)" != "$stamp" ]; then
        need="$need $m"
    fi
done
if [ -n "$need" ]; then
    say "exporting:$need"
    # shellcheck disable=SC2086 # the list is split on purpose
    "$PY" "$exporter" "$models_dir" --only $need || say "some exports failed"
    for m in $need; do
        [ -f "$models_dir/$m/model.onnx" ] && echo "$stamp" >"$models_dir/$m/stamp"
    done
fi

# --- benchmark ----------------------------------------------------------------------------
if [ "$mode" = full ]; then
    md="$BENCH/results.md"; png="$BENCH/results.png"
    set -- --rounds 7 --budget 36 --max-runs 300 --warmup-ms 200
elif [ "$mode" = zoo ]; then
    md="$BENCH/results-zoo.md"; png="$BENCH/results-zoo.png"
    set -- --rounds 5 --budget 15 --max-runs 200 --warmup-ms 100
elif [ "$mode" = zoo-some ]; then
    md="$OUT/results-$mode.md"; png="$OUT/results-$mode.png"
    set -- --rounds 5 --budget 15 --max-runs 200 --warmup-ms 100
else
    md="$OUT/results-$mode.md"; png="$OUT/results-$mode.png"
    set -- --rounds 2 --budget 4 --max-runs 100 --warmup-ms 50
    [ "$mode" = only ] && set -- --rounds 7 --budget 36 --max-runs 300 --warmup-ms 200
fi
[ "$mode" = smoke ] && set -- "$@" --strict

# shellcheck disable=SC2086
"$PY" "$BENCH/bench.py" --onnxcc "$ONNXCC" --models-dir "$models_dir" \
    --work-dir "$OUT/work" --models $models "$@" \
    --results-md "$md" --results-png "$png" --results-json "$OUT/results-$mode.json" \
    --command "$cmdline"
