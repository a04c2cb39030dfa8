"""node_profile.py: where a model's time goes, onnxcc against onnxruntime, by operator.

Compiles MODEL with onnxcc, rewrites the generated NAME_run so that every node-function
call is timed (clock_gettime around each call, summed over the runs), builds it with
clang -O3 -march=native, runs it, and runs onnxruntime (one thread, its own profiler) on
the same input.  Prints the time per run of each operator type on both sides, then the
slowest onnxcc node functions.  Operator types are compared by name only: onnxruntime's
fused kernels (FusedConv, ...) are listed under their own names, and onnxcc's fused
activations are inside the Conv/Gemm that absorbed them.  A benchmark, not a test.

  .venv/bin/python bench/kernels/node_profile.py ONNXCC MODEL.onnx [RUNS] [TOP]
"""
import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

CALL = re.compile(r"^(\s+)(n(\d+)_\w*)\((.*)\);$")
HEADER = re.compile(r"^/\* n(\d+) (\S+) ")

HARNESS = r"""
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include "m.h"
extern double m_prof_s[];
extern const int m_prof_n;
int main(int argc, char **argv) {
    int runs = atoi(argv[1]);
    float *in = malloc((size_t)1 << 24), *out = malloc((size_t)1 << 22);
    void *ws = aligned_alloc(64, (m_WORKSPACE_BYTES + 63) / 64 * 64 + 64);
    FILE *f = fopen(argv[2], "rb");
    if (!in || !out || !ws || !f) return 1;
    size_t n = fread(in, 1, (size_t)1 << 24, f);
    (void)n;
    fclose(f);
    m_run(in, out, ws);
    for (int i = 0; i < m_prof_n; i++) m_prof_s[i] = 0;
    for (int r = 0; r < runs; r++) m_run(in, out, ws);
    for (int i = 0; i < m_prof_n; i++) printf("%d %.9f\n", i, m_prof_s[i] / runs);
    return 0;
}
"""


def instrument(path):
    """Wraps each node call of m_run in a timer; returns {node index: op type}."""
    lines = open(path).read().split("\n")
    ops, out, in_run, top = {}, [], False, 0
    for line in lines:
        h = HEADER.match(line)
        if h:
            ops[int(h.group(1))] = h.group(2)
        if line.startswith("int m_run(") or line.startswith("int m_run_pool("):
            in_run = True
        elif in_run and line == "}":
            in_run = False
        m = CALL.match(line) if in_run else None
        if m:
            ind, idx = m.group(1), int(m.group(3))
            out.append(f"{ind}{{ double t_ = prof_now(); {m.group(2)}({m.group(4)}); "
                       f"m_prof_s[{idx}] += prof_now() - t_; }}")
            top = max(top, idx + 1)
        else:
            out.append(line)
    prelude = ("#include <time.h>\n"
               "static double prof_now(void) { struct timespec t; "
               "clock_gettime(CLOCK_MONOTONIC, &t); return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec; }\n"
               f"double m_prof_s[{max(top, 1)}];\nconst int m_prof_n = {max(top, 1)};\n")
    text = "\n".join(out)
    first_static = text.index("\nstatic ")
    text = "#define _POSIX_C_SOURCE 200809L\n" + text[:first_static] + "\n" + prelude + text[first_static:]
    open(path, "w").write(text)
    return ops


def ort_profile(model, x, runs):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(prefix="ortprof_"), "p")
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    for _ in range(runs + 1):
        sess.run(None, {name: x})
    prof = sess.end_profiling()
    by_op = collections.Counter()
    for ev in json.load(open(prof)):
        if ev.get("cat") == "Node" and ev["name"].endswith("_kernel_time"):
            by_op[ev["args"].get("op_name", "?")] += ev["dur"] * 1e-6
    return {k: v / (runs + 1) for k, v in by_op.items()}


def main():
    onnxcc, model = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 15
    work = tempfile.mkdtemp(prefix="nodeprof_")
    subprocess.run([onnxcc, "compile", model, "-o", work, "--name", "m", "--emit-runtime"],
                   check=True)
    ops = instrument(os.path.join(work, "m.c"))
    open(os.path.join(work, "main.c"), "w").write(HARNESS)
    exe = os.path.join(work, "prof")
    subprocess.run(["clang", "-O3", "-march=native", "-I" + work] +
                   sorted(glob.glob(os.path.join(work, "*.c"))) + ["-lm", "-lpthread", "-o", exe],
                   check=True)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x.tofile(os.path.join(work, "in.bin"))
    out = subprocess.run([exe, str(runs), os.path.join(work, "in.bin")], check=True,
                         capture_output=True, text=True).stdout
    per_node = {int(a): float(b) for a, b in (l.split() for l in out.split("\n") if l)}
    ours = collections.Counter()
    for i, t in per_node.items():
        ours[ops.get(i, "?")] += t
    theirs = ort_profile(model, x, runs)
    total_a, total_b = sum(ours.values()), sum(theirs.values())
    print(f"{'op':<24}{'onnxcc ms':>12}{'ORT ms':>12}")
    for op in sorted(set(ours) | set(theirs), key=lambda o: -max(ours[o], theirs.get(o, 0))):
        print(f"{op:<24}{ours[op] * 1e3:>12.3f}{theirs.get(op, 0) * 1e3:>12.3f}")
    print(f"{'total (node time)':<24}{total_a * 1e3:>12.3f}{total_b * 1e3:>12.3f}")
    print(f"\nslowest onnxcc nodes (of {len(per_node)}):")
    names = {}
    for line in open(os.path.join(work, "m.c")):
        m = re.match(r"^/\* n(\d+) (\S+) '(.*)'$", line.rstrip())
        if m:
            names[int(m.group(1))] = f"{m.group(2)} {m.group(3)}"
    for i, t in sorted(per_node.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {t * 1e3:8.3f} ms  n{i:03d} {names.get(i, ops.get(i, '?'))}")


if __name__ == "__main__":
    main()
