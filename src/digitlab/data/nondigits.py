"""Generated non-digits, in families, prepared exactly like drawings (no downloads).

A reader that has only seen digits gives every mark a digit. Training it on marks that are
not digits (outlier exposure, :mod:`digitlab.training.outliers`) teaches it to spread its
answer instead; whole families are kept out of training (:data:`HELD_OUT`) to measure
how that carries over to kinds of non-digit it has never seen.

Every family draws white ink on a 280x280 black field like the app's canvas and goes
through :func:`digitlab.data.preprocess.prepare_image`, except ``noise``, which is raw
28x28 input. Marks that *are* a digit when drawn alone are left out: O, o, D, I, l, i, j,
J, S, s, Z, z, B, b, G, g, q, and the strokes ``/``, ``|``, ``!``, brackets and parentheses (a 1); so are
circles and single lines.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .drawings import BRUSH, CANVAS, TEMPLATES, render
from .glyphs import DRAWN_LETTERS, DRAWN_SYMBOLS, SHAPES
from .preprocess import prepare_image

FONT_LETTERS = "ACEFHKLMNPRTUVWXYaefhkmnrtuvwxy"
FONT_SYMBOLS = "#%&@*+=?$<>~^€£¥§¶¤"
FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "STIXGeneral.ttf",
    "cmss10.ttf",  # Computer Modern's fonts hold letters, not these symbols: the last two are for letters only
    "cmr10.ttf",
)


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    # matplotlib ships these (DejaVu, STIX, Computer Modern): fonts from a registry package
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def _text(ch: str, rng: np.random.Generator, fonts: int = len(FONTS)) -> np.ndarray:
    img = Image.new("L", (CANVAS, CANVAS))
    ImageDraw.Draw(img).text(
        tuple(CANVAS / 2 + rng.uniform(-30, 30, 2)),
        ch,
        fill=255,
        font=_font(FONTS[rng.integers(fonts)], int(rng.uniform(90, 200))),
        anchor="mm",
        stroke_width=int(rng.integers(0, 7)),
        stroke_fill=255,
    )
    return np.asarray(img.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR))


def place(unit_strokes, rng: np.random.Generator, aspect: float = 0.8) -> list[np.ndarray]:
    """Strokes in a unit box (x right, y down) drawn the way a hand would on the canvas: a
    random size and place, slant, rotation and a smooth wobble of a few percent."""
    height = CANVAS * rng.uniform(0.3, 0.85)
    width = height * aspect * rng.uniform(0.8, 1.2)
    shear, angle = rng.uniform(-0.25, 0.35), np.radians(rng.uniform(-12, 12))
    phase = rng.uniform(0, 2 * np.pi, 2)
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    out = []
    for s in unit_strokes:
        s = np.asarray(s, dtype=np.float64)
        wob = 0.03 * np.stack([np.sin(2 * np.pi * s[:, 1] + phase[0]), np.sin(2 * np.pi * s[:, 0] + phase[1])], 1)
        p = (s + wob - 0.5) * [width, height]
        p[:, 0] -= shear * p[:, 1]
        out.append(p @ rot)
    centre = CANVAS / 2 + rng.uniform(-0.12, 0.12, 2) * CANVAS
    return [np.clip(p + centre, 0, CANVAS - 1) for p in out]


def letter_strokes(letter: str, rng: np.random.Generator) -> list[np.ndarray]:
    """Canvas strokes for a capital letter drawn by hand (``drawn letters``): for driving the app's
    canvas in a browser, as :func:`digitlab.data.drawings.digit_strokes` does for digits."""
    strokes, aspect = DRAWN_LETTERS[letter]
    return place(strokes, rng, aspect)


def _brush(rng: np.random.Generator) -> int:
    return int(rng.integers(BRUSH - 10, BRUSH + 14))


def _drawn(table: dict, rng: np.random.Generator) -> np.ndarray:
    name = list(table)[rng.integers(len(table))]
    strokes, aspect = table[name]
    return render(place(strokes, rng, aspect), _brush(rng))


def _scribble(rng: np.random.Generator) -> np.ndarray:
    """A random smooth path or a zigzag: a hand moving aimlessly."""
    n = 120
    t = np.linspace(0, 1, n)[:, None]
    if rng.random() < 0.3:
        k = rng.integers(3, 8)
        zig = np.abs(((t * k) % 1) * 2 - 1)
        unit = np.hstack([t, zig * rng.uniform(0.3, 1.0)])
        return render(place([unit], rng, rng.uniform(0.8, 1.6)), _brush(rng))
    k = rng.integers(2, 6, size=(1, 2))
    ph = rng.uniform(0, 2 * np.pi, size=(1, 2))
    p = CANVAS / 2 + rng.uniform(50, 110, size=(1, 2)) * np.sin(2 * np.pi * k * t + ph)
    p += rng.uniform(20, 50, size=(1, 2)) * np.sin(2 * np.pi * (k + 3) * t + ph[:, ::-1])
    return render([np.clip(p, 0, CANVAS - 1)], _brush(rng))


def _digit_unit(digit: int, rng: np.random.Generator) -> list[np.ndarray]:
    ways = TEMPLATES[digit]
    return [np.asarray(s, dtype=np.float64) for s in ways[rng.integers(len(ways))]]


def _two_digits(rng: np.random.Generator) -> np.ndarray:
    """Two drawn digits side by side in one box, touching or a little apart."""
    a, b = rng.integers(10, size=2)
    gap = rng.uniform(-0.05, 0.25)
    left = [s * [0.45, 1.0] for s in _digit_unit(int(a), rng)]
    right = [s * [0.45, 1.0] + [0.55 + gap, 0.0] for s in _digit_unit(int(b), rng)]
    return render(place(left + right, rng, rng.uniform(1.1, 1.5)), _brush(rng))


def _partial_digit(rng: np.random.Generator) -> np.ndarray:
    """A drawn digit stopped at 30-55% of its path, bent enough not to be a 1 or a bracket."""
    while True:
        pts = np.concatenate(_digit_unit(int(rng.integers(10)), rng))
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        length = np.r_[0, np.cumsum(seg)]
        keep = pts[length <= length[-1] * rng.uniform(0.3, 0.55)]
        if len(keep) >= 3 and _bent(keep):
            return render(place([keep], rng, 0.7), _brush(rng))


def _bent(pts: np.ndarray) -> bool:
    """Far from a straight line: the thinner side of the points' spread is at least 0.4 of the wider."""
    sv = np.linalg.svd(pts - pts.mean(0), compute_uv=False)
    return sv[1] > 0.4 * sv[0]


