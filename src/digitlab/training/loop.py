"""Training: Adam with per-tensor gradient clipping, L2 on the dense kernel, and
Keras-style callbacks (EarlyStopping, ModelCheckpoint, ReduceLROnPlateau).

:func:`train` reads top to bottom: open the run folder (new, or ``--resume``),
:func:`build` the parts (data and static copies, teacher targets, model,
optimizer, schedule), restore a resumed run's state, then :func:`fit` runs
:func:`train_one_epoch` and the callbacks until the end. :func:`dry_run` uses
the same :func:`build` and takes one step.

:func:`build` and :class:`Parts` are in :mod:`digitlab.training.build`. A run folder
(:class:`digitlab.core.rundir.RunDir`) holds ``config.yaml``,
``best.pt``, ``last.pt``, ``history.csv`` and ``curves.png``. ``last.pt`` is
written after every epoch, so Ctrl-C (or a crash) loses at most the epoch in
progress, and ``--resume`` continues with the same optimizer, callback and RNG
state. On CPU the same seed gives the same history; on CUDA, cuDNN's
convolution algorithms are not bit-exact. Under ``torchrun`` every process runs
:func:`train` and only rank 0 writes (:mod:`digitlab.training.distributed`).
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from digitlab.core import checkpoint, plots
from digitlab.core import config as config_mod
from digitlab.core.errors import DigitlabError
from digitlab.core.io import write_text_atomic
from digitlab.core.rundir import RunDir
from digitlab.inference import to_input

from .build import Parts, build
from .callbacks import Callback, build_callbacks, lower_is_better
from .distributed import World, close, from_main, init, peer_lost, shard, stopped_message, sum_all
from .outliers import draw
from .personal import report as personal_report
from .state import restore, save_best, save_last
from .step import evaluate_split, train_step

HISTORY_FIELDS = ["epoch", "loss", "acc", "val_loss", "val_acc", "lr", "seconds"]


@dataclass
class RunResult:
    run_dir: Path
    best_epoch: int
    best_val_acc: float
    best_val_loss: float
    epochs_run: int
    seconds: float
    interrupted: bool = False
    rank: int = 0  # under torchrun, the process that returns it; only rank 0 wrote the run


def batch(p: Parts, x: torch.Tensor, idx: torch.Tensor):
    """This process's share of one global batch: its indices, its digits (warped) and, with
    ``train.outliers``, its non-digits (warped alike) with their loss weight, else None."""
    xb = to_input(x[idx], p.device)
    if p.outliers is not None:
        o_cfg = p.cfg["train"]["outliers"]
        picks = draw(p.outliers, len(idx), o_cfg["share"], p.gen, p.world.size)
        xb = torch.cat([xb, to_input(p.outliers[picks], p.device)])
    if p.realtime is not None:  # the whole global batch, so every process draws the same warps
        xb = p.realtime(xb)
    xb, xn = xb[: len(idx)], xb[len(idx) :]
    outliers = None if p.outliers is None else (shard(xn, p.world), float(p.cfg["train"]["outliers"]["weight"]))
    return shard(idx, p.world), shard(xb, p.world), outliers


def train_one_epoch(p: Parts, x: torch.Tensor, y: torch.Tensor, desc: str, progress: bool) -> dict:
    """One pass over the training images in a fresh order; running loss and accuracy (training mode)."""
    p.model.train()
    t_cfg, d_cfg = p.cfg["train"], p.cfg["train"]["distill"]
    n, bs, t0 = len(y), t_cfg["batch_size"], time.perf_counter()
    perm = torch.randperm(n, generator=p.gen).to(p.device)
    totals = torch.zeros(3, device=p.device, dtype=torch.float64)  # loss sum, right answers, images
    progress = progress and p.world.main
    bar = tqdm(
        range(0, n, bs), desc=desc, unit="batch", leave=False, disable=not progress, file=sys.stderr, dynamic_ncols=True
    )
    for i in bar:
        idx = perm[i : i + bs]
        if len(idx) < p.world.size:  # a last batch too small to give every process an image
            continue
        idx, xb, outliers = batch(p, x, idx)
        yb = y[idx]
        teacher = None if p.soft is None else (p.soft[idx], d_cfg["alpha"], d_cfg["temperature"])
        logits, loss = train_step(
            p.net, p.opt, xb, yb, p.l2, t_cfg["clipnorm"], teacher, t_cfg["label_smoothing"], p.model, p.amp, outliers
        )
        if p.sched is not None:
            p.sched.step()
        if p.ema is not None:
            p.ema.update_parameters(p.model)
        totals += torch.stack([loss * len(yb), (logits.argmax(1) == yb).sum(), torch.tensor(len(yb))]).to(totals)
        if progress and (i // bs) % 5 == 0:  # .item() waits for the device: not on every batch
            loss_sum, right, seen = totals.tolist()
            bar.set_postfix(
                loss=f"{loss_sum / seen:.4f}",
                acc=f"{right / seen:.4f}",
                img_s=f"{seen / (time.perf_counter() - t0):.0f}",
            )
    bar.close()
    loss_sum, right, seen = sum_all(p.world, totals).tolist()
    return {"loss": loss_sum / seen, "acc": right / seen}


def _history_csv(history: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in HISTORY_FIELDS})
    return buf.getvalue()


def end_epoch(
    p: Parts, run: RunDir, callbacks: dict[str, Callback], history: list, epoch: int, logs: dict, t0: float
) -> bool:
    """Validate, run the callbacks and save ``last.pt`` with the epoch in its history; True to stop.
    Under torchrun rank 0 validates (its BatchNorm statistics are the ones saved) and every process
    runs the callbacks on its numbers, so they change the learning rate and stop together."""
    val = from_main(p.world, lambda: evaluate_split(p.kept, p.splits.x_val, p.splits.y_val, p.l2, p.device))
    logs["val_loss"], logs["val_acc"] = val
    lr_used = p.opt.param_groups[0]["lr"]  # one-cycle: the rate the next epoch starts with
    if not all(math.isfinite(v) for v in logs.values()):
        raise DigitlabError(f"training diverged at epoch {epoch} (loss {logs['loss']}); lower train.lr")
    stopped = False
    for cb in callbacks.values():
        stopped = cb.on_epoch_end(epoch, logs, p.kept) or stopped
    history.append({"epoch": epoch, **logs, "lr": lr_used, "seconds": time.perf_counter() - t0})  # validation too
    if p.world.main:
        save_last(p, run, callbacks, history, epoch, stopped)
    return stopped


def report_epoch(p: Parts, run: RunDir, history: list) -> None:
    """``history.csv``, ``curves.png`` and one line on stderr for the epoch just saved."""
    write_text_atomic(run.history, _history_csv(history))
    plots.training_curves(history, run.curves)
    h = history[-1]
    print(
        f"epoch {h['epoch']:3d}  loss {h['loss']:.4f}  acc {h['acc']:.4f}  val_loss {h['val_loss']:.4f}  "
        f"val_acc {h['val_acc']:.4f}  lr {h['lr']:.2g}  {h['seconds']:.1f}s ({len(p.y) / h['seconds']:.0f} img/s)",
        file=sys.stderr,
    )


def fit(p: Parts, run: RunDir, callbacks: dict, history: list, progress: bool) -> bool:
    """Train from the epoch after ``history``'s last to the end or an early stop; True when interrupted."""
    start, epochs = len(history) + 1, p.cfg["train"]["epochs"]
    x, y = torch.from_numpy(p.x).to(p.device), torch.from_numpy(p.y).to(p.device)
    saved = start - 1
    try:
        if start == 1 and p.world.main:
            save_last(p, run, callbacks, history, 0)
        for epoch in range(start, epochs + 1):
            t0 = time.perf_counter()
            logs = train_one_epoch(p, x, y, f"epoch {epoch}/{epochs}", progress)
            stopped = end_epoch(p, run, callbacks, history, epoch, logs, t0)
            saved = epoch
            # last.pt before history.csv: a Ctrl-C between the two must never leave a history.csv row
            # that last.pt cannot resume from.
            if p.world.main:
                report_epoch(p, run, history)
            if stopped:
                break
    except (KeyboardInterrupt, RuntimeError) as e:  # Ctrl-C, or under torchrun another process ended
        if not isinstance(e, KeyboardInterrupt) and not peer_lost(e, p.world):
            raise
        if not p.world.main:
            stopped_message(p.world)
            return True
        gone = "" if isinstance(e, KeyboardInterrupt) else " Another process of the run ended."
        print(
            f"\nInterrupted.{gone} {run.last} holds the state after epoch {saved}; "
            f"continue with: digitlab train --resume {run}",
            file=sys.stderr,
        )
        return True
    for cb in callbacks.values():
        cb.on_train_end(p.kept)
    return False


