#!/bin/sh
# CLI tests: exit codes, error lines, the files `compile` writes, determinism, and that
# the generated code builds warning-free with gcc and clang and runs.
#   usage: tests/cli/run.sh ONNXCC
set -u
ONNXCC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODEL="$ROOT/examples/digits/model.onnx"
T=$(mktemp -d "${TMPDIR:-/tmp}/onnxcc-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
fails=0
n=0

check() {   # check NAME EXPECTED_RC COMMAND...: runs it, compares the exit code
    name=$1 want=$2
    shift 2
    n=$((n + 1))
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL $name: exit $got, expected $want"
        sed 's/^/    /' "$T/out" "$T/err" | tail -n 10
        fails=$((fails + 1))
        return 1
    fi
    echo "ok   $name"
}

expect_text() {   # expect_text NAME FILE TEXT: the file matches the regex
    n=$((n + 1))
    if grep -q -- "$3" "$2"; then echo "ok   $1"; else
        echo "FAIL $1: '$3' not in output:"; sed 's/^/    /' "$2" | tail -n 10
        fails=$((fails + 1))
    fi
}

check "--help" 0 "$ONNXCC" --help
expect_text "--help lists the commands" "$T/out" "onnxcc compile"
check "--version" 0 "$ONNXCC" --version
check "no arguments is a usage error" 2 "$ONNXCC"
check "unknown command" 2 "$ONNXCC" frobnicate x
check "unknown option" 2 "$ONNXCC" compile "$MODEL" -o "$T/x" --bogus
check "missing file is an I/O error" 2 "$ONNXCC" compile "$T/missing.onnx" -o "$T/x"
expect_text "missing file message" "$T/err" "onnxcc: error: "
head -c 300 /dev/urandom >"$T/garbage.onnx"
check "garbage is an invalid model" 1 "$ONNXCC" compile "$T/garbage.onnx" -o "$T/g"
expect_text "garbage message" "$T/err" "not a valid ONNX model"
n=$((n + 1))
if [ -e "$T/g" ]; then echo "FAIL failed compile left $T/g"; fails=$((fails + 1)); else
    echo "ok   a failed compile writes nothing"; fi
: >"$T/empty.onnx"
check "empty file is an invalid model" 1 "$ONNXCC" info "$T/empty.onnx"

check "info" 0 "$ONNXCC" info "$MODEL"
for word in "opset" "inputs:" "outputs:" "Conv" "parameters:" "FLOPs:" "workspace:" \
            "lower bound" "unsupported ops: none"; do
    expect_text "info prints $word" "$T/out" "$word"
done

# A model with two ops nobody supports and one input of symbolic size, written with the
# onnx package of .venv (tools/setup.sh).
PY="$ROOT/.venv/bin/python"
if [ -x "$PY" ]; then
    "$PY" - "$T" <<'PYEOF'
import sys, onnx
from onnx import helper as h, TensorProto as T
x = h.make_tensor_value_info("x", T.FLOAT, ["batch", 4])
y = h.make_tensor_value_info("y", T.FLOAT, None)
nodes = [h.make_node("Relu", ["x"], ["a"], name="ok_relu"),
         h.make_node("FancyOp", ["a"], ["b"], name="first_bad"),
         h.make_node("OtherOp", ["b"], ["y"], name="second_bad", domain="com.example")]
m = h.make_model(h.make_graph(nodes, "g", [x], [y]),
                 opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.example", 1)])
onnx.save(m, sys.argv[1] + "/unsupported.onnx")
g2 = h.make_graph([h.make_node("Relu", ["x"], ["y"], name="r")], "g", [x], [y])
onnx.save(h.make_model(g2, opset_imports=[h.make_opsetid("", 13)]), sys.argv[1] + "/symbolic.onnx")
# Pre-flight: one problem of each kind, in nodes that do not depend on each other, and a
# node that reads an unsupported op's output (skipped: its input has no type).
xs = h.make_tensor_value_info("x", T.FLOAT, [1, 3, 8, 8])
w = h.make_tensor("w", T.FLOAT, [4, 3, 3, 3], [0.5] * 108)
nodes = [h.make_node("FancyOp", ["x"], ["b"], name="custom_op"),
         h.make_node("Relu", ["b"], ["b2"], name="reads_custom"),
         h.make_node("Gelu", ["x"], ["g"], name="bad_attr", approximate="bogus"),
         h.make_node("Conv", ["x", "w"], ["c"], name="bad_group", group=2),
         h.make_node("Cast", ["x"], ["s"], name="bad_type", to=T.STRING)]
outs = [h.make_tensor_value_info(n, T.FLOAT, None) for n in ("b2", "g", "c")]
outs.append(h.make_tensor_value_info("s", T.STRING, None))
m = h.make_model(h.make_graph(nodes, "g", [xs], outs, [w]),
                 opset_imports=[h.make_opsetid("", 20)])
onnx.save(m, sys.argv[1] + "/preflight.onnx")
PYEOF
    check "info on unsupported ops fails" 1 "$ONNXCC" info "$T/unsupported.onnx"
    expect_text "info lists the first unsupported op" "$T/out" "FancyOp (node 'first_bad')"
    expect_text "info lists the second unsupported op" "$T/out" "OtherOp (node 'second_bad')"
    check "compile of unsupported ops fails" 1 "$ONNXCC" compile "$T/unsupported.onnx" -o "$T/u"
    expect_text "compile names both ops" "$T/err" "OtherOp"
    for cmd in info compile; do
        if [ $cmd = compile ]; then set -- -o "$T/pf"; else set --; fi
        check "$cmd reports every problem at once" 1 "$ONNXCC" $cmd "$T/preflight.onnx" "$@"
        for what in "unsupported op FancyOp (node 'custom_op'" \
                "not \"bogus\" (node 'bad_attr'" "does not divide.*(node 'bad_group'" \
                "cannot cast.*(node 'bad_type'"; do
            expect_text "$cmd: $what" "$T/err" "$what"
        done
        n=$((n + 1))
        if grep -q "reads_custom" "$T/err"; then
            echo "FAIL $cmd: a node reading a failed node's output is reported too"
            fails=$((fails + 1))
        else echo "ok   $cmd: the node reading the unsupported op's output is skipped"; fi
    done
    n=$((n + 1))
    if [ -e "$T/pf" ]; then echo "FAIL the failing compile wrote $T/pf"; fails=$((fails + 1))
    else echo "ok   the failing compile wrote nothing"; fi
    check "symbolic dim without --shape fails" 1 "$ONNXCC" compile "$T/symbolic.onnx" -o "$T/y"
    expect_text "the error names the dim and the flag" "$T/err" "'batch'.*--shape"
    check "symbolic dim with --shape compiles" 0 "$ONNXCC" compile "$T/symbolic.onnx" -o "$T/y" \
        --shape x=2x4
else
    echo "FAIL $PY is missing: run tools/setup.sh"
    fails=$((fails + 1))
fi

check "compile" 0 "$ONNXCC" compile "$MODEL" -o "$T/a" --name digits
n=$((n + 1))
if [ -f "$T/a/digits.c" ] && [ -f "$T/a/digits.h" ] && [ ! -f "$T/a/onnxcc_rt.h" ]; then
    echo "ok   compile writes NAME.c and NAME.h only"; else
    echo "FAIL compile output: $(ls "$T/a")"; fails=$((fails + 1)); fi
expect_text "header declares the entry point" "$T/a/digits.h" "int digits_run("
expect_text "header declares the generic entry point" "$T/a/digits.h" "digits_run_generic("
expect_text "header has the workspace size" "$T/a/digits.h" "#define digits_WORKSPACE_BYTES"
expect_text "header has the descriptor table" "$T/a/digits.h" "digits_inputs\["

# run --threads: the pool entry points, the same bytes with any number of threads.
expect_text "header declares the pool entry point" "$T/a/digits.h" "int digits_run_pool("
expect_text "header declares the generic pool entry point" "$T/a/digits.h" \
    "digits_run_generic_pool("
if [ -x "$PY" ]; then
    "$PY" -c "import sys, numpy as np; from onnx import numpy_helper as nh
x = (np.arange(64, dtype=np.float32) % 17).reshape(1, 1, 8, 8)
open(sys.argv[1], 'wb').write(nh.from_array(x, 'image').SerializeToString())" "$T/image.pb"
    check "run" 0 "$ONNXCC" run "$MODEL" -i "$T/image.pb" -o "$T/r1"
    check "run --threads 3" 0 "$ONNXCC" run "$MODEL" -i "$T/image.pb" -o "$T/r3" --threads 3
    check "run --threads 3 writes the same bytes" 0 cmp "$T/r1/output_0.pb" "$T/r3/output_0.pb"

    # The cache of the runtime's objects (compiler/driver/rt_cache.c): built on first use,
    # one entry per compiler and flags, the same results, ignored when others can write it.
    C="$T/cache"
    check "run with a new cache folder" 0 env ONNXCC_CACHE_DIR="$C" \
        "$ONNXCC" run "$MODEL" -i "$T/image.pb" -o "$T/c1"
    check "the cache holds one entry of objects" 0 sh -c "test \$(ls -d '$C'/rt-* | wc -l) = 1 \
        && ls '$C'/rt-*/rt_gemm.o"
    check "run from the cache" 0 env ONNXCC_CACHE_DIR="$C" \
        "$ONNXCC" run "$MODEL" -i "$T/image.pb" -o "$T/c2"
    check "a run from the cache writes the same bytes" 0 cmp "$T/r1/output_0.pb" \
        "$T/c2/output_0.pb"
    check "run with other flags" 0 env ONNXCC_CACHE_DIR="$C" \
        "$ONNXCC" run "$MODEL" -i "$T/image.pb" -o "$T/c3" --cflags "-O1"
    check "other flags get their own entry" 0 sh -c "test \$(ls -d '$C'/rt-* | wc -l) = 2"
    check "no temporary folder is left in the cache" 0 sh -c "test -z \"\$(ls -d '$C'/tmp-* 2>/dev/null)\""
    mkdir -p "$T/open" && chmod 777 "$T/open"
    check "run with a cache folder that others can write" 0 env ONNXCC_CACHE_DIR="$T/open" \
        "$ONNXCC" run "$MODEL" -i "$T/image.pb" -o "$T/c4"
    check "such a folder is not used" 0 sh -c "test -z \"\$(ls -d '$T/open'/rt-* 2>/dev/null)\""
    mkdir -p "$T/home"
    check "run with an empty ONNXCC_CACHE_DIR" 0 env ONNXCC_CACHE_DIR= HOME="$T/home" \
        XDG_CACHE_HOME= "$ONNXCC" run "$MODEL" -i "$T/image.pb" -o "$T/c5"
    check "an empty ONNXCC_CACHE_DIR turns the cache off" 1 test -e "$T/home/.cache"
    check "the uncached run writes the same bytes" 0 cmp "$T/r1/output_0.pb" "$T/c5/output_0.pb"

    # A case whose Reshape takes its shape as a graph input (as in ONNX's node cases):
    # compile refuses it, test freezes the input to each data set's values (two data
    # sets, two shapes), and a wrong expected output still fails.
    "$PY" -c "import sys, os, numpy as np, onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T
d = sys.argv[1]
g = h.make_graph([h.make_node('Reshape', ['x', 'shape'], ['y'])], 'g',
                 [h.make_tensor_value_info('x', T.FLOAT, [2, 3]),
                  h.make_tensor_value_info('shape', T.INT64, [None])],
                 [h.make_tensor_value_info('y', T.FLOAT, None)])
os.makedirs(d, exist_ok=True)
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 14)]), d + '/model.onnx')
x = np.arange(6, dtype=np.float32).reshape(2, 3)
for i, shape in enumerate([[3, 2], [6]]):
    s = d + '/test_data_set_%d' % i
    os.makedirs(s, exist_ok=True)
    for name, v in (('input_0', x), ('input_1', np.array(shape, np.int64)),
                    ('output_0', x.reshape(shape))):
        open(s + '/' + name + '.pb', 'wb').write(nh.from_array(v, name).SerializeToString())
