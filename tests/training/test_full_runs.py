"""Long runs on the whole of MNIST, marked slow: ``make test-all`` runs them, ``make test`` does not."""

from __future__ import annotations

import csv

import pytest

from conftest import run_cli
from digitlab.core.rundir import RunDir


@pytest.mark.slow
def test_onecycle_recipe_reads_99_percent_of_validation_after_three_epochs(mnist_ready, tmp_path, measured):
    # seed 000's network, one-cycle over 3 epochs on all 54,000 training images with real-time warps
    # (no static copies, to keep it to minutes on 2 CPU cores).
    run = RunDir(tmp_path / "onecycle-3")
    res = run_cli(
        "train",
        "--preset",
        "onecycle",
        "--epochs",
        "3",
        "--set",
        "augment.static.copies=0",
        "--out",
        run.path,
        "--no-progress",
        timeout=3600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    rows = list(csv.DictReader(run.history.open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    best = max(float(r["val_acc"]) for r in rows)
    assert best >= 0.99, rows
    measured(
        f"onecycle, 3 epochs, full MNIST: best validation accuracy {best:.2%} in "
        f"{sum(float(r['seconds']) for r in rows) / 60:.1f} min"
    )
