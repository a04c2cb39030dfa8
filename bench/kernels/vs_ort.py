"""vs_ort.py: onnxcc against onnxruntime (one thread) on one model, alternately.

Compiles MODEL with onnxcc and clang -O3 -march=native, then alternates batches of runs
of the two (ROUNDS rounds of BATCH runs each, so both see the same machine load) and
prints the median of each and their ratio.  A benchmark, not a test.

  .venv/bin/python bench/kernels/vs_ort.py ONNXCC MODEL.onnx [ROUNDS] [BATCH]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort


def main():
    onnxcc, model = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    here = os.path.dirname(os.path.abspath(__file__))
    work = tempfile.mkdtemp(prefix="vs_ort_")
    subprocess.run([onnxcc, "compile", model, "-o", work, "--name", "m", "--emit-runtime"],
                   check=True)
    sources = [os.path.join(work, f) for f in os.listdir(work) if f.endswith(".c")]
    exe = os.path.join(work, "m_bench")
    subprocess.run(["clang", "-O3", "-march=native", "-I" + work,
                    os.path.join(here, "model_main.c")] + sources + ["-lm", "-o", exe],
                   check=True)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for _ in range(3):
        sess.run(None, {inp.name: x})
    ours, theirs = [], []
    for _ in range(rounds):
        out = subprocess.run([exe, str(batch)], check=True, capture_output=True, text=True)
        ours += [float(v) for v in out.stdout.split()]
        for _ in range(batch):
            t0 = time.perf_counter()
            sess.run(None, {inp.name: x})
            theirs.append((time.perf_counter() - t0) * 1e3)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"{os.path.basename(os.path.dirname(model)) or model}: onnxcc {a:.2f} ms, "
          f"onnxruntime {b:.2f} ms, ratio {a / b:.2f} (medians of {len(ours)} runs)")


if __name__ == "__main__":
    main()
