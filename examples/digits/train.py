#!/usr/bin/env python3
"""Trains the tiny digit classifier of the example and exports it for onnxcc.

    .venv/bin/python examples/digits/train.py [OUT_DIR]     (default: this folder)

Data: scikit-learn's load_digits (1797 8x8 grey images, pixel values 0..16), split into
fixed train and test sets.  Model: Conv 1->8 3x3 + ReLU + MaxPool 2x2, Conv 8->16 3x3 +
ReLU, Flatten, Linear 256->10; a few seconds of training on the CPU with fixed seeds.
Writes:
  model.onnx        opset 13, input "image" float[1][1][8][8], output "logits" float[1][10]
  test_images.bin   the held-out images, N*64 float32 little-endian, scaled to 0..1
  test_labels.bin   their labels, N uint8
and prints the test accuracy that onnxruntime gets with model.onnx (the number the C
program should reproduce).
"""
import os
import sys

import numpy as np
import onnxruntime as ort
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

SEED = 0
EPOCHS = 40


class DigitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8x4x4
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())                   # 16x4x4
        self.classifier = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def load_data():
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)  # 0..16 -> 0..1
    labels = digits.target.astype(np.int64)
    return train_test_split(images, labels, test_size=0.25, random_state=SEED,
                            stratify=labels)


def train(model, x_train, y_train):
    gen = torch.Generator().manual_seed(SEED)
    x = torch.from_numpy(x_train).unsqueeze(1)
    y = torch.from_numpy(y_train)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), 64):
            idx = order[start:start + 64]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    model.eval()


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(SEED)
    torch.set_num_threads(2)

    x_train, x_test, y_train, y_test = load_data()
    model = DigitsNet()
    train(model, x_train, y_train)
    with torch.no_grad():
        pred = model(torch.from_numpy(x_test).unsqueeze(1)).argmax(1).numpy()
    print(f"torch test accuracy: {(pred == y_test).sum()}/{len(y_test)}")

    model_path = os.path.join(out_dir, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), model_path, opset_version=13,
                          input_names=["image"], output_names=["logits"])

    # '<f4' and uint8 make the files the same on every machine.
    x_test.astype("<f4").tofile(os.path.join(out_dir, "test_images.bin"))
    y_test.astype(np.uint8).tofile(os.path.join(out_dir, "test_labels.bin"))

    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    correct = 0
    for img, label in zip(x_test, y_test):
        (logits,) = sess.run(None, {"image": img.reshape(1, 1, 8, 8)})
        correct += int(np.argmax(logits) == label)
    n = len(y_test)
    print(f"onnxruntime test accuracy: {correct}/{n} ({100.0 * correct / n:.1f}%)")
    if correct < 0.95 * n:
        print("error: accuracy below 95%", file=sys.stderr)
        return 1
    print(f"wrote {model_path}, test_images.bin and test_labels.bin ({n} images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