" "$T/reshape_case"
    "$PY" - "$T/reshape_case" "$T/reshape_bad" <<'PYEOF'
import shutil, sys, numpy as np
from onnx import numpy_helper as nh
shutil.copytree(sys.argv[1], sys.argv[2])
p = sys.argv[2] + '/test_data_set_1/output_0.pb'
y = np.arange(6, dtype=np.float32) + 1
open(p, 'wb').write(nh.from_array(y, 'output_0').SerializeToString())
PYEOF
    check "compile refuses a Reshape shape given as an input" 1 "$ONNXCC" compile \
        "$T/reshape_case/model.onnx" -o "$T/rc"
    expect_text "the message names the input" "$T/err" "input 'shape'"
    check "test freezes that input to each data set's values" 0 "$ONNXCC" test \
        "$T/reshape_case"
    expect_text "both data sets ran" "$T/out" "2 data sets"
    check "a frozen input does not hide a wrong output" 1 "$ONNXCC" test "$T/reshape_bad"
    expect_text "the wrong output is named" "$T/err" "test_data_set_1: output 0"
    # The same with the shape computed from the input (an int32 input cast to int64):
    # the inputs a compile-time value is computed from are frozen too.
    "$PY" - "$T/reshape_case" "$T/reshape_cast" <<'PYEOF'
