"""Outlier exposure and weight averaging: training options of the fast and "not a digit" recipes."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from conftest import synthetic_cfg
from digitlab.core.errors import DigitlabError
from digitlab.data.nondigits import TRAINING, family, non_digits
from digitlab.inference import Predictor
from digitlab.training import train
from digitlab.training.outliers import draw, make_pool, outlier_pool, pool_path, uniform_loss


def _history(run_dir):
    with open(run_dir / "history.csv") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_the_pool_comes_from_the_training_families_and_is_cached(tmp_path):
    pool = make_pool(70, seed=1, progress=False)
    assert pool.shape == (70, 28, 28) and pool.dtype == np.uint8 and (pool.reshape(70, -1).max(1) > 128).all()
    cfg = {"images": 70, "share": 0.25, "weight": 0.5}
    first = outlier_pool(cfg, 1, tmp_path, progress=False)
    assert pool_path(tmp_path, 70, 1).is_file() and np.array_equal(first, pool)
    assert np.array_equal(outlier_pool(cfg, 1, tmp_path, progress=False), pool)  # from the cache
    assert outlier_pool({**cfg, "images": 0}, 1, tmp_path) is None
    assert len(TRAINING) == 7  # 70 images: ten of each


def test_every_process_gets_as_many_non_digits_and_none_is_no_loss():
    gen = torch.Generator().manual_seed(0)
    pool = torch.zeros(50, 28, 28, dtype=torch.uint8)
    assert len(draw(pool, 64, 0.25, gen)) == 16 and len(draw(pool, 3, 0.25, gen)) == 1
    assert len(draw(pool, 64, 0.05, gen, processes=4)) == 4  # 3 rounded up: one per process
    assert len(draw(pool, 5, 0.25, gen, processes=2)) == 2
    assert uniform_loss(torch.zeros(0, 10)).item() == 0.0
    assert uniform_loss(torch.zeros(3, 10)).item() == pytest.approx(np.log(10))  # an even answer: its least
    for name in ("font letters", "noise"):  # a pool too small to hold every family
        assert family(name, 0).shape == (0, 28, 28) and family(name, 0).dtype == np.float32


def test_outlier_exposure_spreads_the_answer_for_non_digits_and_keeps_the_digits(synthetic_npz, tmp_path):
    plain = train(synthetic_cfg(synthetic_npz, epochs=4), out_dir=tmp_path / "plain", progress=False)
    cfg = synthetic_cfg(synthetic_npz, epochs=4, **{"train.outliers.images": 700, "train.outliers.share": 0.5})
    exposed = train(cfg, out_dir=tmp_path / "exposed", progress=False)
    others = np.concatenate(list(non_digits(40, stream="report", families=TRAINING).values()))
    top = {
        name: Predictor.load(run.run_dir / "best.pt", device="cpu").probabilities(others).max(1).mean()
        for name, run in (("plain", plain), ("exposed", exposed))
    }
    assert top["exposed"] < top["plain"] - 0.15 and top["plain"] > 0.7, top  # an even answer is 0.1
    assert exposed.best_val_acc > max(0.8, plain.best_val_acc - 0.1)  # the digits are still learnt


def test_weight_averaging_is_what_validation_reads_and_resumes_exactly(synthetic_npz, tmp_path):
    ema = {"train.ema": 0.9}
    train(synthetic_cfg(synthetic_npz, epochs=2, **ema), out_dir=tmp_path / "straight", progress=False)
    train(synthetic_cfg(synthetic_npz, epochs=1, **ema), out_dir=tmp_path / "split", progress=False)
    train(resume=tmp_path / "split", max_epochs=2, progress=False)
    assert _history(tmp_path / "split") == _history(tmp_path / "straight")
    last = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)
    kept = {k[len("module.") :]: v for k, v in last["ema"].items() if k.startswith("module.")}
    assert kept.keys() == last["state_dict"].keys()
    assert any(not torch.equal(kept[k], last["state_dict"][k]) for k in kept)  # the average, not the weights


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("train.ema", 1.5, r"train.ema must be a number in \[0, 1\)"),
        ("train.outliers.images", -1, "train.outliers.images must be a whole number >= 0"),
        ("train.outliers.share", 0, r"train.outliers.share must lie in \(0, 4\]"),
    ],
)
def test_bad_settings_are_one_line_errors(synthetic_npz, tmp_path, key, value, message):
    with pytest.raises(DigitlabError, match=message):
        train(synthetic_cfg(synthetic_npz, epochs=1, **{key: value}), out_dir=tmp_path / "run", progress=False)
