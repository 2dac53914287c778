"""int8 export: the parity rule on validation images, the shipped int8 file, and the int8 backend."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import render_digit, run_cli
from digitlab.core.errors import DigitlabError
from digitlab.core.io import sha256_file
from digitlab.core.paths import shipped_model
from digitlab.inference import Predictor, quantize
from digitlab.inference.onnx_runtime import OnnxSession, matching_export


@pytest.fixture(scope="module")
def quantized(mnist_ready, tmp_path_factory):
    out = tmp_path_factory.mktemp("int8") / "model.int8.onnx"
    res = run_cli("export", shipped_model(), "--quantize", "int8", "--out", out)
    assert res.returncode == 0, res.stderr[-2000:]
    return out, res.stdout


def test_int8_export_keeps_the_float_models_digits_on_validation_images(quantized):
    out, stdout = quantized
    meta = OnnxSession(out).meta
    assert meta["quantized"]["type"] == "int8" and meta["quantized"]["calib_images"] == 512
    assert meta["source_sha256"] == sha256_file(shipped_model())
    m = re.search(r"float model on ([\d,]+) of ([\d,]+); accuracy ([\d.]+)% float, ([\d.]+)% int8", stdout)
    assert m, stdout
    same, of = (int(g.replace(",", "")) for g in m.groups()[:2])
    float_acc, int8_acc = float(m[3]), float(m[4])
    assert of == 1000 and same >= 998 and float_acc - int8_acc <= 0.05, stdout
    assert out.stat().st_size < 0.4 * shipped_model().with_suffix(".onnx").stat().st_size  # int8 weights


def test_the_shipped_int8_file_is_an_export_of_the_shipped_weights():
    session = matching_export(shipped_model(), suffix=".int8.onnx")
    assert session is not None and session.meta["quantized"]["type"] == "int8"


def test_predict_with_the_int8_backend_reads_drawn_digits_like_torch(tmp_path):
    paths = []
    for d in range(10):
        paths.append(tmp_path / f"{d}.png")
        Image.fromarray(render_digit(d, size=120, font_size=90)).save(paths[-1])
    got = {}
    for backend in ("torch", "int8"):
        res = run_cli("predict", *paths, "--backend", backend, "--json")
        assert res.returncode == 0, res.stderr[-1500:]
        got[backend] = [json.loads(line)["digit"] for line in res.stdout.splitlines()]
    assert got["int8"] == got["torch"] and len(got["int8"]) == 10
    assert Predictor.load(shipped_model(), backend="int8").backend == "int8"


def test_a_quantization_that_misses_the_rule_is_not_written(monkeypatch, mnist_ready, tmp_path):
    out = tmp_path / "bad.int8.onnx"

    def worse(pred, session, x_val, y_val, check_images):
        return {"images": 1000, "same_digit": 990, "val_images": 6000, "val_acc_float": 0.9963,
                "val_acc_int8": 0.9905, "kept": False}  # fmt: skip

    monkeypatch.setattr(quantize, "_parity", worse)
    with pytest.raises(DigitlabError, match=r"same digit on 990 of 1000 validation images, needs 99.8%.*not written"):
        quantize.quantize_int8(shipped_model(), out)
    assert not list(tmp_path.iterdir())


def test_int8_backend_without_an_export_and_a_foreign_out_file_are_one_line_errors(tmp_path):
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(shipped_model().read_bytes())
    img = tmp_path / "one.png"
    Image.fromarray(render_digit(1)).save(img)
    res = run_cli("predict", img, "--model", ckpt, "--backend", "int8")
    assert res.returncode == 2 and "no int8 export of" in res.stderr and "--quantize int8" in res.stderr
    other = tmp_path / "notes.onnx"
    other.write_text("mine")
    res = run_cli("export", ckpt, "--quantize", "int8", "--out", other)
    assert res.returncode == 2 and "is not an int8 export of" in res.stderr and "Traceback" not in res.stderr
    assert other.read_text() == "mine"


def test_an_onnx_file_asked_for_as_the_other_backend_is_a_one_line_error(tmp_path):
    float_onnx, int8_onnx = shipped_model().with_suffix(".onnx"), shipped_model().with_suffix(".int8.onnx")
    with pytest.raises(DigitlabError, match=r"is a float export, not int8; use --backend onnx"):
        Predictor.load(float_onnx, backend="int8")
    with pytest.raises(DigitlabError, match=r"is an int8 export, not onnx; use --backend int8"):
        Predictor.load(int8_onnx, backend="onnx")
    assert [Predictor.load(f).backend for f in (float_onnx, int8_onnx)] == ["onnx", "int8"]
    img = tmp_path / "one.png"
    Image.fromarray(render_digit(1)).save(img)
    res = run_cli("predict", img, "--model", float_onnx, "--backend", "int8")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "is a float export, not int8" in res.stderr


class _AnswersZero(torch.nn.Module):
    """The "float model": 0 for every image."""

    def forward(self, x):
        return F.one_hot(torch.zeros(len(x), dtype=torch.long), 10).float()


class _Session:
    """The "int8 model": 0, except 1 for the images in ``flipped``."""

    def __init__(self, flipped):
        self.flipped = list(flipped)

    def logits(self, x):
        y = np.zeros(len(x), np.int64)
        y[self.flipped] = 1
        return np.eye(10, dtype=np.float32)[y]


@pytest.mark.parametrize(
    "flipped, kept",
    [
        (range(2), True),  # 998 of the first 1,000 agree; accuracy 0.02 points lower
        (range(3), False),  # 997 of 1,000
        (range(1000, 1006), False),  # all of the first 1,000 agree, but accuracy is 0.06 points lower
    ],
)
def test_parity_rule_same_digit_on_998_of_1000_and_at_most_005_points(flipped, kept):
    x, y = np.zeros((10_000, 28, 28), np.uint8), np.zeros(10_000, np.int64)
    check = quantize._parity(SimpleNamespace(model=_AnswersZero()), _Session(flipped), x, y, 1000)
    assert check["kept"] is kept, check
