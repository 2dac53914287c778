"""Latency: how long the network takes per image at batch 1, and images/s at batch 1024."""

from __future__ import annotations

import time

import numpy as np
import torch

from digitlab.core.runinfo import machine_description
from digitlab.inference import Predictor, to_input


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
    return {
        **one_ms,
        "batch1024_images_per_s": 1024 / per_big,
        "device": str(pred.device),
        "machine": machine_description(pred.device),
        "threads": threads,
        "backend": "onnxruntime" if pred.session is not None else "torch eager",
    }


def scorer_latency(logits_fn, backend: str, repeats: int = 30) -> dict:
    one = np.zeros((1, 28, 28), np.uint8)
    return {
        **batch1_ms(lambda: logits_fn(one), repeats, warmup=1),
        "machine": machine_description(),
        "threads": torch.get_num_threads(),
        "backend": backend,
    }
