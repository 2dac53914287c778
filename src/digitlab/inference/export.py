"""ONNX export, checked against PyTorch before it is kept.

``digitlab export MODEL --format onnx`` writes ``<model>.onnx`` beside the
checkpoint: input ``image`` (N, 1, 28, 28) float in [0, 1], output ``logits``
(N, 10), with a dynamic batch axis. Everything else the checkpoint records
(config, metrics, data, the calibration sidecar's temperature and threshold)
travels in the file's metadata under the key ``digitlab``, so an ``.onnx`` file
alone is a complete model for :class:`digitlab.inference.Predictor`.

An export is kept only if onnxruntime agrees with PyTorch on official test
images (max absolute logit difference <= 1e-4, the same digit for every image).
The test set serves only as this agreement check; nothing is chosen on it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from digitlab.core.errors import DigitlabError
from digitlab.core.io import atomic_path, sha256_file
from digitlab.data import load_test
from digitlab.models import count_parameters

from .gate import Gate
from .onnx_runtime import META_KEY, OnnxSession
from .predictor import Predictor, predict_logits

PARITY_TOL = 1e-4
OPSET = 18


def _to_onnx_bytes(model: torch.nn.Module) -> bytes:
    """The dynamo-based exporter (torch's default since 2.9; the TorchScript one is deprecated)."""
    example = torch.zeros(2, 1, 28, 28)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    # The exporter logs "torchvision is not installed" and deprecation chatter that is no concern of users.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model.eval(),
            (example,),
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes=({0: batch},),
            dynamo=True,
            opset_version=OPSET,
            verbose=False,
        )
    return program.model_proto.SerializeToString()


def onnx_proto(model: torch.nn.Module):
    """The network as an ONNX ``ModelProto`` (no metadata yet)."""
    import onnx  # imported here: only an export needs it, and it is slow to load

    return onnx.load_from_string(_to_onnx_bytes(model))


def export_meta(pred: Predictor, source_sha: str | None = None) -> dict:
    """What an export carries under ``digitlab``: the checkpoint's record without its weights, and the export's."""
    meta = {k: v for k, v in pred.checkpoint.items() if k != "state_dict"}
    meta.update(
        source=str(pred.path),
        source_sha256=source_sha or sha256_file(pred.path),
        calibration=pred.calibration,
        parameters=count_parameters(pred.model),
        exported=dt.datetime.now().isoformat(timespec="seconds"),
        onnx_opset=OPSET,
        torch=torch.__version__,
    )
    return meta


def export_onnx(model_path=None, out=None, data_dir=None, check_images: int = 1000, force: bool = False) -> dict:
    """Export a checkpoint to ONNX, check it against PyTorch, write it atomically; return the check's numbers."""
    import onnx  # imported here: only an export needs it, and it is slow to load

    pred = Predictor.load(model_path, device="cpu")
    if pred.backend != "torch":
        raise DigitlabError(f"{pred.path} is already an ONNX model; export a .pt checkpoint or run folder")
    out = Path(out) if out else pred.path.with_suffix(".onnx")
    source_sha = sha256_file(pred.path)
    if out.exists() and not force:
        try:
            same = OnnxSession(out).meta.get("source_sha256") == source_sha
        except DigitlabError:
            same = False
        if not same:
            raise DigitlabError(f"{out} exists and is not an export of {pred.path}; pick another --out or add --force")
    proto = onnx_proto(pred.model)
    onnx.helper.set_model_props(proto, {META_KEY: json.dumps(export_meta(pred, source_sha), default=str)})
    x = load_test(data_dir).x[:check_images]
    with atomic_path(out, suffix=".onnx") as tmp:
        onnx.save(proto, str(tmp))
        want = predict_logits(pred.model, x, torch.device("cpu")).numpy()
        got = OnnxSession(tmp).logits(x)
        diff = float(np.abs(want - got).max())
        agree = int((want.argmax(1) == got.argmax(1)).sum())
        if diff > PARITY_TOL or agree != len(x):  # raising here removes the temporary file: nothing is kept
            raise DigitlabError(
                f"the ONNX export disagrees with PyTorch (max |diff| {diff:.2e}, "
                f"{len(x) - agree} of {len(x)} digits differ); not written"
            )
    return {
        "path": str(out),
        "source": str(pred.path),
        "bytes": out.stat().st_size,
        "images": len(x),
        "max_abs_diff": diff,
        "same_digit": agree,
        "tolerance": PARITY_TOL,
    }


def export_gate(gate_path, check_images: int = 512, arch: str = "gate") -> dict:
    """Export a number gate (``gate.pt``; ``arch="notdigit"``: a not-a-digit gate) to ``.onnx`` beside
    it, kept only if onnxruntime gives the same kinds as PyTorch (probabilities within 1e-4) on
    random stretches of ink."""
    import onnx  # as in export_onnx

    gate = Gate.load(gate_path, arch)
    out = gate.path.with_suffix(".onnx")
    proto = onnx_proto(gate.model)
    meta = {**gate.meta, "source": str(gate.path), "source_sha256": sha256_file(gate.path), "onnx_opset": OPSET}
    onnx.helper.set_model_props(proto, {META_KEY: json.dumps(meta, default=str)})
    x = (np.random.default_rng(0).random((check_images, 28, 28)) > 0.7).astype(np.float32)
    with atomic_path(out, suffix=".onnx") as tmp:
        onnx.save(proto, str(tmp))
        want = Gate(gate.model, gate.meta, gate.path).kinds(x)
        got = Gate(gate.model, gate.meta, gate.path, OnnxSession(tmp, threads=1)).kinds(x)
        diff = float(np.abs(want - got).max())
        if diff > PARITY_TOL:
            raise DigitlabError(f"the gate's ONNX export disagrees with PyTorch (max |diff| {diff:.2e}); not written")
    return {"path": str(out), "bytes": out.stat().st_size, "images": len(x), "max_abs_diff": diff}
