#!/usr/bin/env python3
"""Exports models of the zoo with PyTorch's new exporter (`torch.onnx.export(...,
dynamo=True)`) into tests/models/committed/ (committed: CI's torch 1.13 lacks it).

    python tests/models/export_dynamo.py [OUT_DIR]

Needs torch 2.x with onnxscript, which PyPI serves with several GiB of CUDA packages, so
CI does not install it.  It was run once in a separate environment:

    /usr/bin/python3 -m venv /tmp/venv-dyn
    /tmp/venv-dyn/bin/pip install torch==2.9.1 onnxscript onnxruntime
    /tmp/venv-dyn/bin/pip install --no-deps torchvision==0.24.1
    /tmp/venv-dyn/bin/python tests/models/export_dynamo.py

(torch 2.9.1, torchvision 0.24.1, onnxscript 0.7.2, onnx 1.23.2).  The models are those of
export_models.py (same classes, fixed seeds, random weights), widths reduced where the
file would be large.  The exporter writes opset 18 and later ops (LayerNormalization,
Gelu, CastLike...); torch 2.9 inlines the torchlib functions it once kept as model-local
functions, which onnxcc's frontend inlines when a model has them.  export_models.py
gives each file an input and onnxruntime's output.
"""
import os
import sys
import warnings

import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_models as em  # noqa: E402  (the model classes and input makers)

HERE = os.path.dirname(os.path.abspath(__file__))


def mobilenet_v3_small():
    import torchvision

    return em.reset_linears(torchvision.models.mobilenet_v3_small(
        weights=None, width_mult=0.5, num_classes=10))


# name -> (builder, input specs as in export_models.CASES)
MODELS = {
    "dynamo_mobilenet_v3_small": (mobilenet_v3_small, [(1, 3, 224, 224)]),
    "dynamo_cnn": (lambda: em.Cnn("relu", True), [(2, 3, 32, 32)]),
    "dynamo_bert_tiny": (em.Bert, [em.Ids(em.TOKENS, 1000), em.Mask(em.TOKENS)]),
    "dynamo_gpt_tiny": (em.Gpt, [em.Ids(em.TOKENS, 1000)]),
    "dynamo_lstm_bi": (lambda: em.Recurrent("LSTM"), [(2, 20, 32)]),
    "dynamo_unet_small": (em.UNet, [(1, 3, 32, 32)]),
}


def export(name, out_dir):
    build, specs = MODELS[name]
    seed = em.SEED + sum(map(ord, name))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build()
    em.calibrate_bn(model, specs[0], gen)
    model.eval()
    xs = tuple(em.make_input(spec, gen) for spec in specs)
    names = ["input"] if len(xs) == 1 else [f"input_{i}" for i in range(len(xs))]
    with torch.no_grad():
        program = torch.onnx.export(model, xs, dynamo=True, input_names=names,
                                    output_names=["output"])
    proto = program.model_proto
    proto.doc_string = (f"{name}: exported by tests/models/export_dynamo.py (torch "
                        f"{torch.__version__}, dynamo=True)")
    onnx.checker.check_model(proto)
    path = os.path.join(out_dir, name + ".onnx")
    onnx.save(proto, path)
    print(f"exported {name}: {len(proto.graph.node)} nodes, {len(proto.functions)} "
          f"functions, {os.path.getsize(path)} bytes")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "committed")
    os.makedirs(out_dir, exist_ok=True)
    warnings.filterwarnings("ignore")
    for name in MODELS:
        export(name, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
