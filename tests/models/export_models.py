#!/usr/bin/env python3
"""Exports the whole-model test cases: small MLPs and CNNs (one per fusable activation, a
few at older opsets) and the model zoo: torchvision's image models (resnet18/50,
mobilenet_v2/v3, efficientnet_b0, squeezenet, shufflenet, densenet121, googlenet, regnet,
convnext_tiny), a small ViT, BERT- and GPT-style transformers over token ids, a
bidirectional LSTM and GRU, and a U-Net with ConvTranspose and Resize, at opsets from 11
to 17 (the newest torch 1.13's exporter knows); some models at two opsets, since the
exporter writes LayerNorm, GELU and others differently at each.  Models of other
exporters (TensorFlow/Keras through tf2onnx, made by export_tf.py, and PyTorch's dynamo
exporter, made by export_dynamo.py) are committed under committed/ and only get their
inputs and references here.

    .venv/bin/python tests/models/export_models.py OUT_DIR [--only NAME ...]

Each case is written in the ONNX test-case layout that `onnxcc test` reads:
OUT_DIR/<name>/{model.onnx, test_data_set_0/input_K.pb, test_data_set_0/output_0.pb,
tolerance.txt}.  Weights are random (fixed seeds), BatchNorm statistics are calibrated on
random data and its affine parameters randomised so that BN is not the identity.  The
expected outputs come from onnxruntime (CPU, no graph optimisation), not from torch, so
that they are what the model file means, whatever torch's exporter did.
"""
import argparse
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from torch import nn

TOLERANCE = "0.0001 1e-05\n"  # rtol atol
# The deepest image models at atol 1e-4: float32 itself is that far from the exact result
# there (resnet50: torch's float32 output is 3.0e-05 from its float64 output, and
# onnxruntime's 2.7e-05), so a tighter bound would test the order of summation.
LOOSE_TOLERANCE = "0.0001 0.0001\n"
LOOSE = {"resnet50", "googlenet", "densenet121", "regnet_y_400mf"}
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


class GradOn(nn.Module):
    """Runs `inner` with gradients on.  With them off, torch 1.13's attention layers take
    a fused "fast path" that has no ONNX export; with them on they run (and export) op
    by op.  Nothing is trained: the export itself is under no_grad."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *args):
        with torch.enable_grad():
            return self.inner(*args)


class Bert(nn.Module):
    """A BERT-style encoder over token ids: word, position and token-type embeddings,
    LayerNorm, 2 layers of 4-head self-attention with a GELU feed-forward, the padding
    mask taken from the `attention_mask` input, and a tanh pooler on the first token."""

    def __init__(self, vocab=1000, width=64, tokens=16):
        super().__init__()
        self.words = nn.Embedding(vocab, width)
        self.positions = nn.Embedding(tokens, width)
        self.types = nn.Embedding(2, width)
        self.norm = nn.LayerNorm(width)
        layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0,
                                           activation="gelu", batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2)
        self.pool = nn.Linear(width, width)

    def forward(self, ids, attention_mask):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.norm(self.words(ids) + self.positions(pos) + self.types(torch.zeros_like(ids)))
        x = self.enc(x, src_key_padding_mask=attention_mask == 0)
        return torch.tanh(self.pool(x[:, 0]))


class Gpt(nn.Module):
    """A GPT-style decoder: token and position embeddings, 2 pre-LayerNorm blocks of
    causal 4-head self-attention (the mask built in the graph from the sequence length)
    and a GELU MLP, a final LayerNorm and the language-model head."""

    def __init__(self, vocab=1000, width=64, tokens=16):
        super().__init__()
        self.words = nn.Embedding(vocab, width)
        self.positions = nn.Embedding(tokens, width)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(width, 4, 4 * width, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True) for _ in range(2))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)

    def forward(self, ids):
        n = ids.shape[1]
        x = self.words(ids) + self.positions(torch.arange(n).unsqueeze(0))
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
        for block in self.blocks:
            x = block(x, src_mask=mask)
        return self.head(self.norm(x))


def small_vit():
    """A ViT sized for CI: 64x64 images in 8x8 patches, 4 layers of 4 heads, width 128."""
    import torchvision

    return reset_linears(torchvision.models.VisionTransformer(
        image_size=64, patch_size=8, num_layers=4, num_heads=4, hidden_dim=128, mlp_dim=256,
        num_classes=10))


def torchvision_model(name):
    import torchvision  # only imported when needed: it is slow to load

    ctor = getattr(torchvision.models, name)
    # googlenet's own initialisation is slow (scipy's truncnorm) and warns: torch's
    # default one serves as well for random weights.
    extra = {"init_weights": False} if name == "googlenet" else {}
    try:
        model = ctor(weights=None, **extra)
    except TypeError:  # torchvision older than 0.13
        model = ctor(pretrained=False, **extra)
    return reset_linears(model)


def reset_linears(model):
    """Gives every Linear layer torch's default random initialisation.  torchvision starts
    some classifier heads at zero (ViT) or at a small deviation (MobileNetV3), which would
    make outputs all zero or tiny, and a comparison of them nearly meaningless."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()
    return model


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