import os, shutil, sys, numpy as np, onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T
shutil.copytree(sys.argv[1], sys.argv[2])
d = sys.argv[2]
g = h.make_graph([h.make_node('Cast', ['s32'], ['shape'], to=T.INT64),
                  h.make_node('Reshape', ['x', 'shape'], ['y'])], 'g',
                 [h.make_tensor_value_info('x', T.FLOAT, [2, 3]),
                  h.make_tensor_value_info('s32', T.INT32, [None])],
                 [h.make_tensor_value_info('y', T.FLOAT, None)])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 14)]), d + '/model.onnx')
for i in range(2):
    p = d + '/test_data_set_%d/input_1.pb' % i
    v = nh.to_array(onnx.load_tensor(p)).astype(np.int32)
    open(p, 'wb').write(nh.from_array(v, 'input_1').SerializeToString())
PYEOF
    check "test freezes the input a constant is computed from" 0 "$ONNXCC" test \
        "$T/reshape_cast"
    # Two inputs needed by one node (Slice's starts and ends): inference stops at the
    # first, so test freezes them over successive attempts.
    "$PY" -c "import sys, os, numpy as np, onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T
d = sys.argv[1]
g = h.make_graph([h.make_node('Slice', ['x', 'starts', 'ends'], ['y'])], 'g',
                 [h.make_tensor_value_info('x', T.FLOAT, [4, 5]),
                  h.make_tensor_value_info('starts', T.INT64, [2]),
                  h.make_tensor_value_info('ends', T.INT64, [2])],
                 [h.make_tensor_value_info('y', T.FLOAT, None)])
