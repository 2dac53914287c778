"""Examples for the number reader's gate: stretches of generated numbers, labelled by whose ink they hold."""

from __future__ import annotations

import numpy as np

from digitlab.data import segment
from digitlab.data.numbers import draw_number, number_with_owners
from digitlab.data.pieces import DIGIT, KINDS, PART, SEVERAL, gate_examples, kind, stretches


def _two_bars():
    owner = np.full((20, 30), -1)
    owner[:, 2:8], owner[:, 20:26] = 0, 1
    return owner, np.array([120, 120])


def test_a_stretch_is_labelled_by_the_share_of_each_digit_it_holds():
    owner, totals = _two_bars()
    mask = owner >= 0
    whole_first = segment.Piece(0, 0, mask[:, :10])
    half_first = segment.Piece(0, 0, mask[:, :5])
    both = segment.Piece(0, 0, mask)
    first_and_a_bit = segment.Piece(0, 0, mask[:, :22])  # all of one and a third of the other
    assert kind(whole_first, owner, totals) == DIGIT
    assert kind(half_first, owner, totals) == PART
    assert kind(both, owner, totals) == SEVERAL
    assert kind(first_and_a_bit, owner, totals) == SEVERAL


def test_owners_match_the_drawing_the_test_sets_use():
    canvas, owner = number_with_owners("407", "touching", np.random.default_rng(4))
    assert np.array_equal(canvas, draw_number("407", "touching", np.random.default_rng(4)))
    assert set(np.unique(owner)) == {-1, 0, 1, 2} and ((owner >= 0) == (canvas > 0)).all()


def test_touching_digits_give_whole_digits_parts_and_pairs():
    canvas, owner = number_with_owners("5832", "touching", np.random.default_rng(0))
    x, y = stretches(canvas.astype(np.float32) / 255, owner)
    assert set(y) == {DIGIT, PART, SEVERAL}
    assert all(s.shape == (28, 28) and s.min() >= 0 and s.max() <= 1 for s in x)


def test_gate_examples_are_reproducible_and_hold_every_kind(tmp_path):
    yy, xx = np.mgrid[:28, :28]
    ring = np.abs(np.hypot((yy - 14) / 10, (xx - 14) / 6) - 1) < 0.25  # an MNIST-sized 0
    digits = np.repeat((ring * 255).astype(np.uint8)[None], 20, 0)
    a = gate_examples(digits, 12, seed=3)
    b = gate_examples(digits, 12, seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    counts = np.bincount(a[1], minlength=len(KINDS))
    assert (counts > 0).all() and counts[PART] <= counts[DIGIT] + counts[SEVERAL]  # parts thinned