def open_run(cfg: dict | None, out_dir, resume, max_epochs: int | None) -> tuple[RunDir, dict, dict | None]:
    """The run folder, its config and, when resuming, the state in its ``last.pt``."""
    if resume is None:
        cfg = config_mod.complete(cfg)  # a config built by hand gets base's value for any key it leaves out
        run = RunDir(out_dir) if out_dir else RunDir.new(cfg.get("preset", "run"))  # a hand-made config may name none
        if run.holds_run():
            raise DigitlabError(f"{run} already holds a run; pass --resume {run} or choose another --out")
        return run, cfg, None
    run = RunDir(resume)
    if not run.last.is_file():
        raise DigitlabError(f"{run} has no last.pt to resume from; start a new run without --resume")
    state = checkpoint.load(run.last)
    cfg = config_mod.complete(state["config"])
    if state.get("stopped_early"):  # absent from runs saved before early stopping was recorded
        raise DigitlabError(
            f"{run} already finished (early stopping after epoch {state['epoch']}); start a new run to train further"
        )
    if max_epochs and max_epochs != cfg["train"]["epochs"]:
        if cfg["train"]["schedule"] == "onecycle":
            raise DigitlabError(
                f"{run} uses a one-cycle schedule fixed to {cfg['train']['epochs']} epochs; "
                "resume without --epochs, or start a new run"
            )
        cfg["train"]["epochs"] = max_epochs
    return run, cfg, state


