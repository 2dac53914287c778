import numpy as np
from scipy import ndimage

from conftest import apply_static, synthetic_digits
from digitlab import augment
from digitlab.core import config

STATIC = config.resolve("robust")["augment"]["static"]


def test_outline_is_binary_and_traces_the_digit_not_the_background():
    x, _ = synthetic_digits(30, seed=5)
    out = apply_static("outline", x)
    assert set(np.unique(out)) <= {0, 255}
    ink = x > 30
    near_ink = ndimage.binary_dilation(ink, structure=np.ones((1, 3, 3)), iterations=2)
    assert (out[~near_ink] == 0).all()  # edges lie on or next to the strokes
    changed = [not np.array_equal(o, i) for o, i in zip(out, x)]
    assert np.mean(changed) > 0.9
    # an outline has less ink than the filled digit on average
    assert (out > 0).sum() < 1.5 * ink.sum()


def test_scribble_only_adds_one_thin_white_line():
    x, _ = synthetic_digits(30, seed=6)
    out = apply_static("scribble", x)
    assert (out >= x).all()  # nothing is erased
    added = (out == 255) & (x < 255)
    per_image = added.sum((1, 2))
    assert (per_image > 0).all() and (per_image < 28 * 6).all()  # a line, not a fill


def test_robust_preset_builds_every_transform_in_order_with_inversion_last():
    names = [t.__class__.__name__ for t in augment.build_static(STATIC, force=True)]
    assert names[-1] == "InvertImg" and {"Outline", "Scribble", "Affine", "Morphological"} <= set(names)
    assert len(names) == len(augment.STATIC_TRANSFORMS)
