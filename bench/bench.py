#!/usr/bin/env python3
"""The benchmark driver behind bench/run.sh: onnxcc's generated C against onnxruntime.

For each model exported by bench/export.py it
  1. reads the node count (from the model) and the FLOPs per run (`onnxcc info`),
  2. compiles it with `onnxcc compile MODEL -o DIR --name m --emit-runtime` and builds the
     generated C with bench/harness.c using `clang -O3 -march=native`,
  3. runs both once on the same input, onnxcc with 1 thread and with a pool of 2, and
     compares each output with onnxruntime's (rtol 1e-4, atol 1e-4),
  4. alternates, ROUNDS times: the harness with 1 thread (R timed runs after its
     warm-up), onnxruntime with 1 intra-op thread (R runs after a warm-up), the harness
     with a pool of 2 threads, onnxruntime with 2 threads (same),
  5. reports the median per-run time of each and the ratios onnxcc / onnxruntime at the
     same thread count.
A model that onnxcc cannot compile stays in the table with the error, out of the means.
It writes a markdown table, a JSON file with every sample, and a PNG bar chart.
Exit status: 0, or 1 if an output was wrong (or, with --strict, a model failed to build).
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort

RTOL = 1e-4
ATOL = 1e-4
HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(f"bench: {msg}", flush=True)


def one_line(text):
    """The first line of `text` worth showing (onnxcc prints `onnxcc: error: ...`)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln:
            return ln
    return lines[0] if lines else "(no message)"


def compile_error(text):
    """One line for a failed `onnxcc compile`: the distinct unsupported ops if that is the
    reason, else the first error line."""
    ops = re.findall(r"unsupported op (\S+) \(node", text)
    if ops:
        distinct = list(dict.fromkeys(ops))
        return f"unsupported ops: {', '.join(distinct)} ({len(ops)} nodes)"
    return one_line(text)


def parse_flops(info_text):
    """GFLOP per run from `onnxcc info`'s "FLOPs: 3.63 GFLOP per run" line, or None."""
    m = re.search(r"FLOPs:\s*([0-9.eE+-]+)\s*([kMGT]?)FLOP", info_text)
    if not m:
        return None
    scale = {"": 1e-9, "k": 1e-6, "M": 1e-3, "G": 1.0, "T": 1e3}[m.group(2)]
    return float(m.group(1)) * scale


def run_cmd(cmd, timeout=None):
    """(returncode, stdout+stderr, seconds) of a command; never raises on failure."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout)
        return p.returncode, p.stdout, time.perf_counter() - t0
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout} s: {' '.join(cmd)}", time.perf_counter() - t0


class OrtRunner:
    """An onnxruntime session (CPU, all graph optimisations, `threads` intra-op threads,
    one inter-op thread) with its input and outputs bound once, so that a timed run is one
    `run_with_iobinding` call: no per-run allocation, only the Python call's overhead."""

    def __init__(self, model_path, feeds, threads):
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
        self.feeds = feeds
        self.outputs = self.sess.run(None, feeds)
        self.io = self.sess.io_binding()
        for name, x in feeds.items():
            self.io.bind_cpu_input(name, x)
        self._keep = []
        for meta, y in zip(self.sess.get_outputs(), self.outputs):
            val = ort.OrtValue.ortvalue_from_numpy(np.empty_like(y))
            self._keep.append(val)
            self.io.bind_ortvalue_output(meta.name, val)

    def run_once(self):
        self.sess.run_with_iobinding(self.io)

    def time_runs(self, runs, warm_s):
        end = time.perf_counter() + warm_s
        self.run_once()
        while time.perf_counter() < end:
            self.run_once()
        times = []
        clock = time.perf_counter_ns
        for _ in range(runs):
            t0 = clock()
            self.sess.run_with_iobinding(self.io)
            times.append(clock() - t0)
        return times


