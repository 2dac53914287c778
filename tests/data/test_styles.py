"""Handwriting styles: reproducible canvas drawings, and one the shipped model reads badly
(the premise of the personal model's measurement)."""

from __future__ import annotations

import numpy as np
import pytest

from digitlab.data import drawings, styles
from digitlab.data.preprocess import prepare_batch


def test_styles_are_reproducible_canvas_drawings():
    for style in styles.STYLES:
        x, y = styles.style_digits(style, per_digit=2, seed=3)
        assert x.shape == (20, drawings.CANVAS, drawings.CANVAS) and x.dtype == np.uint8
        assert list(y) == list(range(10)) * 2  # digits in turn: the first 10k hold k of each
        assert np.array_equal(x, styles.style_digits(style, per_digit=2, seed=3)[0])
        assert not np.array_equal(x, styles.style_digits(style, per_digit=2, seed=4)[0])
        assert (x == 0).mean() > 0.6 and (x == 255).any()


def test_styles_change_the_strokes_not_the_default_drawings():
    rng = np.random.default_rng(0)
    plain = drawings.draw_digit(7, rng=np.random.default_rng(0))
    assert np.array_equal(plain, drawings.draw_digit(7, rng=np.random.default_rng(0)))
    assert not np.array_equal(plain, styles.style_digit(7, "blocky", rng))
    # blocky's broad pen: far more ink than the default brush
    assert (styles.style_digit(8, "blocky", rng) > 127).mean() > 1.3 * (plain > 127).mean()


def test_unknown_style_names_the_choices():
    with pytest.raises(ValueError, match="continental, blocky"):
        styles.style_digit(1, "gothic", np.random.default_rng(0))


def test_blocky_is_far_from_mnist_for_the_shipped_model(shipped, measured):
    accs = {}
    for style in styles.STYLES:
        x, y = styles.style_digits(style, per_digit=10, seed=0)
        accs[style] = float((shipped.probabilities(prepare_batch(list(x))).argmax(1) == y).mean())
    measured("handwriting styles, shipped model, 100 each: " + ", ".join(f"{s} {a:.1%}" for s, a in accs.items()))
    assert accs["blocky"] <= 0.9
