"""Where a training step's time goes: ``torch.profiler`` over digitlab's own step, grouped by kind of work.

``python -m digitlab.tools.profile_step --preset seed1`` times the preset's training step on
random batches (as ``digitlab bench``'s ``train`` part does), then profiles a few more steps
and prints each kind of operator's share of the CPU time and milliseconds per step, and the
convolutions' backward pass layer by layer. ``--amp bf16`` profiles the same step in bfloat16
(``train.amp``). Measured results for seed1 on a 2-core CPU: results/README.md#profile-of-a-training-step.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from digitlab.core.errors import DigitlabError
from digitlab.core.io import write_text_atomic
from digitlab.core.runinfo import machine_description
from digitlab.evaluation.latency import time_calls

from .bench import training_step

# operator name (or its start) -> the kind of work it is; the first match wins
GROUPS = [
    ("convolution_backward", "convolution, backward"),
    ("mkldnn_convolution", "convolution, forward"),
    ("batch_norm_backward", "BatchNorm, backward"),
    ("batch_norm", "BatchNorm, forward"),
    ("threshold_backward", "ReLU, backward"),
    ("relu", "ReLU, forward"),
    ("clamp_min", "ReLU, forward"),
    ("max_pool", "max pooling"),
    ("bernoulli", "dropout"),
    ("dropout", "dropout"),
    ("aten::mm", "dense layers"),
    ("aten::addmm", "dense layers"),
    ("Optimizer", "optimizer, clipping, L2"),
    ("_foreach", "optimizer, clipping, L2"),
    ("copy_", "layout and dtype conversions"),
    ("_to_copy", "layout and dtype conversions"),
]


def group_of(name: str) -> str:
    return next((g for key, g in GROUPS if key in name), "everything else")


def profile_step(preset: str, amp: str | None = None, batch_size: int | None = None, steps: int = 8, sets=()) -> dict:
    """Median step speed, then each kind of work's share of ``steps`` profiled steps."""
    step, bs, dtype = training_step(preset, amp=amp, batch_size=batch_size, sets=sets)
    median = float(np.median(time_calls(step, max(steps, 5), 3)))
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages(group_by_input_shape=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    groups: dict[str, float] = {}
    conv_backward = []
    for e in events:
        work = group_of(e.key)
        groups[work] = groups.get(work, 0.0) + e.self_cpu_time_total
        if "convolution_backward" in e.key:
            # input_shapes: the output's gradient, then the layer's input
            conv_backward.append({"input": e.input_shapes[1], "ms_per_step": e.self_cpu_time_total / steps / 1e3})
    ordered = sorted(groups.items(), key=lambda kv: -kv[1])
    return {
        "preset": preset,
        "sets": list(sets),
        "batch_size": bs,
        "precision": "bf16" if dtype is torch.bfloat16 else "float32",
        "threads": torch.get_num_threads(),
        "machine": machine_description(),
        "median_step_ms": 1e3 * median,
        "images_per_s": bs / median,
        "groups": [{"work": g, "share": v / total, "ms_per_step": v / steps / 1e3} for g, v in ordered],
        "conv_backward": conv_backward,
    }


def table(r: dict) -> str:
    lines = [
        f"{r['preset']}{''.join(' --set ' + x for x in r.get('sets', []))} training step, batch {r['batch_size']}, {r['precision']}, "
        f"{r['machine']}: median {r['median_step_ms']:.0f} ms ({r['images_per_s']:,.0f} images/s)",
        "| work | share of CPU time | ms per step (profiled) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {g['work']} | {100 * g['share']:.1f}% | {g['ms_per_step']:.1f} |" for g in r["groups"]]
    lines += ["", "| convolution backward, layer input | ms per step (profiled) |", "|---|---:|"]
    lines += [f"| {'x'.join(map(str, c['input']))} | {c['ms_per_step']:.1f} |" for c in r["conv_backward"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Profile a preset's training step on CPU: each kind of work's share of the time."
    )
    ap.add_argument("--preset", default="seed1", help="the preset whose network and step are profiled (default: seed1)")
    ap.add_argument(
        "--amp", choices=["auto", "native", "bf16", "off"], help="precision (default: the preset's train.amp)"
    )
    ap.add_argument("--batch-size", type=int, help="batch size (default: the preset's)")
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key, as digitlab train's"
    )
    ap.add_argument("--steps", type=int, default=8, help="steps profiled, after timing and warm-up (default: 8)")
    ap.add_argument("--json", help="also write the result to this JSON file")
    args = ap.parse_args(argv)
    try:
        if args.steps < 1 or (args.batch_size is not None and args.batch_size < 2):
            raise DigitlabError("--steps must be 1 or more and --batch-size 2 or more")
        r = profile_step(args.preset, args.amp, args.batch_size, args.steps, args.set)
    except DigitlabError as e:
        ap.exit(2, f"error: {e}\n")
    print(table(r))
    if args.json:
        write_text_atomic(args.json, json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
