"""MNIST-C-style corruptions, generated locally from the official test set.

Mu & Gilmer's MNIST-C (2019) applies 15 corruptions to the MNIST test set;
the dataset itself is a download we may not make, so the corruptions are
re-implemented here in their spirit, each at one fixed severity, seeded:
noise (shot, impulse), blur (glass, motion), geometry (shear, scale,
rotation, translation), brightness and fog, drawn-over lines (stripe,
dotted line, zigzag), edges (canny-like) and, beyond MNIST-C, inversion and
low contrast. A model is scored on the corrupted 28x28 arrays directly, as in
MNIST-C, without the outside-image preprocessing that would undo some of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy import ndimage
from tqdm.auto import tqdm

from .geometry import affine

Corruption = Callable[[np.ndarray, np.random.Generator], np.ndarray]
CORRUPTIONS: dict[str, Corruption] = {}


def corruption(name: str):
    def deco(fn):
        CORRUPTIONS[name] = fn
        return fn

    return deco


def _affine(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Warp (N, 28, 28) floats with per-image output-to-input matrices theta (N, 2, 3) in [-1, 1] coordinates."""
    return affine(torch.from_numpy(x[:, None]).float(), torch.from_numpy(theta))[:, 0].numpy()


def _signed(rng, n, lo, hi):
    return rng.uniform(lo, hi, n) * rng.choice([-1, 1], n)


@corruption("shot noise")
def shot_noise(x, rng):
    return rng.poisson(x * 60) / 60


@corruption("impulse noise")
def impulse_noise(x, rng):
    out = x.copy()
    u = rng.uniform(size=x.shape)
    out[u < 0.035] = 0
    out[u > 1 - 0.035] = 1
    return out


@corruption("glass blur")
def glass_blur(x, rng):
    # Gaussian blur, then each pixel takes the value of a random neighbour, then blur again.
    b = ndimage.gaussian_filter(x, sigma=(0, 0.7, 0.7))
    n, h, w = x.shape
    ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    di, dj = rng.integers(-1, 2, x.shape), rng.integers(-1, 2, x.shape)
    src_i, src_j = np.clip(ii + di, 0, h - 1), np.clip(jj + dj, 0, w - 1)
    b = b[np.arange(n)[:, None, None], src_i, src_j]
    return ndimage.gaussian_filter(b, sigma=(0, 0.7, 0.7))


@corruption("motion blur")
def motion_blur(x, rng):
    out = np.empty_like(x)
    for k, (img, a) in enumerate(zip(x, rng.uniform(0, math.pi, len(x)))):
        steps = np.linspace(-3, 3, 7)
        out[k] = np.mean([ndimage.shift(img, (s * math.sin(a), s * math.cos(a)), order=1) for s in steps], axis=0)
    return out


@corruption("shear")
def shear(x, rng):
    n, s = len(x), _signed(rng, len(x), 0.3, 0.6)
    theta = np.zeros((n, 2, 3))
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    horizontal = rng.uniform(size=n) < 0.5
    theta[horizontal, 0, 1] = s[horizontal]
    theta[~horizontal, 1, 0] = s[~horizontal]
    return _affine(x, theta)


@corruption("scale")
def scale(x, rng):
    f = rng.uniform(0.55, 0.75, len(x))  # the digit shrinks to this fraction of its size
    theta = np.zeros((len(x), 2, 3))
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / f
    return _affine(x, theta)


@corruption("rotation")
def rotation(x, rng):
    a = np.radians(_signed(rng, len(x), 20, 35))
    theta = np.zeros((len(x), 2, 3))
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = np.cos(a), -np.sin(a), np.sin(a), np.cos(a)
    return _affine(x, theta)


@corruption("translation")
def translation(x, rng):
    n = len(x)
    d = rng.uniform(4, 6, n)  # pixels
    a = rng.uniform(0, 2 * math.pi, n)
    theta = np.zeros((n, 2, 3))
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2], theta[:, 1, 2] = -2 * d * np.cos(a) / 28, -2 * d * np.sin(a) / 28
    return _affine(x, theta)