def _blob(rng: np.random.Generator) -> np.ndarray:
    """Filled ink: a smooth random blob, or a few splotches."""
    img = Image.new("L", (CANVAS, CANVAS))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(1, 4))):
        c, r = CANVAS / 2 + rng.uniform(-60, 60, 2), rng.uniform(20, 80)
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        rad = r * (1 + 0.3 * np.sin(rng.integers(2, 5) * t + rng.uniform(0, 6)))
        draw.polygon([tuple(p) for p in c + np.stack([rad * np.cos(t), rad * np.sin(t)], 1)], fill=255)
    return np.asarray(img)


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Raw 28x28 input: uniform, Gaussian and sparse salt noise, a third each."""
    kinds = [
        lambda: rng.uniform(0, 1, (28, 28)),
        lambda: np.clip(rng.normal(0.2, 0.3, (28, 28)), 0, 1),
        lambda: (rng.random((28, 28)) < rng.uniform(0.03, 0.2)).astype(float),
    ]
    return np.stack([kinds[i % 3]() for i in range(n)]).astype(np.float32) if n else np.zeros((0, 28, 28), np.float32)


def _font_family(chars: str, fonts: int = len(FONTS)):
    return lambda rng: _text(chars[rng.integers(len(chars))], rng, fonts)


CANVAS_FAMILIES = {
    "font letters": _font_family(FONT_LETTERS),
    "font symbols": _font_family(FONT_SYMBOLS, len(FONTS) - 2),
    "shapes": lambda rng: _drawn(SHAPES, rng),
    "scribbles": _scribble,
    "two digits": _two_digits,
    "partial digits": _partial_digit,
    "drawn letters": lambda rng: _drawn(DRAWN_LETTERS, rng),
    "drawn symbols": lambda rng: _drawn(DRAWN_SYMBOLS, rng),
    "blobs": _blob,
}
FAMILIES = (*CANVAS_FAMILIES, "noise")
# Never in training: the measure of what outlier exposure does for kinds it has not seen.
# Drawn letters are what people try first on the canvas; fonts teach letters only as type.
HELD_OUT = ("drawn letters", "drawn symbols", "blobs")
TRAINING = tuple(f for f in FAMILIES if f not in HELD_OUT)


# Independent random streams: a model's training pool, the validation images its calibration
# is fitted on, and the images its report shows, never the same drawings.
STREAMS = ("train", "validation", "report")


def family(name: str, n: int, seed: int = 0, stream: str = "report") -> np.ndarray:
    """``n`` images of one family: float32 (n, 28, 28) in [0, 1], ready for the model."""
    if name not in FAMILIES:
        raise ValueError(f"unknown non-digit family {name!r}; choose from {', '.join(FAMILIES)}")
    rng = np.random.default_rng([seed, FAMILIES.index(name), STREAMS.index(stream)])
    if name == "noise":
        return _noise(n, rng)
    make = CANVAS_FAMILIES[name]
    return np.stack([prepare_image(make(rng)) for _ in range(n)]).astype(np.float32) if n else _noise(0, rng)


def non_digits(
    per_family: int = 500, seed: int = 0, stream: str = "report", families=FAMILIES
) -> dict[str, np.ndarray]:
    """Named sets of non-digit images, one per family."""
    return {f: family(f, per_family, seed, stream) for f in families}
