"""Examples for the gate (:mod:`digitlab.models.gate`): is a stretch of ink one whole digit?

Numbers are written with their neighbours touching, overlapping or apart, from two kinds of
handwriting: the canvas's strokes (:mod:`digitlab.data.numbers`) and MNIST training digits set
side by side. Each is over-cut exactly as reading a number does (:func:`~digitlab.data.segment.cut_candidates`,
:func:`~digitlab.data.segment.segments`), and every stretch is labelled from which digit each of
its ink pixels belongs to: one whole digit, part of a digit, or several digits. Prepared like any
digit, these teach the gate what a wrong cut looks like.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .numbers import number_with_owners, offset
from .preprocess import INK_THRESHOLD
from .segment import Piece, components, cut_candidates, merge_columns, segments

KINDS = ("digit", "part", "several")  # what a stretch of ink is; the gate's classes in this order
DIGIT, PART, SEVERAL = range(3)
WHOLE = 0.92  # a stretch holding this share of a digit's ink holds that digit
STRAY = 0.15  # and one holding less than this share of another digit's ink does not hold it
VARIATIONS = ("normal", "narrow gaps", "touching", "overlapping", "mixed sizes", "sloped")
MNIST_HEIGHT = 60  # pixels: the ink height MNIST digits are scaled to when set side by side


def kind(part: Piece, owner: np.ndarray, totals: np.ndarray) -> int:
    """DIGIT, PART or SEVERAL, from the share of each digit's ink that ``part`` holds."""
    h, w = part.mask.shape
    mine = owner[part.top : part.top + h, part.left : part.left + w][part.mask]
    share = np.bincount(mine[mine >= 0], minlength=len(totals)) / totals
    whole, held = int((share >= WHOLE).sum()), int((share >= STRAY).sum())
    if whole == 1 and held == 1:
        return DIGIT
    return PART if whole == 0 and held <= 1 else SEVERAL


def mnist_number(digits: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits (uint8 28x28 each) scaled up and set side by side, neighbours touching,
    overlapping or a little apart: ink in [0, 1] and each pixel's digit (-1: none)."""
    height = 3 * MNIST_HEIGHT
    layers = []
    for d in digits:
        side = int(round(28 * MNIST_HEIGHT / 20 * rng.uniform(0.85, 1.15)))
        big = np.asarray(Image.fromarray(d.astype(np.float32) / 255, mode="F").resize((side, side)), np.float32)
        cols = np.flatnonzero((big > 0.05).any(0))
        top = int(np.clip((height - side) // 2 + rng.integers(-8, 9), 0, height - side))
        layer = np.zeros((height, cols[-1] - cols[0] + 1), np.float32)
        layer[top : top + side] = big[:, cols[0] : cols[-1] + 1]
        layers.append(layer)
    stack = np.zeros((len(layers), height, sum(x.shape[1] for x in layers) + 40), np.float32)
    at = 20
    for i, layer in enumerate(layers):
        if i:
            gap = MNIST_HEIGHT * rng.choice(
                [rng.uniform(-0.12, -0.02), rng.uniform(-0.03, 0.0), rng.uniform(0.0, 0.15)]
            )
            at = max(2, offset(stack[:i].max(0), layer, gap, INK_THRESHOLD))
        stack[i, :, at : at + layer.shape[1]] = layer
        at += layer.shape[1]
    ink = stack.max(0)
    return ink, np.where(ink > 0, stack.argmax(0), -1)


def stretches(ink: np.ndarray, owner: np.ndarray) -> tuple[list[np.ndarray], list[int]]:
    """Every stretch reading this number would weigh, prepared, and its kind."""
    mask = ink > INK_THRESHOLD
    totals = np.maximum(np.bincount(owner[mask & (owner >= 0)], minlength=owner.max() + 1), 1)
    pieces = merge_columns(components(ink))
    height = max((p.mask.shape[0] for p in pieces), default=0)
    x, y = [], []
    for p in pieces:
        for _, _, part in segments(p, cut_candidates(p, height)) or [(0, 1, p)]:
            if part is None:
                continue
            x.append(part.prepared(ink))
            y.append(kind(part, owner, totals))
    return x, y


def gate_examples(mnist_digits: np.ndarray, count: int, seed: int, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Prepared stretches (float32 (N, 28, 28)) and their kinds from ``count`` numbers of 1 to 4
    digits, half written on the canvas and half from ``mnist_digits`` (training digits only).
    Parts far outnumber whole digits; they are thinned to as many as the other two kinds together."""
    rng = np.random.default_rng(seed)
    x, y = [], []
    for i in range(count):
        k = int(rng.integers(1, 5))
        if i % 2:
            ink, owner = mnist_number(mnist_digits[rng.integers(0, len(mnist_digits), k)], rng)
        else:
            text = "".join(str(d) for d in rng.integers(0, 10, k))
            canvas, owner = number_with_owners(text, VARIATIONS[rng.integers(len(VARIATIONS))], rng)
            ink = canvas.astype(np.float32) / 255
        xs, ys = stretches(ink, owner)
        x += xs
        y += ys
        if progress is not None:
            progress(1)
    x, y = np.stack(x).astype(np.float32), np.array(y, np.int64)
    parts = np.flatnonzero(y == PART)
    keep = np.sort(np.r_[np.flatnonzero(y != PART), rng.permutation(parts)[: int((y != PART).sum())]])
    return x[keep], y[keep]
