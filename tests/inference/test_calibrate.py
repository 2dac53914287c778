"""The "not sure" threshold: chosen on validation data, stored beside the checkpoint."""

from __future__ import annotations

import shutil

import numpy as np

from digitlab.core.rundir import calibration_file
from digitlab.data import drawings
from digitlab.inference import Predictor, calibrate


def test_threshold_is_the_lowest_that_keeps_risk_under_the_limit():
    # 1,000 answers; the 3 wrong ones have confidences 0.55, 0.6 and 0.95.
    conf = np.linspace(0.5, 1.0, 1000)
    labels = np.zeros(1000, int)
    wrong = [np.searchsorted(conf, c) for c in (0.55, 0.6, 0.95)]
    probs = np.zeros((1000, 10))
    probs[:, 0] = conf
    probs[:, 1] = 1 - conf
    labels[wrong] = 1  # predicted 0, true 1
    cal = calibrate.choose_threshold(probs, labels, max_risk=0.002)
    kept = conf >= cal["threshold"]
    assert (probs[kept].argmax(1) != labels[kept]).mean() <= 0.002
    # Keeping the 0.6 error too would make 2 in 800 (0.25%): the threshold sits just above 0.6.
    assert cal["risk"] <= 0.002 and 0.6 < cal["threshold"] < 0.61 and abs(cal["coverage"] - 0.799) < 0.002
    # No errors: keep everything. All wrong: never sure.
    assert calibrate.choose_threshold(probs, probs.argmax(1))["coverage"] == 1.0
    assert calibrate.choose_threshold(probs, np.full(1000, 7))["threshold"] == 1.0


def test_sidecar_belongs_to_its_weights(tmp_path):
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(b"weights v1")
    calibrate.save(ckpt, {"threshold": 0.8})
    assert calibration_file(ckpt).name == "best.calibration.json"
    assert calibrate.load(ckpt)["threshold"] == 0.8
    ckpt.write_bytes(b"weights v2")  # retrained: the old threshold no longer applies
    assert calibrate.load(ckpt) is None


def test_shipped_model_says_not_sure_instead_of_guessing(shipped, tmp_path):
    assert shipped.calibration is not None, "models/default.calibration.json is missing or stale"
    assert 0.5 < shipped.threshold < 1.0 and shipped.calibration["coverage"] > 0.98
    blank = shipped.predict_image(np.zeros((280, 280), np.uint8))
    assert blank["empty"] and not blank["sure"]
    seven = shipped.predict_image(drawings.draw_digit(7, rng=np.random.default_rng(0)))
    assert seven["sure"] and seven["digit"] == 7 and seven["top2"][0] == 7 and seven["input"].shape == (28, 28)
    # A checkpoint without a calibration falls back to the documented default.
    copy = tmp_path / "model.pt"
    shutil.copy(shipped.path, copy)
    assert Predictor.load(copy).threshold == calibrate.DEFAULT_THRESHOLD


def test_temperature_scaling_recovers_a_known_temperature_and_lowers_ece():
    # Labels drawn from softmax(z / 2): the logits z are over-confident by a factor of 2.
    rng = np.random.default_rng(0)
    z = rng.normal(0, 4, size=(20000, 10))
    p = np.exp(z / 2) / np.exp(z / 2).sum(1, keepdims=True)
    y = np.array([rng.choice(10, p=row) for row in p])
    rep = calibrate.temperature_report(z, y)
    assert 1.85 < rep["temperature"] < 2.15
    assert rep["nll_after"] < rep["nll_before"] and rep["ece_after"] < 0.02 < rep["ece_before"]
    bins = rep["bins_after"]
    assert sum(bins["count"]) == 20000 and len(bins["count"]) == calibrate.ECE_BINS


def test_shipped_model_is_temperature_scaled(shipped):
    assert 0.2 < shipped.temperature < 5 and shipped.temperature != 1.0
    logits = shipped.logits(np.zeros((1, 28, 28), np.uint8))
    p = shipped.probabilities(np.zeros((1, 28, 28), np.uint8))
    e = np.exp(logits / shipped.temperature)
    assert np.allclose(p, e / e.sum(), atol=1e-5)


def test_an_answer_not_given_says_why():
    assert calibrate.reason(0.95, 0.99, False, 0.9, 0.5) is None
    assert calibrate.reason(0.6, 0.99, False, 0.9, 0.5) == calibrate.NOT_SURE  # a digit, but which?
    assert calibrate.reason(0.99, 0.2, False, 0.9, 0.5) == calibrate.NOT_A_DIGIT  # however sure the reader is
    assert calibrate.reason(0.6, None, False, 0.9, 0.5) == calibrate.NOT_SURE  # no gate: the reader alone
    assert calibrate.reason(0.1, 0.1, True, 0.9, 0.5) == calibrate.EMPTY
    r = {"digit": 4, "top2": [4, 9], "reason": calibrate.NOT_SURE}
    assert calibrate.message(r) == "Not sure: 4 or 9?"
    assert calibrate.message({**r, "reason": calibrate.NOT_A_DIGIT}) == "That doesn't look like a digit"
    assert calibrate.message({**r, "reason": None}) == "4"
