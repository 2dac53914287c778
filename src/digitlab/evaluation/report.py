"""The person-readable evaluation report (``report.md``), built from ``report.json``'s content."""

from __future__ import annotations

import numpy as np

DIGITS = list(range(10))


def _model_lines(m: dict) -> list[str]:
    if "ensemble" in m:
        lines = [
            f"# Evaluation of an ensemble of {len(m['ensemble'])}"
            + (" with test-time augmentation" if m["tta"] else ""),
            "",
            "Probabilities are averaged over the members"
            + (
                " and over 9 fixed warps of each image "
                "(the image itself, rotations of +-7 degrees, zooms of 0.92 and 1.08, 1-pixel shifts)"
                if m["tta"]
                else ""
            )
            + ".",
            "",
            "| member | model | parameters | file | trained to epoch |",
            "|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| `{e['path']}` | {e['arch']} | {e['parameters']['trainable']:,} | {e['file_bytes'] / 1e6:.2f} MB | "
            f"{e['trained'].get('epoch', '?')} |"
            for e in m["ensemble"]
        ]
        return lines
    return [
        f"# Evaluation of `{m['path']}`",
        "",
        f"Model **{m['arch']}**: {m['parameters']['trainable']:,} trainable parameters "
        f"({m['parameters']['total']:,} as Keras counts them, with BatchNorm statistics); "
        f"file {m['file_bytes'] / 1e6:.2f} MB; trained to epoch {m['trained'].get('epoch', '?')}; "
        f"commit `{(m.get('git_commit') or 'unknown')[:10]}`.",
    ]


def _set_lines(name: str, s: dict) -> list[str]:
    lines = [
        "",
        f"## {name} (`{s['source']}`, sha256 `{s['sha256'][:12]}`)",
        "",
        "| digit | precision | recall | F1 | support |",
        "|---:|---:|---:|---:|---:|",
    ]
    for d, c in s["per_class"].items():
        lines.append(f"| {d} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['support']} |")
    cm = np.asarray(s["confusion_matrix"])
    lines += [
        "",
        "Confusion matrix (rows: true digit, columns: predicted):",
        "",
        "```",
        "     " + " ".join(f"{d:>5}" for d in DIGITS),
    ]
    lines += [f"{d:>3}  " + " ".join(f"{v:>5}" for v in cm[d]) for d in DIGITS]
    return lines + ["```"]


def _calibration_lines(report: dict) -> list[str]:
    lines: list[str] = []
    c = report["calibration"]
    lines += [
        "",
        "## Calibration",
        "",
        f"Temperature scaling fitted on the validation set: T = {c['temperature']:.3f}. Validation NLL "
        f"{c['nll_before']:.4f} -> {c['nll_after']:.4f}, ECE ({len(c['bins_before']['count'])} bins) "
        f"{c['ece_before']:.4f} -> {c['ece_after']:.4f}. The ECE column above is after scaling. "
        "Reliability diagrams: `reliability.png`.",
    ]
    return lines


def _not_sure_lines(report: dict) -> list[str]:
    lines: list[str] = []
    ns = report["not_sure"]
    lines += [
        "",
        '## When the model says "not sure"',
        "",
        f"Threshold {ns['threshold']:.4f} on the top probability after temperature scaling, chosen on the "
        f"validation set: the lowest at which at most {ns['max_risk']:.1%} of the answers kept are wrong. It keeps "
        f"{ns['coverage']:.2%} of validation images, {ns['risk']:.3%} of them wrong. "
        "Stored beside the checkpoint as `<name>.calibration.json`; the app, `predict` and the API use it.",
    ]
    return lines


def _rejection_row(name: str, v: dict, gated: bool) -> str:
    gate = f"{v['auroc_gate']:.4f} | " if gated else ""
    return (
        f"| {name} | {v['images']} | {gate}{v['auroc_max_softmax']:.4f} | {v['auroc_energy']:.4f} | "
        f"{v['rejected_at_threshold']:.1%} | {v['not_a_digit_at_threshold']:.1%} |"
    )