os.makedirs(d + '/test_data_set_0', exist_ok=True)
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 13)]), d + '/model.onnx')
x = np.arange(20, dtype=np.float32).reshape(4, 5)
for name, v in (('input_0', x), ('input_1', np.array([1, 0], np.int64)),
                ('input_2', np.array([3, -1], np.int64)), ('output_0', x[1:3, 0:-1])):
    open(d + '/test_data_set_0/' + name + '.pb', 'wb').write(nh.from_array(v, name).SerializeToString())
" "$T/slice_case"
    check "test freezes each input a node needs, one attempt at a time" 0 "$ONNXCC" test \
        "$T/slice_case"
    # The program is built for the first data set's shapes: a later data set of another
    # shape is an error, not a run on a buffer of the wrong size.
    "$PY" -c "import sys, os, numpy as np, onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
g = h.make_graph([h.make_node('Relu', ['x'], ['y'])], 'g',
                 [h.make_tensor_value_info('x', T.FLOAT, [None])],
                 [h.make_tensor_value_info('y', T.FLOAT, [None])])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 14)]), d + '/model.onnx')
for i, n in enumerate((3, 5)):
    s = d + '/test_data_set_%d' % i
    os.makedirs(s, exist_ok=True)
    x = np.arange(n, dtype=np.float32) - 2
    for name, v in (('input_0', x), ('output_0', np.maximum(x, 0))):
        open(s + '/' + name + '.pb', 'wb').write(nh.from_array(v, name).SerializeToString())
