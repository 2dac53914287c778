"""The personal preset: MNIST plus your examples, held out stratified and oversampled, with a
before/after report; the same from the corrections store as from a folder of images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli
from digitlab.core import config
from digitlab.data.mine import Store
from digitlab.data.personal import holdout_indices, personal_splits, repeats_for
from digitlab.evaluation.evaluate import _sets_to_evaluate
from digitlab.inference import Predictor
from digitlab.inference.corrections import save_correction
from digitlab.tools.personal_bench import write_folder
from digitlab.training import train

QUICK = ["data.personal.mnist_images=600", "data.personal.share=0.5", "train.epochs=1"]


@pytest.fixture(scope="module")
def blocky(tmp_path_factory):
    """Three blocky drawings of each digit as a folder: DIR/<digit>/*.png."""
    folder = tmp_path_factory.mktemp("blocky")
    write_folder("blocky", 3, folder)
    return folder


def test_holdout_is_stratified_and_leaves_each_digit_something_to_learn():
    y = np.repeat(np.arange(10), [1, 2, 3, 5, 10, 10, 10, 10, 10, 30])
    held = holdout_indices(y, 0.2, seed=0)
    assert np.bincount(y[held], minlength=10).tolist() == [0, 0, 1, 1, 2, 2, 2, 2, 2, 6]
    assert np.array_equal(held, holdout_indices(y, 0.2, seed=0))
    assert repeats_for(80, 27_000, 0.1) == 38 and repeats_for(0, 100, 0.1) == 11


def test_personal_needs_mnist_and_your_examples_in_one_line(mnist_ready):
    res = run_cli("train", "--preset", "personal", "--data", "mnist", "--dry-run")
    assert res.returncode == 2 and "--data mine" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = run_cli("train", "--preset", "personal", "--data", "mnist", "--set", "data.personal.share=2", "--dry-run")
    assert res.returncode == 2 and "data.personal.share must lie between 0 and 1" in res.stderr


@pytest.fixture(scope="module")
def personal_run(mnist_ready, blocky, tmp_path_factory):
    """A short personal run on a copy of ``blocky`` (the last test here changes the copy)."""
    root = tmp_path_factory.mktemp("personal")
    for f in blocky.glob("*/*.png"):
        (root / "mine" / f.parent.name).mkdir(parents=True, exist_ok=True)
        (root / "mine" / f.parent.name / f.name).write_bytes(f.read_bytes())
    cfg = config.resolve("personal", sets=QUICK)
    cfg["data"]["sources"] = ["mnist", f"folder:{root / 'mine'}"]
    train(cfg, out_dir=root / "run", progress=False)
    return root


def test_a_personal_run_learns_your_examples_and_reports_before_and_after(personal_run):
    report = json.loads((personal_run / "run" / "personal.json").read_text())
    assert report["yours"]["per_digit"] == [3] * 10 and report["yours"]["held_out"] == 10
    before, after = report["before"], report["after"]
    assert before["mnist test"]["accuracy"] == pytest.approx(0.997)  # the shipped model, as its card says
    assert after["yours, held out"]["accuracy"] >= before["yours, held out"]["accuracy"]
    assert after["mnist test"]["accuracy"] >= 0.99
    pred = Predictor.load(personal_run / "run")
    assert pred.calibration is not None  # ready for --model: "not sure" fitted on MNIST validation
    assert pred.checkpoint["init"]["same_split"] is True  # MNIST validation stays held out from the start
    sets = _sets_to_evaluate(pred, None, None)  # `digitlab evaluate RUN` reports your held-out examples too
    assert len(sets["yours, held out"].y) == 10 and len(sets["validation"].y) == 6000


def test_the_store_and_its_folder_export_give_the_same_personal_split(mnist_ready, shipped, blocky, tmp_path):
    store = Store(tmp_path / "mine.sqlite")
    for f in sorted(blocky.glob("*/*.png")):
        save_correction(store, shipped, f, int(f.parent.name), "cli")
    store.export(tmp_path / "exported")
    args = (0.1, 42, None, config.resolve("personal")["data"]["personal"])
    a = personal_splits(["mnist", f"mine:{store.path}"], *args)
    b = personal_splits(["mnist", f"folder:{tmp_path / 'exported'}"], *args)

    def examples(x, y):
        return sorted((int(label), img.tobytes()) for img, label in zip(x, y))

    assert examples(a.x_train, a.y_train) == examples(b.x_train, b.y_train)
    assert examples(a.held.x, a.held.y) == examples(b.held.x, b.held.y)
    assert a.split_checksum == b.split_checksum and np.array_equal(a.y_val, b.y_val)


def test_evaluate_leaves_out_held_out_examples_it_can_no_longer_tell_apart(personal_run, capsys):
    pred, folder = Predictor.load(personal_run / "run"), personal_run / "mine"
    next(folder.glob("3/*.png")).unlink()  # your examples change after training
    sets = _sets_to_evaluate(pred, None, None)
    assert "yours, held out" not in sets and len(sets["validation"].y) == 6000
    assert "they are not reported" in capsys.readouterr().err
    for f in folder.glob("*/*.png"):
        f.unlink()  # ... or are gone: MNIST's sets are still reported
    sets = _sets_to_evaluate(pred, None, None)
    assert set(sets) == {"validation", "test", "test-inverted"} and "cannot be read" in capsys.readouterr().err
