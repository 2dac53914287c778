"""When to say "not sure": a confidence threshold chosen on validation data.

A model always puts its probability mass somewhere, so a scribble or an
ambiguous drawing still gets a digit. The app and the API show "not sure" with
the two likeliest digits when the top probability is below a threshold. The
threshold is chosen on the model's own validation split (never on the test
set): the lowest confidence at which the answers it keeps are at most
``MAX_RISK`` wrong. It is stored next to the checkpoint as
``<name>.calibration.json`` by ``digitlab evaluate``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .utils import sha256_file, write_json_atomic

MAX_RISK = 0.001  # at most 1 in 1,000 confident answers wrong on validation data
DEFAULT_THRESHOLD = 0.9  # for a model that has not been evaluated yet


def choose_threshold(probs: np.ndarray, labels: np.ndarray, max_risk: float = MAX_RISK) -> dict:
    """The lowest max-probability threshold whose kept answers have error rate <= ``max_risk``."""
    conf = probs.max(1)
    wrong = probs.argmax(1) != labels
    order = np.argsort(-conf, kind="stable")
    risk = np.cumsum(wrong[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(risk <= max_risk)
    # When even the most confident answer is wrong, never be sure.
    threshold = float(conf[order][ok.max()]) if len(ok) else 1.0
    kept = conf >= threshold if len(ok) else np.zeros(len(conf), bool)
    return {"threshold": threshold, "coverage": float(kept.mean()),
            "risk": float(wrong[kept].mean()) if kept.any() else 0.0, "max_risk": max_risk,
            "images": int(len(labels)),
            "rule": f"lowest max-softmax threshold with validation error rate among kept answers <= {max_risk}"}


def sidecar(checkpoint_path: str | os.PathLike) -> Path:
    p = Path(checkpoint_path)
    return p.with_name(p.stem + ".calibration.json")


def load(checkpoint_path: str | os.PathLike) -> dict | None:
    """The stored calibration, or None when there is none or it belongs to other weights."""
    try:
        cal = json.loads(sidecar(checkpoint_path).read_text())
    except (OSError, ValueError):
        return None
    return cal if cal.get("checkpoint_sha256") == sha256_file(checkpoint_path) else None


def save(checkpoint_path: str | os.PathLike, calibration: dict) -> Path:
    path = sidecar(checkpoint_path)
    write_json_atomic(path, {**calibration, "checkpoint_sha256": sha256_file(checkpoint_path)})
    return path
