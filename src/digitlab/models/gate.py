"""The gate: a small network that tells one whole digit from part of a digit or several digits
(no I/O here).

Reading a number over-cuts touching digits and asks, of every stretch between cuts, whether
it is one digit (:mod:`digitlab.inference.number`). The classifier cannot answer that: it
has only ever seen single digits, so it reads two touching digits as one, confidently. The
gate is trained on the stretches such cuts make (:mod:`digitlab.data.pieces`).
"""

from __future__ import annotations

from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class GateNet(nn.Sequential):
    """Three conv-BN-ReLU blocks with max pooling (28 -> 14 -> 7 -> 3), then two dense layers."""

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), dense: int = 64, classes: int = 3):
        a, b, c = widths
        super().__init__(
            _block(1, a),
            nn.MaxPool2d(2),
            _block(a, b),
            nn.MaxPool2d(2),
            _block(b, c),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(c * 9, dense),
            nn.ReLU(inplace=True),
            nn.Linear(dense, classes),
        )


def build_gate(spec: dict) -> GateNet:
    """From a gate checkpoint's ``model`` section. Not in the registry of digit classifiers: it is
    no digit reader, and no training preset can use it."""
    spec = {k: v for k, v in spec.items() if k != "arch"}
    return GateNet(tuple(spec.pop("widths", (16, 32, 64))), **spec)
