"""Outlier exposure (Hendrycks et al., 2019): training on generated non-digits so that the
reader spreads its answer over all ten digits for them, instead of naming one.

``train.outliers.images`` non-digits are generated once from the training families of
:mod:`digitlab.data.nondigits` (never its held-out ones) and cached under the data folder.
Every batch then carries ``train.outliers.share`` times as many of them as digits, drawn
from that pool and warped like the digits; their loss term is the cross-entropy of the
network's answer to the uniform distribution, weighted by ``train.outliers.weight`` and
added to the loss the history reports. The digits' accuracy and validation leave them out.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from digitlab.core.io import atomic_path
from digitlab.data.nondigits import TRAINING, family

VERSION = 1  # bump when the generators change, so that cached pools are made again


def pool_path(cache_dir: Path, images: int, seed: int) -> Path:
    return cache_dir / f"outliers-v{VERSION}-{images}-seed{seed}.npz"


def make_pool(images: int, seed: int, progress: bool = True) -> np.ndarray:
    """``images`` non-digits, as evenly as it divides over the training families: uint8 (N, 28, 28)."""
    per = np.diff(np.linspace(0, images, len(TRAINING) + 1).round().astype(int))
    parts = []
    for name, n in tqdm(
        list(zip(TRAINING, per)), desc="non-digits", unit="family", disable=not progress, file=sys.stderr
    ):
        parts.append((family(name, int(n), seed, "train") * 255).round().astype(np.uint8))
    return np.concatenate(parts)


def outlier_pool(o_cfg: dict, seed: int, cache_dir: Path | None, progress: bool = True) -> np.ndarray | None:
    """``train.outliers``' pool of non-digits, from the cache when it has it; None when switched off."""
    images = int(o_cfg["images"] or 0)
    if not images:
        return None
    path = pool_path(cache_dir, images, seed) if cache_dir else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as z:
                return z["x"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is made again and replaced
    pool = make_pool(images, seed, progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, x=pool)
    return pool


def draw(pool: torch.Tensor, digits: int, share: float, gen: torch.Generator, processes: int = 1) -> torch.Tensor:
    """Indices into ``pool`` for a batch of ``digits`` digits: ``share`` as many, rounded up to a
    multiple of ``processes`` so that under torchrun every process gets as many as the others."""
    n = max(1, round(digits * share))
    return torch.randint(len(pool), (-(-n // processes) * processes,), generator=gen)


def uniform_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each row's softmax to the uniform distribution over the ten digits (0 for no rows)."""
    if not len(logits):
        return logits.sum()
    return -F.log_softmax(logits, dim=1).mean(1).mean()
