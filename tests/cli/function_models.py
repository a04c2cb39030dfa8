#!/usr/bin/env python3
"""Writes the models of tests/cli/run.sh's checks of model-local functions into OUT_DIR:

  fn_nested/     a test case (references from onnxruntime): two calls of a function
                 LinAct(x, w) = LeakyRelu(Twice(MatMul(x, w)), alpha=@alpha), Twice being
                 another function; the second call leaves alpha to the function's default
  fn_if/         a test case: a function whose If branches read the function's input and a
                 value it computed (the renaming of names inside subgraphs)
  fn_recursive.onnx      a function that calls itself
  fn_opset.onnx          a function importing another opset of the default domain
  fn_arity.onnx          a call with more inputs than the function has

    .venv/bin/python tests/cli/function_models.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

OPSET = [h.make_opsetid("", 17), h.make_opsetid("local", 1)]


def write_case(out, name, model, inputs):
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    onnx.checker.check_model(model)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ys = sess.run(None, inputs)
    for k, (n, x) in enumerate(inputs.items()):
        with open(os.path.join(d, "test_data_set_0", f"input_{k}.pb"), "wb") as f:
            f.write(nh.from_array(x, n).SerializeToString())
    for k, (meta, y) in enumerate(zip(sess.get_outputs(), ys)):
        with open(os.path.join(d, "test_data_set_0", f"output_{k}.pb"), "wb") as f:
            f.write(nh.from_array(y, meta.name).SerializeToString())


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(7)

    twice = h.make_function("local", "Twice", ["a"], ["b"],
                            [h.make_node("Add", ["a", "a"], ["b"], name="dbl")], OPSET[:1])
    leaky = h.make_node("LeakyRelu", ["t"], ["y"], name="act")
    leaky.attribute.append(h.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT))
    lin_act = h.make_function(
        "local", "LinAct", ["x", "w"], ["y"],
        [h.make_node("MatMul", ["x", "w"], ["mm"], name="mm"),
         h.make_node("Twice", ["mm"], ["t"], name="twice", domain="local"), leaky],
        OPSET, attributes=[])
    lin_act.attribute_proto.append(h.make_attribute("alpha", 0.25))   # the default
    w1 = nh.from_array(rng.standard_normal((8, 8)).astype(np.float32), "w1")
    w2 = nh.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w2")
    nodes = [h.make_node("LinAct", ["x", "w1"], ["hid"], name="layer1", domain="local",
                         alpha=0.1),
             h.make_node("LinAct", ["hid", "w2"], ["y"], name="layer2", domain="local")]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [2, 8])],
                     [h.make_tensor_value_info("y", T.FLOAT, [2, 4])], [w1, w2])
    x = rng.standard_normal((2, 8)).astype(np.float32)
    write_case(out, "fn_nested",
               h.make_model(g, opset_imports=OPSET, functions=[lin_act, twice]), {"x": x})

    # Gate(x) = If(sum(x) > 0, Relu(x) * s, -s) with s = x * 3 computed in the function.
    then_g = h.make_graph([h.make_node("Relu", ["x"], ["r"]),
                           h.make_node("Mul", ["r", "s"], ["o"])], "then", [],
                          [h.make_tensor_value_info("o", T.FLOAT, None)])
    else_g = h.make_graph([h.make_node("Neg", ["s"], ["o"])], "else", [],
                          [h.make_tensor_value_info("o", T.FLOAT, None)])
    three = h.make_node("Constant", [], ["three"], value=h.make_tensor("c", T.FLOAT, [], [3.0]))
    gate = h.make_function(
        "local", "Gate", ["x"], ["y"],
        [three, h.make_node("Mul", ["x", "three"], ["s"]),
         h.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
         h.make_node("Constant", [], ["zero"], value=h.make_tensor("z", T.FLOAT, [], [0.0])),
         h.make_node("Greater", ["total", "zero"], ["cond"]),
         h.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)],
        OPSET[:1])
    g = h.make_graph([h.make_node("Gate", ["x"], ["y"], name="gate", domain="local")], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, [3, 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, [3, 4])])
    x = (rng.standard_normal((3, 4)) + 0.5).astype(np.float32)
    write_case(out, "fn_if", h.make_model(g, opset_imports=OPSET, functions=[gate]), {"x": x})

    def one_call_model(fn, n_inputs=1):
        ins = [f"x{i}" for i in range(n_inputs)]
        g = h.make_graph([h.make_node(fn.name, ins, ["y"], name="call", domain="local")], "g",
                         [h.make_tensor_value_info(n, T.FLOAT, [2]) for n in ins],
                         [h.make_tensor_value_info("y", T.FLOAT, [2])])
        return h.make_model(g, opset_imports=OPSET, functions=[fn])

    loop = h.make_function("local", "Loop1", ["a"], ["b"],
                           [h.make_node("Loop1", ["a"], ["b"], domain="local")], OPSET)
    onnx.save(one_call_model(loop), os.path.join(out, "fn_recursive.onnx"))
    old = h.make_function("local", "Old", ["a"], ["b"], [h.make_node("Relu", ["a"], ["b"])],
                          [h.make_opsetid("", 13)])
    onnx.save(one_call_model(old), os.path.join(out, "fn_opset.onnx"))
    relu = h.make_function("local", "OneIn", ["a"], ["b"], [h.make_node("Relu", ["a"], ["b"])],
                           OPSET[:1])
    onnx.save(one_call_model(relu, 2), os.path.join(out, "fn_arity.onnx"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
