#!/usr/bin/env python3
"""Writes the ONNX backend node test cases to disk in the standard test-case layout.

From onnx 1.23 the node cases are no longer files in the package but are built in memory
by onnx.backend.test.loader.load_model_tests(kind="node").  This script writes each as
    OUT/<case>/model.onnx
    OUT/<case>/test_data_set_N/input_K.pb, output_K.pb
    OUT/<case>/tolerance.txt        ("rtol atol", the case's own tolerances)
so that `onnxcc test OUT/<case>` (or any other runtime) can run them.

Usage: write_cases.py OUT [--filter SUBSTRING ...]
"""
import argparse
import os
import sys
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test import loader


def to_proto(name, value, value_type):
    """The protobuf of one input or output: a TensorProto (the loader gives some cases'
    values as TensorProtos already: float8, int4, float16...), a SequenceProto for a
    list, an OptionalProto where the graph declares an optional."""
    if value_type is not None and value_type.HasField("optional_type"):
        elem = value_type.optional_type.elem_type
        kind = (onnx.OptionalProto.SEQUENCE if elem.HasField("sequence_type")
                else onnx.OptionalProto.TENSOR)
        return numpy_helper.from_optional(value, name, kind)
    if isinstance(value, (onnx.TensorProto, onnx.SequenceProto, onnx.OptionalProto)):
        p = type(value)()
        p.CopyFrom(value)
        p.name = name
        return p
    if isinstance(value, list):
        return numpy_helper.from_list(value, name)
    return numpy_helper.from_array(np.asarray(value), name)


def write_value(path, name, value, value_type=None):
    """Writes one input or output; says why on stderr and writes nothing when it cannot
    (run.py then fails the case for want of an expected output)."""
    try:
        proto = to_proto(name, value, value_type)
    except Exception as e:  # numpy_helper raises several kinds on unusual values
        print(f"write_cases: {path}: {type(e).__name__}: {e}", file=sys.stderr)
        return False
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())
    return True


def write_case(case, out_dir):
    d = os.path.join(out_dir, case.name)
    os.makedirs(d, exist_ok=True)
    onnx.save(case.model, os.path.join(d, "model.onnx"))
    with open(os.path.join(d, "tolerance.txt"), "w") as f:
        f.write(f"{case.rtol!r} {case.atol!r}\n")
    graph = case.model.graph
    for i, (inputs, outputs) in enumerate(case.data_sets or []):
        ds = os.path.join(d, f"test_data_set_{i}")
        os.makedirs(ds, exist_ok=True)
        for k, v in enumerate(inputs):
            vi = graph.input[k] if k < len(graph.input) else None
            write_value(os.path.join(ds, f"input_{k}.pb"), vi.name if vi else "", v,
                        vi.type if vi else None)
        for k, v in enumerate(outputs):
            vi = graph.output[k] if k < len(graph.output) else None
            write_value(os.path.join(ds, f"output_{k}.pb"), vi.name if vi else "", v,
                        vi.type if vi else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--filter", action="append", default=[],
                    help="only cases whose name contains one of these substrings")
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = loader.load_model_tests(kind="node")
    n = 0
    for case in cases:
        if args.filter and not any(s in case.name for s in args.filter):
            continue
        write_case(case, args.out)
        n += 1
    print(f"wrote {n} node cases to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
