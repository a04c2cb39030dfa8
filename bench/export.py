#!/usr/bin/env python3
"""Exports the benchmark's model set to ONNX, one folder per model:

    OUT_DIR/<name>/model.onnx     the model (batch 1, fixed shapes)
    OUT_DIR/<name>/input_0.bin    its input, raw little-endian float32, row-major
    OUT_DIR/<name>/input_0.npy    the same input for numpy

    .venv/bin/python bench/export.py OUT_DIR [--only NAME ...]

Weights are random (weights=None, fixed seeds). BatchNorm running statistics are
calibrated on random batches and its affine parameters randomised, so that the folded
weights are not the trivial identity and the activations keep a sane scale; torch's eval
export then folds BatchNorm into the convolutions, as a user's export would.
"""
import argparse
import os
import sys
import warnings

import numpy as np
import torch
from torch import nn

SEED = 2026


class Mlp5(nn.Module):
    """Five Linear layers with the four fusable activations between them."""

    def __init__(self):
        super().__init__()
        dims = [256, 512, 512, 512, 256, 10]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        prelu = nn.PReLU(num_parameters=dims[4])  # per channel
        with torch.no_grad():  # not the constant 0.25 of the default init
            prelu.weight.uniform_(0.05, 0.5)
        self.acts = nn.ModuleList([nn.ReLU(), nn.LeakyReLU(0.1), nn.ELU(0.7), prelu])

    def forward(self, x):
        for fc, act in zip(self.fcs, self.acts):
            x = act(fc(x))
        return self.fcs[-1](x)


def transformer():
    layer = nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=512,
                                       dropout=0.1, batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)


def torchvision_model(name):
    import torchvision  # slow to import: only when needed

    return getattr(torchvision.models, name)(weights=None)


# name -> (builder, input shape, opset)
# mobilenet_v3_small needs opset 14 for HardSwish as one op (13 would decompose it).
MODELS = {
    "mlp5": (Mlp5, (1, 256), 13),
    "transformer2": (transformer, (1, 32, 128), 13),
    "squeezenet1_1": (lambda: torchvision_model("squeezenet1_1"), (1, 3, 224, 224), 13),
    "shufflenet_v2_x1_0": (lambda: torchvision_model("shufflenet_v2_x1_0"),
                           (1, 3, 224, 224), 13),
    "mobilenet_v3_small": (lambda: torchvision_model("mobilenet_v3_small"),
                           (1, 3, 224, 224), 14),
    "mobilenet_v2": (lambda: torchvision_model("mobilenet_v2"), (1, 3, 224, 224), 13),
    "efficientnet_b0": (lambda: torchvision_model("efficientnet_b0"), (1, 3, 224, 224), 13),
    "resnet18": (lambda: torchvision_model("resnet18"), (1, 3, 224, 224), 13),
    "resnet50": (lambda: torchvision_model("resnet50"), (1, 3, 224, 224), 13),
}


def calibrate_bn(model, shape, gen):
    """Random BatchNorm affine parameters, then running statistics measured on random
    batches with those parameters in place (in that order: statistics measured before
    the affine change would let the activations' scale drift layer after layer, up to
    thousands in efficientnet_b0, where an absolute tolerance means nothing)."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5, generator=gen)
            bn.bias.uniform_(-0.2, 0.2, generator=gen)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
        model.train()
        for _ in range(3):
            model(torch.randn((2,) + tuple(shape[1:]), generator=gen))


def export(name, out_dir):
    build, shape, opset = MODELS[name]
    seed = SEED + sum(map(ord, name))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build()
    calibrate_bn(model, shape, gen)
    model.eval()
    x = torch.randn(shape, generator=gen)

    model_dir = os.path.join(out_dir, name)
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, "model.onnx")
    # Parameters keep requires_grad, so the transformer's fused inference fast path
    # (which has no ONNX form) is not taken while tracing.
    torch.onnx.export(model, (x,), path, opset_version=opset, input_names=["input"],
                      output_names=["output"], training=torch.onnx.TrainingMode.EVAL,
                      do_constant_folding=True)
    x_np = np.ascontiguousarray(x.detach().numpy().astype("<f4"))
    x_np.tofile(os.path.join(model_dir, "input_0.bin"))
    np.save(os.path.join(model_dir, "input_0.npy"), x_np)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=list(MODELS))
    args = ap.parse_args()
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")  # the exporter's advice is noise here
    failed = 0
    for name in args.only or list(MODELS):
        try:
            export(name, args.out_dir)
            print(f"export: {name}", flush=True)
        except Exception as e:  # one model's failure must not hide the others
            print(f"export: {name}: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
