"""torchrun: two CPU processes (gloo) train like one, write one run folder, stop on Ctrl-C and resume."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import run_cli
from digitlab.core.errors import DigitlabError
from digitlab.training import distributed

# The fast network on the synthetic digits: 640 training and 160 validation images, global batch 64.
SETS = ["train.batch_size=64", "data.val_fraction=0.2", "train.onecycle.max_lr=0.005", "train.num_threads=1"]
# Per-process BatchNorm statistics (32 images each instead of 64) are the one difference from a
# single process: the validation accuracies of the two stay within this many points.
TOLERANCE = 4.0


def _args(synthetic_npz, epochs: int, *extra) -> list[str]:
    sets = sum((["--set", s] for s in SETS), [])
    return ["train", "--preset", "fast", "--data", f"npz:{synthetic_npz}", "--epochs", str(epochs), "--seed", "0",
            "--no-progress", *sets, *extra]  # fmt: skip


def _torchrun(args: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "digitlab",
        *args,
    ]


def _env() -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def _history(run) -> list[dict]:
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


def test_two_processes_write_one_run_that_matches_one_process(synthetic_npz, tmp_path, measured):
    single = run_cli(*_args(synthetic_npz, 6, "--out", tmp_path / "single"), env={"OMP_NUM_THREADS": "1"})
    assert single.returncode == 0, single.stderr[-1500:]
    work = tmp_path / "ddp"
    work.mkdir()
    res = subprocess.run(
        _torchrun(_args(synthetic_npz, 6)), cwd=work, capture_output=True, text=True, timeout=600, env=_env()
    )
    assert res.returncode == 0, res.stderr[-1500:]
    runs = list((work / "runs").iterdir())
    assert len(runs) == 1, runs  # rank 0 alone named and wrote the run
    assert sorted(p.name for p in runs[0].iterdir()) == [
        "best.pt",
        "config.yaml",
        "curves.png",
        "history.csv",
        "last.pt",
    ]
    assert res.stdout.strip().splitlines() == [str(runs[0].relative_to(work) / "best.pt")]  # one line, not one per rank
    assert "in 2 processes (global batch 64)" in res.stderr
    one, two = _history(tmp_path / "single"), _history(runs[0])
    assert len(one) == len(two) == 6
    acc_one, acc_two = float(one[-1]["val_acc"]), float(two[-1]["val_acc"])
    assert acc_two > 0.8, two  # it learned
    assert abs(acc_one - acc_two) * 100 <= TOLERANCE, (acc_one, acc_two)
    measured(f"torchrun, 2 CPU processes: validation accuracy {acc_two:.2%}; one process {acc_one:.2%}")


def test_ctrl_c_stops_every_process_and_resume_under_torchrun_finishes(synthetic_npz, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        _torchrun(_args(synthetic_npz, 12, "--out", run)),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 300
    while time.time() < deadline and not (run / "history.csv").exists():
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches torchrun and both processes, as in a terminal
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert f"continue with: digitlab train --resume {run}" in err, err[-2000:]
    assert "Traceback" not in err.split("Interrupted.")[0], err[-2000:]
    done = torch.load(run / "last.pt", weights_only=True)["epoch"]
    before = _history(run)
    assert 1 <= done < 12 and len(before) == done
    res = subprocess.run(
        _torchrun(["train", "--resume", str(run), "--no-progress"]),
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=_env(),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-1500:]
    after = _history(run)
    assert len(after) == 12 and after[:done] == before
    assert f"Resuming {run} at epoch {done + 1}" in res.stderr


def test_one_process_is_a_world_of_one_and_sync_bn_needs_cuda(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    world = distributed.init()
    assert (world.rank, world.size, world.main, world.active) == (0, 1, True, False)
    x = torch.arange(10)
    assert distributed.shard(x, world).tolist() == x.tolist()
    assert distributed.shard(x, distributed.World(1, 3)).tolist() == [1, 4, 7]
    with pytest.raises(DigitlabError, match="sync_bn needs CUDA"):
        distributed.sync_bn_model(torch.nn.BatchNorm2d(3), {"sync_bn": True}, torch.device("cpu"))
