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

from scipy.special import softmax
from tqdm.auto import tqdm

from . import calibrate, config, corrupt, data, ood, plots
from .ensemble import Ensemble
from .inference import Predictor, shipped_model, to_input
from .report import markdown
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


def time_calls(run, repeats: int, warmup: int) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``run()``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return times


def batch1_ms(run, repeats: int, warmup: int) -> dict:
    """Median and p90 milliseconds of ``run()`` after ``warmup`` untimed calls."""
    times = time_calls(run, repeats, warmup)
    return {"batch1_ms_p50": 1000 * float(np.median(times)), "batch1_ms_p90": 1000 * float(np.percentile(times, 90))}


@torch.inference_mode()
def measure_latency(pred: Predictor, repeats: int = 200) -> dict:
    """The network alone on prepared input: median and p90 ms per image at batch 1; images/s at batch 1024."""
    if pred.session is not None:
        one, big = np.zeros((1, 1, 28, 28), np.float32), np.zeros((1024, 1, 28, 28), np.float32)
        run, sync, threads = pred.session.run, (lambda: None), "onnxruntime default"
    else:
        pred.model.eval()
        one = to_input(np.zeros((1, 28, 28), np.uint8), pred.device)
        big = to_input(np.zeros((1024, 28, 28), np.uint8), pred.device)
        run, threads = pred.model, torch.get_num_threads()
        sync = torch.cuda.synchronize if pred.device.type == "cuda" else (lambda: None)
    one_ms = batch1_ms(lambda: (run(one), sync()), repeats, warmup=20)
    run(big)
    sync()
    t0, runs = time.perf_counter(), 3
    for _ in range(runs):
        run(big)
    sync()
    per_big = (time.perf_counter() - t0) / runs
    return {**one_ms, "batch1024_images_per_s": 1024 / per_big, "device": str(pred.device),
            "machine": machine_description(pred.device), "threads": threads,
            "backend": "onnxruntime" if pred.session is not None else "torch eager"}


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
    d = cfg["data"]
    splits = data.make_splits(d["sources"], d["val_fraction"], config.split_seed(cfg), d["limit"], data_dir)
    recorded = pred.checkpoint.get("data", {}).get("pool_sha256")
    if recorded and recorded != splits.pool_checksum:
        print("warning: the training data has changed since this model was trained; "
              "its 'validation' set is not the one it was selected on", file=sys.stderr)
    val = data.Source("validation", splits.x_val, splits.y_val)
    test = data.load_test(data_dir)
    # Inversion is part of seed 000's recipe, so its effect is reported by default.
    inverted = data.Source("mnist test, inverted (255 - x)", 255 - test.x, test.y)
    return {"validation": val, "test": test, "test-inverted": inverted}


def _members_info(members: list[Predictor]) -> list[dict]:
    return [{"path": str(m.path), "arch": m.checkpoint["model"]["arch"], "parameters": m.parameters, "backend": m.backend,
             "file_bytes": m.path.stat().st_size, "trained": m.checkpoint.get("metrics", {}),
             "git_commit": m.checkpoint.get("git_commit")} for m in members]


def _scorer_latency(logits_fn, backend: str, repeats: int = 30) -> dict:
    one = np.zeros((1, 28, 28), np.uint8)
    return {**batch1_ms(lambda: logits_fn(one), repeats, warmup=1),
            "machine": machine_description(), "threads": torch.get_num_threads(), "backend": backend}


