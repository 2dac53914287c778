"""Ensembles and test-time augmentation (TTA).

An ensemble averages the softmax probabilities of several models; TTA
averages one model's probabilities over a fixed set of small warps of each
image (the kinds of change the real-time augmentation trained it on). Both
are exposed as log-averaged probabilities, so the evaluation code treats them
like any model's logits and fits a temperature to them on validation data.
The warps are fixed here, not chosen on any data.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from digitlab.augment import affine
from digitlab.core.config import checkpoint_split_key

from .predictor import Predictor, to_input

# (rotation in degrees, zoom factor, shift right in px, shift down in px); the first is the image itself.
TTA_WARPS: list[tuple[float, float, float, float]] = [
    (0, 1, 0, 0),
    (-7, 1, 0, 0),
    (7, 1, 0, 0),
    (0, 0.92, 0, 0),
    (0, 1.08, 0, 0),
    (0, 1, -1, 0),
    (0, 1, 1, 0),
    (0, 1, 0, -1),
    (0, 1, 0, 1),
]


def warp(x: torch.Tensor, rotation: float, zoom: float, dx: float, dy: float) -> torch.Tensor:
    """One fixed affine warp of a batch (N, 1, 28, 28); zoom > 1 makes the digit larger."""
    if (rotation, zoom, dx, dy) == (0, 1, 0, 0):
        return x
    a, size = math.radians(rotation), x.shape[-1]
    cos, sin = math.cos(a) / zoom, math.sin(a) / zoom
    # affine_grid maps output to input coordinates, so the shift is negated and scaled to [-1, 1]
    theta = torch.tensor([[cos, -sin, -2 * dx / size], [sin, cos, -2 * dy / size]])
    return affine(x, theta.expand(len(x), 2, 3))


@torch.no_grad()
def _probs(member: Predictor, x: np.ndarray, tta: bool, batch_size: int = 1024) -> np.ndarray:
    out = []
    for i in range(0, len(x), batch_size):
        xb = to_input(x[i : i + batch_size], member.device)
        views = [warp(xb, *w) for w in TTA_WARPS] if tta else [xb]
        out.append(torch.stack([torch.softmax(member.forward(v), 1) for v in views]).mean(0).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 10), np.float32)


class Ensemble:
    """Several models (or one with ``tta``) behind a single ``logits`` method."""

    def __init__(self, members: list[Predictor], tta: bool = False):
        self.members, self.tta = members, tta

    @property
    def name(self) -> str:
        names = " + ".join(str(m.path) for m in self.members)
        return f"{names} (TTA x{len(TTA_WARPS)})" if self.tta else names

    def logits(self, x: np.ndarray) -> np.ndarray:
        """log of the members' (and views') mean softmax: argmax and softmax give the averaged answer."""
        p = np.mean([_probs(m, x, self.tta) for m in self.members], axis=0)
        return np.log(np.clip(p, 1e-12, None)).astype(np.float32)

    def same_split(self) -> bool:
        """Whether every member was selected on the same validation split (else that split is not held out)."""
        return len({checkpoint_split_key(m.checkpoint) for m in self.members}) == 1
