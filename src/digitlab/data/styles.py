"""Handwriting styles far from MNIST's, drawn the canvas's way: for measuring how a
personal model learns one person's writing (``digitlab train --preset personal``).

MNIST's writers were mostly American. Two styles it rarely holds:

- ``continental``: the 1 with a long up-stroke, the crossed 7, the open 4 and a 9
  with a straight stem, as much of Europe writes them;
- ``blocky``: digits of straight strokes, as on a seven-segment display, with a broad pen.

Each style changes only the templates, widths and brush of
:func:`digitlab.data.drawings.digit_strokes`, so a style's drawings vary (size, slant,
wobble, place) exactly as the canvas drawings do.
"""

from __future__ import annotations

import numpy as np

from .drawings import CANVAS, VARIATIONS, _arc, digit_strokes, render

_CONTINENTAL = {
    "templates": {
        1: [[[(0.0, 0.42), (0.78, 0.0), (0.6, 1.0)]]],
        4: [[[(0.45, 0.0), (0.0, 0.62), (1.0, 0.62)], [(0.78, 0.3), (0.72, 1.0)]]],
        7: [[[(0.0, 0.14), (0.08, 0.0), (1.0, 0.0), (0.4, 1.0)], [(0.2, 0.52), (0.85, 0.5)]]],
        9: [[_arc(0.5, 0.3, 0.45, 0.3, 0, -360), [(0.95, 0.3), (0.95, 1.0)]]],
    },
    "widths": {1: 0.75},
}

# Seven-segment corners: a=(0,0) b=(1,0) c=(0,.5) d=(1,.5) e=(0,1) f=(1,1).
_A, _B, _C, _D, _E, _F = (0.0, 0.0), (1.0, 0.0), (0.0, 0.5), (1.0, 0.5), (0.0, 1.0), (1.0, 1.0)
_BLOCKY = {
    "templates": {
        0: [[[_A, _B, _F, _E, _A]]],
        1: [[[(0.5, 0.0), (0.5, 1.0)]]],
        2: [[[_A, _B, _D, _C, _E, _F]]],
        3: [[[_A, _B, _F, _E], [_C, _D]]],
        4: [[[_A, _C, _D], [_B, _F]]],
        5: [[[_B, _A, _C, _D, _F, _E]]],
        6: [[[_B, _A, _E, _F, _D, _C]]],
        7: [[[_A, _B, _F]]],
        8: [[[_A, _B, _F, _E, _A], [_C, _D]]],
        9: [[[_D, _C, _A, _B, _F, _E]]],
    },
    "widths": {1: 0.1},
    "stroke": 30,
}

STYLES: dict[str, dict] = {"continental": _CONTINENTAL, "blocky": _BLOCKY}


def style_digit(digit: int, style: str, rng: np.random.Generator, variation: str = "centred") -> np.ndarray:
    """One canvas drawing (uint8, 280x280, white on black) of ``digit`` in ``style``."""
    if style not in STYLES:
        raise ValueError(f"unknown handwriting style {style!r}; choose from {', '.join(STYLES)}")
    strokes, width = digit_strokes(digit, variation, rng, CANVAS, STYLES[style])
    return render(strokes, width, CANVAS)


def style_digits(style: str, per_digit: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``per_digit`` drawings of each digit in ``style``, digits in turn (0, 1, ... 9, 0, 1, ...)
    so that the first ``10 * k`` hold ``k`` of each: uint8 (N, 280, 280) and labels (N,).
    Variations other than thick and thin mix in, as a person's drawings vary."""
    rng = np.random.default_rng([seed, list(STYLES).index(style)])
    kinds = [v for v in VARIATIONS if v not in ("thick", "thin")]
    y = np.tile(np.arange(10), per_digit)
    x = np.stack([style_digit(int(d), style, rng, kinds[rng.integers(len(kinds))]) for d in y])
    return x, y
