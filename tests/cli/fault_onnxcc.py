#!/usr/bin/env python3
"""A stand-in for onnxcc that gets one node wrong, to test tests/compare_ort.py.

    fault_onnxcc.py REAL_ONNXCC NODE_NAME run MODEL -o DIR ...

Runs REAL_ONNXCC with the arguments after NODE_NAME, then, if the model's output depends
on the node named NODE_NAME (or is its output), adds 1 to every element of each output
file it wrote: as if onnxcc computed that node wrongly and the error flowed on."""
import os
import subprocess
import sys

import onnx
from onnx import numpy_helper


def depends_on(model, value, node_name):
    makers = {o: n for n in model.graph.node for o in n.output}
    todo, seen = [value], set()
    while todo:
        v = todo.pop()
        n = makers.get(v)
        if n is None or id(n) in seen:
            continue
        if n.name == node_name:
            return True
        seen.add(id(n))
        todo.extend(n.input)
    return False


def main():
    real, node, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    rc = subprocess.run([real] + args).returncode
    if rc != 0 or args[0] != "run":
        return rc
    model = onnx.load(args[1])
    out = args[args.index("-o") + 1]
    for k, o in enumerate(model.graph.output):
        if depends_on(model, o.name, node):
            path = os.path.join(out, f"output_{k}.pb")
            t = onnx.load_tensor(path)
            y = numpy_helper.to_array(t) + 1
            with open(path, "wb") as f:
                f.write(numpy_helper.from_array(y.astype(y.dtype), t.name).SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