" "$T/shape_sets"
    check "a data set whose shapes differ from the first is refused" 1 "$ONNXCC" test \
        "$T/shape_sets"
    expect_text "the message names the set and the shape" "$T/err" \
        "test_data_set_1: input 0 'x' is not float\\[3\\]"
    # Model-local functions (tests/cli/function_models.py says what each model holds).
    "$PY" "$ROOT/tests/cli/function_models.py" "$T"
    check "local functions: nested calls, attribute references and defaults" 0 \
        "$ONNXCC" test "$T/fn_nested" --rtol 1e-5 --atol 1e-6
    check "local functions: an If inside a function reads the function's values" 0 \
        "$ONNXCC" test "$T/fn_if" --rtol 1e-5 --atol 1e-6
    check "a function that calls itself is refused" 1 "$ONNXCC" compile \
        "$T/fn_recursive.onnx" -o "$T/fn_out"
    expect_text "the message says it calls itself" "$T/err" "calls itself"
    check "a function importing another opset is refused" 1 "$ONNXCC" compile \
        "$T/fn_opset.onnx" -o "$T/fn_out"
    expect_text "the message names both versions" "$T/err" "version 13 of domain '', but the model imports version 17"
    check "a call with more inputs than the function's is refused" 1 "$ONNXCC" compile \
        "$T/fn_arity.onnx" -o "$T/fn_out"
    expect_text "the message names the call" "$T/err" "node 'call' calls function 'OneIn'"
    # tests/compare_ort.py: a chain of 12 nodes; a stand-in onnxcc gets node 'n7' wrong.
    "$PY" -c "import sys, onnx
from onnx import helper as h, TensorProto as T
ops = ['Relu', 'Sigmoid', 'Tanh', 'Neg', 'Abs', 'Exp', 'Sin', 'Cos', 'Softsign', 'Neg',
       'Sigmoid', 'Tanh']
nodes = [h.make_node(op, ['v%d' % i], ['v%d' % (i + 1)], name='n%d' % i)
         for i, op in enumerate(ops)]
g = h.make_graph(nodes, 'chain', [h.make_tensor_value_info('v0', T.FLOAT, [2, 5])],
                 [h.make_tensor_value_info('v12', T.FLOAT, [2, 5])])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 17)]), sys.argv[1])
" "$T/chain.onnx"
    check "compare_ort: the real onnxcc agrees with onnxruntime" 0 "$PY" \
        "$ROOT/tests/compare_ort.py" "$T/chain.onnx" --onnxcc "$ONNXCC"
    printf '#!/bin/sh\nexec "%s" "%s" "%s" n7 "$@"\n' "$PY" "$ROOT/tests/cli/fault_onnxcc.py" \
        "$ONNXCC" >"$T/fault.sh"
    chmod +x "$T/fault.sh"
    check "compare_ort: a wrong node is found" 1 "$PY" "$ROOT/tests/compare_ort.py" \
        "$T/chain.onnx" --onnxcc "$T/fault.sh"
    expect_text "compare_ort names the node" "$T/out" "first node that differs: 'n7' (Cos)"
    expect_text "compare_ort says its inputs agree" "$T/out" "its inputs agree"
    # onnxcc failing on the whole model is not a difference: exit 2, no bisection.
    printf '#!/bin/sh\necho "onnxcc: error: stand-in failure" >&2\nexit 1\n' >"$T/fail.sh"
    chmod +x "$T/fail.sh"
    check "compare_ort: onnxcc failing on the whole model is a tool error" 2 "$PY" \
        "$ROOT/tests/compare_ort.py" "$T/chain.onnx" --onnxcc "$T/fail.sh"
    expect_text "compare_ort says onnxcc failed" "$T/err" "the whole model: onnxcc failed"
    # In a model of local functions, the node is named as onnxcc names it: CALL#K/NODE.
    printf '#!/bin/sh\nexec "%s" "%s" "%s" "layer2#3/act" "$@"\n' "$PY" \
        "$ROOT/tests/cli/fault_onnxcc.py" "$ONNXCC" >"$T/fault_fn.sh"
    chmod +x "$T/fault_fn.sh"
    check "compare_ort: a wrong node inside a function call is found" 1 "$PY" \
        "$ROOT/tests/compare_ort.py" "$T/fn_nested/model.onnx" --onnxcc "$T/fault_fn.sh"
    expect_text "compare_ort names the call and the node" "$T/out" \
        "first node that differs: 'layer2#3/act' (LeakyRelu)"
