"""Synthetic multi-digit numbers, written the way people write them on a wide canvas or a form.

Each digit comes from :mod:`digitlab.data.drawings` (the canvas's round-brush strokes), so
the numbers look like what the app and the live page receive. Digits are placed left to
right with a chosen gap between their ink (negative: neighbours touch), each perhaps at
its own size and on a sloping baseline; ``inverted`` is dark ink on a white canvas and
``form`` is a small paper-like form field: dark ink on grey paper with uneven light and
grain, the way a phone photo of a form looks.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .drawings import BRUSH, CANVAS, VARIATIONS, digit_strokes, render
from .glyphs import DRAWN_LETTERS, SEPARATOR_MARKS

# gap: the space between neighbours' ink as a fraction of the digit height (drawn uniformly
# from the range; negative: they overlap, so they touch); sizes: each digit's height is
# scaled by a factor from [1 - sizes, 1] (touching: the ink of neighbours meets; overlapping: it
# runs into each other by up to half a brush width); slope: the baseline rises or falls by up to this
# much per unit of width; form_height: the field's height in pixels (None: the canvas's).
NUMBER_VARIATIONS: dict[str, dict] = {
    "normal": {"gap": (0.12, 0.35), "sizes": 0.0, "slope": 0.0, "invert": False, "form_height": None},
    "wide gaps": {"gap": (0.5, 0.9), "sizes": 0.0, "slope": 0.0, "invert": False, "form_height": None},
    "narrow gaps": {"gap": (0.02, 0.08), "sizes": 0.0, "slope": 0.0, "invert": False, "form_height": None},
    "touching": {"gap": (-0.02, 0.0), "sizes": 0.0, "slope": 0.0, "invert": False, "form_height": None},
    "overlapping": {"gap": (-0.08, -0.03), "sizes": 0.0, "slope": 0.0, "invert": False, "form_height": None},
    "mixed sizes": {"gap": (0.12, 0.35), "sizes": 0.3, "slope": 0.0, "invert": False, "form_height": None},
    "sloped": {"gap": (0.12, 0.35), "sizes": 0.0, "slope": 0.12, "invert": False, "form_height": None},
    "inverted": {"gap": (0.12, 0.35), "sizes": 0.0, "slope": 0.0, "invert": True, "form_height": None},
    "form": {"gap": (0.12, 0.35), "sizes": 0.1, "slope": 0.04, "invert": True, "form_height": 64},
}
MARGIN = 0.12  # of the canvas height, left and right of the number


def mark_strokes(ch: str, rng: np.random.Generator) -> tuple[list[np.ndarray], int]:
    """A separator (``/ - . , :``) or a capital letter where a digit would stand: its strokes on the
    canvas, in the box a digit would fill, and the brush width."""
    table = SEPARATOR_MARKS if ch in SEPARATOR_MARKS else DRAWN_LETTERS
    if ch not in table:
        raise ValueError(
            f"cannot draw {ch!r} in a number; use digits, {' '.join(SEPARATOR_MARKS)} or {''.join(DRAWN_LETTERS)}"
        )
    unit, aspect = table[ch]
    height = VARIATIONS["centred"]["height"] * CANVAS * rng.uniform(0.9, 1.05)
    stretch = rng.uniform(0.85, 1.15)
    corner = np.array([CANVAS / 2 - aspect * stretch * height / 2, CANVAS / 2 - height / 2])
    strokes = [np.asarray(s, dtype=np.float64) * [stretch, 1] * height + corner for s in unit]
    return [s + rng.normal(0, 0.01, 2) * height for s in strokes], BRUSH


def _digit_layer(ch: str, rng: np.random.Generator, scale: float, dy: float) -> np.ndarray:
    """One digit (or mark, :func:`mark_strokes`) rendered on a CANVAS x CANVAS layer, scaled about
    its centre and moved down by ``dy``."""
    strokes, width = digit_strokes(int(ch), "centred", rng, CANVAS) if ch.isdigit() else mark_strokes(ch, rng)
    centre = np.concatenate(strokes).mean(0)
    moved = [np.clip(centre + (s - centre) * scale + [0, dy], 0, CANVAS - 1) for s in strokes]
    return render(moved, width, CANVAS)


def offset(placed: np.ndarray, layer: np.ndarray, gap_px: float, ink: float = 64) -> int:
    """Where ``layer``'s column 0 goes so that its ink (above ``ink``) keeps ``gap_px`` from
    ``placed``'s ink, row by row."""
    a, b = placed > ink, layer > ink
    ink_rows = a.any(1) & b.any(1)
    right = np.where(a.any(1), a.shape[1] - 1 - np.argmax(a[:, ::-1], 1), -1)
    left = np.where(b.any(1), np.argmax(b, 1), layer.shape[1])
    if not ink_rows.any():  # no row has ink in both: keep the gap between the bounding boxes
        return int(round(right.max() + 1 + gap_px - left.min()))
    return int(round(gap_px + 1 - (left[ink_rows] - right[ink_rows]).min()))


