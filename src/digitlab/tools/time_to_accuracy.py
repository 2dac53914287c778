"""Time to accuracy: ``digitlab train --preset fast`` timed from the command to ``best.pt``, over seeds,
each model then read on the official test set (which chooses nothing: the recipe is fixed).

``python -m digitlab.tools.time_to_accuracy --preset fast --seeds 0 1 2`` prints one line per
seed and the mean; ``digitlab bench`` runs it as its ``time`` part. The wall time is what a
user waits: a fresh interpreter, loading MNIST (already fetched), building, training,
validating and writing the run folder. On CUDA the same command trains on the GPU, and the
images/s are the training epochs' own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from digitlab.core import checkpoint
from digitlab.core.errors import DigitlabError
from digitlab.core.io import write_text_atomic
from digitlab.core.rundir import RunDir
from digitlab.core.runinfo import machine_description
from digitlab.data import load_test
from digitlab.inference import Predictor, predict_logits

# the bench's --quick: the machinery, not the accuracy (29 steps, enough for the one-cycle schedule)
QUICK = ["--limit", "4000", "--epochs", "1", "--set", "train.batch_size=128"]


def train_once(preset: str, seed: int, out: Path, extra: list[str], data_dir=None) -> dict:
    """One timed ``digitlab train`` in a fresh interpreter; its wall time, epochs and test accuracy."""
    cmd = [sys.executable, "-m", "digitlab", "train", "--preset", preset, "--seed", str(seed), "--out", str(out)]
    cmd += ["--no-progress", *extra] + (["--data-dir", str(data_dir)] if data_dir else [])
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise DigitlabError(f"`digitlab train --preset {preset} --seed {seed}` failed: {last}")
    pred = Predictor.load(out / "best.pt")
    test = load_test(data_dir)
    acc = float((predict_logits(pred.model, test.x, pred.device).numpy().argmax(1) == test.y).mean())
    best = pred.checkpoint["metrics"]
    images = pred.checkpoint["data"]["train"] + pred.checkpoint["data"]["augmented"]
    history = checkpoint.load(RunDir(out).last)["history"]
    epochs, train_s = len(history), sum(h["seconds"] for h in history)
    return {
        "seed": seed,
        "wall_s": wall,
        "test_acc": acc,
        "val_acc": float(best["val_acc"]),
        "best_epoch": int(best["epoch"]),
        "epochs": epochs,
        "train_images_per_s": images * epochs / train_s,
        "device": str(pred.device),
    }


def measure(
    preset: str = "fast", seeds=(0, 1, 2), quick: bool = False, extra=(), data_dir=None, progress=print
) -> dict:
    """``train_once`` for each seed and the means."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="digitlab-tta-") as tmp:
        for seed in seeds:
            r = train_once(preset, seed, Path(tmp) / f"s{seed}", [*(QUICK if quick else []), *extra], data_dir)
            progress(f"  {preset} seed {seed}: {r['test_acc']:.2%} official test in {r['wall_s']:.0f} s")
            runs.append(r)
    return {
        "machine": machine_description(torch.device(runs[0]["device"]) if runs else None),
        "preset": preset,
        "extra": list(extra),
        "quick": quick,
        "runs": runs,
        "mean_wall_s": float(np.mean([r["wall_s"] for r in runs])),
        "mean_test_acc": float(np.mean([r["test_acc"] for r in runs])),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m digitlab.tools.time_to_accuracy",
        description=" ".join(__doc__.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--preset", default="fast", help="preset to train")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="train.seed of each run")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="more config overrides")
    ap.add_argument("--json", metavar="FILE", help="also write the numbers here")
    args = ap.parse_args(argv)
    try:
        res = measure(args.preset, args.seeds, extra=sum((["--set", s] for s in args.set), []))
    except DigitlabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.preset}: mean {res['mean_test_acc']:.2%} official test, mean {res['mean_wall_s']:.0f} s per run")
    if args.json:
        write_text_atomic(args.json, json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
