"""Affine warps of image batches, shared by real-time augmentation, test-time augmentation and corruptions."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def affine(
    x: torch.Tensor, theta: torch.Tensor, padding_mode: str = "zeros", displacement: torch.Tensor | None = None
) -> torch.Tensor:
    """Warp (N, C, H, W) with output-to-input matrices theta (N, 2, 3) in [-1, 1] coordinates, bilinearly;
    ``displacement`` (N, H, W, 2), in the same coordinates, is added to where each output pixel samples
    (an elastic distortion in the same single resampling)."""
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    if displacement is not None:
        grid = grid + displacement.to(x.device, x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def smooth_noise(n: int, h: int, w: int, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """(N, 2, H, W) uniform noise in [-1, 1], Gaussian-blurred with ``sigma`` pixels, zero beyond the
    edges (Simard et al.'s elastic displacement fields, as scipy's ``gaussian_filter(mode="constant")``
    blurs them); drawn on CPU, so the same numbers on any device."""
    noise = torch.rand(n, 2, h, w, generator=generator) * 2 - 1
    # the separable blur as two small matrix products (rows, then columns): far faster on a CPU
    # than a convolution over one-channel images
    return _blur_matrix(h, sigma) @ noise @ _blur_matrix(w, sigma).T


def _blur_matrix(size: int, sigma: float) -> torch.Tensor:
    radius = int(4 * sigma + 0.5)  # scipy's kernel: truncated at 4 sigma, rounded half up
    i = torch.arange(size, dtype=torch.float32)
    d = i[:, None] - i[None, :]
    k = torch.exp(-0.5 * (d / sigma) ** 2) * (d.abs() <= radius)
    return k / torch.exp(-0.5 * (torch.arange(-radius, radius + 1) / sigma) ** 2).sum()