fi
check "--threads 0 is a usage error" 2 "$ONNXCC" run "$MODEL" -i "$T/image.pb" -o "$T/r0" \
    --threads 0
expect_text "--threads 0 message" "$T/err" "needs a number of threads from 1 to 256"
check "--threads without a number is a usage error" 2 "$ONNXCC" test "$T" --threads many

# Determinism: same model, other folder and working directory, other locale and TZ.
mkdir -p "$T/b"
check "compile again elsewhere" 0 sh -c "cd '$T/b' && LC_ALL=C.UTF-8 TZ=Asia/Tokyo \
    '$ONNXCC' compile '$MODEL' -o out --name digits"
n=$((n + 1))
if cmp -s "$T/a/digits.c" "$T/b/out/digits.c" && cmp -s "$T/a/digits.h" "$T/b/out/digits.h"
then echo "ok   output is byte-identical across runs"; else
    echo "FAIL output differs between two compiles"; fails=$((fails + 1)); fi

check "compile --emit-runtime --no-fuse" 0 "$ONNXCC" compile "$MODEL" -o "$T/c" --name digits \
    --emit-runtime --no-fuse
for cc in gcc clang; do
    command -v $cc >/dev/null || continue
    check "generated code builds with $cc -std=c11 -Wall -Wextra -Werror" 0 \
        sh -c "$cc -std=c11 -O2 -Wall -Wextra -Werror -I'$T/c' '$T/c'/*.c \
               '$ROOT/examples/digits/main.c' -lm -o '$T/c/digits_$cc'"
    check "example built with $cc runs" 0 "$T/c/digits_$cc" \
        "$ROOT/examples/digits/test_images.bin" "$ROOT/examples/digits/test_labels.bin"
    expect_text "example built with $cc prints its accuracy" "$T/out" "accuracy"
done

check "--weights literal" 0 "$ONNXCC" compile "$MODEL" -o "$T/l" --name digits --weights literal
n=$((n + 1))
if grep -q "unsigned char bytes" "$T/l/digits.c"; then
    echo "FAIL --weights literal still emits byte strings"; fails=$((fails + 1)); else
    echo "ok   --weights literal emits only literals"; fi
check "--weights blob" 0 "$ONNXCC" compile "$MODEL" -o "$T/w" --name digits --weights blob
expect_text "--weights blob emits byte strings" "$T/w/digits.c" "unsigned char bytes"
check "--weights bad value" 2 "$ONNXCC" compile "$MODEL" -o "$T/w" --weights nope

# The weights modes.  Each compiles deterministically, builds with gcc and clang under
# -Werror and gives the default mode's outputs bit for bit (weights_main.c runs the model
# as "net"); incbin checks NAME.weights' size when it assembles, and file mode refuses a
# damaged NAME.weights with set_weights' error code before the model would run.
W="$T/wm"
HARNESS="$ROOT/tests/cli/weights_main.c"
mkdir -p "$W"
check "--help" 0 "$ONNXCC" --help
expect_text "--help lists the weights modes" "$T/out" "incbin (NAME.weights linked in"
check "compile the runtime for the weights tests" 0 "$ONNXCC" compile "$MODEL" -o "$W/rt" \
    --name net --emit-runtime
