"""Training the number reader's gate (:mod:`digitlab.models.gate`) on generated stretches of ink.

Recipe (``digitlab gate``, defaults): 3,000 generated numbers of 1 to 4 digits (about 150k
stretches after thinning the parts) plus half the MNIST training split as whole digits, 4
epochs of one-cycle Adam at batch 256, label smoothing 0.05, random shifts of up to 2 pixels.
MNIST digits come from the training split of the shipped model's own split (seed 42, 10%
validation), so neither its validation digits nor the official test set are seen; the
gate's validation is numbers generated from those validation digits with another seed.

Measured (the shipped ``models/gate.pt``): 94.2% of 16,164 validation stretches given the
right kind, 88.7% of whole digits kept whole, 97.8% of parts and pairs refused; 406 s on a
2-core AMD EPYC CPU.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from digitlab.data import make_splits
from digitlab.data.pieces import DIGIT, KINDS, gate_examples
from digitlab.data.preprocess import SPEC as PREPROCESSING
from digitlab.models import build_gate

from .helpers import save as save_checkpoint
from .helpers import start as start_run

RECIPE = {
    "numbers": 3000,
    "val_numbers": 300,
    "epochs": 4,
    "batch_size": 256,
    "max_lr": 4.0e-3,
    "label_smoothing": 0.05,
    "shift": 2,
    "seed": 0,
    "widths": [16, 32, 64],
    "dense": 64,
}


def _data(recipe: dict, data_dir, progress: bool) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    splits = make_splits(["mnist"], 0.1, 42, directory=data_dir)
    total = recipe["numbers"] + recipe["val_numbers"]
    with tqdm(total=total, desc="generating numbers", unit="number", disable=not progress, leave=False) as bar:
        x, y = gate_examples(splits.x_train, recipe["numbers"], recipe["seed"], bar.update)
        xv, yv = gate_examples(splits.x_val, recipe["val_numbers"], recipe["seed"] + 1, bar.update)
    whole = splits.x_train[::2].astype(np.float32) / 255
    x, y = np.concatenate([x, whole]), np.concatenate([y, np.full(len(whole), DIGIT, np.int64)])
    return (x, y), (xv, yv)


def _shifted(xb: torch.Tensor, gen: torch.Generator, shift: int) -> torch.Tensor:
    dy, dx = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=gen))
    return torch.roll(xb, (dy, dx), (2, 3))


def fit(
    model, train: tuple[np.ndarray, np.ndarray], recipe: dict, progress: bool, max_steps: int | None, what: str = "gate"
) -> None:
    """One-cycle Adam over shuffled batches of ``train`` (float images, labels), randomly shifted; a
    small network's whole training, shared by the number gate and the not-a-digit gate."""
    x = torch.from_numpy(train[0])[:, None]
    y = torch.from_numpy(train[1])
    bs, gen = recipe["batch_size"], torch.Generator().manual_seed(recipe["seed"])
    per_epoch = len(x) // bs
    steps = min(max_steps or per_epoch * recipe["epochs"], per_epoch * recipe["epochs"])
    opt = torch.optim.Adam(model.parameters(), recipe["max_lr"] / 10)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe["max_lr"], total_steps=steps)
    model.train()
    with tqdm(total=steps, desc=f"training the {what}", unit="step", disable=not progress, leave=False) as bar:
        for step in range(steps):
            if step % per_epoch == 0:
                order = torch.randperm(len(x), generator=gen)
            batch = order[(step % per_epoch) * bs : (step % per_epoch + 1) * bs]
            loss = F.cross_entropy(
                model(_shifted(x[batch], gen, recipe["shift"])), y[batch], label_smoothing=recipe["label_smoothing"]
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update()
    model.eval()


def scores(model, x: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy, the confusion matrix (rows: true kind) and how many whole digits the gate keeps
    whole (``P(digit) >= 0.5``) on labelled stretches."""
    with torch.inference_mode():
        p = torch.softmax(model(torch.from_numpy(x)[:, None]), 1).numpy()
    guess = p.argmax(1)
    confusion = np.zeros((len(KINDS), len(KINDS)), np.int64)
    np.add.at(confusion, (y, guess), 1)
    digits = y == DIGIT
    return {
        "accuracy": float((guess == y).mean()),
        "digits_kept": float((p[digits, DIGIT] >= 0.5).mean()),
        "not_digits_refused": float((p[~digits, DIGIT] < 0.5).mean()),
        "confusion": confusion.tolist(),
        "kinds": list(KINDS),
        "stretches": int(len(y)),
    }


def train_gate(
    out, recipe: dict | None = None, data_dir=None, progress: bool = True, force: bool = False, dry_run: bool = False
) -> dict:
    """Train a gate and write it to ``out`` (atomically; an existing file only with ``force``).
    ``dry_run`` makes a few numbers and runs a few steps, and writes nothing."""
    out, recipe = start_run(out, RECIPE, recipe, force, dry_run)
    start = time.perf_counter()
    train, val = _data(recipe, data_dir, progress)
    spec = {"arch": "gate", "widths": list(recipe["widths"]), "dense": recipe["dense"], "classes": len(KINDS)}
    model = build_gate(spec)
    fit(model, train, recipe, progress, 3 if dry_run else None)
    metrics = {
        **scores(model, *val),
        "seconds": round(time.perf_counter() - start, 1),
        "train_stretches": len(train[1]),
    }
    if not dry_run:
        save_checkpoint(out, model, spec, recipe, metrics, preprocessing=PREPROCESSING)
    return metrics