class Ids(tuple):
    """The shape of an int64 input of token ids below `vocab`."""

    def __new__(cls, shape, vocab):
        self = super().__new__(cls, shape)
        self.vocab = vocab
        return self


class Mask(tuple):
    """The shape [batch][tokens] of an int64 attention mask: 1 for a token, 0 for padding
    (each row after the first has some padding at its end)."""


def tv(name):
    return lambda: torchvision_model(name)


class Committed(str):
    """A model file exported once and committed under tests/models/committed/ (by
    export_tf.py: CI has no TensorFlow), given by its name without .onnx."""


COMMITTED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "committed")


IMAGE = (1, 3, 224, 224)
TOKENS = (2, 16)

# name -> (builder, input shapes, opset, keep BatchNormalization nodes in the graph).
# A float input is given by its shape; Ids and Mask give int64 inputs.
CASES = {
    "mlp_relu": (lambda: Mlp("relu"), [(2, 64)], 13, False),
    "mlp_leakyrelu": (lambda: Mlp("leakyrelu"), [(2, 64)], 13, False),
    "mlp_elu": (lambda: Mlp("elu"), [(2, 64)], 13, False),
    "mlp_prelu": (lambda: Mlp("prelu"), [(2, 64)], 13, False),
    "cnn_relu": (lambda: Cnn("relu", True), [(2, 3, 32, 32)], 13, True),
    "cnn_leakyrelu": (lambda: Cnn("leakyrelu", False), [(2, 3, 32, 32)], 13, True),
    "cnn_elu": (lambda: Cnn("elu", True), [(2, 3, 32, 32)], 13, True),
    "cnn_prelu": (lambda: Cnn("prelu", False), [(2, 3, 32, 32)], 13, True),
    "cnn_relu_opset11": (lambda: Cnn("relu", True), [(1, 3, 32, 32)], 11, True),
    # A 3-D input makes torch export Linear as MatMul + Add instead of Gemm.
    "mlp3d_relu": (lambda: Mlp("relu"), [(2, 3, 64)], 13, False),
    "mlp_leakyrelu_opset9": (lambda: Mlp("leakyrelu"), [(1, 64)], 9, False),
    # The zoo: torchvision's image models (torch folds their BN into the convolutions,
    # its default eval export), spread over the opsets torch's exporter knows.
    "resnet18": (tv("resnet18"), [IMAGE], 13, False),
    "mobilenet_v2": (tv("mobilenet_v2"), [IMAGE], 13, False),
    "squeezenet1_1": (tv("squeezenet1_1"), [IMAGE], 11, False),
    "resnet50": (tv("resnet50"), [IMAGE], 12, False),
    "googlenet": (tv("googlenet"), [IMAGE], 12, False),
    "mobilenet_v3_small": (tv("mobilenet_v3_small"), [IMAGE], 13, False),
    "mobilenet_v3_small_opset17": (tv("mobilenet_v3_small"), [IMAGE], 17, False),
    "efficientnet_b0": (tv("efficientnet_b0"), [IMAGE], 13, False),
    "shufflenet_v2_x1_0": (tv("shufflenet_v2_x1_0"), [IMAGE], 14, False),
    "densenet121": (tv("densenet121"), [IMAGE], 15, False),
    "regnet_y_400mf": (tv("regnet_y_400mf"), [IMAGE], 16, False),
    "convnext_tiny": (tv("convnext_tiny"), [IMAGE], 17, False),
    "convnext_tiny_opset14": (tv("convnext_tiny"), [IMAGE], 14, False),
    "vit_small": (lambda: GradOn(small_vit()), [(2, 3, 64, 64)], 14, False),
    "vit_small_opset17": (lambda: GradOn(small_vit()), [(2, 3, 64, 64)], 17, False),
    # sequence models: recurrent layers, attention with masks, ConvTranspose + Resize
    "lstm_bi": (lambda: Recurrent("LSTM"), [(2, 20, 32)], 14, False),
    "gru_bi": (lambda: Recurrent("GRU"), [(2, 20, 32)], 14, False),
    "lstm_bi_opset11": (lambda: Recurrent("LSTM"), [(2, 20, 32)], 11, False),
    "encoder_gelu": (lambda: Encoder(False), [(1, 16, 64)], 14, False),
    "decoder_causal": (lambda: Encoder(True), [(1, 16, 64)], 14, False),
    "bert_tiny": (lambda: GradOn(Bert()), [Ids(TOKENS, 1000), Mask(TOKENS)], 14, False),
    "bert_tiny_opset17": (lambda: GradOn(Bert()), [Ids(TOKENS, 1000), Mask(TOKENS)], 17,
                          False),
    "gpt_tiny": (lambda: GradOn(Gpt()), [Ids(TOKENS, 1000)], 14, False),
    "gpt_tiny_opset17": (lambda: GradOn(Gpt()), [Ids(TOKENS, 1000)], 17, False),
    "unet_small": (UNet, [(1, 3, 32, 32)], 13, False),
    "unet_small_opset17": (UNet, [(1, 3, 32, 32)], 17, False),
    # TensorFlow/Keras through tf2onnx (NHWC): exported by export_tf.py, committed.
    "keras_cnn": (Committed("keras_cnn"), [(1, 32, 32, 3)], 17, False),
    "keras_mobilenet_v2": (Committed("keras_mobilenet_v2"), [(1, 224, 224, 3)], 17, False),
    # PyTorch's dynamo exporter (torch 2.9, opset 18): exported by export_dynamo.py.
    "dynamo_mobilenet_v3_small": (Committed("dynamo_mobilenet_v3_small"), [IMAGE], 18, False),
    "dynamo_cnn": (Committed("dynamo_cnn"), [(2, 3, 32, 32)], 18, False),
    "dynamo_bert_tiny": (Committed("dynamo_bert_tiny"), [Ids(TOKENS, 1000), Mask(TOKENS)],
                         18, False),
    "dynamo_gpt_tiny": (Committed("dynamo_gpt_tiny"), [Ids(TOKENS, 1000)], 18, False),
    "dynamo_lstm_bi": (Committed("dynamo_lstm_bi"), [(2, 20, 32)], 18, False),
    "dynamo_unet_small": (Committed("dynamo_unet_small"), [(1, 3, 32, 32)], 18, False),
}


