#!/usr/bin/env python3
"""Runs the ONNX conformance cases through `onnxcc test` and checks the expected failures.

The cases, by folder:
  node/               the onnx package's node cases, written to disk by write_cases.py
                      (from onnx 1.23 they are built in memory; each has its tolerance)
  simple/, pytorch-converted/, pytorch-operator/
                      the onnx package's onnx/backend/test/data/ folders, read in place

Each case runs as `ONNXCC test CASE_DIR` (compile, build with the C compiler, run, compare
every output as the ONNX backend tests do: the case's rtol/atol, default rtol 1e-3 and
atol 1e-7, integers and booleans exactly, NaN equal to NaN, shapes and element types must
match), JOBS at a time.  A case passes when `onnxcc test` exits 0.  A case whose data sets
hold no expected output fails: it would otherwise pass without checking anything.

tests/conformance/expected_failures.txt lists, one per line, `FOLDER/CASE  REASON` for
the cases known to fail.  The run fails (exit 1) on a failure not in the list and on a
listed case that passes (take it off the list).  It prints passed / failed /
expected-failure counts per folder.

Usage:
  run.py ONNXCC [--cases DIR] [--jobs N] [--filter SUBSTRING ...]
                [--docs docs/conformance.md] [--update-expected] [--cc CC] [--cflags FLAGS]

  --cases DIR         where node/ is written (default build/conformance); rewritten when
                      the onnx version or write_cases.py changes
  --filter S          only cases whose FOLDER/CASE contains S (repeatable); the
                      expected-failure check then covers those cases alone
  --docs FILE         write the per-operator table and the expected failures to FILE
  --update-expected   rewrite expected_failures.txt from this run's failures (their
                      reasons are onnxcc's error lines); review the diff before committing
  --cc CC             passed to `onnxcc test --cc` (default: onnxcc's, clang)
  --cflags FLAGS      passed to `onnxcc test --cflags` (e.g. -Werror, sanitizers)
  --timeout S         seconds per case (default 120)
"""
import argparse
import collections
import concurrent.futures
import hashlib
import os
import re
import subprocess
import sys
import time

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXPECTED = os.path.join(HERE, "expected_failures.txt")
DATA_FOLDERS = ("simple", "pytorch-converted", "pytorch-operator")
FOLDERS = ("node",) + DATA_FOLDERS


def write_node_cases(cases_dir):
    """Writes node/ with write_cases.py unless its stamp says it is current."""
    script = os.path.join(HERE, "write_cases.py")
    with open(script, "rb") as f:
        stamp = f"onnx {onnx.__version__} write_cases {hashlib.sha256(f.read()).hexdigest()}\n"
    node = os.path.join(cases_dir, "node")
    stamp_path = os.path.join(cases_dir, "node.stamp")
    if os.path.isdir(node) and os.path.exists(stamp_path):
        with open(stamp_path) as f:
            if f.read() == stamp:
                return node
    tmp = node + ".tmp"
    subprocess.run(["rm", "-rf", tmp, node], check=True)
    os.makedirs(cases_dir, exist_ok=True)
    subprocess.run([sys.executable, script, tmp], check=True)
    os.rename(tmp, node)
    with open(stamp_path, "w") as f:
        f.write(stamp)
    return node


def data_folder(name):
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", name)


def list_cases(cases_dir):
    """[(key 'FOLDER/CASE', path)] in a fixed order."""
    out = []
    roots = {"node": write_node_cases(cases_dir)}
    for name in DATA_FOLDERS:
        roots[name] = data_folder(name)
    for folder in FOLDERS:
        root = roots[folder]
        for case in sorted(os.listdir(root)):
            path = os.path.join(root, case)
            if os.path.exists(os.path.join(path, "model.onnx")):
                out.append((f"{folder}/{case}", path))
    return out


def missing_outputs(path):
    """Why the case cannot be checked, or None."""
    sets = [d for d in sorted(os.listdir(path)) if d.startswith("test_data_set_")]
    if not sets:
        return "the case has no test data set"
    for d in sets:
        if not any(f.startswith("output_") for f in os.listdir(os.path.join(path, d))):
            return f"{d} holds no expected output (write_cases.py could not serialise it)"
    return None