def evaluate(model_path=None, data_specs: list[str] | None = None, out_dir=None, data_dir=None,
             device: str = "auto", latency: bool = True, tta: bool = False, corruptions: bool = False,
             rejection: bool = True, backend: str = "auto") -> dict:
    """Evaluate one model, or an ensemble (a list of paths), optionally with TTA; write the report.

    Everything fitted here (temperature, "not sure" threshold) is fitted on the
    validation split; the official test set and its variants are only reported.
    """
    paths = model_path if isinstance(model_path, (list, tuple)) else [model_path]
    members = [Predictor.load(p, device, backend) for p in (paths or [None])]
    single = len(members) == 1 and not tta
    scorer = members[0] if single else Ensemble(members, tta)
    sm = shipped_model()
    shipped = single and sm is not None and members[0].path.resolve().with_suffix(".pt") == sm.resolve()
    # The shipped model may live inside site-packages: its reports go to runs/.
    default_out = (Path("runs") / "default-model-eval" if shipped else
                   members[0].path.parent / ("eval" if single else "eval-ensemble"))
    out = Path(out_dir) if out_dir else default_out
    sets = _sets_to_evaluate(members[0], data_specs, data_dir)
    notes = []
    if not single and "validation" in sets and not scorer.same_split():
        del sets["validation"]
        notes.append("No validation set: the members were selected on different splits, so no split is held out "
                     "from all of them (train them with the same data.split_seed).")
    started = [m.path for m in members if (m.checkpoint.get("init") or {}).get("same_split") is False]
    if started and "validation" in sets:
        notes.append(f"Validation is not held out from the model{'s' if len(started) > 1 else ''} "
                     f"{', '.join(map(str, started))} started from: it was trained on another split.")
    report = {
        "model": _members_info(members)[0] if single else {"ensemble": _members_info(members), "tta": tta,
                                                             "name": scorer.name},
        "sets": {}, "notes": notes,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "versions": library_versions(),
    }
    logits = {name: scorer.logits(src.x) for name, src in tqdm(sets.items(), desc="evaluating", leave=False)}
    temperature, threshold = (members[0].temperature, members[0].threshold) if single else (1.0, calibrate.DEFAULT_THRESHOLD)
    if "validation" in sets:
        y_val = sets["validation"].y
        report["calibration"] = calibrate.temperature_report(logits["validation"], y_val)
        temperature = report["calibration"]["temperature"]
        report["not_sure"] = calibrate.choose_threshold(softmax(logits["validation"] / temperature, axis=1), y_val)
        threshold = report["not_sure"]["threshold"]
        if single and not shipped and members[0].backend == "torch":  # shipped and ONNX models carry theirs
            calibrate.save(members[0].path, {"temperature": temperature, **report["not_sure"]})
    errors, bins = {}, {}
    for name, src in sets.items():
        probs = softmax(logits[name] / temperature, axis=1)
        report["sets"][name] = {"source": src.spec, "sha256": src.checksum, **metrics(src.y, probs),
                                "ece": calibrate.reliability(probs, src.y)["ece"]}
        p = probs.argmax(1)
        wrong = np.flatnonzero(p != src.y)
        wrong = wrong[np.argsort(-probs[wrong, p[wrong]])]
        errors[name] = (src.x[wrong], src.y[wrong], p[wrong], probs[wrong, p[wrong]])
    out.mkdir(parents=True, exist_ok=True)
    if "calibration" in report:
        cal = report["calibration"]
        bins = {"validation, T = 1": cal["bins_before"], f"validation, T = {temperature:.3f}": cal["bins_after"]}
        if "test" in sets:
            bins[f"official test, T = {temperature:.3f}"] = calibrate.reliability(
                softmax(logits["test"] / temperature, axis=1), sets["test"].y)
        plots.reliability(bins, out / "reliability.png", "temperature fitted on validation; test only reported")
    if rejection and "test" in sets:
        others = ood.non_digits()
        report["rejection"] = ood.rejection_report(logits["test"], {k: scorer.logits(v) for k, v in others.items()},
                                                   temperature, threshold)
        plots.image_rows([(k, v) for k, v in others.items()], out / "non_digits.png")
    if corruptions and "test" in sets:
        report["corruptions"] = corruption_report(scorer, sets["test"], out / "corruptions.png")
        if "validation" in sets:  # the figure to choose models by; the test one is only reported
            report["corruptions"]["validation"] = corruption_scores(scorer, sets["validation"])
    if latency:
        if single:
            report["latency"] = measure_latency(members[0])
        else:
            kinds = "/".join(sorted({m.backend for m in members}))
            report["latency"] = _scorer_latency(scorer.logits, f"{kinds}, all members and views")
    write_json_atomic(out / "report.json", report)
    write_text_atomic(out / "report.md", markdown(report))
    plots.confusion_matrices({n: s["confusion_matrix"] for n, s in report["sets"].items()}, out / "confusion_matrix.png")
    plots.misclassified(errors, out / "misclassified.png", per_set=40)
    report["out_dir"] = str(out)
    return report


def corruption_scores(scorer, src: data.Source, seed: int = 0, examples: list | None = None) -> dict:
    """Accuracy on each corrupted copy of ``src`` and their mean (``examples`` collects 10 images of each)."""
    acc = {}
    for name, xc in tqdm(corrupt.corrupted_sets(src.x, seed=seed), total=len(corrupt.CORRUPTIONS),
                         desc=f"corruptions ({src.spec})", leave=False):
        acc[name] = float((scorer.logits(xc).argmax(1) == src.y).mean())
        if examples is not None:
            examples.append((f"{name}: {acc[name]:.2%}", xc[:10]))
    return {"accuracy": acc, "mean": float(np.mean(list(acc.values()))), "seed": seed, "images": int(len(src.y))}


def corruption_report(scorer, test: data.Source, png: Path, seed: int = 0) -> dict:
    """Accuracy on each corrupted copy of the test set, and a PNG of examples."""
    examples = [("clean", test.x[:10])]
    rep = corruption_scores(scorer, test, seed, examples)
    plots.image_rows(examples, png)
    return rep
