""" "Not a digit": how well the rule separates digits from generated non-digits.

Two scores, one rule (:func:`digitlab.inference.calibrate.reason`): the not-a-digit gate's
probability that an image is a digit at all (below its threshold: "not a digit"), then the
reader's top probability after temperature scaling (below the "not sure" threshold:
"Not sure: 4 or 9?"). The report gives each score's AUROC against official test digits,
with the energy score (``T * logsumexp(logits / T)``, Liu et al. 2020) for comparison, and
what share of each family the whole rule does not answer.

The non-digits are :mod:`digitlab.data.nondigits`' families, drawn from the ``report``
stream (never the images a gate trained on); families held out of training are marked
so, and summed apart: they say how rejection carries over to kinds never seen.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, softmax

from digitlab.data.nondigits import FAMILIES, HELD_OUT, TRAINING, non_digits

__all__ = ["FAMILIES", "HELD_OUT", "TRAINING", "non_digits", "rejection_report", "scores"]


def scores(logits: np.ndarray, temperature: float) -> dict[str, np.ndarray]:
    """Higher means "more like a digit"."""
    z = logits / temperature
    return {"max_softmax": softmax(z, axis=1).max(1), "energy": temperature * logsumexp(z, axis=1)}


def _auroc(digit_scores: np.ndarray, other_scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score  # most of a second to import: only this pays it

    y = np.r_[np.ones(len(digit_scores)), np.zeros(len(other_scores))]
    return float(roc_auc_score(y, np.r_[digit_scores, other_scores]))


def _figures(digits: dict, logits: np.ndarray, gate: np.ndarray | None, cal: tuple, gate_threshold: float) -> dict:
    temperature, threshold = cal
    s = scores(logits, temperature)
    out = {
        "images": int(len(logits)),
        "auroc_max_softmax": _auroc(digits["max_softmax"], s["max_softmax"]),
        "auroc_energy": _auroc(digits["energy"], s["energy"]),
    }
    no_digit = np.zeros(len(logits), bool) if gate is None else gate < gate_threshold
    if gate is not None:
        out["auroc_gate"] = _auroc(digits["gate"], gate)
    out["rejected_at_threshold"] = float((no_digit | (s["max_softmax"] < threshold)).mean())
    out["not_a_digit_at_threshold"] = float(no_digit.mean())
    return out


def rejection_report(
    digit_logits: np.ndarray,
    other_logits: dict[str, np.ndarray],
    temperature: float,
    threshold: float,
    gated: tuple[np.ndarray, dict[str, np.ndarray], float] | None = None,
) -> dict:
    """Per non-digit family: AUROC against the digits of each score, and the share the rule does
    not answer (and calls "not a digit"); then the held-out families together and all together.
    ``gated``: the not-a-digit gate's digit probabilities for the digits and for each family, and
    its threshold (None: no gate)."""
    cal = (temperature, threshold)
    digit_gate, other_gate, gate_threshold = gated if gated is not None else (None, {}, 0.0)
    digits = scores(digit_logits, temperature) | ({"gate": digit_gate} if gated is not None else {})

    def fig(names):
        lg = np.concatenate([other_logits[n] for n in names])
        gate = np.concatenate([other_gate[n] for n in names]) if gated is not None else None
        return _figures(digits, lg, gate, cal, gate_threshold)

    held = [n for n in other_logits if n in HELD_OUT]
    digit_no = digit_gate < gate_threshold if gated is not None else np.zeros(len(digit_logits), bool)
    return {
        "score": "the not-a-digit gate's digit probability, then max softmax after temperature scaling"
        if gated is not None
        else "max softmax after temperature scaling",
        "threshold": threshold,
        "gate_threshold": gate_threshold if gated is not None else None,
        "temperature": temperature,
        "digits": int(len(digit_logits)),
        "digits_rejected_at_threshold": float((digit_no | (digits["max_softmax"] < threshold)).mean()),
        "digits_not_a_digit": float(digit_no.mean()),
        "sets": {n: {**fig([n]), "held_out": n in HELD_OUT} for n in other_logits},
        "held_out": fig(held) if held else None,
        "all": fig(list(other_logits)) if other_logits else None,
    }
