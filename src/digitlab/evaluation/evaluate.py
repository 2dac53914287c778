"""Evaluation reports: ``report.json`` for programs, ``report.md`` and PNGs for people.

By default a model is evaluated on the validation split it was trained with
(rebuilt from the config and seed in its checkpoint, checked against the
recorded data checksum), on the official MNIST test set, and on that test set
inverted (black ink on white), each reported separately. Metrics come from
scikit-learn. Nothing here chooses anything: the test set is only reported.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
from scipy.special import softmax
from tqdm.auto import tqdm

from digitlab import data
from digitlab.augment.corrupt import corruption_scores
from digitlab.core import config, plots
from digitlab.core.errors import DigitlabError
from digitlab.core.io import write_json_atomic, write_text_atomic
from digitlab.core.paths import shipped_model
from digitlab.core.rundir import REPORT_JSON, REPORT_MD, eval_dir, shipped_eval_dir
from digitlab.core.runinfo import library_versions
from digitlab.inference import Predictor, calibrate
from digitlab.inference.ensemble import Ensemble

from .latency import measure_latency, scorer_latency
from .metrics import metrics
from .ood import non_digits, rejection_report
from .report import markdown

REPORT_NON_DIGITS = 300  # per family, for the report (the report stream, held-out families too)


def _sets_to_evaluate(pred: Predictor, specs: list[str] | None, data_dir) -> dict[str, data.Source]:
    if specs:
        out = {}
        for spec in specs:
            src = data.load_source(spec, data_dir)
            if src.y is None:
                raise DigitlabError(
                    f"{spec}: has no labels, so it cannot be evaluated; use `digitlab predict` for unlabelled images"
                )
            out[spec] = src
        return out
    splits, held = _training_split(pred, data_dir)
    val = data.Source("validation", splits.x_val, splits.y_val)
    test = data.load_test(data_dir)
    # Inversion is part of seed 000's recipe, so its effect is reported by default.
    inverted = data.Source("mnist test, inverted (255 - x)", 255 - test.x, test.y)
    sets = {"validation": val, "test": test, "test-inverted": inverted}
    if held is not None and len(held.y):  # a personal run: your examples it never trained on
        sets[held.spec] = held
    return sets


def _training_split(pred: Predictor, data_dir) -> tuple[data.Splits, data.Source | None]:
    """The model's validation split rebuilt, and a personal run's held-out examples while they
    are still the ones it held out (the store unchanged since it trained)."""
    cfg, recorded = pred.checkpoint["config"], pred.checkpoint.get("data", {})
    d = cfg["data"]
    try:
        splits = data.splits_for(cfg, data_dir)
    except DigitlabError as e:
        if not (d.get("personal") or {}).get("enabled"):
            raise
        print(f"warning: your examples cannot be read ({e}); reporting MNIST's sets only", file=sys.stderr)
        return data.make_splits(["mnist"], d["val_fraction"], config.split_seed(cfg), d["limit"], data_dir), None
    if recorded.get("split_sha256", recorded.get("pool_sha256")) not in (None, splits.split_checksum):
        print(
            "warning: the training data has changed since this model was trained; "
            "its 'validation' set is not the one it was selected on",
            file=sys.stderr,
        )
    held = splits.held
    if held is not None and recorded.get("pool_sha256") != splits.pool_checksum:
        print(
            "warning: your examples have changed since this model was trained, so the ones it held out "
            "cannot be told apart from the rest; they are not reported (personal.json has them)",
            file=sys.stderr,
        )
        held = None
    return splits, held


def _members_info(members: list[Predictor]) -> list[dict]:
    return [
        {
            "path": str(m.path),
            "arch": m.checkpoint["model"]["arch"],
            "parameters": m.parameters,
            "backend": m.backend,
            "file_bytes": m.path.stat().st_size,
            "trained": m.checkpoint.get("metrics", {}),
            "git_commit": m.checkpoint.get("git_commit"),
        }
        for m in members
    ]


def _is_shipped(members: list[Predictor], single: bool) -> bool:
    sm = shipped_model()
    return single and sm is not None and members[0].path.resolve().with_suffix(".pt") == sm.resolve()


def _held_out_notes(members: list[Predictor], scorer, single: bool, sets: dict) -> list[str]:
    """Drop validation when it is not held out from every member; say what is not held out."""
    notes = []
    if not single and "validation" in sets and not scorer.same_split():
        del sets["validation"]
        notes.append(
            "No validation set: the members were selected on different splits, so no split is held out "
            "from all of them (train them with the same data.split_seed)."
        )
    started = [m.path for m in members if (m.checkpoint.get("init") or {}).get("same_split") is False]
    if started and "validation" in sets:
        notes.append(
            f"Validation is not held out from the model{'s' if len(started) > 1 else ''} "
            f"{', '.join(map(str, started))} started from: it was trained on another split."
        )
    return notes


def _calibrate(
    report: dict, logits: dict, sets: dict, members: list[Predictor], single: bool, shipped: bool
) -> tuple[float, float]:
    """Temperature and "not sure" threshold, fitted on validation (stored beside a trained .pt model)."""
    if single:
        temperature, threshold = members[0].temperature, members[0].threshold
    else:
        temperature, threshold = 1.0, calibrate.DEFAULT_THRESHOLD
    if "validation" not in sets:
        return temperature, threshold
    y_val = sets["validation"].y
    report["calibration"] = calibrate.temperature_report(logits["validation"], y_val)
    temperature = report["calibration"]["temperature"]
    report["not_sure"] = calibrate.choose_threshold(softmax(logits["validation"] / temperature, axis=1), y_val)
    threshold = report["not_sure"]["threshold"]
    if single and not shipped and members[0].backend == "torch":  # shipped and ONNX models carry theirs
        calibrate.save(members[0].path, {"temperature": temperature, **report["not_sure"]})
    return temperature, threshold


def _score_sets(report: dict, logits: dict, sets: dict, temperature: float) -> dict:
    """Metrics per set into ``report``; returns each set's errors, most confident first."""
    errors = {}
    for name, src in sets.items():
        probs = softmax(logits[name] / temperature, axis=1)
        report["sets"][name] = {
            "source": src.spec,
            "sha256": src.checksum,
            **metrics(src.y, probs),
            "ece": calibrate.reliability(probs, src.y)["ece"],
        }
        p = probs.argmax(1)
        wrong = np.flatnonzero(p != src.y)
        wrong = wrong[np.argsort(-probs[wrong, p[wrong]])]
        errors[name] = (src.x[wrong], src.y[wrong], p[wrong], probs[wrong, p[wrong]])
    return errors