def _columns(layer: np.ndarray) -> np.ndarray:
    cols = np.flatnonzero((layer > 0).any(0))
    return layer[:, cols[0] : cols[-1] + 1]


def _placed(text: str, v: dict, rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """The digits' layers, left to right, and the column each starts at, on a canvas wide enough."""
    height, margin = 0.6 * CANVAS, int(MARGIN * CANVAS)
    slope = rng.uniform(-v["slope"], v["slope"])
    canvas = np.zeros((CANVAS, margin), np.uint8)
    placed = []
    for i, ch in enumerate(text):
        dy = slope * (canvas.shape[1] - margin)  # the baseline's rise so far
        layer = _columns(_digit_layer(ch, rng, rng.uniform(1 - v["sizes"], 1.0), dy))
        at = margin if i == 0 else offset(canvas, layer, rng.uniform(*v["gap"]) * height)
        width = max(canvas.shape[1], at + layer.shape[1])
        grown = np.zeros((CANVAS, width), np.uint8)
        grown[:, : canvas.shape[1]] = canvas
        grown[:, at : at + layer.shape[1]] = np.maximum(grown[:, at : at + layer.shape[1]], layer)
        canvas = grown
        placed.append((at, layer))
    return np.pad(canvas, ((0, 0), (0, margin))), placed


def draw_number(text: str, variation: str = "normal", rng: np.random.Generator | None = None) -> np.ndarray:
    """A drawing of the digits in ``text`` (and any separators or capital letters among them, see
    :func:`mark_strokes`): uint8 (height, width), white ink on black unless the variation says otherwise."""
    if variation not in NUMBER_VARIATIONS:
        raise ValueError(f"unknown variation {variation!r}; choose from {', '.join(NUMBER_VARIATIONS)}")
    v, rng = NUMBER_VARIATIONS[variation], rng or np.random.default_rng()
    canvas, _ = _placed(text, v, rng)
    return _form(canvas, v["form_height"], rng) if v["form_height"] else 255 - canvas if v["invert"] else canvas


def number_with_owners(text: str, variation: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A white-on-black drawing of ``text`` (variation's gaps, sizes and slope; no paper or
    inversion) and, per pixel, which digit's ink it is (its index in ``text``; -1: none): for
    labelling the pieces a cut makes."""
    canvas, placed = _placed(text, NUMBER_VARIATIONS[variation], rng)
    stack = np.zeros((len(placed), *canvas.shape), np.uint8)
    for i, (at, layer) in enumerate(placed):
        stack[i, :, at : at + layer.shape[1]] = layer
    return canvas, np.where(canvas > 0, stack.argmax(0), -1)


def _form(canvas: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """Dark ink on grey paper, lit unevenly, with grain, shrunk to a form field ``height`` pixels high."""
    h, w = canvas.shape
    size = (max(1, round(w * height / h)), height)
    ink = np.asarray(Image.fromarray(canvas).resize(size, Image.Resampling.BOX), np.float32) / 255
    yy, xx = np.mgrid[0:height, 0 : size[0]] / max(size)
    light = 0.82 + 0.12 * np.clip(rng.uniform(-1, 1) * (xx - 0.5) + rng.uniform(-1, 1) * (yy - 0.3), -1, 1)
    paper = light + rng.normal(0, 0.015, light.shape)
    out = paper * (1 - ink) + 0.12 * ink
    return (np.clip(out, 0, 1) * 255).astype(np.uint8)


def number_strokes(text: str, rng: np.random.Generator | None = None) -> list[list[np.ndarray]]:
    """Each digit's strokes for writing ``text`` on a canvas CANVAS pixels high, one digit a slot of
    0.5 x CANVAS from the left margin: for driving the wide "Number" canvas in a browser."""
    rng = rng or np.random.default_rng()
    slot, margin = 0.5 * CANVAS, MARGIN * CANVAS
    return [
        [s + [margin + slot * (i + 0.5) - CANVAS / 2, 0] for s in digit_strokes(int(ch), "centred", rng, CANVAS)[0]]
        for i, ch in enumerate(text)
    ]


def numbers(variation: str, count: int = 40, seed: int = 0, lengths: tuple[int, int] = (2, 6)):
    """``count`` drawings of random numbers of ``lengths`` digits in one variation: a list of
    (uint8 image, text)."""
    rng = np.random.default_rng([seed, list(NUMBER_VARIATIONS).index(variation)])
    out = []
    for _ in range(count):
        text = "".join(str(d) for d in rng.integers(0, 10, rng.integers(lengths[0], lengths[1] + 1)))
        out.append((draw_number(text, variation, rng), text))
    return out
