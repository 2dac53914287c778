"""The line reader: a small fully convolutional network that reads the digits in a piece of
touching ink, trained with CTC (no I/O here).

Its input is a piece scaled to 32 pixels high (:func:`digitlab.data.lines.line_input`), any
width; its output is, for every 4 columns, scores for the ten digits and "no digit here" (the
CTC blank, class 10). Reading a number asks it which digits a piece the gate will not keep
whole holds (:mod:`digitlab.inference.number`): unlike the gate, which sees one stretch at a
time, it sees the whole piece, so a narrow 1 beside a 9 or a 6's loop against its neighbour
is read in context.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

BLANK = 10


def decode(scores: np.ndarray) -> list[str]:
    """Greedy CTC decoding of (N, 11, T) scores: the best class per frame, repeats merged, blanks dropped."""
    out = []
    for best in np.asarray(scores).argmax(1):
        keep = (best != BLANK) & np.r_[True, best[1:] != best[:-1]]
        out.append("".join(str(c) for c in best[keep]))
    return out


def _block(cin: int, cout: int, pool: tuple[int, int] | None) -> list[nn.Module]:
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return layers + ([nn.MaxPool2d(pool)] if pool else [])


class LineNet(nn.Module):
    """Conv-BN-ReLU blocks (32 -> 16 -> 8 -> 4 rows, a quarter of the columns), a convolution over
    the last 4 rows, then two 1-D convolutions along the line: (N, 1, 32, W) -> (N, 11, W // 4)."""

    def __init__(self, widths: tuple[int, int, int, int] = (24, 48, 64, 96), hidden: int = 128):
        super().__init__()
        a, b, c, d = widths
        self.features = nn.Sequential(
            *_block(1, a, (2, 2)), *_block(a, b, (2, 2)), *_block(b, c, (2, 1)), *_block(c, d, (2, 1))
        )
        self.sequence = nn.Sequential(
            nn.Conv1d(d * 2, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden, BLANK + 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        return self.sequence(f.flatten(1, 2))


def build_line(spec: dict) -> LineNet:
    """From a line reader checkpoint's ``model`` section (not in the registry of digit classifiers)."""
    spec = {k: v for k, v in spec.items() if k != "arch"}
    return LineNet(tuple(spec.pop("widths", (24, 48, 64, 96))), **spec)
