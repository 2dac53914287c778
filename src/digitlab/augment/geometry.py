"""Affine warps of image batches, shared by real-time augmentation, test-time augmentation and corruptions."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def affine(x: torch.Tensor, theta: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Warp (N, C, H, W) with output-to-input matrices theta (N, 2, 3) in [-1, 1] coordinates, bilinearly."""
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)
