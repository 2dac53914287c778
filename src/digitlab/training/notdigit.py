"""Training the not-a-digit gate: a small network in front of the digit reader that answers "is
this a digit at all?", so that letters, symbols and scribbles get "That doesn't look like a
digit" instead of a confident digit.

Why a gate and not the reader itself: the shipped reader's 99.70% took hours to train and is
at the edge of what fine-tuning keeps (every fine-tune of it tried ended at 99.61-99.67% on
the official test set), and outlier exposure fine-tuning of it cost 0.16 points of validation
accuracy in its first two epochs. A gate leaves every digit's answer as it was and costs a
fraction of a millisecond.

Recipe (``digitlab notdigit``, defaults): positives are the MNIST training split of the shipped
model's own split (seed 42, 10% validation: its validation digits and the official test set
are never seen) and 4,000 canvas drawings of digits (:mod:`digitlab.data.drawings`, every
variation, their own seed); negatives are 30,000 generated non-digits of the training
families (:mod:`digitlab.data.nondigits`; the held-out families never). A GateNet of 32, 64
and 96 channels and a 96-unit dense layer, 8 epochs of one-cycle Adam at batch 256, label
smoothing 0.05, random shifts of up to 2 pixels (chosen on validation over 16-32-64 for 4 or
8 epochs: 98.19%, 99.48% and, for this one, 99.90% of validation non-digits refused, each
calling 0.28% of validation digits no digit). Its threshold is
chosen on validation: the ``max_digits_rejected`` (0.3%) quantile of the MNIST validation
digits' scores, so that at most that share of them is called no digit.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from digitlab.data import data_dir as data_dir_of
from digitlab.data import make_splits
from digitlab.data.drawings import VARIATIONS, draw_digit
from digitlab.data.nondigits import TRAINING, non_digits
from digitlab.data.preprocess import SPEC as PREPROCESSING
from digitlab.data.preprocess import prepare_image
from digitlab.models import build_gate

from .gate import fit
from .helpers import save as save_checkpoint
from .helpers import start as start_run
from .outliers import outlier_pool

KINDS = ("digit", "not a digit")
DRY = {"negatives": 70, "drawings": 20, "val_negatives": 5}  # a dry run's few images
RECIPE = {
    "negatives": 30000,
    "drawings": 4000,
    "val_negatives": 300,  # per training family, from the validation stream
    "epochs": 8,
    "batch_size": 256,
    "max_lr": 4.0e-3,
    "label_smoothing": 0.05,
    "shift": 2,
    "seed": 0,
    "widths": [32, 64, 96],
    "dense": 96,
    "max_digits_rejected": 0.003,
}


def canvas_digits(n: int, seed: int, progress: bool = False) -> np.ndarray:
    """``n`` drawings of digits the canvas's way, every variation in turn, prepared: float (n, 28, 28)."""
    rng = np.random.default_rng([seed, 77])
    names = list(VARIATIONS)
    out = [
        prepare_image(draw_digit(i % 10, names[(i // 10) % len(names)], rng))
        for i in tqdm(range(n), disable=not progress, desc="drawing digits", leave=False)
    ]
    return np.stack(out).astype(np.float32) if out else np.zeros((0, 28, 28), np.float32)


def _data(recipe: dict, data_dir, progress: bool, cache: bool = True):
    splits = make_splits(["mnist"], 0.1, 42, directory=data_dir)
    digits = np.concatenate(
        [splits.x_train.astype(np.float32) / 255, canvas_digits(recipe["drawings"], recipe["seed"], progress)]
    )
    where = data_dir_of(data_dir) / "augment" if cache else None  # the pool train.outliers makes, cached alike
    others = outlier_pool({"images": recipe["negatives"]}, recipe["seed"], where, progress).astype(np.float32) / 255
    x = np.concatenate([digits, others])
    y = np.r_[np.zeros(len(digits), np.int64), np.ones(len(others), np.int64)]
    val_others = np.concatenate(
        list(non_digits(recipe["val_negatives"], stream="validation", families=TRAINING).values())
    )
    return (x, y), (splits.x_val.astype(np.float32) / 255, val_others)


def digit_probability(model, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return torch.softmax(model(torch.from_numpy(np.ascontiguousarray(x, np.float32))[:, None]), 1)[:, 0].numpy()


def choose_threshold(digits: np.ndarray, others: np.ndarray, max_digits_rejected: float) -> dict:
    """The ``max_digits_rejected`` quantile of the validation digits' P(digit) (the lower of the two
    nearest scores, so at most that share is called no digit), and what it does to the validation
    non-digits."""
    from sklearn.metrics import roc_auc_score  # most of a second to import: only this pays it

    threshold = float(np.quantile(digits, max_digits_rejected, method="lower"))
    return {
        "threshold": threshold,
        "digits_rejected": float((digits < threshold).mean()),
        "not_digits_rejected": float((others < threshold).mean()),
        "auroc": float(roc_auc_score(np.r_[np.ones(len(digits)), np.zeros(len(others))], np.r_[digits, others])),
        "val_digits": int(len(digits)),
        "val_not_digits": int(len(others)),
        "rule": f"the {max_digits_rejected:.1%} quantile of validation digits' scores (at most that share called no digit)",
    }


def train_notdigit(
    out, recipe: dict | None = None, data_dir=None, progress: bool = True, force: bool = False, dry_run: bool = False
) -> dict:
    """Train a not-a-digit gate and write it to ``out`` (atomically; an existing file only with
    ``force``). ``dry_run`` trains a few steps on a few images and writes nothing."""
    out, recipe = start_run(out, RECIPE, recipe, force, dry_run)
    if dry_run:
        recipe = {**recipe, **DRY}
    start = time.perf_counter()
    train, (val_digits, val_others) = _data(recipe, data_dir, progress, cache=not dry_run)
    spec = {"arch": "notdigit", "widths": list(recipe["widths"]), "dense": recipe["dense"], "classes": len(KINDS)}
    model = build_gate(spec)
    fit(model, train, recipe, progress, 3 if dry_run else None, what="not-a-digit gate")
    metrics = {
        **choose_threshold(
            digit_probability(model, val_digits), digit_probability(model, val_others), recipe["max_digits_rejected"]
        ),
        "kinds": list(KINDS),
        "seconds": round(time.perf_counter() - start, 1),
        "train_images": len(train[1]),
    }
    if not dry_run:
        save_checkpoint(out, model, spec, recipe, metrics, preprocessing=PREPROCESSING)
    return metrics