@corruption("brightness")
def brightness(x, rng):
    return x + 0.4


@corruption("fog")
def fog(x, rng):
    field = ndimage.gaussian_filter(rng.normal(size=x.shape), sigma=(0, 4, 4))
    field = (field - field.min(axis=(1, 2), keepdims=True)) / np.ptp(field, axis=(1, 2), keepdims=True)
    return x * 0.7 + 0.5 * field


@corruption("low contrast")
def low_contrast(x, rng):
    return 0.3 + 0.35 * x


def _draw(x, paths, dotted=False):
    """Set the pixels along polylines (one per image) to white; every second pixel when dotted."""
    out = x.copy()
    for k, pts in enumerate(paths):
        seg = [np.linspace(p, q, int(np.abs(q - p).max() * 2) + 2) for p, q in zip(pts[:-1], pts[1:])]
        pix = np.unique(np.rint(np.concatenate(seg)).astype(int).clip(0, 27), axis=0)
        if dotted:
            pix = pix[(pix.sum(1) % 2) == 0]
        out[k, pix[:, 1], pix[:, 0]] = 1.0
    return out


@corruption("stripe")
def stripe(x, rng):
    out = x.copy()
    for k, c in enumerate(rng.integers(8, 19, len(x))):
        out[k, :, c : c + 2] = 1.0
    return out


@corruption("dotted line")
def dotted_line(x, rng):
    paths = [np.array([[rng.uniform(0, 27), 0], [rng.uniform(0, 27), 27]])[:, :: rng.choice([1, -1])] for _ in x]
    return _draw(x, paths, dotted=True)


@corruption("zigzag")
def zigzag(x, rng):
    paths = []
    for _ in x:
        xs = np.linspace(rng.uniform(0, 6), rng.uniform(21, 27), 5)
        ys = rng.uniform(4, 24) + np.array([0, 1, 0, 1, 0]) * rng.uniform(4, 8) * rng.choice([1, -1])
        pts = np.stack([xs, ys], 1)
        paths.append(pts[:, ::-1] if rng.uniform() < 0.5 else pts)
    return _draw(x, paths)


@corruption("canny edges")
def canny_edges(x, rng):
    smooth = ndimage.gaussian_filter(x, sigma=(0, 0.8, 0.8))
    mag = np.hypot(ndimage.sobel(smooth, axis=1), ndimage.sobel(smooth, axis=2))
    return (mag > 0.35 * mag.max(axis=(1, 2), keepdims=True)).astype(np.float32)


@corruption("inversion")
def inversion(x, rng):
    return 1.0 - x


def corrupt(x: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """Apply one corruption to uint8 (N, 28, 28) images; float32 in [0, 1] comes back."""
    rng = np.random.default_rng([seed, list(CORRUPTIONS).index(name)])
    out = CORRUPTIONS[name](x.astype(np.float32) / 255.0, rng)
    return np.clip(out, 0, 1).astype(np.float32)


def corrupted_sets(x: np.ndarray, names: list[str] | None = None, seed: int = 0):
    """Yield ``(name, corrupted images)`` for each corruption (all by default)."""
    for name in names or list(CORRUPTIONS):
        yield name, corrupt(x, name, seed)


def corruption_scores(scorer, src, seed: int = 0, examples: list | None = None) -> dict:
    """Accuracy of ``scorer`` (anything with ``logits(x)``) on each corrupted copy of ``src`` (a labelled
    :class:`digitlab.data.Source`) and their mean (``examples`` collects 10 images of each)."""
    acc = {}
    for name, xc in tqdm(
        corrupted_sets(src.x, seed=seed), total=len(CORRUPTIONS), desc=f"corruptions ({src.spec})", leave=False
    ):
        acc[name] = float((scorer.logits(xc).argmax(1) == src.y).mean())
        if examples is not None:
            examples.append((f"{name}: {acc[name]:.2%}", xc[:10]))
    return {"accuracy": acc, "mean": float(np.mean(list(acc.values()))), "seed": seed, "images": int(len(src.y))}