def reason_of(text, path):
    """onnxcc's one-line reason: the last error or FAIL line, without the case's path."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    pick = ""
    for l in lines:
        if l.startswith("onnxcc: error:") or l.startswith("FAIL"):
            pick = l
    if not pick and lines:
        pick = lines[-1]
    pick = pick.replace(path + "/", "").replace(path, "CASE")
    pick = re.sub(r"^onnxcc: error: ", "", pick)
    pick = re.sub(r"/tmp/onnxcc-[^/ ]+", "TMP", pick)
    return pick[:300] or "no output"


def run_case(onnxcc, key, path, cc, cflags, timeout):
    """(key, passed, reason, seconds)."""
    why = missing_outputs(path)
    if why:
        return key, False, why, 0.0
    cmd = [onnxcc, "test", path]
    if cc:
        cmd += ["--cc", cc]
    if cflags:
        cmd += ["--cflags", cflags]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return key, False, f"timed out after {timeout} s", time.monotonic() - t0
    dt = time.monotonic() - t0
    if p.returncode == 0:
        return key, True, "", dt
    reason = reason_of(p.stdout, path)
    if p.returncode < 0:
        reason = f"onnxcc killed by signal {-p.returncode}: {reason}"
    return key, False, reason, dt


def read_expected():
    """{key: reason} from expected_failures.txt."""
    out = {}
    if not os.path.exists(EXPECTED):
        return out
    with open(EXPECTED) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) < 2:
                sys.exit(f"{EXPECTED}:{n}: a case without a reason: {line!r}")
            if parts[0] in out:
                sys.exit(f"{EXPECTED}:{n}: {parts[0]} listed twice")
            out[parts[0]] = parts[1].strip()
    return out


def write_expected(failures):
    with open(EXPECTED, "w") as f:
        f.write("# Conformance cases known to fail under `onnxcc test`, one per line:\n"
                "# FOLDER/CASE  REASON.  tests/conformance/run.py fails on a failure not\n"
                "# listed here and on a listed case that passes.  Written by\n"
                "# `run.py --update-expected` from onnxcc's own error lines.\n")
        for key in sorted(failures):
            f.write(f"{key}  {failures[key]}\n")


def case_ops(path):
    """The operator a case tests: its graph's single op type, else the op types of its
    nodes joined (expanded functions and the data folders' models have several)."""
    try:
        m = onnx.load(os.path.join(path, "model.onnx"), load_external_data=False)
    except Exception:  # an unreadable model counts under its own heading
        return "(unreadable model)"
    ops = sorted({n.op_type for n in m.graph.node})
    return ops[0] if len(ops) == 1 else "(several: " + ", ".join(ops) + ")"


# Node case names that abbreviate their operator.
NAME_ALIASES = {"sce": "SoftmaxCrossEntropyLoss", "nllloss": "NegativeLogLikelihoodLoss",
                "basic_conv": "Conv", "conv_with": "Conv", "batchnorm": "BatchNormalization",
                "logsoftmax": "LogSoftmax", "globalaveragepool": "GlobalAveragePool",
                "globalmaxpool": "GlobalMaxPool", "instancenorm": "InstanceNormalization",
                "layer_normalization": "LayerNormalization", "reduce_log_sum_exp":
                "ReduceLogSumExp", "strnorm": "StringNormalizer", "dequantizelinear":
                "DequantizeLinear", "quantizelinear": "QuantizeLinear",
                "basic_deform_conv": "DeformConv", "deform_conv": "DeformConv",
                "cast_no_saturate": "Cast", "simple_rnn": "RNN", "gru": "GRU", "lstm": "LSTM",
                "rnn_seq": "RNN", "tfidfvectorizer": "TfIdfVectorizer", "training_dropout":
                "Dropout", "affine_grid": "AffineGrid", "ai_onnx_ml": "(ai.onnx.ml)",
                "sequence_map": "SequenceMap", "mvn": "MeanVarianceNormalization",
                "constant_pad": "Pad", "edge_pad": "Pad", "reflect_pad": "Pad", "wrap_pad": "Pad", "convtranspose": "ConvTranspose",
                "convinteger": "ConvInteger", "matmulinteger": "MatMulInteger"}


def node_case_op(key, path, schema_names):
    """Node cases: the operator named by the case (test_<op>_..., also for the
    _expanded variants that run its function body), matched against the ONNX schemas
    with underscores ignored, longest name first; else the graph's op types."""
    name = key.split("/", 1)[1]
    if name.startswith("test_"):
        rest = name[5:].lower()
        for alias in sorted(NAME_ALIASES, key=len, reverse=True):
            if rest == alias or rest.startswith(alias + "_") or rest.startswith(alias):
                return NAME_ALIASES[alias]
        flat = rest.replace("_", "")
        for op in schema_names:
            if flat.startswith(op.lower()):
                return op
    return case_ops(path)


def write_docs(path, results, expected, paths, counts):
    schema_names = sorted({s.name for s in onnx.defs.get_all_schemas_with_history()},
                          key=lambda s: (-len(s), s))
    per_op = collections.defaultdict(lambda: [0, 0])
    for key, (passed, _) in results.items():
        if not key.startswith("node/"):
            continue
        op = node_case_op(key, paths[key], schema_names)
        per_op[op][1] += 1
        per_op[op][0] += passed
    lines = ["# ONNX conformance",
             "",
             "Generated by `tests/conformance/run.py --docs docs/conformance.md` "
             f"(onnx {onnx.__version__}); do not edit by hand.  Each case runs through "
             "`onnxcc test`: compiled to C, built, run and compared with the case's "
             "expected outputs (its rtol/atol, default rtol 1e-3 and atol 1e-7; integers "
             "and booleans exactly; NaN equal to NaN; shapes and element types must match).",
             "",
             "## Per folder",
             "",
             "| folder | cases | passed | expected failures | unexpected failures |",
             "|---|--:|--:|--:|--:|"]
    tp = tc = 0
    for folder in FOLDERS:
        c = counts.get(folder)
        if not c:
            continue
        lines.append(f"| {folder} | {c['total']} | {c['passed']} | {c['xfail']} | "
                     f"{c['failed']} |")
        tp += c["passed"]
        tc += c["total"]
    if tc:
        lines.append(f"| **all** | {tc} | {tp} ({100.0 * tp / tc:.1f} %) | | |")
    lines += ["", "## Node cases per operator", "",
              "| operator | passed | cases |", "|---|--:|--:|"]
    for op in sorted(per_op, key=str.lower):
        p, n = per_op[op]
        lines.append(f"| {op} | {p} | {n} |")
    lines += ["", "## Expected failures", "",
              "From `tests/conformance/expected_failures.txt`: the case and onnxcc's reason.",
              ""]
    for key in sorted(k for k in expected if k in results):
        reason = expected[key].replace("|", "\\|")
        lines.append(f"- `{key}`: {reason}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("onnxcc")
    ap.add_argument("--cases", default=os.path.join(ROOT, "build", "conformance"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--filter", action="append", default=[])
    ap.add_argument("--docs")
    ap.add_argument("--update-expected", action="store_true")
    ap.add_argument("--cc", default="")
    ap.add_argument("--cflags", default="")
    ap.add_argument("--timeout", type=int, default=120)
    args = ap.parse_args()
    onnxcc = os.path.abspath(args.onnxcc)
    if not os.access(onnxcc, os.X_OK):
        sys.exit(f"run.py: {args.onnxcc} is not an executable")

    cases = list_cases(args.cases)
    if args.filter:
        cases = [c for c in cases if any(s in c[0] for s in args.filter)]
    paths = dict(cases)
    expected = read_expected()
    t0 = time.monotonic()
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_case, onnxcc, k, p, args.cc, args.cflags, args.timeout)
                   for k, p in cases]
        for fut in concurrent.futures.as_completed(futures):
            key, passed, reason, _ = fut.result()
            results[key] = (passed, reason)

    counts = {}
    unexpected_fail, unexpected_pass = [], []
    for key, (passed, reason) in sorted(results.items()):
        folder = key.split("/", 1)[0]
        c = counts.setdefault(folder, {"total": 0, "passed": 0, "xfail": 0, "failed": 0})
        c["total"] += 1
        if passed:
            c["passed"] += 1
            if key in expected:
                unexpected_pass.append(key)
        elif key in expected:
            c["xfail"] += 1
        else:
            c["failed"] += 1
            unexpected_fail.append((key, reason))

    if args.update_expected:
        kept = {k: v for k, v in expected.items() if k not in results}
        kept.update({k: r for k, (p, r) in results.items() if not p})
        write_expected(kept)
        expected = read_expected()
        unexpected_fail, unexpected_pass = [], []
        for c in counts.values():
            c["xfail"] += c["failed"]
            c["failed"] = 0

    for key, reason in unexpected_fail:
        print(f"UNEXPECTED FAIL {key}: {reason}")
    for key in unexpected_pass:
        print(f"UNEXPECTED PASS {key} (take it off {os.path.relpath(EXPECTED, ROOT)})")
    print(f"{'folder':<20} {'cases':>6} {'passed':>7} {'failed':>7} {'expected-failure':>17}")
    total = collections.Counter()
    for folder in FOLDERS:
        c = counts.get(folder)
        if not c:
            continue
        print(f"{folder:<20} {c['total']:>6} {c['passed']:>7} {c['failed']:>7} "
              f"{c['xfail']:>17}")
        total.update(c)
    if total["total"]:
        print(f"{'all':<20} {total['total']:>6} {total['passed']:>7} {total['failed']:>7} "
              f"{total['xfail']:>17}   ({100.0 * total['passed'] / total['total']:.1f} % "
              f"passed, {time.monotonic() - t0:.0f} s)")
    if args.docs:
        write_docs(args.docs, results, expected, paths, counts)
    if unexpected_fail or unexpected_pass:
        print(f"conformance: {len(unexpected_fail)} unexpected failure(s), "
              f"{len(unexpected_pass)} unexpected pass(es)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
