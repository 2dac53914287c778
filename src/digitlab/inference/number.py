"""Reading a number: every digit in an image, left to right, each read like a single digit.

The image side (finding the ink, its pieces, merging strokes of one digit, candidate cuts
of touching digits) is :mod:`digitlab.data.segment`. Here the models choose: a piece the
gate (:mod:`digitlab.inference.gate`) takes for one digit is one. Any other is over-cut, and
the line reader (:mod:`digitlab.inference.line`), which sees the whole piece, says which
digits it holds; the digits are the run of stretches between cuts that spells that and
scores best: the largest sum, over its stretches, of the log of the gate's "one whole digit"
times the classifier's confidence (dynamic programming over the cuts). When no run spells
it, the best run of as many stretches is taken and a digit the classifier reads otherwise is
the line reader's, not sure; when there is none, the best run of all. Then every digit is
read by the classifier in one batch, by the single digit's rule: a piece kept whole that the
not-a-digit gate calls no digit is ``?``. Separators (``- / . , :``) are found by shape and size
first (:func:`digitlab.data.segment.split_separators`) and answered as themselves. Images over
WORK_HEIGHT rows are read shrunk.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from digitlab.core.errors import DigitlabError
from digitlab.data.lines import line_input
from digitlab.data.pieces import DIGIT
from digitlab.data.preprocess import ink_image, load_image
from digitlab.data.segment import Piece, components, cut_candidates, merge_columns, segments, split_separators

from .calibrate import NOT_A_DIGIT
from .calibrate import reason as calibrate_reason

MAX_DIGITS = 32
KEEP = 0.5  # a piece the gate takes for one digit this surely (and not too wide) is one, uncut
SURELY_SEVERAL = 0.9  # one it takes for several digits this surely is cut, however its parts read
CERTAINLY_SEVERAL = 1.4  # a piece this much wider than tall is never one digit
FLAT = 0.4  # a piece lower than this share of the tallest one is a dash or a line, not digits
LINE = 8.0  # and so is one this many times wider than tall (six touching digits are about 4)
WORK_HEIGHT = 140  # rows: a taller image is read shrunk to this (a canvas's digits stay ~80 px high), 4x less work


def _scored(pred, parts: list[Piece], ink: np.ndarray) -> list[tuple[float, int, np.ndarray]]:
    """Per stretch: the log of the gate's probability that it is one whole digit times the
    classifier's confidence in it, the classifier's digit, and the prepared image."""
    x = np.stack([part.prepared(ink) for part in parts])
    one = pred.gate.kinds(x)[:, DIGIT]
    probs = pred.probabilities(x)
    score = np.log(np.maximum(one, 1e-6)) + np.log(np.maximum(probs.max(1), 1e-6))
    return list(zip(score.tolist(), probs.argmax(1).tolist(), x))


Digit = tuple[Piece, np.ndarray, int | None]  # a digit's ink, its prepared image, and the line reader's digit
# where the classifier reads that ink as another


def _best_run(options: list, scored: list, end: int, text: str | None, spell: bool = True) -> list[Digit] | None:
    """The run of stretches from the left edge to cut ``end`` with the largest total score (dynamic
    programming; ``options`` ordered by their right cut); with ``text``, the best of as many
    stretches as it has digits that spell it (or, not ``spell``, that merely number as many).
    None when there is no such run."""
    best: list[dict[int, float]] = [{} for _ in range(end + 1)]  # per cut: digits so far -> best total
    best[0][0] = 0.0
    back: dict[tuple[int, int], tuple] = {}
    scores = iter(scored)
    for i, j, part in options:
        score, digit, prepared = next(scores) if part is not None else (0.0, None, None)
        for k, total in list(best[i].items()):
            counted = part is not None and text is not None
            if counted and (k >= len(text) or (spell and text[k] != str(digit))):
                continue
            if total + score > best[j].get(k + counted, -np.inf):
                best[j][k + counted], back[(j, k + counted)] = total + score, (i, k, part, prepared, digit)
    key = (end, len(text) if text is not None else 0)
    if key not in back:
        return None
    out: list[Digit] = []
    while key[0] > 0:
        i, k, part, prepared, digit = back[key]
        if part is not None:
            wanted = int(text[k]) if text is not None and text[k] != str(digit) else None
            out.append((part, prepared, wanted))
        key = (i, k)
    return out[::-1]


def split_touching(
    pred, piece: Piece, ink: np.ndarray, height: int, several: bool, text: str | None = None
) -> list[Digit]:
    """The digits a piece holds: the best run of stretches between its candidate cuts whose digits
    spell ``text`` (the line reader's reading of the piece); else the best run of as many stretches,
    each answering the line reader's digit; else the best run of all. The whole piece is one of
    the runs, unless it is surely ``several``."""
    paths = cut_candidates(piece, height)
    end = len(paths) + 1
    options = sorted(
        (o for o in segments(piece, paths) if not (several and o[:2] == (0, end))), key=lambda o: (o[1], o[0])
    )
    parts = [part for _, _, part in options if part is not None]
    if not parts:
        return [(piece, piece.prepared(ink), None)]
    scored = _scored(pred, parts, ink)
    found = None
    if text:
        found = _best_run(options, scored, end, text) or _best_run(options, scored, end, text, spell=False)
    return found or _best_run(options, scored, end, None) or [(piece, piece.prepared(ink), None)]


def _digits(pred, pieces: list[Piece], ink: np.ndarray) -> list[Digit]:
    """Every digit and its prepared image: a piece the gate takes for one digit (or a dash, a line)
    as it is, any other as :func:`split_touching` cuts it, guided by the line reader."""
    if not pieces:
        return []
    tallest = max(p.mask.shape[0] for p in pieces)
    x = np.stack([p.prepared(ink) for p in pieces])
    kinds = pred.gate.kinds(x)
    keep, cut = [], []
    for p, (one, _, many) in zip(pieces, kinds):
        h, w = p.mask.shape
        several = w > CERTAINLY_SEVERAL * h or many >= SURELY_SEVERAL
        keep.append(h < FLAT * tallest or w > LINE * h or (one >= KEEP and not several))
        cut.append(several)
    texts = iter(pred.line.read([line_input(p, ink) for p, k in zip(pieces, keep) if not k]))
    out = []
    for p, xi, k, several in zip(pieces, x, keep, cut):
        out += [(p, xi, None)] if k else split_touching(pred, p, ink, tallest, several, next(texts))
    return out


def _box(piece: Piece, scale: tuple[float, float], shape: tuple[int, int]) -> list[int]:
    """The piece's box in the input image's pixels (the ink may have been read shrunk by ``scale``)."""
    (left, top, right, bottom), (sy, sx) = piece.box, scale
    return [
        int(left * sx),
        int(top * sy),
        min(shape[1], int(np.ceil(right * sx))),
        min(shape[0], int(np.ceil(bottom * sy))),
    ]


def _answer(r: dict, box: list[int], wanted: int | None) -> dict:
    """One digit's answer: the classifier's; where it reads the ink as another digit than the line
    reader did, the line reader's digit, not sure, with the classifier's probability of it and the
    classifier's own digit second. Ink the classifier calls no digit at all is ``?``."""
    out = {k: r[k] for k in ("digit", "confidence", "sure", "top2", "reason")} | {"box": box}
    if wanted is not None and r["reason"] != NOT_A_DIGIT:
        out |= {"digit": wanted, "confidence": r["probabilities"][wanted], "sure": False, "top2": [wanted, r["digit"]]}
        out["reason"] = "unsure"
    out["char"] = "?" if out["reason"] == NOT_A_DIGIT else str(out["digit"])
    out["kind"] = "not a digit" if out["reason"] == NOT_A_DIGIT else "digit"
    return out


def _cut_answer(r: dict, threshold: float) -> dict:
    """A stretch cut from touching ink holds bits of its neighbours, which the not-a-digit gate
    (trained on whole marks, two digits in one box among its non-digits) takes for no digit; the
    number gate and the line reader have already judged it one digit, so only "not sure" stands."""
    if r["reason"] != NOT_A_DIGIT:
        return r
    why = calibrate_reason(r["confidence"], None, False, threshold, 0.0)
    return {**r, "reason": why, "sure": why is None}


def _in_order(digits: list[dict], separators: list[dict]) -> list[dict]:
    """The separators slotted in among the digits by their left edges; the digits keep their own
    order (stretches cut from touching ink along bending paths may start left of the one before)."""
    out, pending = [], sorted(separators, key=lambda r: r["box"][0])
    for d in digits:
        while pending and pending[0]["box"][0] < d["box"][0]:
            out.append(pending.pop(0))
        out.append(d)
    return out + pending


def _mark(char: str, box: list[int]) -> dict:
    """A separator's place in the answer: itself, sure, no digit."""
    return {"digit": None, "confidence": None, "sure": True, "top2": [], "reason": None, "box": box} | {
        "char": char,
        "kind": "separator",
    }


def read_number(pred, image, inputs: bool = False) -> dict:
    """The digits in ``image`` (anything :func:`digitlab.prepare_image` takes), read by ``pred``
    (a :class:`~digitlab.inference.Predictor`): ``text``, ``sure`` (every digit sure), ``empty``
    and ``digits``, left to right, each with ``char`` (a digit, a separator ``- / . , :`` or ``?``
    for ink that is neither), ``kind`` (``digit``, ``separator`` or ``not a digit``), ``digit``
    and ``confidence`` (None for a separator; for ``?`` the classifier's best guess), ``sure``,
    ``reason``, ``top2`` and ``box``
    (``[left, top, right, bottom]`` in the image's pixels); ``inputs`` adds each digit's
    ``input``, the 28x28 the classifier read."""
    if isinstance(image, (str, os.PathLike)):
        image = load_image(image)
    shape = np.shape(image)[:2] if not isinstance(image, Image.Image) else (image.height, image.width)
    ink = ink_image(image, WORK_HEIGHT)
    scale = (shape[0] / ink.shape[0], shape[1] / ink.shape[1])
    pieces, marks = split_separators(components(ink, max_pieces=4 * MAX_DIGITS))
    pieces = merge_columns(pieces)
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
    if not digits and not marks:
        return {"text": "", "sure": False, "empty": True, "digits": []}
    results = pred.predict_prepared(np.stack([x for _, x, _ in digits])) if digits else []
    whole = [any(piece.box == p.box for p in pieces) for piece, _, _ in digits]  # uncut: the gate's to judge
    results = [r if w else _cut_answer(r, pred.threshold) for r, w in zip(results, whole)]
    out = [_answer(r, _box(piece, scale, shape), wanted) for r, (piece, _, wanted) in zip(results, digits)]
    for r, (_, x, _) in zip(out, digits) if inputs else ():
        r["input"] = x
    out = _in_order(out, [_mark(m, _box(p, scale, shape)) for p, m in marks])
    return {
        "text": "".join(r["char"] for r in out),
        "sure": all(r["sure"] for r in out),
        "empty": False,
        "digits": out,
    }
