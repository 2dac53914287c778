import csv
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

from conftest import FAST_TRAIN, run_cli, synthetic_cfg
from digitlab.core import config
from digitlab.core.errors import DigitlabError
from digitlab.training import train


def _history(run_dir):
    with open(run_dir / "history.csv") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_training_learns_and_writes_a_complete_run_folder(synthetic_npz, tmp_path):
    res = train(synthetic_cfg(synthetic_npz, epochs=4), out_dir=tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert res.best_val_acc > 0.6  # chance is 0.1
    assert {"config.yaml", "best.pt", "last.pt", "history.csv", "curves.png"} <= {p.name for p in run.iterdir()}
    best = torch.load(run / "best.pt", weights_only=True)
    for key in ("state_dict", "model", "preprocessing", "metrics", "config", "data", "git_commit", "versions"):
        assert key in best
    assert best["metrics"]["val_acc"] == pytest.approx(res.best_val_acc)
    assert best["model"]["arch"] == "seed1" and best["preprocessing"]["size"] == 28
    rows = _history(run)
    assert len(rows) == 4 and list(rows[0]) == ["epoch", "loss", "acc", "val_loss", "val_acc", "lr"]
    assert Image.open(run / "curves.png").format == "PNG"
    assert config.resolve(None, str(run / "config.yaml"))["train"]["epochs"] == 4


def test_same_seed_same_history_on_cpu(synthetic_npz, tmp_path):
    train(synthetic_cfg(synthetic_npz, epochs=2), out_dir=tmp_path / "a", progress=False)
    train(synthetic_cfg(synthetic_npz, epochs=2), out_dir=tmp_path / "b", progress=False)
    assert _history(tmp_path / "a") == _history(tmp_path / "b")


def test_resume_continues_exactly_where_it_stopped(synthetic_npz, tmp_path):
    train(synthetic_cfg(synthetic_npz, epochs=3), out_dir=tmp_path / "straight", progress=False)
    train(synthetic_cfg(synthetic_npz, epochs=2), out_dir=tmp_path / "split", progress=False)
    res = train(resume=tmp_path / "split", max_epochs=3, progress=False)
    assert res.epochs_run == 3
    assert _history(tmp_path / "split") == _history(tmp_path / "straight")


def test_existing_run_is_never_overwritten(synthetic_npz, tmp_path):
    train(synthetic_cfg(synthetic_npz, epochs=1), out_dir=tmp_path / "run", progress=False)
    before = (tmp_path / "run" / "best.pt").read_bytes()
    with pytest.raises(DigitlabError, match="already holds a run"):
        train(synthetic_cfg(synthetic_npz, epochs=1), out_dir=tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "best.pt").read_bytes() == before


def test_ctrl_c_saves_last_and_resume_finishes(synthetic_npz, tmp_path):
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "digitlab",
        "train",
        "--data",
        f"npz:{synthetic_npz}",
        "--epochs",
        "500",
        "--out",
        str(run),
        "--no-progress",
        *sum((["--set", s] for s in FAST_TRAIN), []),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "history.csv").exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-1000:]
    assert "Traceback" not in err and "--resume" in err
    last = torch.load(run / "last.pt", weights_only=True)
    done = last["epoch"]
    assert done >= 1 and len(last["history"]) == done
    res = run_cli("train", "--resume", run, "--epochs", done + 1, "--no-progress")
    assert res.returncode == 0, res.stderr[-1000:]
    assert len(_history(run)) == done + 1


def test_quick_mnist_run_without_augmentation_passes_95_percent_validation(mnist_run):
    best = torch.load(mnist_run / "best.pt", weights_only=True)
    assert best["metrics"]["val_acc"] > 0.95
    assert best["data"]["train"] == 5400 and best["data"]["val"] == 600


def test_early_stopping_ends_the_run_and_a_finished_run_cannot_be_resumed(synthetic_npz, tmp_path):
    cfg = synthetic_cfg(synthetic_npz, epochs=6)
    cfg["callbacks"]["early_stopping"].update(patience=1, min_delta=100.0)  # nothing after epoch 1 counts as better
    res = train(cfg, out_dir=tmp_path / "run", progress=False)
    assert res.epochs_run == 2
    with pytest.raises(DigitlabError, match="already finished"):
        train(resume=tmp_path / "run", progress=False)


def test_static_augmentation_expands_only_the_training_split(synthetic_npz, tmp_path, capsys):
    cfg = synthetic_cfg(synthetic_npz, epochs=1, **{"augment.static.copies": 1, "augment.static.workers": 1})
    train(cfg, out_dir=tmp_path / "a", data_dir=tmp_path / "cache", progress=False)
    best = torch.load(tmp_path / "a" / "best.pt", weights_only=True)
    assert best["data"]["train"] == 640 and best["data"]["val"] == 160 and best["data"]["augmented"] == 640
    assert "computed and cached" in capsys.readouterr().err
    train(cfg, out_dir=tmp_path / "b", data_dir=tmp_path / "cache", progress=False)
    assert "reused from cache" in capsys.readouterr().err
    assert _history(tmp_path / "a") == _history(tmp_path / "b")


def _onecycle(synthetic_npz, epochs):
    return synthetic_cfg(
        synthetic_npz,
        epochs=epochs,
        **{"train.schedule": "onecycle", "callbacks.reduce_lr.enabled": "false", "train.onecycle.max_lr": 0.003},
    )


