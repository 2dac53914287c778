"""Cutting a number into digits: the image side of reading a number (no model here).

The ink (:func:`digitlab.data.preprocess.ink_image`) falls into connected pieces. Specks
(paper grain, a stray touch) are dropped; pieces that share most of their columns are
one digit (a 5's flag or a 4's bar drawn apart, a broken stroke). A piece that may hold
several touching digits is over-cut at its weakest columns (:func:`cut_candidates`), and
the stretches between cuts (:func:`segments`) are what the models choose among
(:mod:`digitlab.inference.number`). Each digit is then prepared exactly like a single
digit (:func:`~digitlab.data.preprocess.prepare_ink`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from digitlab.core.errors import DigitlabError

from .marks import colon, is_dot, line_of, separator, stroke_width
from .preprocess import INK_THRESHOLD, prepare_ink

SPECK_AREA = 0.03  # of the largest piece's ink: smaller pieces ...
SPECK_HEIGHT = 0.3  # ... that are also this much lower than the tallest are specks
SAME_DIGIT_OVERLAP = 0.5  # pieces sharing this share of the narrower one's columns are one digit
MIN_CUT_WIDTH = 6  # pixels: a narrower piece is never cut
CUT_SPACING = 0.1  # of the line's height: candidate cuts are at least this far apart
CUT_DRIFT = 0.1  # of the line's height: how far a cut may bend to pass between leaning digits
MAX_CUTS = 60  # candidate cuts in one piece (a line of touching digits; more is noise)
MAX_SPAN = 9  # one digit spans at most this many gaps between candidate cuts


@dataclass
class Piece:
    """Ink that may be one digit: a mask over its bounding box in the whole image."""

    top: int
    left: int
    mask: np.ndarray  # bool (h, w)

    @property
    def box(self) -> list[int]:
        """``[left, top, right, bottom]`` in the input image's pixels (right and bottom exclusive)."""
        h, w = self.mask.shape
        return [self.left, self.top, self.left + w, self.top + h]

    def prepared(self, ink: np.ndarray) -> np.ndarray:
        """This piece's ink alone (not its neighbours' in the same box), as a 28x28 MNIST-style digit."""
        h, w = self.mask.shape
        return prepare_ink(np.where(self.mask, ink[self.top : self.top + h, self.left : self.left + w], 0.0))


