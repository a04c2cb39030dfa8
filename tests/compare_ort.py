#!/usr/bin/env python3
"""Finds the first ONNX node whose output, as onnxcc computes it, differs from onnxruntime's.

    .venv/bin/python tests/compare_ort.py MODEL.onnx [-i INPUT_0.pb ...] [options]

Runs the whole model through `onnxcc run` and onnxruntime on the same inputs (the given
.pb files, else random ones of the inputs' declared shapes).  If an output differs beyond
the tolerance, it bisects over the nodes in the model's order: each probe cuts the model
down to one node's output (everything after it is dropped, so onnxcc compiles, folds and
fuses only what comes before), runs that through onnxcc and onnxruntime and compares.  It
then checks the inputs of the node it found: when they all agree and its output does
not, that node is where onnxcc goes wrong, whatever onnxcc fused it with in the whole
model.  Model-local functions are inlined first, with onnxcc's names ("CALL#K/NODE"), so
the node found can be one inside a function and its name says which call it is in.

Exit status: 0 when the outputs agree, 1 when a mismatch was found and named, 2 on a
usage error or when a tool failed (onnxruntime, or onnxcc on the whole model; a probe
that onnxcc cannot compile counts as a difference, and its message is printed).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnx.inliner
import onnxruntime as ort
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ONNXCC = os.path.join(os.path.dirname(HERE), "build", "onnxcc")
NP_TYPES = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64,
            onnx.TensorProto.INT64: np.int64, onnx.TensorProto.INT32: np.int32,
            onnx.TensorProto.BOOL: np.bool_, onnx.TensorProto.FLOAT16: np.float16,
            onnx.TensorProto.UINT8: np.uint8, onnx.TensorProto.INT8: np.int8}


class ToolError(Exception):
    pass


def inline_functions(model):
    """The model with every call of a local function replaced by its nodes, named as
    onnxcc's frontend names them (compiler/frontend/functions.c): a body's values and
    nodes get the prefix "CALL#K/" (CALL the calling node's name, else the function's;
    K counts the calls), formal inputs and outputs take the call's names, attribute
    references take the call's value or the function's default.  Bodies with subgraphs
    are left to onnx.inliner (its own names)."""
    funcs = {(f.domain, f.name, f.overload): f for f in model.functions}
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
           for f in model.functions for n in f.node for a in n.attribute):
        return onnx.inliner.inline_local_functions(model)
    calls = [0]

    def expand(node, depth):
        f = funcs.get((node.domain, node.op_type, node.overload))
        if f is None:
            return [node]
        if depth >= 16:
            raise ToolError(f"function '{f.name}' is called more than 16 deep")
        calls[0] += 1
        prefix = f"{node.name or f.name}#{calls[0]}/"
        names = {formal: (node.input[i] if i < len(node.input) else "")
                 for i, formal in enumerate(f.input)}
        names.update({formal: node.output[i] for i, formal in enumerate(f.output)
                      if i < len(node.output) and node.output[i]})
        given = {a.name: a for a in node.attribute}
        defaults = {a.name: a for a in f.attribute_proto}

        def rename(v):
            return "" if not v else names.get(v, prefix + v)
        out = []
        for b in f.node:
            n = onnx.NodeProto()
            n.CopyFrom(b)
            n.name = prefix + b.name
            n.input[:] = [rename(v) for v in b.input]
            n.output[:] = [rename(v) for v in b.output]
            del n.attribute[:]
            for a in b.attribute:
                if not a.ref_attr_name:
                    n.attribute.append(a)
                    continue
                src = given.get(a.ref_attr_name) or defaults.get(a.ref_attr_name)
                if src is not None:
                    c = onnx.AttributeProto()
                    c.CopyFrom(src)
                    c.name = a.name
                    n.attribute.append(c)
            out += expand(n, depth + 1)
        return out

    m = onnx.ModelProto()
    m.CopyFrom(model)
    nodes = [x for n in model.graph.node for x in expand(n, 0)]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    imports = {o.domain: o.version for o in m.opset_import}
    for f in model.functions:
        for o in f.opset_import:
            if o.domain not in imports:
                m.opset_import.append(o)
                imports[o.domain] = o.version
    del m.functions[:]
    return m


def random_inputs(model, rng):
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        if tt.elem_type not in NP_TYPES:
            raise ToolError(f"input '{vi.name}': element type {tt.elem_type} needs a .pb file")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if any(d is None for d in dims):
            raise ToolError(f"input '{vi.name}' has a symbolic dimension: give it with -i")
        t = NP_TYPES[tt.elem_type]
        if np.issubdtype(t, np.floating):
            feeds[vi.name] = rng.standard_normal(dims).astype(t)
        elif t == np.bool_:
            feeds[vi.name] = rng.integers(0, 2, dims).astype(t)
        else:   # small non-negative integers: token ids, indices
            feeds[vi.name] = rng.integers(0, 8, dims).astype(t)
    return feeds


def cut(model, value):
    """The model with `value` as its only output (onnxcc drops what it does not need)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.output[:]
    m.graph.output.append(onnx.ValueInfoProto(name=value))
    return m


