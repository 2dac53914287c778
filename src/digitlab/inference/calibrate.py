"""Calibration and when to say "not sure", both fitted on validation data only.

Temperature scaling (Guo et al., 2017) divides the logits by one number T,
fitted to minimise the validation negative log-likelihood; it changes no
prediction, only how confident they are. ECE (expected calibration error,
15 equal-width confidence bins) is reported before and after.

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
from scipy.special import log_softmax, softmax

from digitlab.core.io import sha256_file, write_json_atomic
from digitlab.core.rundir import calibration_file

MAX_RISK = 0.001  # at most 1 in 1,000 confident answers wrong on validation data
DEFAULT_THRESHOLD = 0.9  # for a model that has not been evaluated yet
NOT_SURE, NOT_A_DIGIT, EMPTY = "unsure", "not a digit", "empty"


ECE_BINS = 15


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    return float(-log_softmax(logits / temperature, axis=1)[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T in [0.05, 20] that minimises the NLL of ``softmax(logits / T)``."""
    from scipy.optimize import minimize_scalar  # slow to import: only fitting pays it

    res = minimize_scalar(
        lambda log_t: nll(logits, labels, float(np.exp(log_t))),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(res.x))


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict:
    """Per-bin confidence, accuracy and count, and the ECE they add up to."""
    conf, correct = probs.max(1), probs.argmax(1) == labels
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    mean_conf = np.bincount(idx, conf, bins) / np.maximum(count, 1)
    acc = np.bincount(idx, correct.astype(float), bins) / np.maximum(count, 1)
    ece = float((count * np.abs(acc - mean_conf)).sum() / max(len(labels), 1))
    return {"ece": ece, "confidence": mean_conf.tolist(), "accuracy": acc.tolist(), "count": count.tolist()}


def temperature_report(val_logits: np.ndarray, val_labels: np.ndarray) -> dict:
    """Fit T on validation logits; ECE and NLL before and after (on the same data)."""
    t = fit_temperature(val_logits, val_labels)
    before, after = (
        reliability(softmax(val_logits, axis=1), val_labels),
        reliability(softmax(val_logits / t, axis=1), val_labels),
    )
    return {
        "temperature": t,
        "nll_before": nll(val_logits, val_labels),
        "nll_after": nll(val_logits, val_labels, t),
        "ece_before": before["ece"],
        "ece_after": after["ece"],
        "bins_before": before,
        "bins_after": after,
    }


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
    return {
        "threshold": threshold,
        "coverage": float(kept.mean()),
        "risk": float(wrong[kept].mean()) if kept.any() else 0.0,
        "max_risk": max_risk,
        "images": int(len(labels)),
        "rule": f"lowest max-softmax threshold with validation error rate among kept answers <= {max_risk}",
    }


def reason(
    confidence: float, digit_score: float | None, empty: bool, threshold: float, digit_threshold: float
) -> str | None:
    """Why an answer is not given, or None when it is: ``empty`` (no ink); ``not a digit`` when the
    not-a-digit gate's probability that this is a digit at all, ``digit_score``, is below its own
    ``digit_threshold`` (None: no gate); ``unsure`` when the reader's top probability is below
    ``threshold`` (a digit that could be either of two)."""
    if empty:
        return EMPTY
    if digit_score is not None and digit_score < digit_threshold:
        return NOT_A_DIGIT
    return NOT_SURE if confidence < threshold else None


def message(result: dict) -> str:
    """What the app, the live page and ``predict`` say for one answer of
    :meth:`~digitlab.inference.Predictor.predict_prepared`."""
    if result["reason"] == EMPTY:
        return "No ink found: draw a digit"
    if result["reason"] == NOT_A_DIGIT:
        return "That doesn't look like a digit"
    if result["reason"] == NOT_SURE:
        return f"Not sure: {result['top2'][0]} or {result['top2'][1]}?"
    return str(result["digit"])


def load(checkpoint_path: str | os.PathLike) -> dict | None:
    """The stored calibration (``temperature``, ``threshold``), or None when there is none or it belongs to other weights."""
    try:
        cal = json.loads(calibration_file(checkpoint_path).read_text())
    except (OSError, ValueError):
        return None
    return cal if cal.get("checkpoint_sha256") == sha256_file(checkpoint_path) else None


def save(checkpoint_path: str | os.PathLike, calibration: dict) -> Path:
    path = calibration_file(checkpoint_path)
    write_json_atomic(path, {**calibration, "checkpoint_sha256": sha256_file(checkpoint_path)})
    return path
