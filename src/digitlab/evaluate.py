"""Evaluation reports: ``report.json`` for programs, ``report.md`` and PNGs for people.

By default a model is evaluated on the validation split it was trained with
(rebuilt from the config and seed in its checkpoint, checked against the
recorded data checksum), on the official MNIST test set, and on that test set
inverted (black ink on white), each reported separately. Metrics come from scikit-learn. Nothing here chooses anything:
the test set is only reported.
"""
from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from . import calibrate, data, plots
from .inference import Predictor, shipped_model, to_input
from .models import count_parameters
from .utils import library_versions, machine_description, write_json_atomic, write_text_atomic

DIGITS = list(range(10))


def metrics(y_true: np.ndarray, probs: np.ndarray) -> dict:
    pred = probs.argmax(1)
    p, r, f, s = precision_recall_fscore_support(y_true, pred, labels=DIGITS, zero_division=0)
    return {
        "images": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, pred)),
        "misclassified": int((pred != y_true).sum()),
        "per_class": {str(d): {"precision": float(p[d]), "recall": float(r[d]), "f1": float(f[d]), "support": int(s[d])}
                      for d in DIGITS},
        "confusion_matrix": confusion_matrix(y_true, pred, labels=DIGITS).tolist(),
    }


@torch.inference_mode()
def measure_latency(model: torch.nn.Module, device: torch.device, repeats: int = 200) -> dict:
    """Median and p90 milliseconds per image at batch 1; images/s at batch 1024."""
    model.eval()
    one = to_input(np.zeros((1, 28, 28), np.uint8), device)
    big = to_input(np.zeros((1024, 28, 28), np.uint8), device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(20):
        model(one)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(one)
        sync()
        times.append(time.perf_counter() - t0)
    model(big)
    sync()
    t0, runs = time.perf_counter(), 3
    for _ in range(runs):
        model(big)
    sync()
    per_big = (time.perf_counter() - t0) / runs
    return {"batch1_ms_p50": 1000 * float(np.median(times)), "batch1_ms_p90": 1000 * float(np.percentile(times, 90)),
            "batch1024_images_per_s": 1024 / per_big, "device": str(device), "machine": machine_description(device),
            "threads": torch.get_num_threads(), "backend": "torch eager"}


def _sets_to_evaluate(pred: Predictor, specs: list[str] | None, data_dir) -> dict[str, data.Source]:
    if specs:
        out = {}
        for spec in specs:
            src = data.load_source(spec, data_dir)
            if src.y is None:
                from .errors import DigitlabError
                raise DigitlabError(f"{spec}: has no labels, so it cannot be evaluated; use `digitlab predict` for unlabelled images")
            out[spec] = src
        return out
    cfg = pred.checkpoint["config"]
    d, seed = cfg["data"], cfg["train"]["seed"]
    splits = data.make_splits(d["sources"], d["val_fraction"], seed, d["limit"], data_dir)
    recorded = pred.checkpoint.get("data", {}).get("pool_sha256")
    if recorded and recorded != splits.pool_checksum:
        print("warning: the training data has changed since this model was trained; "
              "its 'validation' set is not the one it was selected on", file=sys.stderr)
    val = data.Source("validation", splits.x_val, splits.y_val)
    test = data.load_test(data_dir)
    # Inversion is part of seed 000's recipe, so its effect is reported by default.
    inverted = data.Source("mnist test, inverted (255 - x)", 255 - test.x, test.y)
    return {"validation": val, "test": test, "test-inverted": inverted}


def evaluate(model_path=None, data_specs: list[str] | None = None, out_dir=None, data_dir=None,
             device: str = "auto", latency: bool = True) -> dict:
    pred = Predictor.load(model_path, device)
    sm = shipped_model()
    shipped = sm is not None and pred.path.resolve() == sm.resolve()
    # The shipped model may live inside site-packages: its reports go to runs/.
    out = Path(out_dir) if out_dir else (Path("runs") / "default-model-eval" if shipped else pred.path.parent / "eval")
    sets = _sets_to_evaluate(pred, data_specs, data_dir)
    report = {
        "model": {"path": str(pred.path), "arch": pred.checkpoint["model"]["arch"],
                  "parameters": count_parameters(pred.model), "file_bytes": pred.path.stat().st_size,
                  "trained": pred.checkpoint.get("metrics", {}), "git_commit": pred.checkpoint.get("git_commit")},
        "sets": {},
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "versions": library_versions(),
    }
    errors = {}
    for name, src in sets.items():
        probs = pred.probabilities(src.x)
        report["sets"][name] = {"source": src.spec, "sha256": src.checksum, **metrics(src.y, probs)}
        p = probs.argmax(1)
        wrong = np.flatnonzero(p != src.y)
        wrong = wrong[np.argsort(-probs[wrong, p[wrong]])]
        errors[name] = (src.x[wrong], src.y[wrong], p[wrong], probs[wrong, p[wrong]])
        if name == "validation":
            # The "not sure" threshold is chosen here, on validation data only.
            report["not_sure"] = calibrate.choose_threshold(probs, src.y)
            if not shipped:  # the shipped model comes with its calibration
                calibrate.save(pred.path, report["not_sure"])
    if latency:
        report["latency"] = measure_latency(pred.model, pred.device)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "report.json", report)
    write_text_atomic(out / "report.md", markdown(report))
    plots.confusion_matrices({n: s["confusion_matrix"] for n, s in report["sets"].items()}, out / "confusion_matrix.png")
    plots.misclassified(errors, out / "misclassified.png")
    report["out_dir"] = str(out)
    return report


