"""Canvas-style drawings: the preprocessing must read small, large, off-centre,
slanted, thick and thin drawings as well as centred ones."""

from __future__ import annotations

import numpy as np
import pytest

from digitlab.data import drawings
from digitlab.data.preprocess import prepare_batch

PER_DIGIT = 20


@pytest.fixture(scope="module")
def accuracy_by_variation(shipped) -> dict[str, float]:
    out = {}
    for v in drawings.VARIATIONS:
        x, y = drawings.drawings(v, per_digit=PER_DIGIT, seed=0)
        out[v] = float((shipped.probabilities(prepare_batch(list(x))).argmax(1) == y).mean())
    return out


def test_every_variation_is_read_as_well_as_centred_drawings(accuracy_by_variation, measured):
    acc = accuracy_by_variation
    measured(
        f"synthetic canvas drawings, shipped model, {10 * PER_DIGIT} per variation: "
        + ", ".join(f"{v} {a:.1%}" for v, a in acc.items())
    )
    assert acc["centred"] >= 0.97
    lagging = {v: a for v, a in acc.items() if a < min(acc["centred"] - 0.03, 0.97)}
    assert not lagging, f"these variations lag behind centred drawings ({acc['centred']:.1%}): {lagging}"


def test_no_drawn_digit_is_called_not_a_digit(shipped, measured):
    called = {}
    for v in drawings.VARIATIONS:
        x, y = drawings.drawings(v, per_digit=PER_DIGIT, seed=0)
        answers = shipped.predict_prepared(prepare_batch(list(x)))
        called[v] = sum(r["reason"] == "not a digit" for r in answers)
        assert [r["digit"] for r in answers] == y.tolist(), v
    measured(f"synthetic canvas drawings called not a digit, per variation of {10 * PER_DIGIT}: {called}")
    assert not any(called.values()), called


def test_drawings_look_like_the_canvas_makes_them():
    x, y = drawings.drawings("centred", per_digit=2, seed=1)
    assert x.shape == (20, drawings.CANVAS, drawings.CANVAS) and x.dtype == np.uint8
    assert list(y[:4]) == [0, 0, 1, 1]
    # White anti-aliased ink on black: mostly background, some full white, some grey edge.
    assert (x == 0).mean() > 0.7 and (x == 255).any() and ((x > 0) & (x < 255)).any()
    # Same seed, same drawings; another seed, other drawings.
    assert np.array_equal(x, drawings.drawings("centred", per_digit=2, seed=1)[0])
    assert not np.array_equal(x, drawings.drawings("centred", per_digit=2, seed=2)[0])


def test_variations_differ_as_named():
    rng = np.random.default_rng(0)

    def ink_box(v):
        img = drawings.draw_digit(8, v, rng)
        rows, cols = np.flatnonzero(img.any(1)), np.flatnonzero(img.any(0))
        return rows[-1] - rows[0], (rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2, (img > 127).mean()

    assert ink_box("small")[0] < 0.45 * ink_box("large")[0]
    _, cy, cx, _ = ink_box("off-centre")
    assert max(abs(cy - 140), abs(cx - 140)) > 40
    assert ink_box("thick")[3] > 3 * ink_box("thin")[3]
    strokes, width = drawings.digit_strokes(7, "thin", rng)
    assert width == drawings.VARIATIONS["thin"]["stroke"]
    assert all(((s >= 0) & (s < drawings.CANVAS)).all() for s in strokes)
    with pytest.raises(ValueError, match="unknown variation"):
        drawings.digit_strokes(1, "wobbly")