def _reliability_figure(report: dict, logits: dict, sets: dict, temperature: float, out: Path) -> None:
    cal = report["calibration"]
    bins = {"validation, T = 1": cal["bins_before"], f"validation, T = {temperature:.3f}": cal["bins_after"]}
    if "test" in sets:
        bins[f"official test, T = {temperature:.3f}"] = calibrate.reliability(
            softmax(logits["test"] / temperature, axis=1), sets["test"].y
        )
    plots.reliability(bins, out / "reliability.png", "temperature fitted on validation; test only reported")


def _rejection(report: dict, scorer, pred: Predictor, logits: dict, sets: dict, cal: tuple, out: Path) -> None:
    """How the rule rejects generated non-digits against official test digits, with ``pred``'s
    not-a-digit gate in front of the reader (without one: the reader's confidence alone)."""
    others = non_digits(REPORT_NON_DIGITS)
    gated = None
    if pred.notdigit is not None:
        score = lambda x: np.asarray(pred.digit_scores(np.asarray(x, np.float32)))  # noqa: E731
        test = sets["test"].x.astype(np.float32) / 255
        gated = (score(test), {k: score(v) for k, v in others.items()}, pred.digit_threshold)
    report["rejection"] = rejection_report(
        logits["test"], {k: scorer.logits(v) for k, v in others.items()}, *cal, gated
    )
    plots.image_rows([(k, v) for k, v in others.items()], out / "non_digits.png")


def _latency(members: list[Predictor], scorer, single: bool) -> dict:
    if single:
        return measure_latency(members[0])
    kinds = "/".join(sorted({m.backend for m in members}))
    return scorer_latency(scorer.logits, f"{kinds}, all members and views")


def _write(report: dict, errors: dict, out: Path) -> None:
    write_json_atomic(out / REPORT_JSON, report)
    write_text_atomic(out / REPORT_MD, markdown(report))
    plots.confusion_matrices(
        {n: s["confusion_matrix"] for n, s in report["sets"].items()}, out / "confusion_matrix.png"
    )
    plots.misclassified(errors, out / "misclassified.png", per_set=40)


def evaluate(
    model_path=None,
    data_specs: list[str] | None = None,
    out_dir=None,
    data_dir=None,
    device: str = "auto",
    latency: bool = True,
    tta: bool = False,
    corruptions: bool = False,
    rejection: bool = True,
    backend: str = "auto",
) -> dict:
    """Evaluate one model, or an ensemble (a list of paths), optionally with TTA; write the report.

    Everything fitted here (temperature, "not sure" threshold) is fitted on the
    validation split; the official test set and its variants are only reported.
    """
    paths = model_path if isinstance(model_path, (list, tuple)) else [model_path]
    members = [Predictor.load(p, device, backend) for p in (paths or [None])]
    single = len(members) == 1 and not tta
    scorer = members[0] if single else Ensemble(members, tta)
    shipped = _is_shipped(members, single)
    # The shipped model may live inside site-packages: its reports go to runs/.
    out = Path(out_dir) if out_dir else shipped_eval_dir() if shipped else eval_dir(members[0].path, not single)
    sets = _sets_to_evaluate(members[0], data_specs, data_dir)
    report = {
        "model": _members_info(members)[0]
        if single
        else {"ensemble": _members_info(members), "tta": tta, "name": scorer.name},
        "sets": {},
        "notes": _held_out_notes(members, scorer, single, sets),
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "versions": library_versions(),
    }
    logits = {name: scorer.logits(src.x) for name, src in tqdm(sets.items(), desc="evaluating", leave=False)}
    temperature, threshold = _calibrate(report, logits, sets, members, single, shipped)
    errors = _score_sets(report, logits, sets, temperature)
    out.mkdir(parents=True, exist_ok=True)
    if "calibration" in report:
        _reliability_figure(report, logits, sets, temperature, out)
    if rejection and "test" in sets:
        _rejection(report, scorer, members[0], logits, sets, (temperature, threshold), out)
    if corruptions and "test" in sets:
        report["corruptions"] = corruption_report(scorer, sets["test"], out / "corruptions.png")
        if "validation" in sets:  # the figure to choose models by; the test one is only reported
            report["corruptions"]["validation"] = corruption_scores(scorer, sets["validation"])
    if latency:
        report["latency"] = _latency(members, scorer, single)
    _write(report, errors, out)
    report["out_dir"] = str(out)
    return report


def corruption_report(scorer, test: data.Source, png: Path, seed: int = 0) -> dict:
    """Accuracy on each corrupted copy of the test set, and a PNG of examples."""
    examples = [("clean", test.x[:10])]
    rep = corruption_scores(scorer, test, seed, examples)
    plots.image_rows(examples, png)
    return rep
