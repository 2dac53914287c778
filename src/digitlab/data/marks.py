"""The separators of form fields, told apart from digits by shape and size (no model here).

A number such as ``12/05/2026``, ``3.50`` or ``10:45`` holds marks that are no digit: a
reader must neither drop them nor read them as digits. Each piece of ink
(:mod:`digitlab.data.segment`) is measured against the line it stands in: the tall
pieces' common top and bottom, and the pen's stroke width. A dot is a round speck at
least about a stroke wide; ``.`` sits on the baseline, ``,`` reaches below it, ``:`` is two
dots one above the other, ``-`` a short flat stroke about the middle of the line, ``/`` a
straight stroke as tall as the digits leaning further than most handwritten 1s do. Anything
else is left to the models.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SEPARATORS = "-/.,:"
DOT = 0.6  # a dot is at least this many stroke widths across (grain and specks are smaller)
SMALL = 0.4  # of the line's height: a dot or comma is no taller or wider than this
# A / leans at least this far across per unit of height (35 degrees), and its ink spreads
# across its length by at most this share of its spread along it. Handwritten 1s lean too:
# of 3,000 MNIST training 1s, 1.9% pass both (17.8% would at 0.5 and 0.25).
SLASH_LEAN = 0.7
STRAIGHT = 0.15


@dataclass
class Line:
    """Where the digits stand: the tall pieces' median top and bottom, and the stroke width."""

    top: float
    bottom: float
    stroke: float

    @property
    def height(self) -> float:
        return max(1.0, self.bottom - self.top)


def stroke_width(mask: np.ndarray) -> float:
    """The pen's width in pixels, from the mean distance of ink from the background: across a
    stroke w pixels wide the distances run 1, 2, ... w/2 and back, so their mean is (w/2 + 1)/2."""
    if not mask.any():
        return 1.0
    dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 3)
    return float(max(1.0, 4 * dist[dist > 0].mean() - 2))


def line_of(boxes: list[tuple[int, int, int, int]], masks: list[np.ndarray]) -> Line:
    """The :class:`Line` of pieces given by their ``(left, top, right, bottom)`` boxes and masks."""
    heights = np.array([b[3] - b[1] for b in boxes])
    tall = np.flatnonzero(heights >= 0.6 * heights.max())
    largest = max(range(len(masks)), key=lambda i: masks[i].sum())
    return Line(
        float(np.median([boxes[i][1] for i in tall])),
        float(np.median([boxes[i][3] for i in tall])),
        stroke_width(masks[largest]),
    )


def is_dot(h: int, w: int, pen: float) -> bool:
    """Ink ``h`` x ``w`` pixels is a deliberate dot rather than grain: round-ish and at least
    :data:`DOT` times the ``pen``'s stroke width across."""
    return min(h, w) >= DOT * pen and max(h, w) <= 2.5 * min(h, w)


def _slash(mask: np.ndarray, line: Line) -> bool:
    """As tall as the digits, straight, and leaning right at the top further than a 1 does."""
    if mask.shape[0] < 0.7 * line.height:
        return False
    ys, xs = np.nonzero(mask)
    pts = np.stack([xs, ys], 1).astype(np.float64)
    _, sv, vt = np.linalg.svd(pts - pts.mean(0), full_matrices=False)
    dx, dy = vt[0]
    # y grows downwards, so a / has x falling as y grows: dx and dy of opposite signs
    return dx * dy < 0 and abs(dx) >= SLASH_LEAN * abs(dy) and sv[1] <= STRAIGHT * sv[0]


def colon(upper: tuple, lower: tuple, line: Line) -> bool:
    """Two dots, given as (box, mask), one above the other in the same columns, the upper about
    the middle of the line and the lower on its baseline: a ``:``."""
    (b1, m1), (b2, m2) = upper, lower
    if not all(is_dot(*m.shape, line.stroke) and max(m.shape) <= SMALL * line.height for m in (m1, m2)):
        return False
    shared = min(b1[2], b2[2]) - max(b1[0], b2[0])
    c1, c2 = ((b[1] + b[3]) / 2 - line.top for b in (b1, b2))
    return shared > 0 and 0.15 * line.height <= c1 <= 0.6 * line.height and c2 >= 0.7 * line.height


def separator(box: tuple[int, int, int, int], mask: np.ndarray, line: Line) -> str | None:
    """The separator one connected piece of ink is (``- / . ,``; a ``:`` is two, see :func:`colon`),
    or None (a digit, a letter, anything else)."""
    _, top, _, bottom = box
    h, w = mask.shape
    small, centre = h <= SMALL * line.height and w <= SMALL * line.height, (top + bottom) / 2 - line.top
    if small and h > 1.3 * w and bottom > line.bottom and top >= line.top + 0.6 * line.height:
        return ","
    if small and is_dot(h, w, line.stroke) and centre >= 0.7 * line.height:
        return "."
    if h <= 0.25 * line.height and 2 * h <= w <= 0.9 * line.height and 0.3 <= centre / line.height <= 0.75:
        return "-"
    return "/" if _slash(mask, line) else None