def markdown(report: dict) -> str:
    m = report["model"]
    lines = [f"# Evaluation of `{m['path']}`", "",
             f"Model **{m['arch']}**: {m['parameters']['trainable']:,} trainable parameters "
             f"({m['parameters']['total']:,} as Keras counts them, with BatchNorm statistics); "
             f"file {m['file_bytes'] / 1e6:.2f} MB; trained to epoch {m['trained'].get('epoch', '?')}; "
             f"commit `{(m.get('git_commit') or 'unknown')[:10]}`.", "",
             "| set | images | accuracy | misclassified |", "|---|---:|---:|---:|"]
    for name, s in report["sets"].items():
        lines.append(f"| {name} | {s['images']:,} | {s['accuracy']:.2%} | {s['misclassified']} |")
    for name, s in report["sets"].items():
        lines += ["", f"## {name} (`{s['source']}`, sha256 `{s['sha256'][:12]}`)", "",
                  "| digit | precision | recall | F1 | support |", "|---:|---:|---:|---:|---:|"]
        for d, c in s["per_class"].items():
            lines.append(f"| {d} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['support']} |")
        cm = np.asarray(s["confusion_matrix"])
        lines += ["", "Confusion matrix (rows: true digit, columns: predicted):", "", "```",
                  "     " + " ".join(f"{d:>5}" for d in DIGITS)]
        lines += [f"{d:>3}  " + " ".join(f"{v:>5}" for v in cm[d]) for d in DIGITS]
        lines.append("```")
    if "not_sure" in report:
        ns = report["not_sure"]
        lines += ["", "## When the model says \"not sure\"", "",
                  f"Threshold {ns['threshold']:.4f} on the top probability, chosen on the validation set: the lowest "
                  f"at which at most {ns['max_risk']:.1%} of the answers kept are wrong. It keeps "
                  f"{ns['coverage']:.2%} of validation images, {ns['risk']:.3%} of them wrong. "
                  "Stored beside the checkpoint as `<name>.calibration.json`; the app uses it."]
    if "latency" in report:
        lt = report["latency"]
        lines += ["", "## Speed", "",
                  f"On {lt['machine']} ({lt['device']}, {lt['backend']}): {lt['batch1_ms_p50']:.2f} ms per image at batch 1 "
                  f"(p90 {lt['batch1_ms_p90']:.2f} ms), {lt['batch1024_images_per_s']:,.0f} images/s at batch 1024."]
    lines += ["", "Figures: `confusion_matrix.png`, `misclassified.png` (most confident errors first).", ""]
    return "\n".join(lines)
