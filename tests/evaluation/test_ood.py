"""Telling digits from things that are not digits."""

from __future__ import annotations

import numpy as np

from digitlab import data
from digitlab.evaluation import ood


def test_generated_non_digits_look_like_model_input():
    sets = ood.non_digits(per_set=12, seed=3)
    assert set(sets) == {"uniform noise", "gaussian noise", "letters", "shapes", "scribbles"}
    for name, x in sets.items():
        assert x.shape == (12, 28, 28) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1, name
        assert (x.reshape(12, -1).max(1) > 0.5).all(), f"{name}: blank images"
    assert np.array_equal(ood.non_digits(per_set=12, seed=3)["letters"], sets["letters"])


def test_shipped_model_scores_digits_above_non_digits(shipped, mnist_ready, measured):
    digits = shipped.logits(data.load_test().x[:1000])
    others = {k: shipped.logits(v) for k, v in ood.non_digits(per_set=100).items()}
    rep = ood.rejection_report(digits, others, shipped.temperature, shipped.threshold)
    auroc = {k: v["auroc_max_softmax"] for k, v in rep["sets"].items()}
    assert auroc["uniform noise"] > 0.95 and min(auroc.values()) > 0.8
    assert rep["digits_rejected_at_threshold"] < 0.03
    measured(
        "not a digit, shipped model (1,000 test digits, 100 of each): AUROC "
        + ", ".join(f"{k} {v:.3f}" for k, v in auroc.items())
    )
