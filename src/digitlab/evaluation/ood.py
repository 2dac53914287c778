""" "Not a digit": generated non-digit images and how well a score separates them.

The rejection score is the top probability after temperature scaling (the
same number the "not sure" threshold applies to), so one rule covers both
"ambiguous digit" and "not a digit at all". We also report the energy score
(``T * logsumexp(logits / T)``, Liu et al. 2020) for comparison.

Non-digit sets are generated here, never downloaded:

* ``uniform noise`` and ``gaussian noise``: raw 28x28 inputs, as the model sees them;
* ``letters``, ``shapes`` and ``scribbles``: drawn white-on-black on a 280x280 field
  like the app's canvas, then put through :func:`digitlab.data.preprocess.prepare_image`,
  exactly as a drawing is. Letters and shapes that are easily read as digits
  (O, I, l, S, Z, B, G, circles, single lines) are left out.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.special import logsumexp, softmax
from sklearn.metrics import roc_auc_score

from digitlab.data.drawings import BRUSH, CANVAS, render
from digitlab.data.preprocess import prepare_image

LETTERS = "ACEFHKMNPRTUVWXYaefhkmnrtuvwxy#%&@*+=?!$"


def _letters(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for i in range(n):
        ch = LETTERS[i % len(LETTERS)]
        font = ImageFont.load_default(size=int(rng.uniform(120, 200)))
        img = Image.new("L", (CANVAS, CANVAS))
        ImageDraw.Draw(img).text(
            (CANVAS / 2 + rng.uniform(-30, 30), CANVAS / 2 + rng.uniform(-30, 30)),
            ch,
            fill=255,
            font=font,
            anchor="mm",
            stroke_width=int(rng.integers(3, 9)),
            stroke_fill=255,
        )
        out.append(np.asarray(img.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR)))
    return out


def _shape(kind: str, rng: np.random.Generator) -> list[np.ndarray]:
    c, r = CANVAS / 2 + rng.uniform(-25, 25, 2), rng.uniform(60, 110)
    if kind == "square":
        a = rng.uniform(0, np.pi / 2)
        t = a + np.arange(5) * np.pi / 2
        return [c + r * np.stack([np.cos(t), np.sin(t)], 1)]
    if kind == "triangle":
        t = rng.uniform(0, 2 * np.pi) + np.arange(4) * 2 * np.pi / 3
        return [c + r * np.stack([np.cos(t), np.sin(t)], 1)]
    if kind == "star":
        t = rng.uniform(0, 2 * np.pi) + np.arange(6) * 4 * np.pi / 5
        return [c + r * np.stack([np.cos(t), np.sin(t)], 1)]
    if kind == "cross":
        a = rng.uniform(-0.3, 0.3)
        d = [np.array([np.cos(a + k * np.pi / 2), np.sin(a + k * np.pi / 2)]) * r for k in (0, 1)]
        return [np.stack([c - d[0], c + d[0]]), np.stack([c - d[1], c + d[1]])]
    if kind == "grid":  # '#'
        s = r / 2
        return [
            np.array([[c[0] - s, c[1] - r], [c[0] - s, c[1] + r]]),
            np.array([[c[0] + s, c[1] - r], [c[0] + s, c[1] + r]]),
            np.array([[c[0] - r, c[1] - s], [c[0] + r, c[1] - s]]),
            np.array([[c[0] - r, c[1] + s], [c[0] + r, c[1] + s]]),
        ]
    # spiral
    t = np.linspace(0, rng.uniform(3, 5) * np.pi, 80)
    rad = r * t / t[-1]
    return [c + np.stack([rad * np.cos(t), rad * np.sin(t)], 1)]


SHAPES = ["square", "triangle", "star", "cross", "grid", "spiral"]


def _scribble(rng: np.random.Generator) -> list[np.ndarray]:
    """A random smooth path: a few sine components in x and y, like a hand moving aimlessly."""
    t = np.linspace(0, 1, 120)[:, None]
    k = rng.integers(2, 6, size=(1, 2))
    ph = rng.uniform(0, 2 * np.pi, size=(1, 2))
    p = CANVAS / 2 + rng.uniform(60, 110, size=(1, 2)) * np.sin(2 * np.pi * k * t + ph)
    p += rng.uniform(20, 50, size=(1, 2)) * np.sin(2 * np.pi * (k + 3) * t + ph[:, ::-1])
    return [np.clip(p, 0, CANVAS - 1)]


def non_digits(per_set: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    """Named sets of non-digit images, float (N, 28, 28) in [0, 1], ready for the model."""
    rng = np.random.default_rng(seed)
    brush = lambda: int(rng.integers(BRUSH - 8, BRUSH + 12))  # noqa: E731
    canvas = {
        "letters": _letters(per_set, rng),
        "shapes": [render(_shape(SHAPES[i % len(SHAPES)], rng), brush()) for i in range(per_set)],
        "scribbles": [render(_scribble(rng), brush()) for _ in range(per_set)],
    }
    sets = {
        "uniform noise": rng.uniform(0, 1, (per_set, 28, 28)).astype(np.float32),
        "gaussian noise": np.clip(rng.normal(0.2, 0.3, (per_set, 28, 28)), 0, 1).astype(np.float32),
    }
    sets.update({k: np.stack([prepare_image(im) for im in v]) for k, v in canvas.items()})
    return sets


def scores(logits: np.ndarray, temperature: float) -> dict[str, np.ndarray]:
    """Higher means "more like a digit"."""
    z = logits / temperature
    return {"max_softmax": softmax(z, axis=1).max(1), "energy": temperature * logsumexp(z, axis=1)}


def rejection_report(
    digit_logits: np.ndarray, other_logits: dict[str, np.ndarray], temperature: float, threshold: float
) -> dict:
    """AUROC of digits against each non-digit set, for both scores, and what the threshold rejects."""
    digit_scores = scores(digit_logits, temperature)
    sets = {}
    for name, lg in other_logits.items():
        s = scores(lg, temperature)
        y = np.r_[np.ones(len(digit_logits)), np.zeros(len(lg))]
        sets[name] = {
            "images": int(len(lg)),
            "auroc_max_softmax": float(roc_auc_score(y, np.r_[digit_scores["max_softmax"], s["max_softmax"]])),
            "auroc_energy": float(roc_auc_score(y, np.r_[digit_scores["energy"], s["energy"]])),
            "rejected_at_threshold": float((s["max_softmax"] < threshold).mean()),
        }
    return {
        "score": "max softmax after temperature scaling",
        "threshold": threshold,
        "temperature": temperature,
        "digits_rejected_at_threshold": float((digit_scores["max_softmax"] < threshold).mean()),
        "sets": sets,
    }
