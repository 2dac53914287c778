"""Examples for the number reader's line reader: pieces of generated numbers and the digits they hold."""

from __future__ import annotations

import numpy as np

from digitlab.data.lines import HEIGHT, INK_HEIGHT, MAX_WIDTH, PAD, line_examples, line_input, piece_texts
from digitlab.data.numbers import number_with_owners
from digitlab.data.segment import Piece


def test_a_piece_is_scaled_to_the_line_height_keeping_its_shape():
    ink = np.zeros((100, 400), np.float32)
    ink[10:90, 50:210] = 1.0  # 80 high, 160 wide: twice as wide as high
    x = line_input(Piece(10, 50, np.ones((80, 160), bool)), ink)
    assert x.shape == (HEIGHT, 2 * INK_HEIGHT + 2 * PAD) and x.dtype == np.float32
    assert x[:, :PAD].max() == 0 and 0.9 < x.max() <= 1.0
    long = line_input(Piece(0, 0, np.ones((10, 400), bool)), np.ones((10, 400), np.float32))
    assert long.shape[1] == MAX_WIDTH  # squeezed, never wider


def test_a_piece_holds_the_digits_most_of_whose_ink_it_has():
    canvas, owner = number_with_owners("4071", "touching", np.random.default_rng(2))
    pieces = piece_texts(canvas.astype(np.float32) / 255, owner, "4071")
    assert "".join(t for _, t in pieces) == "4071"
    apart = piece_texts(
        *[
            a.astype(np.float32) / 255 if i == 0 else a
            for i, a in enumerate(number_with_owners("58", "wide gaps", np.random.default_rng(0)))
        ],
        "58",
    )
    assert [t for _, t in apart] == ["5", "8"]


def test_line_examples_are_reproducible_and_hold_several_digit_pieces():
    yy, xx = np.mgrid[:28, :28]
    ring = np.abs(np.hypot((yy - 14) / 10, (xx - 14) / 6) - 1) < 0.25  # an MNIST-sized 0
    digits = (np.repeat((ring * 255).astype(np.uint8)[None], 20, 0), np.zeros(20, np.int64))
    a, b = line_examples(digits, 10, seed=3), line_examples(digits, 10, seed=3)
    assert [t for _, t in a] == [t for _, t in b] and all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, b))
    assert any(len(t) > 1 for _, t in a) and all(x.shape[0] == HEIGHT for x, _ in a)
    assert all(set(t) <= set("0123456789") and t for _, t in a)
