#!/usr/bin/env python3
"""Exports the TensorFlow/Keras models of the model zoo with tf2onnx, into
tests/models/committed/ (committed: CI does not install TensorFlow).

    python tests/models/export_tf.py [OUT_DIR]

Needs TensorFlow and tf2onnx, which the project's .venv does not hold (Debian's torch
pins numpy 1.x there).  A separate environment does, for example:

    /usr/bin/python3 -m venv /tmp/venv-tf
    /tmp/venv-tf/bin/pip install tensorflow-cpu tf2onnx
    /tmp/venv-tf/bin/python tests/models/export_tf.py

(made with tensorflow-cpu 2.21.0, Keras 3.15.1, tf2onnx 1.17.0, onnx 1.23.2).  Weights are
random (fixed seeds); widths are reduced so that each file stays small.  The models are
NHWC, as Keras builds them: tf2onnx puts Transposes at the edges, which its own optimizer
and onnxcc's passes should cancel or fold.  export_models.py turns each file into a test
case with a random input and onnxruntime's output.
"""
import os
import sys

import numpy as np
import onnx
import tensorflow as tf
import tf2onnx

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17


def keras_cnn():
    """A small Keras CNN on 32x32x3: Conv2D + BatchNorm + ReLU twice, MaxPool, a
    depthwise separable convolution, global average pooling and a Dense softmax head."""
    L = tf.keras.layers
    return tf.keras.Sequential([
        tf.keras.Input((32, 32, 3)),
        L.Conv2D(16, 3, padding="same", use_bias=False), L.BatchNormalization(), L.ReLU(),
        L.Conv2D(32, 3, strides=2, padding="same"), L.BatchNormalization(), L.ReLU(),
        L.MaxPooling2D(2),
        L.SeparableConv2D(48, 3, padding="same", activation="relu"),
        L.GlobalAveragePooling2D(),
        L.Dense(10, activation="softmax"),
    ])


def keras_mobilenet_v2():
    """Keras' MobileNetV2 at width 0.35 with 10 classes, 224x224x3."""
    return tf.keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=0.35,
                                             weights=None, classes=10)


MODELS = {"keras_cnn": keras_cnn, "keras_mobilenet_v2": keras_mobilenet_v2}


def randomise_batchnorm(model, rng):
    """Gives BatchNorm layers non-trivial statistics and affine parameters, so that they
    are not the identity (Keras starts them at mean 0, variance 1, scale 1, offset 0)."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                               rng.uniform(-0.2, 0.2, beta.shape).astype(np.float32),
                               rng.uniform(-0.2, 0.2, mean.shape).astype(np.float32),
                               rng.uniform(0.5, 2.0, var.shape).astype(np.float32)])


def export(name, out_dir):
    tf.keras.utils.set_random_seed(1234 + sum(map(ord, name)))
    model = MODELS[name]()
    randomise_batchnorm(model, np.random.default_rng(7))
    shape = (1,) + tuple(model.inputs[0].shape[1:])
    spec = (tf.TensorSpec(shape, tf.float32, name="input"),)

    @tf.function(input_signature=spec, autograph=False)
    def forward(x):
        return model(x, training=False)

    proto, _ = tf2onnx.convert.from_function(forward, input_signature=spec, opset=OPSET)
    proto.producer_name = "tf2onnx"
    proto.doc_string = (f"{name}: exported by tests/models/export_tf.py (tensorflow "
                        f"{tf.__version__}, tf2onnx {tf2onnx.__version__})")
    onnx.checker.check_model(proto)
    path = os.path.join(out_dir, name + ".onnx")
    onnx.save(proto, path)
    print(f"exported {name}: {len(proto.graph.node)} nodes, {os.path.getsize(path)} bytes")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "committed")
    os.makedirs(out_dir, exist_ok=True)
    for name in MODELS:
        export(name, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
