"""int8 inference: onnxruntime's static quantization of a digitlab export, kept only if it reads the same.

``digitlab export MODEL --quantize int8`` writes ``<model>.int8.onnx`` beside the
checkpoint (the float export's input, output and metadata, plus a ``quantized``
record). Weights are int8 per output channel (7-bit range) and activations uint8,
with scales calibrated on images of the model's own training split (min-max over
``calib_images`` of them); test images are never used. On the 2-core CPUs measured
(AMD EPYC with AVX2, and with AVX-512 and VNNI), int8 runs at batch 1 no faster than
float: about 1.0-1.2 times the float export's latency for both the shipped network and
the earlier ``fast`` network, 16 / 32 / 64-64 (results/README.md#int8).

The file is kept only if, on the model's validation split, it gives the same digit
as the float model on at least 99.8% of the first ``check_images`` images and its
accuracy on the whole split is at most 0.05 points below the float model's.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import torch

from digitlab.core import config as config_mod
from digitlab.core.errors import DigitlabError
from digitlab.core.io import atomic_path, sha256_file
from digitlab.data import splits_for

from .export import export_meta, onnx_proto
from .onnx_runtime import INT8_SUFFIX, META_KEY, OnnxSession, export_path
from .predictor import Predictor, predict_logits

MIN_AGREEMENT = 0.998  # share of validation images given the same digit as the float model
MAX_ACC_DROP = 0.0005  # validation accuracy, as a fraction (0.05 points)


class _Reader:
    """Feeds onnxruntime's calibrator one batch of prepared training images at a time."""

    def __init__(self, x: np.ndarray, input_name: str, batch: int = 64):
        x = x.astype(np.float32).reshape(-1, 1, 28, 28) / 255.0
        self.batches = iter([{input_name: x[i : i + batch]} for i in range(0, len(x), batch)])

    def get_next(self):
        return next(self.batches, None)


def _quantize(float_file: Path, out_file: Path, x_calib: np.ndarray) -> None:
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = float_file.with_name("pre.onnx")
    quant_pre_process(str(float_file), str(pre), skip_symbolic_shape=True)
    # the quantizer logs its choices through the root logger ("Axis 1 is out-of-range ..."): no concern of users
    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR
    try:
        _quantize_static(pre, out_file, x_calib)
    finally:
        root.setLevel(level)


def _quantize_static(pre: Path, out_file: Path, x_calib: np.ndarray) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        str(pre),
        str(out_file),
        _Reader(x_calib, "image"),  # the input name every export gets (export._to_onnx_bytes)
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        # 7-bit weights: AVX2 CPUs without VNNI multiply uint8 by int8 in a way that saturates at
        # full range, which cost the shipped model 0.6 points of validation accuracy
        reduce_range=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )


def _parity(pred: Predictor, session: OnnxSession, x_val: np.ndarray, y_val: np.ndarray, check_images: int) -> dict:
    want = predict_logits(pred.model, x_val, torch.device("cpu")).numpy().argmax(1)
    got = session.logits(x_val).argmax(1)
    n = min(check_images, len(y_val))
    out = {
        "images": n,
        "same_digit": int((want[:n] == got[:n]).sum()),
        "val_images": len(y_val),
        "val_acc_float": float((want == y_val).mean()),
        "val_acc_int8": float((got == y_val).mean()),
        "min_agreement": MIN_AGREEMENT,
        "max_acc_drop": MAX_ACC_DROP,
    }
    drop = out["val_acc_float"] - out["val_acc_int8"]
    out["kept"] = out["same_digit"] >= MIN_AGREEMENT * n and drop <= MAX_ACC_DROP + 1e-12  # 3 of 6,000 is exactly 0.05
    return out


def _may_replace(out: Path, source_sha: str) -> bool:
    """An existing ``out`` may be replaced only by a new int8 export of the same weights."""
    try:
        meta = OnnxSession(out).meta
    except DigitlabError:
        return False
    return meta.get("source_sha256") == source_sha and bool(meta.get("quantized"))


def quantize_int8(
    model_path, out=None, data_dir=None, calib_images: int = 512, check_images: int = 1000, force: bool = False
) -> dict:
    """Quantize a checkpoint's ONNX export to int8, check it on validation images, write it atomically."""
    import onnx  # as in export_onnx: slow to load, only exports need it

    pred = Predictor.load(model_path, device="cpu")
    if pred.backend != "torch":
        raise DigitlabError(
            f"{pred.path} is already an ONNX model; quantize the .pt checkpoint or run folder it came from"
        )
    out = Path(out) if out else export_path(pred.path, INT8_SUFFIX)
    if out.suffix != ".onnx":
        raise DigitlabError(f"--out {out} must end in .onnx")
    source_sha = sha256_file(pred.path)
    if out.exists() and not force and not _may_replace(out, source_sha):
        raise DigitlabError(f"{out} exists and is not an int8 export of {pred.path}; pick another --out or add --force")
    splits = splits_for(config_mod.complete(pred.checkpoint["config"]), data_dir)
    pick = np.random.default_rng(0).permutation(len(splits.y_train))[:calib_images]
    with tempfile.TemporaryDirectory(prefix="digitlab-int8-") as tmp:
        float_file, q_file = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        onnx.save(onnx_proto(pred.model), str(float_file))
        _quantize(float_file, q_file, splits.x_train[pick])
        proto = onnx.load(str(q_file))
        meta = export_meta(pred, source_sha)
        meta["quantized"] = {
            "type": "int8",
            "method": "onnxruntime static quantization, QDQ, int8 weights per channel (7-bit), uint8 activations, min-max",
            "calib_images": len(pick),
        }
        onnx.helper.set_model_props(proto, {META_KEY: json.dumps(meta, default=str)})
        with atomic_path(out, suffix=".onnx") as tmp_out:
            onnx.save(proto, str(tmp_out))
            check = _parity(pred, OnnxSession(tmp_out), splits.x_val, splits.y_val, check_images)
            if not check["kept"]:  # raising here removes the temporary file: nothing is kept
                raise DigitlabError(
                    f"the int8 model reads differently from the float one (same digit on {check['same_digit']} of "
                    f"{check['images']} validation images, needs {MIN_AGREEMENT:.1%}; validation accuracy "
                    f"{check['val_acc_float']:.2%} -> {check['val_acc_int8']:.2%}, may drop 0.05 points); not written"
                )
    return {"path": str(out), "source": str(pred.path), "bytes": out.stat().st_size, **check}
