"""``fast``: a small BatchNorm CNN built for time to accuracy on a CPU (no I/O here).

Three stages of 3x3 convolutions (conv -> BatchNorm -> ReLU, no bias), each with a 2x2
max pool, 28 -> 14 -> 7 -> 3, then one linear layer on the 3x3 map. ``stages`` lists each
stage's channel counts, so ``[[16], [32, 32], [64, 64]]`` is one convolution at 28x28 and
two at 14x14 and 7x7. With ``pool_first`` each stage pools right after its first
convolution instead of at its end (airbench's order), so the `fast` preset's
``[[16], [64], [128, 128]]`` has one convolution each at 28x28, 14x14, 7x7 and 3x3, and
BatchNorm and ReLU never run at full size: in the other order they, with the pools, took
43-52% of the training step. On a CPU the full-resolution stage costs most per
multiply (its input has one channel, which oneDNN runs poorly), so it gets the fewest.
No dropout: the real-time warps and label smoothing regularise it, and dropout 0.3 before
the linear layer lowered validation accuracy in 18 epochs.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _stage(cin: int, stage: list[int], pool_first: bool) -> list[nn.Module]:
    layers = []
    for i, cout in enumerate(stage):
        conv, *rest = _conv_bn(cin, int(cout))
        # pool_first: the pool right after the stage's first convolution (airbench's order), so
        # BatchNorm, ReLU and the later convolutions run on a quarter of the pixels
        layers += [conv, nn.MaxPool2d(2), *rest] if pool_first and i == 0 else [conv, *rest]
        cin = int(cout)
    return layers if pool_first else [*layers, nn.MaxPool2d(2)]


class FastNet(nn.Module):
    def __init__(
        self, stages: list[list[int]], unshuffle: bool = False, pool_first: bool = False, num_classes: int = 10
    ):
        super().__init__()
        # unshuffle: each 2x2 block of pixels becomes 4 channels of a 14x14 image, so the first
        # convolution sees 4 channels at 14x14 instead of 1 at 28x28
        layers, cin = ([nn.PixelUnshuffle(2)], 4) if unshuffle else ([], 1)
        for stage in stages:
            layers += _stage(cin, stage, pool_first)
            cin = int(stage[-1])
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin * 3 * 3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))

    def l2_parameters(self) -> list[torch.Tensor]:
        return [self.head.weight]


@register(
    "fast",
    "fast: conv-BN-ReLU stages with max pooling (the preset: 16 / 64 / 128-128, pooling early), one linear layer",
)
def fast(stages: list | tuple = ((16,), (32,), (64, 64)), unshuffle: bool = False, pool_first: bool = False) -> FastNet:
    want = 2 if unshuffle else 3  # pools to 3x3: 28 -> 14 -> 7 -> 3, or 14 -> 7 -> 3 after unshuffling
    ok = len(stages) == want and all(
        isinstance(s, (list, tuple)) and s and all(isinstance(c, int) and c >= 1 for c in s) for s in stages
    )
    if not ok:
        raise ValueError(
            f"stages must be {want} lists of positive channel counts"
            f"{' with unshuffle' if unshuffle else ''}, e.g. {[[32], [64, 64]] if unshuffle else [[16], [32], [64, 64]]}, "
            f"got {stages}"
        )
    return FastNet([list(s) for s in stages], bool(unshuffle), bool(pool_first))