def _rejection_lines(report: dict) -> list[str]:
    r = report["rejection"]
    gated = r.get("gate_threshold") is not None
    rule = (
        f'below {r["gate_threshold"]:.4f} from the not-a-digit gate, "That doesn\'t look like a digit"; then '
        if gated
        else ""
    )
    lines = [
        "",
        "## Not a digit",
        "",
        f'Score: {r["score"]}. The rule: {rule}below {r["threshold"]:.4f} top probability, "Not sure". AUROC of '
        "official test digits against generated non-digits (`digitlab.data.nondigits`, `non_digits.png`; noise "
        "as raw 28x28 input, the rest drawn on a 280x280 canvas and prepared like a drawing). Families marked "
        f"*held out* were never trained on. The rule leaves {r['digits_rejected_at_threshold']:.2%} of test digits "
        f"unanswered ({r['digits_not_a_digit']:.2%} called no digit).",
        "",
        f"| non-digit family | images | {'AUROC (gate) | ' if gated else ''}AUROC (max softmax) | AUROC (energy) | "
        'not answered | "not a digit" |',
        f"|---|---:|{'---:|' if gated else ''}---:|---:|---:|---:|",
    ]
    lines += [_rejection_row(k + (" (held out)" if v.get("held_out") else ""), v, gated) for k, v in r["sets"].items()]
    if r.get("held_out"):
        lines.append(_rejection_row("**held-out families together**", r["held_out"], gated))
    if r.get("all"):
        lines.append(_rejection_row("**all families**", r["all"], gated))
    return lines


def _corruptions_lines(report: dict) -> list[str]:
    lines: list[str] = []
    c = report["corruptions"]
    val = c.get("validation")
    head = (
        ["| corruption | test | validation |", "|---|---:|---:|"]
        if val
        else ["| corruption | accuracy |", "|---|---:|"]
    )
    lines += [
        "",
        "## Corruptions (MNIST-C style, generated from the official test set)",
        "",
        f"Mean accuracy **{c['mean']:.2%}** over {len(c['accuracy'])} corruptions (seed {c['seed']}); "
        "examples in `corruptions.png`.",
        "",
    ] + head
    if val:
        lines += [f"| {k} | {v:.2%} | {val['accuracy'][k]:.2%} |" for k, v in c["accuracy"].items()]
        lines += [
            f"| **mean** | **{c['mean']:.2%}** | **{val['mean']:.2%}** |",
            "",
            "Models are compared on the validation column; the test column is only reported.",
        ]
    else:
        lines += [f"| {k} | {v:.2%} |" for k, v in c["accuracy"].items()]
    return lines


def _latency_lines(report: dict) -> list[str]:
    lines: list[str] = []
    lt = report["latency"]
    big = f", {lt['batch1024_images_per_s']:,.0f} images/s at batch 1024" if "batch1024_images_per_s" in lt else ""
    lines += [
        "",
        "## Speed",
        "",
        f"On {lt['machine']} ({lt['backend']}, {lt['threads']} threads): {lt['batch1_ms_p50']:.2f} ms per image "
        f"at batch 1 (p90 {lt['batch1_ms_p90']:.2f} ms){big}.",
    ]
    return lines


def markdown(report: dict) -> str:
    lines = _model_lines(report["model"])
    lines += [""] + [f"> {n}" for n in report.get("notes", [])]
    lines += ["", "| set | images | accuracy | misclassified | ECE |", "|---|---:|---:|---:|---:|"]
    for name, s in report["sets"].items():
        lines.append(f"| {name} | {s['images']:,} | {s['accuracy']:.2%} | {s['misclassified']} | {s['ece']:.4f} |")
    for name, s in report["sets"].items():
        lines += _set_lines(name, s)
    if "calibration" in report:
        lines += _calibration_lines(report)
    if "not_sure" in report:
        lines += _not_sure_lines(report)
    if "rejection" in report:
        lines += _rejection_lines(report)
    if "corruptions" in report:
        lines += _corruptions_lines(report)
    if "latency" in report:
        lines += _latency_lines(report)
    lines += [
        "",
        "Figures: `confusion_matrix.png`, `misclassified.png` (most confident errors first)"
        + (", `reliability.png`" if "calibration" in report else "")
        + (", `non_digits.png`" if "rejection" in report else "")
        + (", `corruptions.png`" if "corruptions" in report else "")
        + ".",
        "",
    ]
    return "\n".join(lines)
