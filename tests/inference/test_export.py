"""ONNX export: parity with PyTorch, the shipped export, and the onnx backend of predict/evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import render_digit, run_cli
from digitlab import data
from digitlab.core.errors import DigitlabError
from digitlab.core.io import sha256_file
from digitlab.core.paths import shipped_model
from digitlab.inference import Predictor
from digitlab.inference.onnx_runtime import OnnxSession, matching_export


@pytest.fixture(scope="module")
def exported(shipped, mnist_ready, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "model.onnx"
    res = run_cli("export", shipped.path, "--out", out)
    assert res.returncode == 0, res.stderr[-2000:]
    return out, res.stdout


def test_export_agrees_with_pytorch_on_1000_test_images(exported, shipped):
    out, stdout = exported
    assert "same digit for 1,000 of 1,000" in stdout
    diff = float(stdout.split("max |onnx - torch| = ")[1].split()[0])
    assert diff <= 1e-4
    onnx = Predictor.load(out)
    assert onnx.backend == "onnx" and onnx.model is None
    x = data.load_test().x[:1000]
    a, b = onnx.logits(x), shipped.logits(x)
    assert np.abs(a - b).max() <= 1e-4 and (a.argmax(1) == b.argmax(1)).all()
    # The file alone carries what predict and the API need: config, calibration, parameter count.
    assert onnx.temperature == pytest.approx(shipped.temperature) and onnx.threshold == pytest.approx(shipped.threshold)
    assert onnx.parameters == shipped.parameters
    assert onnx.checkpoint["source_sha256"] == sha256_file(shipped.path)


def test_shipped_onnx_is_an_export_of_the_shipped_weights():
    pt = shipped_model()
    session = matching_export(pt)
    assert session is not None and session.path == pt.with_suffix(".onnx"), (
        "re-run `digitlab export` after replacing models/default.pt"
    )


def test_predict_with_the_onnx_backend_matches_torch(exported, tmp_path):
    out, _ = exported
    img = tmp_path / "seven.png"
    from PIL import Image

    Image.fromarray(render_digit(7, size=120, font_size=90)).save(img)
    answers = {}
    for args in (["--model", out], ["--backend", "onnx"], ["--backend", "torch"]):
        res = run_cli("predict", img, "--json", *args)
        assert res.returncode == 0, res.stderr[-1000:]
        answers[str(args)] = json.loads(res.stdout)
    digits = {a["digit"] for a in answers.values()}
    confs = [a["confidence"] for a in answers.values()]
    assert digits == {7} and max(confs) - min(confs) < 1e-4


def test_export_refuses_to_replace_another_file_and_onnx_needs_an_export(exported, shipped, tmp_path):
    victim = tmp_path / "keep.onnx"
    victim.write_bytes(b"my own file")
    res = run_cli("export", shipped.path, "--out", victim)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "--force" in res.stderr
    assert victim.read_bytes() == b"my own file"
    lone = tmp_path / "lone.pt"
    lone.write_bytes(shipped.path.read_bytes())
    res = run_cli("predict", "--model", lone, "--backend", "onnx", "--data", "mnist")
    assert res.returncode == 2 and "digitlab export" in res.stderr and "Traceback" not in res.stderr
    with pytest.raises(DigitlabError, match="not a readable ONNX model"):
        OnnxSession(victim)


def test_evaluate_with_the_onnx_backend_reports_the_same_accuracy(exported, shipped, tmp_path):
    out, _ = exported
    x, y = data.load_test().x[:2000], data.load_test().y[:2000]
    np.savez(tmp_path / "part.npz", x=x, y=y)
    rep = {}
    for backend, model in (("onnx", out), ("torch", shipped.path)):
        res = run_cli(
            "evaluate",
            model,
            "--data",
            f"npz:{tmp_path / 'part.npz'}",
            "--backend",
            backend,
            "--no-rejection",
            "--out",
            tmp_path / backend,
        )
        assert res.returncode == 0, res.stderr[-1000:]
        rep[backend] = json.loads((tmp_path / backend / "report.json").read_text())
    assert rep["onnx"]["model"]["backend"] == "onnx"
    assert rep["onnx"]["latency"]["backend"] == "onnxruntime" and rep["onnx"]["latency"]["batch1_ms_p50"] > 0
    name = f"npz:{tmp_path / 'part.npz'}"
    assert rep["onnx"]["sets"][name]["accuracy"] == rep["torch"]["sets"][name]["accuracy"] > 0.98
