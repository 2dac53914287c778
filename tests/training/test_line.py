"""``digitlab line``: training the number reader's line reader, its checkpoint, and its command line."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_cli
from digitlab.core.errors import DigitlabError
from digitlab.inference.line import LineReader
from digitlab.models.line import decode
from digitlab.training.line import train_line


def test_greedy_decoding_merges_repeats_and_drops_blanks():
    frames = [10, 1, 1, 10, 1, 7, 7, 10, 10, 3]
    scores = np.eye(11)[frames].T[None]  # (1, 11, T)
    assert decode(scores) == ["1173"]


def test_a_short_training_writes_a_reader_that_loads_and_reads(mnist_ready, tmp_path):
    out = tmp_path / "line.pt"
    recipe = {"numbers": 600, "val_numbers": 60, "epochs": 8, "batch_size": 16, "max_lr": 5e-3}  # about 20 s
    m = train_line(out, recipe, progress=False)
    assert m["accuracy"] > 0.6, m  # whole pieces read exactly: chance is near zero
    reader = LineReader.load(out)
    read = reader.read([np.zeros((32, 40), np.float32), np.zeros((32, 90), np.float32)])  # padded to one batch
    assert len(read) == 2 and all(set(t) <= set("0123456789") for t in read) and reader.read([]) == []
    assert reader.meta["metrics"]["accuracy"] == m["accuracy"] and reader.meta["recipe"]["numbers"] == 600
    with pytest.raises(DigitlabError, match="exists; pass --force"):
        train_line(out, {"numbers": 2}, progress=False)


def test_the_command_line_checks_its_arguments_and_a_dry_run_writes_nothing(mnist_ready, tmp_path):
    out = tmp_path / "l.pt"
    r = run_cli("line", "--out", str(out), "--dry-run", "--no-progress")
    assert r.returncode == 0 and "dry run: nothing written" in r.stdout and not out.exists()
    r = run_cli("line", "--out", str(out), "--epochs", "0")
    assert r.returncode == 2 and r.stderr.strip() == "digitlab: error: --epochs must be at least 1, got 0"
    out.write_bytes(b"mine")
    r = run_cli("line", "--out", str(out), "--numbers", "5")
    assert r.returncode == 2 and "exists; pass --force" in r.stderr and out.read_bytes() == b"mine"


def test_a_file_that_is_not_a_line_reader_is_refused_in_one_line(tmp_path, shipped):
    with pytest.raises(DigitlabError, match="is not a line reader"):
        LineReader.load(shipped.path)
    with pytest.raises(DigitlabError, match="no line reader at"):
        LineReader.load(tmp_path / "missing.pt")
