"""Training the number reader's line reader (:mod:`digitlab.models.line`) with CTC on generated pieces.

Recipe (``digitlab line``, defaults): the pieces of 30,000 generated numbers of 1 to 6 digits
(66,441 pieces; half the numbers on the canvas, half MNIST training digits side by side,
neighbours touching, overlapping or apart), 8 epochs of one-cycle Adam at batch 64, pieces of
similar width batched together.
MNIST digits come from the training split of the shipped model's own split (seed 42, 10%
validation); validation is pieces of numbers made from its validation digits with another seed.

Measured (the shipped ``models/line.pt``): 96.9% of 1,101 validation pieces read exactly, 90.2%
of the 307 that hold several digits; 773 s on a 2-core AMD EPYC CPU.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from digitlab.data import make_splits
from digitlab.data.lines import line_examples
from digitlab.models.line import BLANK, build_line, decode

from .helpers import save as save_checkpoint
from .helpers import start as start_run

RECIPE = {
    "numbers": 30000,
    "val_numbers": 500,
    "epochs": 8,
    "batch_size": 64,
    "max_lr": 3.0e-3,
    "seed": 0,
    "widths": [24, 48, 64, 96],
    "hidden": 128,
}


def _data(recipe: dict, data_dir, progress: bool):
    splits = make_splits(["mnist"], 0.1, 42, directory=data_dir)
    total = recipe["numbers"] + recipe["val_numbers"]
    with tqdm(total=total, desc="generating numbers", unit="number", disable=not progress, leave=False) as bar:
        train = line_examples((splits.x_train, splits.y_train), recipe["numbers"], recipe["seed"], bar.update)
        val = line_examples((splits.x_val, splits.y_val), recipe["val_numbers"], recipe["seed"] + 1, bar.update)
    return train, val


def batches(examples: list, size: int, rng: np.random.Generator | None = None):
    """Batches of examples of similar width (shuffled batch order when ``rng`` is given): the
    padded images (N, 1, 32, W) and the texts."""
    order = np.argsort([x.shape[1] for x, _ in examples], kind="stable")
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    for k in rng.permutation(len(chunks)) if rng is not None else range(len(chunks)):
        group = [examples[i] for i in chunks[k]]
        width = max(x.shape[1] for x, _ in group)
        xb = np.zeros((len(group), 1, group[0][0].shape[0], width), np.float32)
        for n, (x, _) in enumerate(group):
            xb[n, 0, :, : x.shape[1]] = x
        yield torch.from_numpy(xb), [t for _, t in group]


def ctc_loss(logits: torch.Tensor, texts: list[str]) -> torch.Tensor:
    log_probs = F.log_softmax(logits, 1).permute(2, 0, 1)  # (T, N, C), as CTC wants it
    targets = torch.tensor([int(c) for t in texts for c in t], dtype=torch.long)
    lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
    frames = torch.full((len(texts),), log_probs.shape[0], dtype=torch.long)
    return F.ctc_loss(log_probs, targets, frames, lengths, blank=BLANK, zero_infinity=True)


def _fit(model, train: list, recipe: dict, progress: bool, max_steps: int | None) -> None:
    rng = np.random.default_rng(recipe["seed"])
    per_epoch = -(-len(train) // recipe["batch_size"])
    steps = min(max_steps or per_epoch * recipe["epochs"], per_epoch * recipe["epochs"])
    opt = torch.optim.Adam(model.parameters(), recipe["max_lr"] / 10)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe["max_lr"], total_steps=steps)
    model.train()
    step = 0
    with tqdm(total=steps, desc="training the line reader", unit="step", disable=not progress, leave=False) as bar:
        while step < steps:
            for xb, texts in batches(train, recipe["batch_size"], rng):
                loss = ctc_loss(model(xb), texts)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                bar.update()
                step += 1
                if step == steps:
                    break
    model.eval()


def scores(model, examples: list) -> dict:
    """Exact-text accuracy over all pieces and over pieces of two digits or more."""
    right, several = [], []
    with torch.inference_mode():
        for xb, texts in batches(examples, 256):
            for got, want in zip(decode(model(xb).numpy()), texts):
                right.append(got == want)
                if len(want) > 1:
                    several.append(got == want)
    return {
        "accuracy": float(np.mean(right)),
        "several_accuracy": float(np.mean(several)) if several else 0.0,
        "pieces": len(right),
        "several_pieces": len(several),
    }


def train_line(
    out, recipe: dict | None = None, data_dir=None, progress: bool = True, force: bool = False, dry_run: bool = False
) -> dict:
    """Train a line reader and write it to ``out`` (atomically; an existing file only with ``force``).
    ``dry_run`` makes a few numbers and runs a few steps, and writes nothing."""
    out, recipe = start_run(out, RECIPE, recipe, force, dry_run)
    start = time.perf_counter()
    train, val = _data(recipe, data_dir, progress)
    spec = {"arch": "line", "widths": list(recipe["widths"]), "hidden": recipe["hidden"]}
    model = build_line(spec)
    _fit(model, train, recipe, progress, 3 if dry_run else None)
    metrics = {**scores(model, val), "seconds": round(time.perf_counter() - start, 1), "train_pieces": len(train)}
    if not dry_run:
        save_checkpoint(out, model, spec, recipe, metrics)
    return metrics
