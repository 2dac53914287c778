"""After a personal run (``data.personal.enabled``): how the model it started from and the
model it made read your held-out examples, MNIST validation and the official test set,
in ``personal.json`` and on stderr; and the new model's "not sure" calibration, fitted on
MNIST validation as ``digitlab evaluate`` fits it, so that ``--model RUN`` is ready to use.

The official test set is only reported here, beside the rest: nothing is chosen on it.
"""

from __future__ import annotations

import sys

from scipy.special import softmax

from digitlab import data
from digitlab.core.io import write_json_atomic
from digitlab.core.paths import shipped_model
from digitlab.core.rundir import RunDir
from digitlab.inference import Predictor, calibrate

from .build import Parts


def _accuracies(pred: Predictor, sets: dict[str, data.Source]) -> dict[str, dict]:
    out = {}
    for name, src in sets.items():
        right = pred.logits(src.x).argmax(1) == src.y
        out[name] = {"accuracy": float(right.mean()) if len(right) else None, "images": int(len(right))}
    return out


def _table(before: dict, after: dict) -> str:
    def pct(v):
        return "-" if v is None else f"{v:.2%}"

    lines = [f"{'':18} {'before':>8} {'after':>8}"]
    for name, a in after.items():
        if not a["images"]:
            lines.append(f"{name:18} {'-':>8} {'-':>8}   (none held out: save at least 3 of a digit)")
            continue
        lines.append(f"{name:18} {pct(before[name]['accuracy']):>8} {pct(a['accuracy']):>8}   ({a['images']:,} images)")
    return "\n".join(lines)


def report(p: Parts, run: RunDir, data_dir=None) -> dict:
    """Before and after, into ``RUN/personal.json``; calibrates ``best.pt``."""
    init = p.init or {}
    start = shipped_model() if init.get("from") == "shipped" else init.get("from")
    test = data.load_test(data_dir)
    sets = {"yours, held out": p.splits.held, "mnist validation": None, "mnist test": test}
    sets["mnist validation"] = data.Source("mnist validation", p.splits.x_val, p.splits.y_val)
    after_model = Predictor.load(run.best, device="cpu")
    after = _accuracies(after_model, sets)
    before = (
        _accuracies(Predictor.load(start, device="cpu"), sets)
        if start
        else {k: {"accuracy": None, "images": 0} for k in sets}
    )
    val_logits = after_model.logits(p.splits.x_val)
    t = calibrate.fit_temperature(val_logits, p.splits.y_val)
    not_sure = calibrate.choose_threshold(softmax(val_logits / t, axis=1), p.splits.y_val)
    calibrate.save(run.best, {"temperature": t, **not_sure})
    out = {"start": str(start) if start else None, "yours": p.splits.user, "before": before, "after": after}
    write_json_atomic(run.personal, out)
    print(f"Your examples: {_describe(p.splits.user)}\n{_table(before, after)}", file=sys.stderr)
    return out


def _describe(user: dict) -> str:
    per = ", ".join(f"{d}: {n}" for d, n in enumerate(user["per_digit"]) if n)
    return (
        f"{user['examples']} ({per}); {user['train']} trained on, each {user['repeats']} times an epoch, "
        f"{user['held_out']} held out"
    )
