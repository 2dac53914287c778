"""A run's state on disk: ``best.pt`` (the kept network with its metrics) and ``last.pt``
(everything ``--resume`` needs: weights, optimizer, schedule, weight average, callbacks,
history and every random generator), written after every epoch."""

from __future__ import annotations

import datetime as dt

import torch

from digitlab.core import checkpoint
from digitlab.core.rundir import RunDir

from .build import Parts


def _weights(model: torch.nn.Module) -> dict:
    return {k: v.cpu() for k, v in model.state_dict().items()}


def save_best(p: Parts, run: RunDir, epoch: int, logs: dict) -> None:
    if not p.world.main:
        return
    checkpoint.save(
        run.best,
        {
            **p.meta(),
            "state_dict": _weights(p.kept),
            "metrics": {"epoch": epoch, **logs},
            "created": dt.datetime.now().isoformat(timespec="seconds"),
        },
    )


def save_last(p: Parts, run: RunDir, callbacks: dict, history: list, epoch: int, stopped_early: bool = False) -> None:
    cuda = torch.cuda.get_rng_state() if p.device.type == "cuda" else None
    checkpoint.save(
        run.last,
        {
            **p.meta(),
            "state_dict": _weights(p.model),
            "epoch": epoch,
            "stopped_early": stopped_early,
            "optimizer": p.opt.state_dict(),
            "schedule": p.sched.state_dict() if p.sched is not None else None,
            "ema": p.ema.state_dict() if p.ema is not None else None,
            "callbacks": {n: cb.state_dict() for n, cb in callbacks.items()},
            "history": history,
            "rng": {"data": p.gen.get_state(), "torch": torch.get_rng_state(), "cuda": cuda},
        },
    )


def restore(p: Parts, callbacks: dict, state: dict) -> list[dict]:
    """Put a resumed run back where ``last.pt`` left it; returns its history so far."""
    p.model.load_state_dict(state["state_dict"])
    p.opt.load_state_dict(state["optimizer"])
    if p.sched is not None:
        p.sched.load_state_dict(state["schedule"])
    if p.ema is not None:
        p.ema.load_state_dict(state["ema"])
    for name, cb in callbacks.items():
        cb.load_state_dict(state["callbacks"].get(name, {}))  # a callback switched on after the start has none
    p.gen.set_state(state["rng"]["data"])
    torch.set_rng_state(state["rng"]["torch"])
    if p.device.type == "cuda" and state["rng"].get("cuda") is not None:
        torch.cuda.set_rng_state(state["rng"]["cuda"])
    return list(state["history"])
