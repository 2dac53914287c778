"""Examples for the line reader (:mod:`digitlab.models.line`): which digits a piece of touching ink holds.

A piece of ink (:class:`~digitlab.data.segment.Piece`) is scaled to a fixed height, keeping
its shape (:func:`line_input`, the one way every piece reaches the line reader). Training
pieces come from numbers written with their neighbours touching, overlapping or apart, in
the same two hands as the gate's examples (:mod:`digitlab.data.pieces`): the canvas's
strokes and MNIST training digits set side by side. A piece's text is the digits most of
whose ink it holds, left to right.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .numbers import number_with_owners
from .pieces import VARIATIONS, mnist_number
from .segment import Piece, components, merge_columns

HEIGHT = 32  # pixels: every piece is scaled to this height ...
INK_HEIGHT = 28  # ... its ink to this much of it
PAD = 4  # pixels of background left and right
MAX_WIDTH = 8 * HEIGHT  # a wider piece is squeezed (reading calls anything wider a line, not digits)
STRIDE = 4  # the line reader answers once per this many input columns
MAX_LENGTH = 6  # digits in one training piece


def line_input(piece: Piece, ink: np.ndarray) -> np.ndarray:
    """The piece's own ink, float32 (HEIGHT, W) in [0, 1], its height scaled to INK_HEIGHT."""
    h, w = piece.mask.shape
    crop = np.where(piece.mask, ink[piece.top : piece.top + h, piece.left : piece.left + w], 0.0).astype(np.float32)
    width = int(np.clip(round(w * INK_HEIGHT / h), 4, MAX_WIDTH - 2 * PAD))
    small = np.asarray(Image.fromarray(crop, mode="F").resize((width, INK_HEIGHT), Image.Resampling.BILINEAR))
    out = np.zeros((HEIGHT, width + 2 * PAD), np.float32)
    top = (HEIGHT - INK_HEIGHT) // 2
    out[top : top + INK_HEIGHT, PAD : PAD + width] = np.clip(small, 0.0, 1.0)
    return out


def piece_texts(ink: np.ndarray, owner: np.ndarray, text: str) -> list[tuple[np.ndarray, str]]:
    """Each piece reading would find in ``ink``, as :func:`line_input`, with the digits of ``text``
    (one per owner index) most of whose ink it holds."""
    mask = owner >= 0
    totals = np.maximum(np.bincount(owner[mask], minlength=len(text)), 1)
    out = []
    for p in merge_columns(components(ink)):
        h, w = p.mask.shape
        mine = owner[p.top : p.top + h, p.left : p.left + w][p.mask]
        held = np.bincount(mine[mine >= 0], minlength=len(text)) / totals
        out.append((line_input(p, ink), "".join(text[i] for i in np.flatnonzero(held >= 0.5))))
    return out


def line_examples(mnist_digits: np.ndarray, count: int, seed: int, progress=None) -> list[tuple[np.ndarray, str]]:
    """Pieces (:func:`line_input`) and their texts from ``count`` numbers of 1 to MAX_LENGTH
    digits, half written on the canvas and half from ``mnist_digits`` (training digits only)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        k = int(rng.integers(1, MAX_LENGTH + 1))
        if i % 2:
            idx = rng.integers(0, len(mnist_digits[0]), k)
            ink, owner = mnist_number(mnist_digits[0][idx], rng)
            text = "".join(str(int(d)) for d in mnist_digits[1][idx])
        else:
            text = "".join(str(d) for d in rng.integers(0, 10, k))
            canvas, owner = number_with_owners(text, VARIATIONS[rng.integers(len(VARIATIONS))], rng)
            ink = canvas.astype(np.float32) / 255
        out += [(x, t) for x, t in piece_texts(ink, owner, text) if t]
        if progress is not None:
            progress(1)
    return out
