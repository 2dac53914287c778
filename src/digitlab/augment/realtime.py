"""Real-time augmentation: both seeds' random warps, drawn afresh for every image of every batch.

Random rotation, width/height shift and zoom, applied as one batched affine
warp on the training device (``affine_grid`` + ``grid_sample``), with Keras
ImageDataGenerator semantics: angle uniform in +-rotation degrees, shifts
uniform in +-shift of the width/height, zoom factors for x and y drawn
independently from [1-zoom, 1+zoom], edges extended from the border pixels
(Keras' ``fill_mode='nearest'``).
"""

from __future__ import annotations

import math

import torch

from .geometry import affine

REALTIME_TRANSFORMS = ("rotation", "shift", "zoom")


def random_affine(
    x: torch.Tensor, generator: torch.Generator, rotation: float = 10.0, shift: float = 0.1, zoom: float = 0.1
) -> torch.Tensor:
    """Warp a batch (N, C, H, W) with a fresh random rotation, shift and zoom per image."""
    n = x.shape[0]
    if n == 0 or not (rotation or shift or zoom):
        return x
    u = torch.rand(n, 5, generator=generator) * 2 - 1  # drawn on CPU: same numbers on any device
    angle = u[:, 0] * math.radians(rotation)
    zx, zy = 1 + u[:, 1] * zoom, 1 + u[:, 2] * zoom
    tx, ty = u[:, 3] * shift * 2, u[:, 4] * shift * 2  # normalised coordinates span 2 per image width
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid maps output to input coordinates: zoom factors > 1 sample a larger area (zoom out), as in Keras
    theta = torch.stack([torch.stack([cos * zx, -sin * zy, tx], 1), torch.stack([sin * zx, cos * zy, ty], 1)], 1)
    return affine(x, theta, padding_mode="border")


def realtime_fn(realtime_cfg: dict, generator: torch.Generator):
    """The per-batch augmentation for the trainer, or ``None`` when switched off."""
    if not realtime_cfg["enabled"]:
        return None
    kw = {k: float(realtime_cfg[k] or 0) for k in REALTIME_TRANSFORMS}  # null: off
    if not any(kw.values()):
        return None
    return lambda xb: random_affine(xb, generator, **kw)