for mode in literal blob incbin file; do
    check "--weights $mode" 0 "$ONNXCC" compile "$MODEL" -o "$W/$mode" --name net --weights $mode
    check "--weights $mode again elsewhere" 0 sh -c "cd '$T/b' && \
        '$ONNXCC' compile '$MODEL' -o '$W/again' --name net --weights $mode"
    n=$((n + 1))
    if (cd "$W/$mode" && for f in *; do cmp -s "$f" "$W/again/$f" || exit 1; done); then
        echo "ok   --weights $mode: identical files across runs:" $(ls "$W/$mode")
    else echo "FAIL --weights $mode: output differs between two compiles"; fails=$((fails + 1)); fi
    rm -rf "$W/again"
done
n=$((n + 1))
if grep -q "_Alignas(64) const" "$W/incbin/net.c" "$W/file/net.c"; then
    echo "FAIL --weights incbin/file still put tensors in net.c"; fails=$((fails + 1)); else
    echo "ok   --weights incbin and file put no tensor in net.c"; fi
expect_text "--weights file declares net_set_weights" "$W/file/net.h" "int net_set_weights("
for cc in gcc clang; do
    command -v $cc >/dev/null || continue
    CC="$cc -std=c11 -O2 -Wall -Wextra -Werror"
    mkdir -p "$W/$cc"
    check "$cc: the runtime builds" 0 sh -c "cd '$W/$cc' && $CC -c '$W/rt'/rt_*.c"
    check "$cc: default mode runs" 0 sh -c "$CC -I'$W/rt' '$W/rt/net.c' '$HARNESS' \
        '$W/$cc'/*.o -lm -pthread -o '$W/$cc/auto' && '$W/$cc/auto' '$W/$cc/auto.out'"
    for mode in literal blob incbin; do
        src="'$W/$mode/net.c'"
        [ $mode = incbin ] && src="$src '$W/$mode/net_weights.S'"
        check "$cc: --weights $mode builds and runs" 0 sh -c "$CC -I'$W/$mode' -I'$W/rt' $src \
            '$HARNESS' '$W/$cc'/*.o -lm -pthread -o '$W/$cc/$mode' &&
            '$W/$cc/$mode' '$W/$cc/$mode.out'"
    done
    for mode in incbin file; do   # no long strings left: -pedantic has nothing to say
        check "$cc: --weights $mode net.c builds with -pedantic" 0 $CC -pedantic -I"$W/$mode" \
            -I"$W/rt" -c "$W/$mode/net.c" -o "$W/x.o"
    done
    check "$cc: --weights file builds" 0 sh -c "$CC -DWEIGHTS_FILE -I'$W/file' -I'$W/rt' \
        '$W/file/net.c' '$HARNESS' '$W/$cc'/*.o -lm -pthread -o '$W/$cc/file'"
    check "$cc: --weights file runs on net.weights" 0 "$W/$cc/file" "$W/$cc/file.out" \
        "$W/file/net.weights" none
    for mode in literal blob incbin file; do
        n=$((n + 1))
        if cmp -s "$W/$cc/auto.out" "$W/$cc/$mode.out"; then
            echo "ok   $cc: --weights $mode gives the default mode's outputs bit for bit"
        else echo "FAIL $cc: --weights $mode outputs differ"; fails=$((fails + 1)); fi
    done
    check "$cc: a truncated net.weights is refused" 21 "$W/$cc/file" "$W/x" "$W/file/net.weights" \
        truncate
    expect_text "$cc: set_weights says why" "$T/err" "net_set_weights returned -1"
    check "$cc: a damaged header is refused" 22 "$W/$cc/file" "$W/x" "$W/file/net.weights" header
    check "$cc: a changed tensor byte is refused" 23 "$W/$cc/file" "$W/x" "$W/file/net.weights" flip
    check "$cc: misaligned weights are refused" 24 "$W/$cc/file" "$W/x" "$W/file/net.weights" \
        misalign
    mkdir -p "$W/stale"
    cp "$W/incbin/net_weights.S" "$W/stale/"
    head -c 100 "$W/file/net.weights" >"$W/stale/net.weights"
    check "$cc: incbin with a net.weights of the wrong size does not assemble" 1 \
        $CC -c -I"$W/stale" "$W/stale/net_weights.S" -o "$W/x.o"
    expect_text "$cc: the assembler says why" "$T/err" "does not have the size"
