"""Telling digits from things that are not digits."""

from __future__ import annotations

import numpy as np

from digitlab import data
from digitlab.evaluation import ood


def test_the_report_covers_every_family_and_sums_the_held_out_ones_apart():
    rng = np.random.default_rng(0)
    digits = np.eye(10)[rng.integers(0, 10, 200)] * 12  # confident digits
    others = {name: rng.normal(0, 0.3, (20, 10)) for name in ood.FAMILIES}  # even answers
    gate = (np.full(200, 0.99), {name: np.full(20, 0.01 if name == "noise" else 0.9) for name in ood.FAMILIES}, 0.5)
    rep = ood.rejection_report(digits, others, temperature=1.0, threshold=0.9, gated=gate)
    assert set(rep["sets"]) == set(ood.FAMILIES)
    assert {k for k, v in rep["sets"].items() if v["held_out"]} == set(ood.HELD_OUT)
    assert rep["held_out"]["images"] == 20 * len(ood.HELD_OUT) and rep["all"]["images"] == 20 * len(ood.FAMILIES)
    assert rep["all"]["auroc_max_softmax"] == 1.0 and rep["all"]["rejected_at_threshold"] == 1.0
    assert rep["sets"]["noise"]["not_a_digit_at_threshold"] == 1.0 and rep["held_out"]["not_a_digit_at_threshold"] == 0
    assert rep["digits_rejected_at_threshold"] == 0.0 and rep["digits_not_a_digit"] == 0.0
    assert "auroc_gate" not in ood.rejection_report(digits, others, 1.0, 0.9)["sets"]["noise"]


def _gated(pred, x_digits, others):
    score = lambda x: np.asarray(pred.digit_scores(np.asarray(x, np.float32)))  # noqa: E731
    return score(x_digits / 255), {k: score(v) for k, v in others.items()}, pred.digit_threshold


def test_the_rule_refuses_held_out_non_digits_and_answers_digits(shipped, mnist_ready, measured):
    test = data.load_test().x[:3000]
    others = ood.non_digits(200)
    rep = ood.rejection_report(
        shipped.logits(test),
        {k: shipped.logits(v) for k, v in others.items()},
        shipped.temperature,
        shipped.threshold,
        _gated(shipped, test, others),
    )
    held = {k: v for k, v in rep["sets"].items() if v["held_out"]}
    assert held and all(v["rejected_at_threshold"] >= 0.9 for v in held.values()), held
    assert rep["held_out"]["auroc_gate"] >= 0.99 and rep["all"]["auroc_gate"] >= 0.99
    assert rep["digits_rejected_at_threshold"] < 0.015
    val = data.make_splits(["mnist"], 0.1, 42).x_val  # the shipped model's own validation digits
    answered = np.mean([r["sure"] for r in shipped.predict_prepared(val.astype(np.float32) / 255)])
    assert answered >= 0.985
    measured(
        f"not a digit, shipped reader and gate: held-out families {rep['held_out']['rejected_at_threshold']:.1%} "
        f"refused (AUROC {rep['held_out']['auroc_gate']:.4f} against 3,000 test digits; "
        + ", ".join(f"{k} {v['rejected_at_threshold']:.0%}" for k, v in held.items())
        + f"); {answered:.2%} of validation digits answered"
    )
