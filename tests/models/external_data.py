#!/usr/bin/env python3
"""The external-data test: a model of a few hundred MB whose weights live in a side file.

    .venv/bin/python tests/models/external_data.py ONNXCC OUT_DIR [--mib N] [-- TEST_ARGS...]

Writes OUT_DIR/external_data/ (model.onnx of a few hundred bytes, model.data with N MiB of
weights: a chain of 4096x4096 MatMuls with Relu between them, saved by the onnx package
with save_as_external_data), its expected output from onnxruntime, then checks that
  1. `onnxcc test` passes on it with the weights linked in (--weights incbin) and loaded
     at run time (--weights file), run from another working directory, so that the data
     file is found next to the model and not in the current directory;
  2. the same model.onnx copied alone into another folder, with a model.data in the
     current directory, fails with a message about the missing external data: external
     data is read from the model's folder only.
Extra arguments after `--` go to each `onnxcc test` (e.g. --cflags for the sanitizers).
Prints one line per check and exits 1 if one failed; the case is removed if all passed.
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

WIDTH = 4096          # one weight matrix is WIDTH * WIDTH floats: 64 MiB
SEED = 5
TOLERANCE = "0.0001 1e-05\n"


def make_case(case_dir, mib):
    """Writes the model, its side file and one data set; returns the weight bytes."""
    layers = max(1, mib // (WIDTH * WIDTH * 4 >> 20))
    rng = np.random.default_rng(SEED)
    inits, nodes, prev = [], [], "x"
    for i in range(layers):
        w = rng.standard_normal((WIDTH, WIDTH), dtype=np.float32) / np.float32(np.sqrt(WIDTH))
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        last = i == layers - 1
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"h{i}"], name=f"mm{i}"))
        if not last:
            nodes.append(helper.make_node("Relu", [f"h{i}"], [f"a{i}"], name=f"relu{i}"))
        prev = f"h{i}" if last else f"a{i}"
    graph = helper.make_graph(
        nodes, "external_data",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, WIDTH])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, WIDTH])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    data_dir = os.path.join(case_dir, "test_data_set_0")
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(case_dir, "model.onnx")
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
              location="model.data", size_threshold=1024)
    x = rng.standard_normal((1, WIDTH), dtype=np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": x})
    for name, value, tensor_name in (("input_0", x, "x"), ("output_0", y, prev)):
        with open(os.path.join(data_dir, name + ".pb"), "wb") as f:
            f.write(numpy_helper.from_array(value, tensor_name).SerializeToString())
    with open(os.path.join(case_dir, "tolerance.txt"), "w") as f:
        f.write(TOLERANCE)
    return layers * WIDTH * WIDTH * 4


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("onnxcc")
    ap.add_argument("out_dir")
    ap.add_argument("--mib", type=int, default=320, help="weights in MiB (default 320)")
    ap.add_argument("test_args", nargs="*", help="after --: extra `onnxcc test` arguments")
    args = ap.parse_args()
    onnxcc = os.path.abspath(args.onnxcc)
    out = os.path.abspath(args.out_dir)
    case = os.path.join(out, "external_data")
    shutil.rmtree(case, ignore_errors=True)
    nbytes = make_case(case, args.mib)
    print(f"external_data: {os.path.getsize(os.path.join(case, 'model.onnx'))} B model.onnx, "
          f"{nbytes >> 20} MiB in model.data")

    failed = total = 0
    elsewhere = os.path.join(out, "external_data_cwd")
    shutil.rmtree(elsewhere, ignore_errors=True)
    os.makedirs(elsewhere)

    def check(name, cmd, want_rc, want_text=None):
        nonlocal failed, total
        total += 1
        r = subprocess.run(cmd, cwd=elsewhere, capture_output=True, text=True)
        text = r.stdout + r.stderr
        good = r.returncode == want_rc and (want_text is None or want_text in text)
        print(f"{'PASS' if good else 'FAIL'} {name}")
        if not good:
            failed += 1
            print(f"    exit {r.returncode}, expected {want_rc}"
                  + (f", wanted '{want_text}'" if want_text else ""))
            print("    " + "\n    ".join(text.strip().splitlines()[-10:]))

    for mode in ("incbin", "file"):
        check(f"onnxcc test --weights {mode}, from another folder",
              [onnxcc, "test", case, "--weights", mode, *args.test_args], 0)

    # model.onnx alone in a folder of its own, a model.data in the working directory:
    # the data must not be taken from there.
    alone = os.path.join(out, "external_data_alone")
    shutil.rmtree(alone, ignore_errors=True)
    os.makedirs(alone)
    shutil.copy(os.path.join(case, "model.onnx"), alone)
    os.symlink(os.path.join(case, "model.data"), os.path.join(elsewhere, "model.data"))
    check("model.data is looked for in the model's folder only",
          [onnxcc, "compile", os.path.join(alone, "model.onnx"), "-o",
           os.path.join(elsewhere, "gen")], 1, "cannot open external data 'model.data'")
    total += 1
    if os.path.exists(os.path.join(elsewhere, "gen")):
        print("FAIL the failing compile wrote its output folder")
        failed += 1
    else:
        print("PASS the failing compile wrote nothing")
    for path in (alone, elsewhere):
        shutil.rmtree(path, ignore_errors=True)
    print(f"{total - failed} of {total} external-data checks passed")
    if not failed:   # 320 MiB that nothing else needs
        shutil.rmtree(case, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
