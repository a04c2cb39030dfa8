#!/usr/bin/env python3
"""Exports the whole-model test cases: small MLPs and CNNs (one per fusable activation),
torchvision's resnet18 and mobilenet_v2, a CNN at an older opset, and small models of
the families real exports bring: a bidirectional LSTM and GRU, a BERT-style encoder, a
GPT-style causal layer and a U-Net with ConvTranspose and Resize.

    .venv/bin/python tests/models/export_models.py OUT_DIR [--only NAME ...]

Each case is written in the ONNX test-case layout that `onnxcc test` reads:
OUT_DIR/<name>/{model.onnx, test_data_set_0/input_0.pb, test_data_set_0/output_0.pb,
tolerance.txt}.  Weights are random (fixed seeds), BatchNorm statistics are calibrated on
random data and its affine parameters randomised so that BN is not the identity.  The
expected outputs come from onnxruntime (CPU, no graph optimisation), not from torch, so
that they are what the model file means, whatever torch's exporter did.
"""
import argparse
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from torch import nn

TOLERANCE = "0.0001 1e-05\n"  # rtol atol
SEED = 1234


def make_act(kind, channels):
    """The activation module for `kind`; PRelu gets one slope per channel when
    `channels` > 1 (the first PRelu of each model is given channels=1)."""
    if kind == "relu":
        return nn.ReLU()
    if kind == "leakyrelu":
        return nn.LeakyReLU(0.1)
    if kind == "elu":
        return nn.ELU(0.7)
    if kind == "prelu":
        act = nn.PReLU(num_parameters=channels)
        with torch.no_grad():  # not the constant 0.25 of the default init
            act.weight.uniform_(0.05, 0.5)
        return act
    raise ValueError(kind)


class Mlp(nn.Module):
    """64 -> 128 -> 128 -> 10 with the activation between the Linear layers."""

    def __init__(self, act):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.act1 = make_act(act, 1)
        self.fc2 = nn.Linear(128, 128)
        self.act2 = make_act(act, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc3(self.act2(self.fc2(self.act1(self.fc1(x)))))


class Cnn(nn.Module):
    """3x32x32: Conv+BN+act, MaxPool, Conv+BN+act, then AvgPool or not, Flatten, Linear."""

    def __init__(self, act, avgpool):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.act1 = make_act(act, 1)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.act2 = make_act(act, 32)
        self.pool2 = nn.AvgPool2d(2) if avgpool else nn.Identity()
        side = 8 if avgpool else 16
        self.fc = nn.Linear(32 * side * side, 10)

    def forward(self, x):
        x = self.pool1(self.act1(self.bn1(self.conv1(x))))
        x = self.pool2(self.act2(self.bn2(self.conv2(x))))
        return self.fc(torch.flatten(x, 1))


class Recurrent(nn.Module):
    """A 2-layer bidirectional LSTM or GRU over [batch][time][32], then a Linear on the
    last step: the RNN ops with both directions, initial states omitted."""

    def __init__(self, kind):
        super().__init__()
        self.rnn = getattr(nn, kind)(32, 48, num_layers=2, batch_first=True,
                                     bidirectional=True)
        self.fc = nn.Linear(96, 10)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


class Encoder(nn.Module):
    """A BERT-style encoder: 2 layers of self-attention (4 heads) and a GELU feed-forward
    with LayerNorm, over [batch][tokens][64]; with `causal`, one GPT-style layer whose
    attention is masked to earlier tokens."""

    def __init__(self, causal):
        super().__init__()
        layer = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, activation="gelu",
                                           batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 1 if causal else 2)
        self.causal = causal

    def forward(self, x):
        # With gradients off, torch 1.13 takes its fused "fast path", which has no ONNX
        # export; with them on it runs (and exports) the layer op by op.
        with torch.enable_grad():
            if not self.causal:
                return self.enc(x)
            n = x.shape[1]
            mask = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
            return self.enc(x, mask=mask)


class UNet(nn.Module):
    """A small U-Net: two encoder convolutions (the second strided), a ConvTranspose
    back up, the skip connection concatenated, a convolution and a bilinear Resize."""

    def __init__(self):
        super().__init__()
        self.e1 = nn.Conv2d(3, 16, 3, padding=1)
        self.e2 = nn.Conv2d(16, 32, 3, padding=1, stride=2)
        self.up = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.dec = nn.Conv2d(32, 8, 3, padding=1)
        self.resize = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x):
        a = torch.relu(self.e1(x))
        b = torch.relu(self.e2(a))
        return self.resize(self.dec(torch.cat([a, self.up(b)], 1)))


def torchvision_model(name):
    import torchvision  # only imported when needed: it is slow to load

    ctor = getattr(torchvision.models, name)
    try:
        return ctor(weights=None)
    except TypeError:  # torchvision older than 0.13
        return ctor(pretrained=False)


