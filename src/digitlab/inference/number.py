"""Reading a number: every digit in an image, left to right, each read like a single digit.

The image side (finding the ink, its pieces, merging strokes of one digit, candidate cuts
of touching digits) is :mod:`digitlab.data.segment`. Here the models choose: a piece the
gate (:mod:`digitlab.inference.gate`) takes for one digit is one; any other is over-cut, and
the digits it holds are the run of stretches between cuts that is most likely right as a
whole: the largest sum, over its stretches, of the log of the gate's "one whole digit" times
the classifier's confidence (dynamic programming over the cuts). Then every digit is read in
one batch.
"""

from __future__ import annotations

import numpy as np

from digitlab.core.errors import DigitlabError
from digitlab.data.pieces import DIGIT
from digitlab.data.preprocess import ink_image
from digitlab.data.segment import Piece, components, cut_candidates, merge_columns, segments

MAX_DIGITS = 32
KEEP = 0.5  # a piece the gate takes for one digit this surely (and not too wide) is one, uncut
SURELY_SEVERAL = 0.9  # one it takes for several digits this surely is cut, however its parts read
CERTAINLY_SEVERAL = 1.4  # a piece this much wider than tall is never one digit
FLAT = 0.4  # a piece lower than this share of the tallest one is a dash or a line, not digits
LINE = 8.0  # and so is one this many times wider than tall (six touching digits are about 4)


def _scores(pred, x: np.ndarray) -> np.ndarray:
    """Per prepared stretch: the log of the gate's probability that it is one whole digit times the
    classifier's confidence in it."""
    one = pred.gate.kinds(x)[:, DIGIT]
    conf = pred.probabilities(x).max(1)
    return np.log(np.maximum(one, 1e-6)) + np.log(np.maximum(conf, 1e-6))


def split_touching(pred, piece: Piece, ink: np.ndarray, height: int, several: bool) -> list[tuple[Piece, np.ndarray]]:
    """The digits a piece holds, each with its prepared image: the best run of stretches between
    its candidate cuts (the whole piece is one of the runs, unless it is surely ``several``)."""
    paths = cut_candidates(piece, height)
    end = len(paths) + 1
    options = sorted(
        (o for o in segments(piece, paths) if not (several and o[:2] == (0, end))), key=lambda o: (o[1], o[0])
    )
    parts = [part for _, _, part in options if part is not None]
    if not parts:
        return [(piece, piece.prepared(ink))]
    x = np.stack([part.prepared(ink) for part in parts])
    scores = iter(zip(_scores(pred, x), x))
    best = np.full(end + 1, -np.inf)
    best[0] = 0.0
    back: list[tuple[int, Piece | None, np.ndarray | None] | None] = [None] * (end + 1)
    for i, j, part in options:  # by j, so best[i] is final when it is used
        score, prepared = next(scores) if part is not None else (0.0, None)
        if best[i] + score > best[j]:
            best[j], back[j] = best[i] + score, (i, part, prepared)
    out, j = [], end
    while j > 0 and back[j] is not None:
        j, part, prepared = back[j]
        out += [(part, prepared)] if part is not None else []
    return out[::-1] if j == 0 else [(piece, piece.prepared(ink))]


def _digits(pred, pieces: list[Piece], ink: np.ndarray) -> list[tuple[Piece, np.ndarray]]:
    """Every digit and its prepared image: a piece the gate takes for one digit (or a dash, a line)
    as it is, any other as :func:`split_touching` cuts it."""
    if not pieces:
        return []
    tallest = max(p.mask.shape[0] for p in pieces)
    x = np.stack([p.prepared(ink) for p in pieces])
    kinds = pred.gate.kinds(x)
    out = []
    for p, xi, (one, _, many) in zip(pieces, x, kinds):
        h, w = p.mask.shape
        several = w > CERTAINLY_SEVERAL * h or many >= SURELY_SEVERAL
        if h < FLAT * tallest or w > LINE * h or (one >= KEEP and not several):
            out.append((p, xi))
        else:
            out += split_touching(pred, p, ink, tallest, several)
    return out


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
    digits = _digits(pred, pieces, ink)
    if len(digits) > MAX_DIGITS:
        raise DigitlabError(
            f"found {len(digits)} digits; at most {MAX_DIGITS} are read at once: crop the image to the number"
        )
    if not digits:
        return {"text": "", "sure": False, "empty": True, "digits": []}
    results = pred.predict_prepared(np.stack([x for _, x in digits]))
    out = [
        {
            "digit": r["digit"],
            "confidence": r["confidence"],
            "sure": r["sure"],
            "top2": r["top2"],
            "box": [int(v) for v in d.box],
        }
        for r, (d, _) in zip(results, digits)
    ]
    return {
        "text": "".join(str(r["digit"]) for r in out),
        "sure": all(r["sure"] for r in out),
        "empty": False,
        "digits": out,
    }
