"""Synthetic canvas drawings: digits made the way the drawing app makes them.

MNIST digits were written on paper with a pen, scanned, and normalised. The app
gets something else: round-brush strokes, anti-aliased, on a 280x280 field,
drawn wherever and however large the person likes. This module draws digits the
canvas's way (hand-made stroke templates, randomly wobbled) so that tests can
check the preprocessing reads small, large, off-centre, slanted, thick and thin
drawings as well as centred ones. The same strokes drive the mouse and the
touch screen in the browser tests.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280  # the app's canvas side, in CSS pixels
BRUSH = 18  # the app's default stroke width

# height: digit height as a fraction of the canvas; stroke: brush width in
# canvas pixels; shear: italic slant (x shift per unit of height); corner: the
# digit is drawn in a random corner instead of the middle.
VARIATIONS: dict[str, dict] = {
    "centred": {"height": 0.6, "stroke": BRUSH, "shear": 0.0, "corner": False},
    "small": {"height": 0.3, "stroke": BRUSH, "shear": 0.0, "corner": False},
    "large": {"height": 0.92, "stroke": BRUSH, "shear": 0.0, "corner": False},
    "off-centre": {"height": 0.42, "stroke": BRUSH, "shear": 0.0, "corner": True},
    "slanted": {"height": 0.6, "stroke": BRUSH, "shear": 0.35, "corner": False},
    "thick": {"height": 0.6, "stroke": 36, "shear": 0.0, "corner": False},
    "thin": {"height": 0.6, "stroke": 5, "shear": 0.0, "corner": False},
}


def _arc(cx, cy, rx, ry, a0, a1, n=28) -> list[tuple[float, float]]:
    """Points on an ellipse from angle a0 to a1 (degrees; y points down, so 90 is the bottom)."""
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


def _eight() -> list[tuple[float, float]]:
    t = np.linspace(0, 2 * np.pi, 56)
    return list(zip(0.5 + 0.48 * np.sin(2 * t) * (1.0 - 0.15 * np.cos(t)), 0.5 + 0.5 * np.cos(t)))


# Each digit: one or more ways to write it; each way: strokes; each stroke:
# points in a unit box (x right, y down), the digit's bounding box.
TEMPLATES: dict[int, list[list[list[tuple[float, float]]]]] = {
    0: [[_arc(0.5, 0.5, 0.5, 0.5, -100, 265, 40)]],
    1: [[[(0.6, 0.0), (0.45, 1.0)]], [[(0.3, 0.2), (0.62, 0.0), (0.5, 1.0)]]],
    2: [[_arc(0.5, 0.28, 0.48, 0.28, 195, 375) + [(0.0, 1.0), (1.0, 0.98)]]],
    3: [[_arc(0.45, 0.25, 0.45, 0.25, 200, 450) + _arc(0.45, 0.75, 0.55, 0.25, 270, 520)[1:]]],
    4: [
        [[(0.12, 0.0), (0.0, 0.62), (1.0, 0.62)], [(0.75, 0.05), (0.75, 1.0)]],
        [[(0.7, 0.0), (0.0, 0.65), (1.0, 0.65)], [(0.72, 0.25), (0.72, 1.0)]],
    ],
    5: [[[(0.15, 0.0), (0.1, 0.45)] + _arc(0.5, 0.7, 0.5, 0.3, 235, 500)[1:], [(0.15, 0.0), (0.95, 0.0)]]],
    6: [[[(0.8, 0.0), (0.45, 0.15), (0.18, 0.42), (0.03, 0.72)] + _arc(0.48, 0.73, 0.45, 0.27, 180, -175)]],
    7: [[[(0.0, 0.03), (1.0, 0.0), (0.35, 1.0)]], [[(0.0, 0.03), (1.0, 0.0), (0.35, 1.0)], [(0.25, 0.5), (0.85, 0.5)]]],
    8: [[_eight()]],
    9: [[_arc(0.5, 0.28, 0.5, 0.28, 0, -360) + [(0.95, 0.6), (0.85, 1.0)]]],
}


def digit_strokes(
    digit: int,
    variation: str = "centred",
    rng: np.random.Generator | None = None,
    size: int = CANVAS,
    hand: dict | None = None,
) -> tuple[list[np.ndarray], int]:
    """Strokes for one drawing of ``digit``: a list of (k, 2) arrays of canvas pixel
    coordinates, and the brush width to draw them with.

    ``hand`` writes in another handwriting (see :mod:`digitlab.data.styles`): ``templates``
    replaces the ways of writing some digits, ``widths`` their width as a fraction of the
    usual, ``stroke`` the brush width."""
    if variation not in VARIATIONS:
        raise ValueError(f"unknown variation {variation!r}; choose from {', '.join(VARIATIONS)}")
    rng = rng or np.random.default_rng()
    hand = hand or {}
    v = {**VARIATIONS[variation], **({"stroke": hand["stroke"]} if "stroke" in hand else {})}
    ways = hand.get("templates", {}).get(int(digit), TEMPLATES[int(digit)])
    strokes = [np.asarray(s, dtype=np.float64) for s in ways[rng.integers(len(ways))]]
    height = v["height"] * size * rng.uniform(0.9, 1.05)
    narrow = hand.get("widths", {}).get(int(digit), 0.3 if digit == 1 else 1.0)
    width = height * rng.uniform(0.55, 0.72) * narrow
    angle = np.radians(rng.uniform(-8, 8))
    shear = v["shear"] * rng.choice([-0.3, 1.0]) + rng.uniform(-0.08, 0.08)  # people lean right more than left
    phase = rng.uniform(0, 2 * np.pi, size=2)
    out = []
    for s in strokes:
        # Hand wobble: a smooth displacement, a few percent of the digit size.
        wob = 0.03 * np.stack([np.sin(2 * np.pi * s[:, 1] + phase[0]), np.sin(2 * np.pi * s[:, 0] + phase[1])], 1)
        p = (s + wob - 0.5) * [width, height]
        p[:, 0] -= shear * p[:, 1]  # y grows downwards: a positive shear leans the top to the right
        c, si = np.cos(angle), np.sin(angle)
        out.append(p @ np.array([[c, si], [-si, c]]))
    pts = np.concatenate(out)
    half = (pts.max(0) - pts.min(0)) / 2 + v["stroke"]
    if v["corner"]:
        centre = [rng.choice([half[0], size - half[0]]), rng.choice([half[1], size - half[1]])]
        centre = np.asarray(centre) + rng.uniform(0, 0.08 * size, 2) * np.sign(size / 2 - np.asarray(centre))
    else:
        centre = size / 2 + rng.uniform(-0.04, 0.04, 2) * size
    shift = np.asarray(centre) - (pts.max(0) + pts.min(0)) / 2
    return [np.clip(p + shift, 0, size - 1) for p in out], int(v["stroke"])


def render(strokes: list[np.ndarray], stroke_width: int, size: int = CANVAS, supersample: int = 4) -> np.ndarray:
    """White round-brush strokes on black, anti-aliased: uint8 (size, size), like the canvas."""
    big = Image.new("L", (size * supersample, size * supersample))
    draw = ImageDraw.Draw(big)
    r = stroke_width * supersample / 2
    for s in strokes:
        pts = [tuple(p) for p in (np.asarray(s) * supersample)]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=int(round(2 * r)), joint="curve")
        for x, y in (pts[0], pts[-1]):  # round caps
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(big.resize((size, size), Image.Resampling.BOX))


def draw_digit(
    digit: int, variation: str = "centred", rng: np.random.Generator | None = None, size: int = CANVAS
) -> np.ndarray:
    strokes, width = digit_strokes(digit, variation, rng, size)
    return render(strokes, width, size)


def drawings(variation: str, per_digit: int = 20, seed: int = 0, size: int = CANVAS) -> tuple[np.ndarray, np.ndarray]:
    """``per_digit`` drawings of each digit in one variation: uint8 (N, size, size) and labels (N,)."""
    rng = np.random.default_rng([seed, list(VARIATIONS).index(variation)])
    y = np.repeat(np.arange(10), per_digit)
    x = np.stack([draw_digit(int(d), variation, rng, size) for d in y])
    return x, y