def calibrate_bn(model, shape, gen):
    """Gives every BatchNorm realistic running statistics (from random batches) and
    random affine parameters, so that BN is neither the identity nor explosive."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return
    # The affine parameters are set first and the statistics measured after, so that each
    # BN really normalises what reaches it and activations do not grow layer by layer.
    model.train()
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5, generator=gen)
            bn.bias.uniform_(-0.2, 0.2, generator=gen)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
        for _ in range(2):
            model(torch.randn((4,) + tuple(shape[1:]), generator=gen))
    model.eval()


# name -> (builder, input shape, opset, keep BatchNormalization nodes in the graph)
CASES = {
    "mlp_relu": (lambda: Mlp("relu"), (2, 64), 13, False),
    "mlp_leakyrelu": (lambda: Mlp("leakyrelu"), (2, 64), 13, False),
    "mlp_elu": (lambda: Mlp("elu"), (2, 64), 13, False),
    "mlp_prelu": (lambda: Mlp("prelu"), (2, 64), 13, False),
    "cnn_relu": (lambda: Cnn("relu", True), (2, 3, 32, 32), 13, True),
    "cnn_leakyrelu": (lambda: Cnn("leakyrelu", False), (2, 3, 32, 32), 13, True),
    "cnn_elu": (lambda: Cnn("elu", True), (2, 3, 32, 32), 13, True),
    "cnn_prelu": (lambda: Cnn("prelu", False), (2, 3, 32, 32), 13, True),
    "cnn_relu_opset11": (lambda: Cnn("relu", True), (1, 3, 32, 32), 11, True),
    # A 3-D input makes torch export Linear as MatMul + Add instead of Gemm.
    "mlp3d_relu": (lambda: Mlp("relu"), (2, 3, 64), 13, False),
    "mlp_leakyrelu_opset9": (lambda: Mlp("leakyrelu"), (1, 64), 9, False),
    # torch folds BN into the convolutions of these two (its default eval export).
    "resnet18": (lambda: torchvision_model("resnet18"), (1, 3, 224, 224), 13, False),
    "mobilenet_v2": (lambda: torchvision_model("mobilenet_v2"), (1, 3, 224, 224), 13, False),
    # issue 5's families, small: recurrent layers, attention, ConvTranspose + Resize
    "lstm_bi": (lambda: Recurrent("LSTM"), (2, 20, 32), 14, False),
    "gru_bi": (lambda: Recurrent("GRU"), (2, 20, 32), 14, False),
    "encoder_gelu": (lambda: Encoder(False), (1, 16, 64), 14, False),
    "decoder_causal": (lambda: Encoder(True), (1, 16, 64), 14, False),
    "unet_small": (UNet, (1, 3, 32, 32), 13, False),
}


def write_tensor(path, array, name):
    tensor = numpy_helper.from_array(array, name)
    with open(path, "wb") as f:
        f.write(tensor.SerializeToString())


def export_case(name, out_dir):
    build, shape, opset, keep_bn = CASES[name]
    seed = SEED + sum(map(ord, name))  # a different, fixed seed per case
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build()
    calibrate_bn(model, shape, gen)
    model.eval()

    case_dir = os.path.join(out_dir, name)
    data_dir = os.path.join(case_dir, "test_data_set_0")
    os.makedirs(data_dir, exist_ok=True)
    model_path = os.path.join(case_dir, "model.onnx")

    x = torch.randn(shape, generator=gen)
    # PRESERVE with an eval-mode model exports BatchNormalization as it is, in inference
    # mode; EVAL lets torch fold it into the preceding Conv.
    training = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    with torch.no_grad():
        torch.onnx.export(model, (x,), model_path, opset_version=opset,
                          input_names=["input"], output_names=["output"],
                          training=training, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(model_path))

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
    x_np = x.numpy().astype(np.float32)
    in_name = sess.get_inputs()[0].name
    out_name = sess.get_outputs()[0].name
    (y,) = sess.run([out_name], {in_name: x_np})

    write_tensor(os.path.join(data_dir, "input_0.pb"), x_np, in_name)
    write_tensor(os.path.join(data_dir, "output_0.pb"), np.asarray(y, np.float32), out_name)
    with open(os.path.join(case_dir, "tolerance.txt"), "w") as f:
        f.write(TOLERANCE)
    return y.shape


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(CASES),
                    help="export only these cases")
    args = ap.parse_args()
    torch.set_num_threads(2)
    # Our models are in eval mode, where PRESERVE + constant folding is harmless.
    warnings.filterwarnings("ignore", message="It is recommended that constant folding")
    # Keeps the exporter's own use of randomness (if any) and the conv algorithms fixed.
    torch.use_deterministic_algorithms(True)
    for name in args.only or list(CASES):
        out_shape = export_case(name, args.out_dir)
        print(f"exported {name}: output {tuple(out_shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