def compare(got, want):
    """(max abs diff, passes) at RTOL/ATOL, numpy's allclose rule, NaNs never equal."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf"), False
    if got.size == 0:
        return 0.0, True
    diff = np.abs(got - want)
    ok = bool(np.all(diff <= ATOL + RTOL * np.abs(want)))
    return float(np.nanmax(diff)) if not np.isnan(diff).all() else float("nan"), ok


def case_input(mdir, k):
    """Input k of the model in `mdir` and the path of its raw bytes for the harness: from
    bench/export.py's input_K.npy/.bin, or from a test case's test_data_set_0/input_K.pb
    (tests/models/export_models.py), whose raw bytes are written next to it once."""
    npy = os.path.join(mdir, f"input_{k}.npy")
    raw = os.path.join(mdir, f"input_{k}.bin")
    if os.path.exists(npy):
        return np.load(npy), raw
    tensor = onnx.load_tensor(os.path.join(mdir, "test_data_set_0", f"input_{k}.pb"))
    x = onnx.numpy_helper.to_array(tensor)
    np.ascontiguousarray(x).tofile(raw)
    return x, raw


def bench_model(name, args, work):
    """Benchmarks one model; returns its result dict (never raises for the model's sake)."""
    mdir = os.path.join(args.models_dir, name)
    model_path = os.path.join(mdir, "model.onnx")
    res = {"model": name, "nodes": None, "gflop": None, "error": None, "correct": None,
           "max_abs_diff": None, "cc1_ms": None, "cc2_ms": None, "ort1_ms": None,
           "ort2_ms": None, "ratio1": None, "ratio2": None, "speedup2": None, "runs": 0,
           "rounds": 0, "samples": {}}
    if not os.path.exists(model_path):
        res["error"] = "export failed (no model.onnx)"
        return res
    model = onnx.load(model_path, load_external_data=False)
    res["nodes"] = len(model.graph.node)
    inits = {i.name for i in model.graph.initializer}
    in_names = [i.name for i in model.graph.input if i.name not in inits]

    rc, info, _ = run_cmd([args.onnxcc, "info", model_path], timeout=300)
    res["gflop"] = parse_flops(info)

    # onnxruntime first: its output is the reference.
    feeds = {}
    bins = []
    for k, in_name in enumerate(in_names):
        feeds[in_name], path = case_input(mdir, k)
        bins.append(path)
    try:
        ort1 = OrtRunner(model_path, feeds, 1)
        ort2 = OrtRunner(model_path, feeds, 2)
    except Exception as e:  # noqa: BLE001 - reported in the table
        res["error"] = f"onnxruntime failed: {type(e).__name__}: {str(e).splitlines()[0]}"
        return res

    gen = os.path.join(work, name, "gen")
    shutil.rmtree(os.path.join(work, name), ignore_errors=True)
    os.makedirs(gen)
    rc, out, secs = run_cmd([args.onnxcc, "compile", model_path, "-o", gen, "--name", "m",
                             "--emit-runtime"], timeout=600)
    res["onnxcc_s"] = round(secs, 2)
    if rc != 0:
        res["error"] = compile_error(out)
        log(f"{name}: onnxcc compile failed: {res['error']}")
        return res
    exe = os.path.join(work, name, "harness")
    sources = sorted(os.path.join(gen, f) for f in os.listdir(gen) if f.endswith(".c"))
    cmd = [args.cc, "-std=c11", *args.cflags.split(), "-I", gen, *sources,
           os.path.join(HERE, "harness.c"), "-lm", "-pthread", "-o", exe]
    rc, out, secs = run_cmd(cmd, timeout=900)
    res["clang_s"] = round(secs, 2)
    if rc != 0:
        res["error"] = "clang failed: " + one_line(out)
        log(f"{name}: {res['error']}")
        return res

    # Correctness: one run with each thread count, outputs written next to the harness.
    worst, ok = 0.0, True
    for threads in (1, 2):
        outdir = os.path.join(work, name, f"out{threads}")
        os.makedirs(outdir)
        rc, out, _ = run_cmd([exe, "1", "0", str(threads), outdir, *bins], timeout=600)
        if rc != 0:
            res["error"] = f"harness ({threads} threads) failed: " + one_line(out)
            res["correct"] = False
            return res
        for k, want in enumerate(ort1.outputs):
            path = os.path.join(outdir, f"output_{k}.bin")
            got = np.fromfile(path, dtype=want.dtype)
            if got.size != want.size:
                worst, ok = float("inf"), False
                continue
            d, good = compare(got.reshape(want.shape), want)
            worst = max(worst, d) if not math.isnan(d) else d
            ok = ok and good
    res["max_abs_diff"] = worst
    res["correct"] = ok

    def harness(runs, warm_ms, threads):
        """Per-run nanoseconds of one harness process, or an error line."""
        rc, out, _ = run_cmd([exe, str(runs), str(warm_ms), str(threads), "-", *bins],
                             timeout=900)
        return [int(x) for x in out.split()] if rc == 0 else "harness failed: " + one_line(out)

    # Choose R so that the rounds fit the budget; estimate each side's time first.
    est = []
    for threads in (1, 2):
        times = harness(3, 0, threads)
        est.append(statistics.median(times) * 1e-9 if isinstance(times, list) else 1.0)
    est_o1 = statistics.median(ort1.time_runs(3, 0)) * 1e-9
    est_o2 = statistics.median(ort2.time_runs(3, 0)) * 1e-9
    warm_s = args.warmup_ms / 1000
    per_round = sum(est) + est_o1 + est_o2
    spare = args.budget / args.rounds - 4 * warm_s
    runs = int(max(1, min(args.max_runs, spare / per_round if per_round > 0 else 1)))
    res["runs"], res["rounds"] = runs, args.rounds
    log(f"{name}: correct={ok} max|diff|={worst:.3g}; timing {args.rounds} rounds x {runs} runs"
        f" (estimates: onnxcc {est[0]*1e3:.3f} ms, 2 threads {est[1]*1e3:.3f} ms,"
        f" ORT1 {est_o1*1e3:.3f} ms, ORT2 {est_o2*1e3:.3f} ms)")

    cc1, cc2, o1, o2 = [], [], [], []
    for _ in range(args.rounds):
        for threads, cc, session, o in ((1, cc1, ort1, o1), (2, cc2, ort2, o2)):
            times = harness(runs, args.warmup_ms, threads)
            if not isinstance(times, list):
                res["error"] = times
                return res
            cc += times
            o += session.time_runs(runs, warm_s)
    res["samples"] = {"onnxcc1_ns": cc1, "onnxcc2_ns": cc2, "ort1_ns": o1, "ort2_ns": o2}
    for key, samples in (("cc1_ms", cc1), ("cc2_ms", cc2), ("ort1_ms", o1), ("ort2_ms", o2)):
        res[key] = statistics.median(samples) / 1e6
    res["ratio1"] = res["cc1_ms"] / res["ort1_ms"]
    res["ratio2"] = res["cc2_ms"] / res["ort2_ms"]
    res["speedup2"] = res["cc1_ms"] / res["cc2_ms"]
    log(f"{name}: onnxcc {res['cc1_ms']:.3f} ms, ORT1 {res['ort1_ms']:.3f} ms"
        f" (x{res['ratio1']:.2f}); onnxcc 2 threads {res['cc2_ms']:.3f} ms,"
        f" ORT2 {res['ort2_ms']:.3f} ms (x{res['ratio2']:.2f})")
    return res


def geomean(xs):
    xs = [x for x in xs if x]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt(x, spec):
    return "–" if x is None else format(x, spec)


def machine_info(cc):
    cpu, cores = platform.processor() or "unknown", os.cpu_count()
    try:
        text = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r"^Model name:\s*(.+)$", text, re.M)
        cpu = m.group(1).strip() if m else cpu
        flags = re.search(r"^Flags:\s*(.+)$", text, re.M)
        isa = [f for f in ("avx512f", "avx2", "fma", "neon", "asimd")
               if flags and f in flags.group(1).split()]
    except OSError:
        isa = []
    try:
        ccv = subprocess.run([cc, "--version"], stdout=subprocess.PIPE,
                             text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        ccv = cc
    return {"cpu": cpu, "cores": cores, "isa": isa, "cc": ccv}


def write_markdown(path, results, meta):
    ok_rows = [r for r in results if r["ratio1"] and r["correct"]]
    g1 = geomean([r["ratio1"] for r in ok_rows])
    g2 = geomean([r["ratio2"] for r in ok_rows])
    left_out = [r["model"] for r in results if r not in ok_rows]
    lines = [
        "# onnxcc vs onnxruntime: benchmark results",
        "",
        "Median time per run (random weights, one fixed input; batch 1 unless the model's"
        " input says otherwise), onnxcc's generated C against onnxruntime on the same CPU; ratio = onnxcc / onnxruntime (below 1: onnxcc"
        " is faster), at the same number of threads: onnxcc with 1 thread (NAME_run) against"
        " onnxruntime with 1 intra-op thread, and onnxcc with a pool of 2 threads"
        " (NAME_run_pool) against onnxruntime with 2. \"2T speed-up\" is onnxcc's 1-thread"
        " time over its 2-thread time.",
        "",
        "| model | ONNX nodes | GFLOP/run | onnxcc 1T ms | ORT 1T ms | ratio 1T |"
        " onnxcc 2T ms | ORT 2T ms | ratio 2T | onnxcc 2T speed-up | max abs diff | correct? |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in results:
        gf = fmt(r["gflop"], ".3f")
        if r["error"] and r["cc1_ms"] is None:
            lines.append(f"| {r['model']} | {fmt(r['nodes'], 'd')} | {gf} |"
                         f" **not compiled**: {r['error'].replace('|', '/')} | – | – |"
                         f" – | – | – | – | {fmt(r['max_abs_diff'], '.2e')} |"
                         f" {'no' if r['correct'] is False else '–'} |")
            continue
        lines.append(
            f"| {r['model']} | {r['nodes']} | {gf} | {r['cc1_ms']:.3f} | {r['ort1_ms']:.3f} |"
            f" {r['ratio1']:.2f} | {r['cc2_ms']:.3f} | {r['ort2_ms']:.3f} | {r['ratio2']:.2f} |"
            f" {r['speedup2']:.2f} | {r['max_abs_diff']:.2e} |"
            f" {'yes' if r['correct'] else '**NO**'} |")
    lines += [
        "",
        f"**Geometric mean of the ratios**: {fmt(g1, '.2f')} (1 thread),"
        f" {fmt(g2, '.2f')} (2 threads); onnxcc's 2-thread speed-up"
        f" {fmt(geomean([r['speedup2'] for r in ok_rows]), '.2f')}; over {len(ok_rows)} of"
        f" {len(results)} models.",
    ]
    if left_out:
        lines.append(f"Left out of the means (not compiled, failed or wrong): "
                     f"{', '.join(left_out)}.")
    builds = [r for r in results if r.get("clang_s") is not None]
    lines += [
        "",
        f"Correct means every output element of onnxcc, with 1 thread and with 2, within"
        f" rtol {RTOL:g}, atol {ATOL:g} of onnxruntime's (1 thread) output. Each median is"
        " over ROUNDS x R runs: the rounds alternate onnxcc 1 thread (R runs), onnxruntime"
        " 1 thread (R runs), onnxcc 2 threads (R runs), onnxruntime 2 threads (R runs), each"
        " after its own warm-up.",
        "",
        "| model | rounds x R | onnxcc compile s | clang build s |",
        "|---|--:|--:|--:|",
    ]
    for r in builds:
        lines.append(f"| {r['model']} | {r['rounds']} x {r['runs']} |"
                     f" {fmt(r.get('onnxcc_s'), '.2f')} | {fmt(r.get('clang_s'), '.1f')} |")
    lines += [
        "",
        "## Setup",
        "",
        f"- Machine: {meta['cpu']}, {meta['cores']} logical CPUs"
        f" (ISA flags: {', '.join(meta['isa']) or 'n/a'}); shared, not isolated: load"
        f" average {meta['load_start']:.1f} at the start, {meta['load_end']:.1f} at the end"
        " (1-minute; the benchmark itself adds about 1, more means that other work"
        " competed for the cores).",
        f"- Date: {meta['date']}",
        f"- onnxruntime {ort.__version__} (CPUExecutionProvider, ORT_ENABLE_ALL,"
        " intra_op_num_threads 1 or 2, inter_op_num_threads 1, sequential),"
        f" onnx {onnx.__version__}, numpy {np.__version__}",
        f"- C compiler: {meta['cc']}, flags `-std=c11 {meta['cflags']}`",
        "- Timing: onnxcc by bench/harness.c (clock_gettime(CLOCK_MONOTONIC) around each"
        " call); onnxruntime by time.perf_counter_ns around each run_with_iobinding call"
        " (so its times include a few microseconds of Python call overhead).",
        f"- Command: `{meta['command']}`",
        "",
        f"![ratios]({meta['png_name']})" if meta.get("png") else "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    return g1, g2


def write_png(path, results):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker  # noqa: F401 - used as matplotlib.ticker
    except ImportError:
        log("matplotlib missing: no chart")
        return False
    names = [r["model"] for r in results]
    r1 = [r["ratio1"] if r["ratio1"] and r["correct"] else 0 for r in results]
    r2 = [r["ratio2"] if r["ratio2"] and r["correct"] else 0 for r in results]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names) + 2), 4.5))
    b1 = ax.bar(x - 0.2, r1, 0.4, label="1 thread: onnxcc / ORT")
    b2 = ax.bar(x + 0.2, r2, 0.4, label="2 threads: onnxcc (pool) / ORT")
    for bars in (b1, b2):
        ax.bar_label(bars, labels=[f"{v:.2f}" if v else "" for v in bars.datavalues],
                     fontsize=7, padding=1)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yticks([t for t in (0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)
                   if min([v for v in r1 + r2 if v] or [1]) / 2 <= t
                   <= max(r1 + r2 + [1]) * 2])
    for i, r in enumerate(results):
        if not (r["ratio1"] and r["correct"]):
            ax.text(i, 1.0, "not compiled" if r["cc1_ms"] is None else "wrong output",
                    rotation=90, ha="center", va="bottom", fontsize=8, color="red")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel("onnxcc time / onnxruntime time (log)")
    ax.set_title("onnxcc vs onnxruntime (below 1: onnxcc faster)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--onnxcc", required=True)
    ap.add_argument("--models-dir", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--budget", type=float, default=30.0,
                    help="seconds of timing per model (R is chosen to fit)")
    ap.add_argument("--max-runs", type=int, default=300)
    ap.add_argument("--warmup-ms", type=int, default=200)
    ap.add_argument("--cc", default="clang")
    ap.add_argument("--cflags", default="-O3 -march=native")
    ap.add_argument("--results-md")
    ap.add_argument("--results-png")
    ap.add_argument("--results-json")
    ap.add_argument("--strict", action="store_true",
                    help="also fail when a model cannot be compiled or built")
    ap.add_argument("--command", default="bench/run.sh")
    args = ap.parse_args()

    work = os.path.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    load_start = os.getloadavg()[0]
    results = []
    for name in args.models:
        t0 = time.perf_counter()
        results.append(bench_model(name, args, work))
        log(f"{name}: done in {time.perf_counter() - t0:.1f} s")

    meta = machine_info(args.cc)
    meta.update(date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                cflags=args.cflags, command=args.command, load_start=load_start,
                load_end=os.getloadavg()[0])
    if args.results_png:
        meta["png"] = write_png(args.results_png, results)
        meta["png_name"] = os.path.basename(args.results_png)
    g1 = g2 = None
    if args.results_md:
        g1, g2 = write_markdown(args.results_md, results, meta)
    if args.results_json:
        with open(args.results_json, "w") as f:
            json.dump({"meta": meta, "rtol": RTOL, "atol": ATOL, "results": results}, f)

    # The table on stdout too.
    print()
    print(f"{'model':<20} {'onnxcc ms':>10} {'ORT1 ms':>9} {'ratio':>6} {'onnxcc2 ms':>10}"
          f" {'ORT2 ms':>9} {'ratio':>6} {'max|diff|':>9}  correct")
    for r in results:
        if r["cc1_ms"] is None:
            print(f"{r['model']:<20} {'not compiled/run: ' + (r['error'] or '?')}")
            continue
        print(f"{r['model']:<20} {r['cc1_ms']:>10.3f} {r['ort1_ms']:>9.3f} {r['ratio1']:>6.2f}"
              f" {r['cc2_ms']:>10.3f} {r['ort2_ms']:>9.3f} {r['ratio2']:>6.2f}"
              f" {r['max_abs_diff']:>9.2e}  {'yes' if r['correct'] else 'NO'}")
    print(f"geometric mean of the ratios (compiled and correct models): 1 thread"
          f" {fmt(g1, '.2f')}, 2 threads {fmt(g2, '.2f')}")

    wrong = [r["model"] for r in results if r["correct"] is False]
    broken = [r["model"] for r in results if r["cc1_ms"] is None and r["correct"] is not False]
    if wrong:
        log(f"WRONG OUTPUT: {', '.join(wrong)}")
    if args.strict and broken:
        log(f"not compiled or not run: {', '.join(broken)}")
    return 1 if wrong or (args.strict and broken) else 0


if __name__ == "__main__":
    sys.exit(main())
