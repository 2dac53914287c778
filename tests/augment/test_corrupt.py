"""MNIST-C-style corruptions generated from the test set."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from digitlab import data
from digitlab.augment import corrupt
from digitlab.augment.corrupt import corruption_scores
from digitlab.evaluation import corruption_report
from digitlab.evaluation.report import markdown


def test_every_corruption_is_seeded_changes_the_image_and_stays_in_range(mnist_ready):
    x = data.load_test().x[:50]
    clean = x.astype(np.float32) / 255
    assert len(corrupt.CORRUPTIONS) >= 15
    for name in corrupt.CORRUPTIONS:
        a, b = corrupt.corrupt(x, name, seed=1), corrupt.corrupt(x, name, seed=1)
        assert a.shape == x.shape and a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1, name
        assert np.array_equal(a, b), f"{name} is not reproducible"
        assert np.abs(a - clean).mean() > 0.005, f"{name} changes nothing"
    assert np.allclose(corrupt.corrupt(x, "inversion"), 1 - clean)


def test_corruption_report_scores_the_shipped_model(shipped, mnist_ready, tmp_path, measured):
    test = data.load_test()
    small = data.Source("first 300 test images", test.x[:300], test.y[:300])
    rep = corruption_report(shipped, small, tmp_path / "corruptions.png")
    acc = rep["accuracy"]
    json.dumps(rep)
    assert set(acc) == set(corrupt.CORRUPTIONS) and rep["mean"] == np.mean(list(acc.values()))
    # Mild ones barely hurt; everything stays far above chance (10%).
    assert acc["shot noise"] > 0.97 and acc["translation"] > 0.9 and min(acc.values()) > 0.2
    assert Image.open(tmp_path / "corruptions.png").format == "PNG"
    measured(
        f"corruptions, shipped model, 300 test images: mean {rep['mean']:.2%}; "
        + ", ".join(f"{k} {v:.0%}" for k, v in acc.items())
    )


def test_validation_corruption_column_is_what_models_are_compared_on(shipped, mnist_ready):
    test = data.load_test()
    a = data.Source("a", test.x[:100], test.y[:100])
    b = data.Source("b", test.x[100:200], test.y[100:200])
    rep = corruption_scores(shipped, a)
    assert rep == corruption_scores(shipped, a)  # seeded
    rep["validation"] = corruption_scores(shipped, b)
    model = {
        "path": "m.pt",
        "arch": "seed1",
        "parameters": {"trainable": 1, "total": 1},
        "file_bytes": 1,
        "trained": {},
    }
    md = markdown({"model": model, "sets": {}, "corruptions": rep})
    assert "| corruption | test | validation |" in md
    assert f"| **mean** | **{rep['mean']:.2%}** | **{rep['validation']['mean']:.2%}** |" in md
    assert (
        f"| canny edges | {rep['accuracy']['canny edges']:.2%} | {rep['validation']['accuracy']['canny edges']:.2%} |"
        in md
    )