def train(
    cfg: dict | None = None,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    data_dir: str | None = None,
    progress: bool = True,
    max_epochs: int | None = None,
) -> RunResult:
    """Train from a resolved config into a new run folder, or ``resume`` one; under torchrun, one
    process of several (see :mod:`digitlab.training.distributed`)."""
    world = init((cfg or {}).get("train", {}).get("device", "auto"))
    try:
        run, cfg, history, interrupted = _train_in(world, cfg, out_dir, resume, data_dir, progress, max_epochs)
    except BaseException as e:
        traceback.clear_frames(e.__traceback__)  # its frames would keep the DDP wrapper alive past close()
        raise
    finally:
        close(world)
    return summarise(run, history, interrupted, cfg["callbacks"]["checkpoint"]["monitor"], world.rank)


def _train_in(world: World, cfg, out_dir, resume, data_dir, progress: bool, max_epochs) -> tuple:
    """:func:`train`'s work. What it builds (under torchrun, a DDP wrapper that holds the process
    group) is let go when it returns, so that :func:`close` can end the group."""
    run, cfg, state = from_main(world, lambda: open_run(cfg, out_dir, resume, max_epochs))
    p = build(cfg, run, data_dir, progress, state, world=world)
    callbacks = build_callbacks(cfg["callbacks"], p.opt, lambda epoch, logs: save_best(p, run, epoch, logs))
    history = start(p, run, callbacks, state)
    interrupted = fit(p, run, callbacks, history, progress)
    if p.splits.user is not None and not interrupted and world.main and run.best.is_file():
        personal_report(p, run, data_dir)
    return run, cfg, history, interrupted


def start(p: Parts, run: RunDir, callbacks: dict, state: dict | None) -> list[dict]:
    """A new run's folder and config (rank 0), or a resumed run's state; the history so far."""
    if state is not None:
        history = restore(p, callbacks, state)
        if p.world.main:
            print(f"Resuming {run} at epoch {len(history) + 1}", file=sys.stderr)
    else:
        history = []
        if p.world.main:
            run.path.mkdir(parents=True, exist_ok=True)
            write_text_atomic(run.config, config_mod.dump(p.cfg))
    if p.world.main:
        procs = f" in {p.world.size} processes (global batch {p.cfg['train']['batch_size']})" if p.world.active else ""
        print(
            f"Training {p.cfg['model']['arch']} on {len(p.y):,} images ({len(p.splits.y_val):,} validation) on "
            f"{p.device}{procs}{', real-time augmentation on' if p.realtime else ''}; run folder {run}",
            file=sys.stderr,
        )
    return history


def summarise(
    run: RunDir, history: list[dict], interrupted: bool, monitor: str = "val_loss", rank: int = 0
) -> RunResult:
    seconds = sum(h["seconds"] for h in history)
    sign = 1.0 if lower_is_better(monitor) else -1.0
    best = (
        min(history, key=lambda h: sign * h[monitor]) if history else {"epoch": 0, "val_acc": 0.0, "val_loss": math.inf}
    )
    if not interrupted and rank == 0:
        print(
            f"Done: {len(history)} epochs in {seconds / 60:.1f} min; best epoch {best['epoch']} by {monitor} "
            f"(val_loss {best['val_loss']:.4f}, val_acc {best['val_acc']:.4f}); model: {run.best}",
            file=sys.stderr,
        )
    return RunResult(
        run.path, best["epoch"], best["val_acc"], best["val_loss"], len(history), seconds, interrupted, rank
    )
