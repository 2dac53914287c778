"""``digitlab bench``: how fast digitlab is on this machine, measured, not assumed.

Five parts, each a row group of the printed table (and keys of ``--json``):

- ``train``: training images/s per network with digitlab's training step and
  with a plain eager PyTorch loop, the GFLOP/s that is (forward + backward
  FLOPs counted by :class:`torch.utils.flop_counter.FlopCounterMode`) and its
  share of a float32 matrix-multiply peak measured in the same run;
- ``inference``: batch-1 latency p50/p99 and batch-1024 images/s of the network
  alone, for PyTorch, onnxruntime and its int8 export, and the whole ``predict`` path for one
  28x28 image (preprocessing included); the int8 export's network latency over the float
  export's, timed interleaved at 1 onnxruntime thread and at the default;
- ``api``: requests/s and latency of ``POST /api/predict`` with N concurrent
  clients on loopback against ``digitlab serve`` in another process;
- ``page``: mouse-up to updated prediction on the live page, in headless Chromium;
- ``time``: time to accuracy, ``digitlab train --preset fast`` over 3 seeds (wall time,
  official test accuracy; :mod:`digitlab.tools.time_to_accuracy`), on CUDA when present.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from digitlab.core import config
from digitlab.core.errors import DigitlabError
from digitlab.core.io import write_text_atomic
from digitlab.core.runinfo import machine_description
from digitlab.data.numbers import draw_number
from digitlab.evaluation.latency import measure_latency, time_calls
from digitlab.inference import Predictor
from digitlab.inference.predictor import BACKENDS
from digitlab.models import build_model
from digitlab.training.step import amp_dtype, prepare_model, train_step

from . import live_bench, time_to_accuracy
from .live_bench import percentiles

NETWORKS = {"seed1": "seed1 (also onecycle, robust)", "seed2": "seed2", "fast": "fast (also fast-long)"}


def matmul_peak(n: int = 1024, seconds: float = 1.0) -> float:
    """float32 GFLOP/s of an n x n matrix multiply, best of repeated runs."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best, t_end = 0.0, time.perf_counter() + seconds
    torch.mm(a, b)
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def train_flops_per_image(model_cfg: dict) -> int:
    """Forward + backward FLOPs of one training image (convolutions and matrix multiplies)."""
    model = build_model(model_cfg).train()
    x, y = torch.zeros(8, 1, 28, 28), torch.zeros(8, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() // 8


def training_step(preset: str, plain: bool = False, amp: str | None = None, batch_size: int | None = None, sets=()):
    """A preset's network (with ``sets``, ``--set`` overrides) and one step on a fixed random batch, as
    (step, batch size, autocast dtype): digitlab's step (:func:`digitlab.training.step.train_step`,
    channels-last, under ``amp`` or the preset's ``train.amp``) or a plain eager float32 loop.
    :mod:`digitlab.tools.profile_step` profiles it."""
    cfg = config.resolve(preset, sets=list(sets))
    bs, l2, clip = batch_size or cfg["train"]["batch_size"], cfg["model"]["l2"], cfg["train"]["clipnorm"]
    torch.manual_seed(0)
    model = build_model(cfg["model"]).train()
    if not plain:
        model = prepare_model(model, torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.rand(bs, 1, 28, 28), torch.randint(0, 10, (bs,))

    def plain_step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    if plain:
        return plain_step, bs, None
    dtype = amp_dtype(amp or cfg["train"]["amp"], torch.device("cpu"))
    return (lambda: train_step(model, opt, x, y, l2, clip, amp=dtype)), bs, dtype


def train_speed(preset: str, steps: int, warmup: int = 3, plain: bool = False) -> float:
    """Training images/s on random batches of :func:`training_step`."""
    step, bs, _ = training_step(preset, plain)
    times = time_calls(step, steps, warmup)
    return bs / float(np.median(times))


def train_part(steps: int, warmup: int = 3) -> dict:
    peak = matmul_peak()
    rows = {}
    for name, label in NETWORKS.items():
        cfg = config.resolve(name)
        flops = train_flops_per_image(cfg["model"])
        bf16 = " (bf16)" if amp_dtype(cfg["train"]["amp"], torch.device("cpu")) else ""
        for plain in (True, False):
            ips = train_speed(name, steps, warmup, plain=plain)
            rows[f"{name} {'plain eager loop' if plain else 'digitlab train step' + bf16}"] = {
                "network": label,
                "images_per_s": ips,
                "gflops": ips * flops / 1e9,
                "share_of_peak": ips * flops / 1e9 / peak,
                "flops_per_image": flops,
            }
    return {"matmul_peak_gflops": peak, "threads": torch.get_num_threads(), "rows": rows}


def inference_part(model, repeats: int) -> dict:
    out = {"onnx_file": ""}
    digit = (np.random.default_rng(0).random((28, 28)) > 0.8).astype(np.uint8) * 255
    number = draw_number("203918", "normal", np.random.default_rng(0))  # a 6-digit number on a wide canvas
    for backend in BACKENDS:
        try:
            pred = Predictor.load(model, "cpu", backend)
        except DigitlabError as e:
            out[backend] = {"skipped": str(e)}
            continue
        if pred.session is not None:
            out["onnx_file"] = str(pred.path)
        lat = measure_latency(pred, repeats=repeats)
        one = np.zeros((1, 1, 28, 28), np.float32)
        # the lambdas run within this iteration, so binding the loop's pred and one late is what is meant
        net = (lambda: pred.session.run(one)) if pred.session else (lambda: pred.forward(torch.from_numpy(one)))  # noqa: B023
        with torch.inference_mode():
            out[backend] = {
                "network_batch1": percentiles(time_calls(net, repeats, 20)),
                "batch1024_images_per_s": lat["batch1024_images_per_s"],
                "predict_path_batch1": percentiles(time_calls(lambda: pred.predict_images([digit]), repeats, 20)),  # noqa: B023
                "read_number_6": percentiles(time_calls(lambda: pred.read_number(number), repeats // 10, 5)),  # noqa: B023
            }
    out["int8_vs_onnx"] = int8_vs_onnx(model, rounds=5 if repeats <= 200 else 20, block=100)
    return out


def int8_vs_onnx(model, rounds: int, block: int) -> dict:
    """The int8 export's batch-1 network latency over the float export's, the two interleaved
    (``rounds`` turns of ``block`` calls each; medians of the blocks' medians), at 1 onnxruntime
    thread, as ``digitlab serve`` runs each worker, and at onnxruntime's default, one per core."""
    if model is not None and Path(model).suffix == ".onnx":
        return {"skipped": f"{model} is one export; name the .pt model to compare its two"}
    one = np.zeros((1, 1, 28, 28), np.float32)
    out = {}
    for threads in (1, None):
        try:
            preds = {b: Predictor.load(model, "cpu", b, threads=threads) for b in ("onnx", "int8")}
        except DigitlabError as e:
            return {"skipped": str(e)}
        runs = {b: p.session.run for b, p in preds.items()}
        medians = {b: [] for b in runs}
        for _ in range(rounds):
            for b, run in runs.items():
                # the lambda runs within this iteration, so binding the loop's run late is what is meant
                medians[b].append(float(np.median(time_calls(lambda: run(one), block, 5))))  # noqa: B023
        onnx, int8 = (1000 * float(np.median(medians[b])) for b in ("onnx", "int8"))
        out["1 thread" if threads else "default threads"] = {
            "onnx_p50_ms": onnx,
            "int8_p50_ms": int8,
            "ratio": int8 / onnx,
        }
    return out


def run(quick: bool = False, model=None, clients: int = 16, skip=(), progress=print) -> dict:
    res = {
        "machine": machine_description(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "quick": quick,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    parts = [
        ("train", lambda: train_part(steps=3, warmup=1) if quick else train_part(steps=20)),
        ("inference", lambda: inference_part(model, repeats=200 if quick else 2000)),
        (
            "api",
            lambda: [
                live_bench.api_part(model, clients, seconds=3 if quick else 10, workers=w)
                for w in sorted({1, min(os.cpu_count() or 1, 4)})
            ],
        ),
        ("page", lambda: live_bench.page_part(model, drawings_n=5 if quick else 20)),
        ("time", lambda: time_to_accuracy.measure("fast", (0,) if quick else (0, 1, 2), quick, progress=progress)),
    ]
    for name, fn in parts:
        if name in skip:
            continue
        progress(f"bench: {name}...")
        res[name] = fn()
    return res


def table(res: dict) -> str:
    lines = [f"digitlab bench on {res['machine']} ({res['cpus']} CPUs, torch {res['torch']})", ""]
    if "train" in res:
        t = res["train"]
        lines += [
            f"training (each preset's batch size, {t['threads']} threads; float32 matmul peak {t['matmul_peak_gflops']:.0f} GFLOP/s)",
            f"  {'':<34}{'images/s':>10}{'GFLOP/s':>10}{'of peak':>9}",
        ]
        lines += [
            f"  {k:<34}{r['images_per_s']:>10,.0f}{r['gflops']:>10.1f}{r['share_of_peak']:>9.0%}"
            for k, r in t["rows"].items()
        ] + [""]
    if "inference" in res:
        lines += [
            "inference (one 28x28 image; batch 1024 for throughput; a 6-digit number drawn on an 878x280 canvas)",
            f"  {'':<10}{'network p50':>12}{'p99':>8}{'batch-1024 img/s':>18}{'predict p50':>13}{'p99':>8}"
            f"{'6-digit read p50':>18}{'p99':>8}",
        ]
        for b in BACKENDS:
            r = res["inference"].get(b, {"skipped": "not measured"})
            if "skipped" in r:
                lines.append(f"  {b:<10}skipped: {r['skipped']}")
                continue
            n, p, num = r["network_batch1"], r["predict_path_batch1"], r["read_number_6"]
            lines.append(
                f"  {b:<10}{n['p50_ms']:>10.3f}ms{n['p99_ms']:>6.2f}ms{r['batch1024_images_per_s']:>18,.0f}"
                f"{p['p50_ms']:>11.3f}ms{p['p99_ms']:>6.2f}ms{num['p50_ms']:>16.2f}ms{num['p99_ms']:>6.2f}ms"
            )
        lines += [*int8_lines(res["inference"].get("int8_vs_onnx", {"skipped": "not measured"})), ""]
    if "api" in res:
        lines.append(
            f"API: POST /api/predict with 28x28 pixels as JSON, {res['api'][0]['clients']} concurrent "
            f"keep-alive clients on loopback (the client runs on the same CPUs)"
        )
        lines += [
            f"  {a['workers']} worker(s): {a['requests_per_s']:,.0f} requests/s, p50 {a['p50_ms']:.1f} ms, "
            f"p99 {a['p99_ms']:.1f} ms; {a['failed']} of {a['requests']:,} failed"
            for a in res["api"]
        ] + [""]
    if "page" in res:
        pg = res["page"]
        lines.append(
            "live page: "
            + (
                f"skipped ({pg['skipped']})"
                if "skipped" in pg
                else f"mouse-up to updated prediction p50 {pg['p50_ms']:.0f} ms, p99 {pg['p99_ms']:.0f} ms; "
                f"{pg['read_right']} of {pg['drawings']} drawings read right"
            )
        )
    if "time" in res:
        lines += ["", *time_table(res["time"])]
    return "\n".join(lines)


def int8_lines(r: dict) -> list[str]:
    if "skipped" in r:
        return [f"  int8 / onnx network, interleaved: skipped: {r['skipped']}"]
    return [
        f"  int8 / onnx network p50, interleaved, {k}: {v['int8_p50_ms']:.3f} / {v['onnx_p50_ms']:.3f} ms = "
        f"{v['ratio']:.2f}" + (" (as digitlab serve runs each worker)" if k == "1 thread" else "")
        for k, v in r.items()
    ]


def time_table(t: dict) -> list[str]:
    how = " (--quick: 4,000 images, 1 epoch of batch 128)" if t["quick"] else ""
    lines = [
        f"time to accuracy: digitlab train --preset {t['preset']}{how}, command to best.pt, then the official test set"
    ]
    lines += [
        f"  seed {r['seed']}: {r['test_acc']:.2%} in {r['wall_s']:.0f} s ({r['epochs']} epochs, "
        f"{r['train_images_per_s']:,.0f} training images/s on {r['device']})"
        for r in t["runs"]
    ]
    return lines + [f"  mean: {t['mean_test_acc']:.2%} in {t['mean_wall_s']:.0f} s"]


def write_json(res: dict, path) -> None:
    write_text_atomic(path, json.dumps(res, indent=2) + "\n")
