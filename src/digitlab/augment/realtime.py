"""Real-time augmentation: both seeds' random warps, drawn afresh for every image of every batch.

Random rotation, width/height shift and zoom, applied as one batched affine
warp on the training device (``affine_grid`` + ``grid_sample``), with Keras
ImageDataGenerator semantics: angle uniform in +-rotation degrees, shifts
uniform in +-shift of the width/height, zoom factors for x and y drawn
independently from [1-zoom, 1+zoom], edges extended from the border pixels
(Keras' ``fill_mode='nearest'``). Optionally an elastic distortion (Simard et
al., 2003) in the same resampling: every pixel moved by smoothed random noise,
``elastic`` pixels at most before smoothing, ``elastic_sigma`` the smoothing,
the two numbers albumentations' ElasticTransform (the static copies') takes.
"""

from __future__ import annotations

import math

import torch

from digitlab.core.errors import DigitlabError

from .geometry import affine, smooth_noise

REALTIME_TRANSFORMS = ("rotation", "shift", "zoom", "elastic")


def random_affine(
    x: torch.Tensor,
    generator: torch.Generator,
    rotation: float = 10.0,
    shift: float = 0.1,
    zoom: float = 0.1,
    elastic: float = 0.0,
    elastic_sigma: float = 4.0,
) -> torch.Tensor:
    """Warp a batch (N, C, H, W) with a fresh random rotation, shift, zoom and (``elastic`` > 0)
    elastic distortion per image."""
    n = x.shape[0]
    if n == 0 or not (rotation or shift or zoom or elastic):
        return x
    u = torch.rand(n, 5, generator=generator) * 2 - 1  # drawn on CPU: same numbers on any device
    angle = u[:, 0] * math.radians(rotation)
    zx, zy = 1 + u[:, 1] * zoom, 1 + u[:, 2] * zoom
    tx, ty = u[:, 3] * shift * 2, u[:, 4] * shift * 2  # normalised coordinates span 2 per image width
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid maps output to input coordinates: zoom factors > 1 sample a larger area (zoom out), as in Keras
    theta = torch.stack([torch.stack([cos * zx, -sin * zy, tx], 1), torch.stack([sin * zx, cos * zy, ty], 1)], 1)
    shift_px = None
    if elastic:  # drawn only when on, so runs without it draw exactly the numbers they always did
        h, w = x.shape[-2:]
        d = smooth_noise(n, h, w, elastic_sigma, generator) * elastic  # pixels
        shift_px = torch.stack([d[:, 0] * (2 / w), d[:, 1] * (2 / h)], -1)  # to [-1, 1] grid units
    return affine(x, theta, padding_mode="border", displacement=shift_px)


def warp_settings(realtime_cfg: dict) -> dict:
    """``random_affine``'s keyword arguments from an ``augment.realtime`` section (null: off)."""
    kw = {k: float(realtime_cfg.get(k) or 0) for k in REALTIME_TRANSFORMS}
    sigma = realtime_cfg.get("elastic_sigma", 4.0)
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or sigma <= 0:
        raise DigitlabError(
            f"augment.realtime.elastic_sigma must be a positive number of pixels, e.g. 4; got {sigma!r}"
        )
    return {**kw, "elastic_sigma": float(sigma)}


def realtime_fn(realtime_cfg: dict, generator: torch.Generator):
    """The per-batch augmentation for the trainer, or ``None`` when switched off."""
    if not realtime_cfg["enabled"]:
        return None
    kw = warp_settings(realtime_cfg)
    if not any(kw[k] for k in REALTIME_TRANSFORMS):
        return None
    return lambda xb: random_affine(xb, generator, **kw)
