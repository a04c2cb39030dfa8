"""ort_layers.py: onnxruntime's rate on resnet18's dense 3x3 layers, one at a time.

Each layer is a model of one Conv (bias, pads k // 2) and a Relu, run by onnxruntime with
one thread and graph optimisations on (its NCHWc kernels); the figure is the median of 7
rounds of 50 runs, in CPU time, as GFLOP/s (2 * M * C * k * k per output pixel).  The
onnxcc side of the same layers is bench/kernels/r18_layers.c (or conv_layers.c "r18
3x3"); run both in one session, with bench/kernels/peak.c before and after.  A
benchmark, not a test.

    .venv/bin/python bench/kernels/ort_layers.py
"""
import time

import numpy as np
import onnx
import onnx.helper as h
import onnxruntime as ort

# (in channels, out channels, input side, kernel, stride)
LAYERS = [(64, 64, 56, 3, 1), (64, 128, 56, 3, 2), (128, 128, 28, 3, 1), (128, 256, 28, 3, 2),
          (256, 256, 14, 3, 1), (256, 512, 14, 3, 2), (512, 512, 7, 3, 1)]


def layer(c, m, hw, k, s, rng):
    p = k // 2
    w = rng.random((m, c, k, k), dtype=np.float32) - 0.5
    b = rng.random(m, dtype=np.float32)
    g = h.make_graph(
        [h.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[k, k], strides=[s, s],
                     pads=[p] * 4),
         h.make_node("Relu", ["c"], ["y"])], "layer",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, c, hw, hw])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(b, "b")])
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    x = rng.random((1, c, hw, hw), dtype=np.float32)
    for _ in range(20):
        sess.run(None, {"x": x})
    times = []
    for _ in range(7):
        t0, n = time.process_time(), 50
        for _ in range(n):
            sess.run(None, {"x": x})
        times.append((time.process_time() - t0) / n)
    t = sorted(times)[3]
    side = (hw + 2 * p - k) // s + 1
    flops = 2 * m * c * k * k * side * side
    print(f"ORT {c}->{m} {k}x{k}/{s} @{hw}: {t * 1e6:.0f} us, {flops / t / 1e9:.1f} GFLOP/s")


def main():
    rng = np.random.default_rng(0)
    for spec in LAYERS:
        layer(*spec, rng)


if __name__ == "__main__":
    main()
