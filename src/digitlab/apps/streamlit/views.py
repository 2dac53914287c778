"""The app's answers as HTML and pictures (no Streamlit here): the ``#prediction`` and ``#number``
elements that people read and tests look for, and the drawing with its digits boxed."""

from __future__ import annotations

import html

import numpy as np

from digitlab.inference.calibrate import NOT_A_DIGIT


def prediction_html(result: dict | None, hint: str) -> str:
    """The ``#prediction`` element for a result of ``predict_image`` (None: nothing to show)."""
    if result is None or result["empty"]:
        return f'<div id="prediction" data-digit="" data-state="empty"><p class="hint">{html.escape(hint)}</p></div>'
    conf = result["confidence"]
    if result["reason"] == NOT_A_DIGIT:
        return (
            f'<div id="prediction" data-digit="" data-state="not-a-digit" data-confidence="{conf:.4f}">'
            f'<div class="unsure">{html.escape(result["message"])}</div>'
            '<p class="hint">It reads no digit in this drawing; write one digit, large and clear.</p></div>'
        )
    if not result["sure"]:
        a, b = result["top2"]
        return (
            f'<div id="prediction" data-digit="" data-state="unsure" data-top2="{a},{b}" data-confidence="{conf:.4f}">'
            f'<div class="unsure">Not sure: {a} or {b}?</div>'
            f'<p class="hint">Best guess {a} at {conf:.0%}; try writing it larger and clearer.</p></div>'
        )
    d = result["digit"]
    return (
        f'<div id="prediction" data-digit="{d}" data-state="sure" data-confidence="{conf:.4f}">'
        f'<div class="digit">{d}</div><p>{conf:.1%} confident</p></div>'
    )


def _number_char(d: dict) -> str:
    """One character of a number read: a digit or separator as it is, a doubtful digit underlined
    with its two best guesses, a mark that is no digit as ``?``."""
    if d["kind"] == "not a digit":
        return '<span class="unsure-digit" title="not a digit">?</span>'
    if d["sure"]:
        return f"<span>{d['char']}</span>"
    return f'<span class="unsure-digit" title="not sure: {d["top2"][0]} or {d["top2"][1]}?">{d["char"]}</span>'


def number_html(result: dict | None) -> str:
    """The ``#number`` element: ``data-text`` holds what was read, digits, separators and ``?`` (empty while nothing),
    ``data-state`` is ``empty``, ``sure`` or ``unsure``; digits not sure are marked."""
    if result is None or result["empty"]:
        return (
            '<div id="number" data-text="" data-state="empty"><p class="hint">Write a number in the wide box: '
            "every digit is read when you lift the pen.</p></div>"
        )
    digits = "".join(_number_char(d) for d in result["digits"])
    state = "sure" if result["sure"] else "unsure"
    note = (
        "every digit sure"
        if result["sure"]
        else "underlined: not sure (hover for the two best guesses); ?: not a digit"
    )
    return (
        f'<div id="number" data-text="{result["text"]}" data-state="{state}"><div class="number">{digits}</div>'
        f'<p class="hint">{note}</p></div>'
    )


def boxed(image: np.ndarray, result: dict) -> np.ndarray:
    """The drawing with a box around each digit read: green when sure, orange when not."""
    out = np.asarray(image)[:, :, :3].copy()
    for d in result["digits"]:
        x0, y0, x1, y1 = d["box"]
        colour = (42, 157, 74) if d["sure"] else (199, 119, 0)
        x0, y0, x1, y1 = max(x0 - 3, 0), max(y0 - 3, 0), min(x1 + 2, out.shape[1] - 1), min(y1 + 2, out.shape[0] - 1)
        out[[y0, y1], x0 : x1 + 1] = colour
        out[y0 : y1 + 1, [x0, x1]] = colour
    return out