def _trimmed(top: int, left: int, mask: np.ndarray) -> Piece | None:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return None
    return Piece(top + rows[0], left + cols[0], mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def _union(a: Piece, b: Piece) -> Piece:
    top, left = min(a.top, b.top), min(a.left, b.left)
    bottom, right = max(a.box[3], b.box[3]), max(a.box[2], b.box[2])
    mask = np.zeros((bottom - top, right - left), bool)
    for p in (a, b):
        h, w = p.mask.shape
        mask[p.top - top : p.top - top + h, p.left - left : p.left - left + w] |= p.mask
    return Piece(top, left, mask)


def components(ink: np.ndarray, max_pieces: int = 128) -> list[Piece]:
    """The connected pieces of ink (8-connected), specks dropped (but not dots as wide as the pen,
    which may be decimal points, unless they outnumber the other marks), left to right. More than ``max_pieces`` after that (noise, a
    page of text) is a one-line error, found before any per-piece work."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats((ink > INK_THRESHOLD).view(np.uint8), connectivity=8)
    if n == 1:  # label 0 is the background
        return []
    left, top, width, height, areas = stats[1:].T
    big = (areas >= SPECK_AREA * areas.max()) | (height >= SPECK_HEIGHT * height.max())
    j = int(areas.argmax())
    pen = stroke_width(labels[top[j] : top[j] + height[j], left[j] : left[j] + width[j]] == j + 1)
    dots = np.array([not b and is_dot(h, w, pen) for b, h, w in zip(big, height, width)])
    if dots.sum() > big.sum():  # more dots than marks: grain or noise, not decimal points
        dots[:] = False
    keep = np.flatnonzero(big | dots)
    if len(keep) > max_pieces:
        raise DigitlabError(f"found {len(keep)} separate marks, too many for a number: crop the image to the number")
    pieces = []
    for i in keep:
        box = labels[top[i] : top[i] + height[i], left[i] : left[i] + width[i]]
        pieces.append(Piece(int(top[i]), int(left[i]), box == i + 1))
    return sorted(pieces, key=lambda p: p.left)


def _specks(pieces: list[Piece]) -> list[bool]:
    """Which pieces :func:`components` would drop as specks were they not dot-sized (decimal points)."""
    areas = np.array([p.mask.sum() for p in pieces])
    heights = np.array([p.mask.shape[0] for p in pieces])
    return list((areas < SPECK_AREA * areas.max()) & (heights < SPECK_HEIGHT * heights.max()))


def split_separators(pieces: list[Piece]) -> tuple[list[Piece], list[tuple[Piece, str]]]:
    """The pieces that are no separator, and the separators (``- / . , :``, by shape and size against
    the line, :mod:`digitlab.data.marks`) with their character. Done before :func:`merge_columns`,
    which would otherwise join a decimal point to the 7 whose bar overhangs it."""
    if not pieces:
        return [], []
    line = line_of([p.box for p in pieces], [p.mask for p in pieces])
    marks = [separator(p.box, p.mask, line) for p in pieces]
    for i, j in ((i, j) for i in range(len(pieces)) for j in range(len(pieces)) if i != j):
        if (
            marks[i] in (None, ".")
            and marks[j] == "."
            and colon((pieces[i].box, pieces[i].mask), (pieces[j].box, pieces[j].mask), line)
        ):
            marks[i], marks[j] = ":", ""  # the pair is one mark, kept as the upper dot's piece joined to the lower
            pieces[i] = _union(pieces[i], pieces[j])
    specks = _specks(pieces)
    rest = [p for p, m, s in zip(pieces, marks, specks) if m is None and not s]  # dots kept for nothing: specks
    found = [(p, m) for p, m in zip(pieces, marks) if m]
    if len(found) > len(merge_columns(rest)):  # more separators than digits: noise, not a number's marks
        return [p for p, m, s in zip(pieces, marks, specks) if m != "" and not s], []
    return rest, found


def merge_columns(pieces: list[Piece]) -> list[Piece]:
    """Pieces that share most of their columns are one digit written in several strokes."""
    out: list[Piece] = []
    for p in sorted(pieces, key=lambda p: p.left):
        for i, q in enumerate(out):
            shared = min(p.box[2], q.box[2]) - max(p.left, q.left)
            if shared >= SAME_DIGIT_OVERLAP * min(p.mask.shape[1], q.mask.shape[1]):
                out[i] = _union(q, p)
                break
        else:
            out.append(p)
    return sorted(out, key=lambda p: p.left)


def _weakest(profile: np.ndarray, lo: int, hi: int, count: int, apart: int) -> list[int]:
    """Up to ``count`` columns in [lo, hi) with the least ink, at least ``apart`` columns apart."""
    chosen: list[int] = []
    for c in lo + np.argsort(profile[lo:hi], kind="stable"):
        if all(abs(c - d) >= apart for d in chosen):
            chosen.append(int(c))
        if len(chosen) == count:
            break
    return chosen


def cut_path(mask: np.ndarray, centre: int, half_width: int) -> np.ndarray:
    """The column of a top-to-bottom cut in each row, through as little ink as it can: it may drift
    one column a row within ``half_width`` of ``centre``, so it can pass between digits that lean into
    each other where no straight cut can (dynamic programming, as in drop-fall segmentation)."""
    h, w = mask.shape
    lo, hi = max(1, centre - half_width), min(w - 1, centre + half_width + 1)
    if hi <= lo:  # too narrow to bend: a straight cut
        return np.full(h, min(max(centre, 1), w - 1), np.int64)
    band = mask[:, lo:hi].astype(np.float32) + 0.002 * np.abs(np.arange(lo, hi) - centre)  # straight when free
    cost = np.empty_like(band)
    step = np.zeros(band.shape, np.int8)
    cost[0] = band[0]
    for r in range(1, h):
        prev = np.stack([np.r_[np.inf, cost[r - 1, :-1]], cost[r - 1], np.r_[cost[r - 1, 1:], np.inf]])
        step[r] = prev.argmin(0) - 1
        cost[r] = band[r] + prev.min(0)
    path = np.empty(h, np.int64)
    path[-1] = int(cost[-1].argmin())
    for r in range(h - 1, 0, -1):
        path[r - 1] = path[r] + step[r, path[r]]
    return path + lo


def cut_candidates(piece: Piece, height: int) -> list[np.ndarray]:
    """Where a piece might be cut into digits: a :func:`cut_path` from each of its weakest columns,
    at least ``CUT_SPACING`` of the line's ``height`` apart, as many as its width allows, left to
    right and never crossing (each path's column, row by row, at least its left neighbour's). These
    over-cut on purpose: :func:`segments` puts neighbouring gaps back together."""
    h, w = piece.mask.shape
    apart = max(2, int(CUT_SPACING * height))
    margin = max(1, apart // 2)
    if w < MIN_CUT_WIDTH or w <= 2 * margin:
        return []
    profile = ndimage.uniform_filter1d(piece.mask.sum(0).astype(np.float32), size=max(1, w // 40))
    count = min(MAX_CUTS, 2 * max(1, (w - 2 * margin) // apart))  # the weakest first, as many as fit
    centres = sorted(_weakest(profile, margin, w - margin, count, apart))
    paths = [cut_path(piece.mask, c, max(2, int(CUT_DRIFT * height))) for c in centres]
    return list(np.maximum.accumulate(np.stack(paths), axis=0)) if paths else []


def segments(piece: Piece, paths: list[np.ndarray], max_span: int = MAX_SPAN) -> list[tuple[int, int, Piece | None]]:
    """The ink between candidate cuts ``i`` and ``j`` (0: the piece's left edge, ``len(paths) + 1``:
    its right edge) for every ``j - i`` up to ``max_span``, and the whole piece: ``(i, j, part)``;
    an empty part is None between neighbouring cuts and left out elsewhere."""
    h, w = piece.mask.shape
    end = len(paths) + 1
    edges = [np.zeros(h, np.int64), *paths, np.full(h, w)]
    cols = np.arange(w)
    out = []
    for i in range(end):
        for j in range(i + 1, min(end, i + max_span) + 1):
            inside = (cols >= edges[i][:, None]) & (cols < edges[j][:, None])
            part = _trimmed(piece.top, piece.left, piece.mask & inside)
            if part is not None or j == i + 1:  # an empty gap between neighbouring cuts is passed over
                out.append((i, j, part))
    if end > max_span:
        out.append((0, end, piece))
    return out
