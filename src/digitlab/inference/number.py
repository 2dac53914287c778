"""Reading a number: every digit in an image, left to right, each read like a single digit.

The image side (finding the ink, its pieces, merging strokes of one digit, candidate
cuts of touching digits) is :mod:`digitlab.data.segment`; here the model chooses among
the cuts (the split it reads most confidently) and reads every digit in one batch.
"""

from __future__ import annotations

import numpy as np

from digitlab.core.errors import DigitlabError
from digitlab.data.preprocess import ink_image
from digitlab.data.segment import Piece, components, halves, merge_columns

MAX_DIGITS = 32
WIDE = 0.95  # a piece wider than this times its height may be several touching digits
CERTAINLY_SEVERAL = 1.4  # and one this much wider than tall is never one digit
MAX_DEPTH = 5  # cuts of one piece, one inside another
FLAT = 0.4  # a piece lower than this share of the tallest one is a dash or a line, not digits
LINE = 8.0  # and so is one this many times wider than tall (six touching digits are about 4)


def _confidences(pred, pieces: list[Piece], ink: np.ndarray) -> np.ndarray:
    return pred.probabilities(np.stack([p.prepared(ink) for p in pieces])).max(1)


def split_touching(pred, piece: Piece, ink: np.ndarray, tallest: int, depth: int = 0) -> list[Piece]:
    """A piece as the digits it holds. One too wide for a digit is cut in two where the model reads
    both halves most surely (the sum of their log confidences), and each half again if it is still
    too wide; a piece only somewhat wide is cut only when both halves read more surely than the whole.
    A flat piece (a dash, a line: far lower than the ``tallest`` piece) is never cut."""
    h, w = piece.mask.shape
    flat = h < FLAT * tallest or w > LINE * h
    options = halves(piece) if depth < MAX_DEPTH and w > WIDE * h and not flat else []
    if not options:
        return [piece]
    conf = _confidences(pred, [piece] + [half for pair in options for half in pair], ink)
    pairs = conf[1:].reshape(-1, 2)
    best = int(np.argmax(np.log(np.maximum(pairs, 1e-9)).sum(1)))
    if w <= CERTAINLY_SEVERAL * h and pairs[best].min() <= conf[0]:
        return [piece]
    left, right = options[best]
    return split_touching(pred, left, ink, tallest, depth + 1) + split_touching(pred, right, ink, tallest, depth + 1)


def read_number(pred, image) -> dict:
    """The digits in ``image`` (anything :func:`digitlab.prepare_image` takes), read by ``pred``
    (a :class:`~digitlab.inference.Predictor`): ``text``, ``sure`` (every digit sure), ``empty``
    and ``digits``, each with ``digit``, ``confidence``, ``sure``, ``top2`` and ``box``
    (``[left, top, right, bottom]`` in the image's pixels)."""
    ink = ink_image(image)
    pieces = merge_columns(components(ink, max_pieces=4 * MAX_DIGITS))
    if len(pieces) > MAX_DIGITS:
        raise DigitlabError(
            f"found {len(pieces)} separate marks; at most {MAX_DIGITS} digits are read at once: "
            "crop the image to the number"
        )
    tallest = max((p.mask.shape[0] for p in pieces), default=0)
    digits = [d for p in pieces for d in split_touching(pred, p, ink, tallest)]
    if len(digits) > MAX_DIGITS:
        raise DigitlabError(
            f"found {len(digits)} digits; at most {MAX_DIGITS} are read at once: crop the image to the number"
        )
    if not digits:
        return {"text": "", "sure": False, "empty": True, "digits": []}
    results = pred.predict_prepared(np.stack([d.prepared(ink) for d in digits]))
    out = [
        {
            "digit": r["digit"],
            "confidence": r["confidence"],
            "sure": r["sure"],
            "top2": r["top2"],
            "box": [int(v) for v in d.box],
        }
        for r, d in zip(results, digits)
    ]
    return {
        "text": "".join(str(r["digit"]) for r in out),
        "sure": all(r["sure"] for r in out),
        "empty": False,
        "digits": out,
    }