def test_onecycle_warms_up_then_anneals_and_resumes_exactly(synthetic_npz, tmp_path, monkeypatch):
    train(_onecycle(synthetic_npz, 4), out_dir=tmp_path / "straight", progress=False)
    lrs = [float(r["lr"]) for r in _history(tmp_path / "straight")]  # the rate each next epoch starts with
    assert lrs[0] > 1e-3 and lrs[-1] < 1e-4 and lrs == sorted(lrs, reverse=True)
    # Ctrl-C after 2 of 4 epochs (the one-cycle run keeps its length of 4), then resume: the same history.
    from digitlab.core import plots

    real = plots.training_curves

    def curves(history, path):
        real(history, path)
        if len(history) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(plots, "training_curves", curves)
    assert train(_onecycle(synthetic_npz, 4), out_dir=tmp_path / "split", progress=False).interrupted
    monkeypatch.setattr(plots, "training_curves", real)
    train(resume=tmp_path / "split", progress=False)
    assert _history(tmp_path / "split") == _history(tmp_path / "straight")
    with pytest.raises(DigitlabError, match="one-cycle schedule fixed to 4 epochs"):
        train(resume=tmp_path / "split", max_epochs=6, progress=False)


def test_a_one_cycle_warm_up_of_exactly_one_step_is_a_one_line_error(synthetic_npz, tmp_path):
    # 720 training images in batches of 180: 4 steps, a quarter of them warm-up
    args = ["--data", f"npz:{synthetic_npz}", "--epochs", "1", "--set", "train.batch_size=180", "--out", tmp_path / "r"]
    res = run_cli("train", "--preset", "fast", *args)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "pct_start x 4 steps (1 epochs of 4 batches) = exactly 1 step" in res.stderr
    assert not (tmp_path / "r").exists()


def test_onecycle_with_reduce_lr_is_refused():
    with pytest.raises(DigitlabError, match="reduce_lr.enabled=false"):
        config.resolve("seed1", sets=["train.schedule=onecycle"])
    for preset in ("onecycle", "robust"):
        cfg = config.resolve(preset)
        assert cfg["train"]["schedule"] == "onecycle" and not cfg["callbacks"]["early_stopping"]["enabled"]


def test_fine_tuning_starts_from_the_named_weights_and_records_them(synthetic_npz, tmp_path, capsys, mnist_ready):
    from digitlab.core.io import sha256_file
    from digitlab.evaluation import evaluate

    start = tmp_path / "start"
    first = train(synthetic_cfg(synthetic_npz, epochs=4), out_dir=start, progress=False)
    # At lr 1e-5 one epoch barely moves a network: a fresh one stays near chance, the started one keeps its skill.
    slow = {"train.lr": 1e-5}
    fresh = train(synthetic_cfg(synthetic_npz, epochs=1, **slow), out_dir=tmp_path / "fresh", progress=False)
    tuned = train(
        synthetic_cfg(synthetic_npz, epochs=1, **slow, **{"train.init_from": start}),
        out_dir=tmp_path / "tuned",
        progress=False,
    )
    assert tuned.best_val_acc >= first.best_val_acc - 0.05 and tuned.best_val_acc > fresh.best_val_acc + 0.2
    best = torch.load(tmp_path / "tuned" / "best.pt", weights_only=True)
    assert best["init"] == {"from": str(start), "sha256": sha256_file(start / "best.pt"), "same_split": True}
    assert "another train/validation split" not in capsys.readouterr().err
    # Started from a model trained on another split: it trains, but says validation is not held out.
    other = train(
        synthetic_cfg(synthetic_npz, epochs=1, **slow, **{"train.init_from": start, "data.split_seed": 7}),
        out_dir=tmp_path / "other",
        progress=False,
    )
    assert "was trained on another train/validation split" in capsys.readouterr().err
    assert torch.load(other.run_dir / "best.pt", weights_only=True)["init"]["same_split"] is False
    rep = evaluate(other.run_dir, out_dir=tmp_path / "eval", latency=False, rejection=False)
    assert any("not held out" in n for n in rep["notes"])
    assert not any(
        "not held out" in n
        for n in evaluate(tuned.run_dir, out_dir=tmp_path / "eval2", latency=False, rejection=False)["notes"]
    )


def test_init_from_refuses_another_architecture_in_one_line(synthetic_npz, tmp_path):
    start = train(synthetic_cfg(synthetic_npz, epochs=1), out_dir=tmp_path / "start", progress=False).run_dir
    res = run_cli("train", "--preset", "seed2", "--data", f"npz:{synthetic_npz}", "--init", start, "--dry-run")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "do not match this config's model section" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = run_cli("train", "--data", f"npz:{synthetic_npz}", "--init", tmp_path / "nothing", "--dry-run")
    assert res.returncode == 2 and "model file not found" in res.stderr


def test_finetune_preset_starts_from_the_shipped_model(mnist_ready):
    cfg = config.resolve("finetune")
    assert cfg["train"]["init_from"] == "shipped" and cfg["train"]["epochs"] == 5
    res = run_cli("train", "--preset", "finetune", "--limit", "2000", "--dry-run")
    assert res.returncode == 0, res.stderr[-1000:]
    assert "dry run OK" in res.stdout and "another train/validation split" in res.stderr  # --limit changes the split


def test_amp_settings_choose_bf16_only_where_asked_and_native(monkeypatch):
    from digitlab.training import step

    cpu = torch.device("cpu")
    assert step.amp_dtype("off", cpu) is None and step.amp_dtype("bf16", cpu) is torch.bfloat16
    assert step.amp_dtype("auto", cpu) is None  # auto never picks bf16 on a CPU
    for has_bf16 in (True, False):
        monkeypatch.setattr(step, "native_bf16", lambda device, v=has_bf16: v)
        assert step.amp_dtype("native", cpu) is (torch.bfloat16 if has_bf16 else None)
