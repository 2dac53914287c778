"""Saving corrections: single digits and every digit of a number, all or nothing."""

from __future__ import annotations

import re

import numpy as np
import pytest

from digitlab.core.errors import DigitlabError
from digitlab.data.mine import Store
from digitlab.data.numbers import draw_number
from digitlab.inference.corrections import save_correction, save_number


def test_each_digit_of_a_number_is_saved_with_its_label(shipped, tmp_path):
    store = Store(tmp_path / "mine.sqlite")
    image = draw_number("4071", "normal", np.random.default_rng(3))
    saved = save_number(store, shipped, image, "4071", "page")
    assert [s["label"] for s in saved] == [4, 0, 7, 1] and [s["answer"] for s in saved] == [4, 0, 7, 1]
    kept = store.examples()
    assert [e.id for e in kept] == [s["id"] for s in saved]
    # the 28x28 kept is what the reader read; the PNG is the digit's own crop of the drawing
    assert all(e.prepared.max() > 200 and e.source == "page" for e in kept)
    one = save_correction(store, shipped, kept[2].image_png, 7, "cli")
    assert one["answer"] == 7


@pytest.mark.parametrize(
    "text, words",
    [("407", "4 digits were found (4071) but 407 has 3"), ("4O71", "digits 0-9"), ("", "digits 0-9")],
)
def test_a_number_that_does_not_match_saves_nothing(shipped, tmp_path, text, words):
    store = Store(tmp_path / "mine.sqlite")
    image = draw_number("4071", "normal", np.random.default_rng(3))
    with pytest.raises(DigitlabError, match=re.escape(words)):
        save_number(store, shipped, image, text, "page")
    assert sum(store.counts().values()) == 0


def test_add_many_is_all_or_nothing(tmp_path):
    store = Store(tmp_path / "mine.sqlite")
    good = (b"png", np.zeros((28, 28), np.uint8), 3, "cli")
    store.add(*good)
    with pytest.raises(DigitlabError, match="label must be a digit"):
        store.add_many([good, (b"png", np.zeros((28, 28), np.uint8), 12, "cli")])
    assert store.counts()[3] == 1
