"""How well a personal model learns a handwriting style: ``python -m digitlab.tools.personal_bench``.

For each style and count: ``--per-digit`` drawings of every digit in the style
(:mod:`digitlab.data.styles`, seed 0) are written as a ``folder:`` dataset, ``digitlab train
--preset personal --data mnist --data folder:DIR`` runs on them in a fresh process (its wall
time is what is reported), and the shipped and the personal model then read 100 new
drawings of each digit in the style (seed 1, never trained on). The official test set and
the run's held-out examples come from the run's ``personal.json``. One JSON line per run on
stdout, and all of them in ``--json``.

Measured (2-core AMD EPYC, no GPU; results/README.md#personal-models): blocky drawings, read
at 78.3% by the shipped model, are read at 99.8% after 10 examples of each digit, in 129 s.
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
from PIL import Image

from digitlab.core.io import write_json_atomic
from digitlab.core.paths import shipped_model
from digitlab.data.preprocess import prepare_batch
from digitlab.data.styles import STYLES, style_digits
from digitlab.inference import Predictor

FRESH_PER_DIGIT = 100


def write_folder(style: str, per_digit: int, folder: Path) -> None:
    x, y = style_digits(style, per_digit, seed=0)
    for i, (img, d) in enumerate(zip(x, y)):
        (folder / str(d)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / str(d) / f"{style}-{i:04d}.png")


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float((Predictor.load(model, device="cpu").logits(x).argmax(1) == y).mean())


def one_run(style: str, per_digit: int, work: Path, sets: list[str]) -> dict:
    data, run = work / f"{style}-{per_digit}", work / f"{style}-{per_digit}-run"
    write_folder(style, per_digit, data)
    cmd = [sys.executable, "-m", "digitlab", "train", "--preset", "personal", "--data", "mnist"]
    cmd += ["--data", f"folder:{data}", "--out", str(run), "--no-progress"]
    cmd += [a for s in sets for a in ("--set", s)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    xf, yf = style_digits(style, FRESH_PER_DIGIT, seed=1)
    xf = prepare_batch(list(xf))
    report = json.loads((run / "personal.json").read_text())
    after = report["after"]
    return {
        "style": style,
        "per_digit": per_digit,
        "sets": sets,
        "train_wall_s": round(wall, 1),
        "new_drawings": len(yf),
        "new_before": accuracy(shipped_model(), xf, yf),
        "new_after": accuracy(run / "best.pt", xf, yf),
        "held_out": after["yours, held out"],
        "test_before": report["before"]["mnist test"]["accuracy"],
        "test_after": after["mnist test"]["accuracy"],
        "val_after": after["mnist validation"]["accuracy"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m digitlab.tools.personal_bench",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--style", nargs="+", default=["blocky"], choices=list(STYLES), help="handwriting styles")
    ap.add_argument("--per-digit", nargs="+", type=int, default=[10], help="examples of each digit to learn from")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to digitlab train")
    ap.add_argument("--json", metavar="FILE", help="also write every run's result here")
    args = ap.parse_args(argv)
    if min(args.per_digit) < 1:
        ap.error("--per-digit must be at least 1")
    out = []
    with tempfile.TemporaryDirectory(prefix="digitlab-personal-") as tmp:
        for style in args.style:
            for n in args.per_digit:
                out.append(one_run(style, n, Path(tmp), args.set))
                print(json.dumps(out[-1]), flush=True)
    if args.json:
        write_json_atomic(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