class Prober:
    def __init__(self, model, feeds, args, work):
        self.model, self.feeds, self.args, self.work = model, feeds, args, work
        self.inputs = []
        for k, (name, x) in enumerate(feeds.items()):
            path = os.path.join(work, f"input_{k}.pb")
            with open(path, "wb") as f:
                f.write(numpy_helper.from_array(x, name).SerializeToString())
            self.inputs.append(path)
        self.probes = 0

    def ort_values(self, m):
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(m.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])
        return sess.run(None, self.feeds)

    def onnxcc_values(self, m, n_out):
        self.probes += 1
        d = os.path.join(self.work, f"probe{self.probes}")
        os.makedirs(d)
        path = os.path.join(d, "model.onnx")
        onnx.save(m, path, save_as_external_data=m.ByteSize() > (1 << 30))
        cmd = [self.args.onnxcc, "run", path, "-o", os.path.join(d, "out")]
        for p in self.inputs:
            cmd += ["-i", p]
        r = subprocess.run(cmd + self.args.onnxcc_args, capture_output=True, text=True)
        if r.returncode != 0:
            lines = (r.stdout + r.stderr).strip().splitlines()
            return None, lines[-1] if lines else f"exit {r.returncode}"
        outs = [numpy_helper.to_array(onnx.load_tensor(os.path.join(d, "out", f"output_{k}.pb")))
                for k in range(n_out)]
        shutil.rmtree(d, ignore_errors=True)
        return outs, None

    def compare(self, m):
        """(agrees, text) for every output of m; self.bad names the first that differs,
        self.failed is set when onnxcc could not compile or run m."""
        try:
            want = self.ort_values(m)
        except Exception as e:  # noqa: BLE001 - onnxruntime's own errors, reported
            raise ToolError(f"onnxruntime failed: {str(e).splitlines()[0]}") from e
        got, err = self.onnxcc_values(m, len(want))
        self.bad = m.graph.output[0].name
        self.failed = got is None
        if got is None:
            return False, f"onnxcc failed: {err}"
        worst = ""
        for meta, g, w in zip(m.graph.output, got, want):
            g = np.asarray(g, np.float64)
            w = np.asarray(w, np.float64)
            self.bad = meta.name
            if g.shape != w.shape:
                return False, f"'{meta.name}': shape {g.shape}, onnxruntime {w.shape}"
            if g.size == 0:
                continue
            diff = np.abs(g - w)
            bad = ~(diff <= self.args.atol + self.args.rtol * np.abs(w))
            bad |= np.isnan(g) != np.isnan(w)
            bad &= ~(np.isnan(g) & np.isnan(w))
            if bad.any():
                k = int(np.argmax(bad.ravel()))
                return False, (f"'{meta.name}': {int(bad.sum())} of {g.size} elements differ,"
                               f" max |diff| {np.nanmax(diff):.3g}; element {k} is"
                               f" {g.ravel()[k]:.9g}, onnxruntime {w.ravel()[k]:.9g}")
            worst = f"max |diff| {np.nanmax(diff):.3g}"
        return True, worst

    def value_agrees(self, value):
        return self.compare(cut(self.model, value))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("-i", dest="inputs", action="append", default=[], metavar="INPUT.pb",
                    help="an input tensor file, in the order of the graph's inputs")
    ap.add_argument("--onnxcc", default=DEFAULT_ONNXCC, help="default: build/onnxcc")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0, help="for random inputs")
    ap.add_argument("onnxcc_args", nargs="*", help="after --: extra `onnxcc run` arguments")
    args = ap.parse_args()
    if not os.access(args.onnxcc, os.X_OK):
        print(f"compare_ort: {args.onnxcc} is not an executable (--onnxcc)", file=sys.stderr)
        return 2
    args.onnxcc = os.path.abspath(args.onnxcc)

    model = onnx.load(args.model)
    try:
        if model.functions:
            model = inline_functions(model)
        if args.inputs:
            feeds = {}
            for path in args.inputs:
                t = onnx.load_tensor(path)
                feeds[t.name] = numpy_helper.to_array(t)
            inits = {t.name for t in model.graph.initializer}
            names = [vi.name for vi in model.graph.input if vi.name not in inits]
            if len(feeds) != len(names):
                raise ToolError(f"the model has {len(names)} inputs, {len(feeds)} given")
            feeds = {n: x for n, x in zip(names, feeds.values())}
        else:
            feeds = random_inputs(model, np.random.default_rng(args.seed))
    except ToolError as e:
        print(f"compare_ort: {e}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="compare_ort.") as work:
        try:
            return bisect(Prober(model, feeds, args, work), model, args)
        except ToolError as e:
            print(f"compare_ort: {e}", file=sys.stderr)
            return 2


def bisect(p, model, args):
    """Compares the whole model, then finds the first node that differs (see the top)."""
    ok, text = p.compare(model)
    if p.failed:   # nothing to compare: not a difference
        print(f"compare_ort: the whole model: {text}", file=sys.stderr)
        return 2
    if ok:
        print(f"outputs agree with onnxruntime within rtol {args.rtol}, atol {args.atol}"
              f" ({text})")
        return 0
    print(f"outputs differ: {text}")
    # Bisect over the nodes' first outputs: lo agrees (or is before the first node),
    # hi differs.  Probing a node's output compiles everything before it.
    # The search runs up to the node that makes the first output that differs.
    nodes = [n for n in model.graph.node if n.output and n.output[0]]
    makers = [i for i, n in enumerate(nodes) if p.bad in n.output]
    if not makers:
        print(f"'{p.bad}' is not made by a node (a graph input or a constant)")
        return 1
    lo, hi = -1, makers[0]
    hi_text = text
    while hi - lo > 1:
        mid = (lo + hi) // 2
        ok, t = p.value_agrees(nodes[mid].output[0])
        print(f"  probe {p.probes}: node {mid} '{nodes[mid].name}' ({nodes[mid].op_type}):"
              f" {'agrees' if ok else 'differs'}")
        if ok:
            lo = mid
        else:
            hi, hi_text = mid, t
    n = nodes[hi]
    produced = {o for m in model.graph.node for o in m.output}
    bad_inputs = []
    for v in n.input:
        if v and v in produced:
            ok, t = p.value_agrees(v)
            if not ok:
                bad_inputs.append(f"'{v}' ({t})")
    print(f"first node that differs: '{n.name}' ({n.op_type}), node {hi} of {len(nodes)}:"
          f" {hi_text}")
    if bad_inputs:
        print("  but its inputs differ too (the bisection assumes that a difference, once"
              " made, reaches the later nodes): " + "; ".join(bad_inputs))
    else:
        print("  its inputs agree with onnxruntime: the difference is made in this node")
    print(f"  ({p.probes} onnxcc runs)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
