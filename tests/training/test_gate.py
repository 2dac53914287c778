"""``digitlab gate``: training the number reader's gate, its checkpoint, and its command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from digitlab.core import checkpoint
from digitlab.core.errors import DigitlabError
from digitlab.data.pieces import KINDS
from digitlab.inference.export import export_gate
from digitlab.inference.gate import Gate
from digitlab.training.gate import train_gate


def test_a_short_training_writes_a_gate_that_loads_and_tells_kinds_apart(mnist_ready, tmp_path):
    out = tmp_path / "gate.pt"
    m = train_gate(out, {"numbers": 120, "val_numbers": 60, "epochs": 1}, progress=False)
    assert m["accuracy"] > 0.6 and m["digits_kept"] > 0.8, m  # 3 kinds: chance is a third
    gate = Gate.load(out)
    x = np.random.default_rng(0).random((4, 28, 28)).astype(np.float32)
    p = gate.kinds(x)
    assert p.shape == (4, len(KINDS)) and np.allclose(p.sum(1), 1)
    assert gate.meta["metrics"]["accuracy"] == m["accuracy"] and gate.meta["recipe"]["numbers"] == 120
    with pytest.raises(DigitlabError, match="exists; pass --force"):
        train_gate(out, {"numbers": 2}, progress=False)
    e = export_gate(out)
    assert e["max_abs_diff"] < 1e-4 and Path(e["path"]) == out.with_suffix(".onnx")
    fast = Gate.load(out)  # the export beside it is used: onnxruntime, same kinds
    assert fast.session is not None and np.abs(fast.kinds(x) - gate.kinds(x)).max() < 1e-4
    retrained = checkpoint.load(out)
    retrained["state_dict"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in retrained["state_dict"].items()}
    checkpoint.save(out, retrained)  # as `digitlab gate --force` would leave it: new weights, the old export
    assert Gate.load(out).session is None  # an export of other weights is never used


def test_the_command_line_checks_its_arguments_and_a_dry_run_writes_nothing(mnist_ready, tmp_path):
    out = tmp_path / "g.pt"
    r = run_cli("gate", "--out", str(out), "--dry-run", "--no-progress")
    assert r.returncode == 0 and "dry run: nothing written" in r.stdout and not out.exists()
    r = run_cli("gate", "--out", str(out), "--numbers", "0")
    assert r.returncode == 2 and r.stderr.strip() == "digitlab: error: --numbers must be at least 1, got 0"
    out.write_bytes(b"mine")
    r = run_cli("gate", "--out", str(out), "--numbers", "5")
    assert r.returncode == 2 and "exists; pass --force" in r.stderr and out.read_bytes() == b"mine"


def test_a_file_that_is_not_a_gate_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "gate.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DigitlabError, match="not a readable digitlab checkpoint"):
        Gate.load(bad)
    with pytest.raises(DigitlabError, match="no number gate at"):
        Gate.load(tmp_path / "missing.pt")
