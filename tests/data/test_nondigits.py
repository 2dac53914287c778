"""Generated non-digits: families of marks that are not digits, prepared like drawings."""

from __future__ import annotations

import numpy as np
import pytest

from digitlab.data import nondigits
from digitlab.data.numbers import draw_number
from digitlab.data.preprocess import ink_image
from digitlab.data.segment import components, merge_columns, split_separators


def test_every_family_gives_model_input_and_is_reproducible():
    for name in nondigits.FAMILIES:
        x = nondigits.family(name, 8, seed=3)
        assert x.shape == (8, 28, 28) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1, name
        assert (x.reshape(8, -1).max(1) > 0.5).all(), f"{name}: blank images"
        assert np.array_equal(nondigits.family(name, 8, seed=3), x), name
        assert len({x[i].tobytes() for i in range(8)}) == 8, f"{name}: repeated images"


def test_streams_never_share_images_and_held_out_families_stay_out_of_training():
    train = nondigits.family("font letters", 20, seed=0, stream="train")
    report = nondigits.family("font letters", 20, seed=0, stream="report")
    assert not {a.tobytes() for a in train} & {b.tobytes() for b in report}
    assert set(nondigits.HELD_OUT) <= set(nondigits.FAMILIES)
    assert not set(nondigits.HELD_OUT) & set(nondigits.TRAINING)
    assert set(nondigits.TRAINING) | set(nondigits.HELD_OUT) == set(nondigits.FAMILIES)
    with pytest.raises(ValueError, match="unknown non-digit family 'emoji'; choose from font letters"):
        nondigits.family("emoji", 1)


def _marks(text: str, variation: str, rng) -> str:
    pieces, marks = split_separators(components(ink_image(draw_number(text, variation, rng), 140)))
    return "".join(m for _, m in sorted(marks, key=lambda pm: pm[0].left)), len(merge_columns(pieces))


@pytest.mark.parametrize("variation", ["normal", "wide gaps", "mixed sizes", "inverted"])
def test_separators_are_told_apart_by_shape_and_size(variation):
    rng = np.random.default_rng(5)
    for text, seps in [
        ("12/05", "/"),
        ("3.50", "."),
        ("10:45", ":"),
        ("0,75", ","),
        ("555-12", "-"),
        ("31/12/26", "//"),
    ]:
        for _ in range(3):
            found, left = _marks(text, variation, rng)
            assert found == seps and left == len(text) - len(seps), (text, variation, found)


@pytest.mark.parametrize("variation", ["normal", "narrow gaps", "mixed sizes", "sloped", "form"])
def test_digits_alone_are_never_taken_for_separators(variation):
    rng = np.random.default_rng(6)
    for _ in range(40):
        text = "".join(str(d) for d in rng.integers(0, 10, rng.integers(2, 7)))
        assert _marks(text, variation, rng)[0] == "", (text, variation)