def make_input(spec, gen):
    """A random input for one entry of a case's input list (see CASES)."""
    if isinstance(spec, Ids):
        return torch.randint(0, spec.vocab, tuple(spec), generator=gen)
    if isinstance(spec, Mask):
        mask = torch.ones(tuple(spec), dtype=torch.int64)
        for row in range(1, spec[0]):
            mask[row, spec[1] - 3 * row:] = 0
        return mask
    return torch.randn(tuple(spec), generator=gen)


def write_tensor(path, array, name):
    tensor = numpy_helper.from_array(array, name)
    with open(path, "wb") as f:
        f.write(tensor.SerializeToString())


def export_case(name, out_dir):
    build, specs, opset, keep_bn = CASES[name]
    seed = SEED + sum(map(ord, name))  # a different, fixed seed per case
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)

    case_dir = os.path.join(out_dir, name)
    data_dir = os.path.join(case_dir, "test_data_set_0")
    os.makedirs(data_dir, exist_ok=True)
    model_path = os.path.join(case_dir, "model.onnx")

    if isinstance(build, Committed):
        shutil.copyfile(os.path.join(COMMITTED_DIR, build + ".onnx"), model_path)
        xs = tuple(make_input(spec, gen) for spec in specs)
        names = [v.name for v in onnx.load(model_path).graph.input]
    else:
        model = build()
        calibrate_bn(model, specs[0], gen)
        model.eval()
        xs = tuple(make_input(spec, gen) for spec in specs)
        names = ["input"] if len(xs) == 1 else [f"input_{i}" for i in range(len(xs))]
        # PRESERVE with an eval-mode model exports BatchNormalization as it is, in
        # inference mode; EVAL lets torch fold it into the preceding Conv.
        training = (torch.onnx.TrainingMode.PRESERVE if keep_bn
                    else torch.onnx.TrainingMode.EVAL)
        with torch.no_grad():
            torch.onnx.export(model, xs, model_path, opset_version=opset,
                              input_names=names, output_names=["output"],
                              training=training, do_constant_folding=True)
    proto = onnx.load(model_path)
    onnx.checker.check_model(proto)

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
    # The exporter drops an input the graph does not use: feed those it kept.
    feed = {}
    for i, x in enumerate(xs):
        if any(v.name == names[i] for v in sess.get_inputs()):
            feed[names[i]] = x.numpy()
    (y,) = sess.run([sess.get_outputs()[0].name], feed)

    for i, (in_name, x_np) in enumerate(feed.items()):
        write_tensor(os.path.join(data_dir, f"input_{i}.pb"), x_np, in_name)
    write_tensor(os.path.join(data_dir, "output_0.pb"), np.asarray(y, np.float32),
                 sess.get_outputs()[0].name)
    with open(os.path.join(case_dir, "tolerance.txt"), "w") as f:
        f.write(LOOSE_TOLERANCE if name in LOOSE else TOLERANCE)
    return y.shape, len(proto.graph.node)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(CASES),
                    help="export only these cases")
    args = ap.parse_args()
    torch.set_num_threads(2)
    # Our models are in eval mode, where PRESERVE + constant folding is harmless.
    warnings.filterwarnings("ignore", message="It is recommended that constant folding")
    # Tracing turns Python-side checks on shapes into constants: our shapes are fixed.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    # Keeps the exporter's own use of randomness (if any) and the conv algorithms fixed.
    torch.use_deterministic_algorithms(True)
    for name in args.only or list(CASES):
        out_shape, n_nodes = export_case(name, args.out_dir)
        print(f"exported {name}: {n_nodes} nodes, output {tuple(out_shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