done

# A compile whose output cannot be renamed into place leaves no temporary file behind.
mkdir -p "$T/blocked/net.c"
check "compile onto a folder named net.c fails" 2 "$ONNXCC" compile "$MODEL" -o "$T/blocked" \
    --name net --weights file
expect_text "the error names the file" "$T/err" "cannot write .*net.c"
n=$((n + 1))
if ls "$T/blocked" | grep -q part; then
    echo "FAIL a failed compile left temporary files: $(ls "$T/blocked")"; fails=$((fails + 1))
else echo "ok   a failed compile leaves no temporary file"; fi

check "--dump-after a pass" 0 "$ONNXCC" compile "$MODEL" -o "$T/d" --dump-after fuse_activation
expect_text "--dump-after prints the graph" "$T/out" "# after fuse_activation"
check "--dump-after an unknown pass" 1 "$ONNXCC" compile "$MODEL" -o "$T/d" --dump-after nope
check "--shape of an unknown input" 1 "$ONNXCC" compile "$MODEL" -o "$T/s" --shape nope=1x2

# --no-winograd: a 3x3 convolution of 16 channels on 12 x 12 runs Winograd's kernel by
# default and the packed GEMM with the option, with outputs within its rounding.
if [ -x "$PY" ]; then
    "$PY" - "$T" <<'PYEOF'
import sys, numpy as np, onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T
rng = np.random.default_rng(3)
w = nh.from_array((rng.random((16, 16, 3, 3), dtype=np.float32) - 0.5), "w")
g = h.make_graph([h.make_node("Conv", ["x", "w"], ["y"], name="c3", pads=[1, 1, 1, 1])], "g",
                 [h.make_tensor_value_info("x", T.FLOAT, [1, 16, 12, 12])],
                 [h.make_tensor_value_info("y", T.FLOAT, None)], [w])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]), sys.argv[1] + "/c3.onnx")
x = rng.random((1, 16, 12, 12), dtype=np.float32)
open(sys.argv[1] + "/c3_in.pb", "wb").write(nh.from_array(x, "x").SerializeToString())
PYEOF
    check "compile a 3x3 convolution" 0 "$ONNXCC" compile "$T/c3.onnx" -o "$T/w1"
    expect_text "it runs Winograd's kernel" "$T/w1/c3.c" "onnxcc_f32_conv_wino("
    check "compile it --no-winograd" 0 "$ONNXCC" compile "$T/c3.onnx" -o "$T/w0" --no-winograd
    n=$((n + 1))
    if grep -q "onnxcc_f32_conv_wino(" "$T/w0/c3.c"; then
        echo "FAIL --no-winograd still calls onnxcc_f32_conv_wino"; fails=$((fails + 1))
    else echo "ok   --no-winograd calls another kernel"; fi
    check "run it" 0 "$ONNXCC" run "$T/c3.onnx" -i "$T/c3_in.pb" -o "$T/wr1"
    check "run it --no-winograd" 0 "$ONNXCC" run "$T/c3.onnx" -i "$T/c3_in.pb" -o "$T/wr0" \
        --no-winograd
    check "both give the same outputs within 1e-5" 0 "$PY" -c "import sys, numpy as np, onnx
from onnx import numpy_helper as nh
a, b = (nh.to_array(onnx.load_tensor(f)) for f in sys.argv[1:])
sys.exit(0 if a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-5) else 1)" \
        "$T/wr1/output_0.pb" "$T/wr0/output_0.pb"
fi

echo "$((n - fails)) of $n CLI checks passed"
[ "$fails" -eq 0 ]
