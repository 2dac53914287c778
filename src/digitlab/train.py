"""Training: Adam with per-tensor gradient clipping, L2 on the dense kernel, and
Keras-style callbacks (EarlyStopping, ModelCheckpoint, ReduceLROnPlateau).

A run folder holds ``config.yaml``, ``best.pt``, ``last.pt``, ``history.csv``
and ``curves.png``. ``last.pt`` is written after every epoch, so Ctrl-C (or a
crash) loses at most the epoch in progress, and ``--resume`` continues with
the same optimizer, callback and RNG state. On CPU the same seed gives the
same history; on CUDA, cuDNN's convolution algorithms are not bit-exact.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import augment, checkpoint, config as config_mod, data, distill, plots
from .callbacks import build_callbacks
from .errors import DigitlabError
from .inference import predict_logits, shipped_model, to_input
from .models import build_model, count_parameters
from .preprocess import SPEC as PREPROCESSING
from .utils import git_commit, library_versions, resolve_device, seed_everything, sha256_file, write_text_atomic

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


def new_run_dir(preset: str, root: str | Path = "runs") -> Path:
    base = Path(root) / f"{dt.date.today().isoformat()}-{preset}"
    path, n = base, 2
    while path.exists():
        path, n = Path(f"{base}-{n}"), n + 1
    return path


def l2_penalty(model: torch.nn.Module, l2: float) -> torch.Tensor:
    if not l2:
        return torch.zeros((), device=next(model.parameters()).device)
    return l2 * sum((w * w).sum() for w in model.l2_parameters())


def clip_per_tensor(params, max_norm: float) -> None:
    """Keras ``clipnorm``: each gradient tensor is scaled down to at most ``max_norm``."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads or not max_norm:
        return
    norms = torch._foreach_norm(grads)
    scales = [torch.clamp(max_norm / (n + 1e-6), max=1.0) for n in norms]
    torch._foreach_mul_(grads, scales)


def prepare_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The model on ``device``, set up the way it trains fastest there (measured by ``digitlab bench``).

    On CPU the weights go channels-last: oneDNN's convolutions then skip layout
    conversions. A seed1 training step on the 2-core Xeon: 911-964 images/s
    contiguous, 1,212-1,310 channels-last. ``torch.compile`` was slower there
    (807 images/s after a 48 s compile) and the CPU has no avx512_bf16 for bf16
    autocast, so neither is used. On CUDA nothing is changed: it is unmeasured.
    """
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cpu" else model


def start_from(model: torch.nn.Module, cfg: dict, pool_sha256: str) -> dict | None:
    """``train.init_from``: fine-tune, starting from a finished model's weights (a run folder, a ``.pt``
    file, or ``shipped`` for ``models/default.pt``) instead of a fresh draw; returns what the run records.

    A start trained on another split may have seen this run's validation images, so
    the run still trains but says, here and in its reports, that validation is not held out."""
    src = cfg["train"].get("init_from")
    if not src:
        return None
    path = shipped_model() if src == "shipped" else Path(src)
    if path is None:
        raise DigitlabError("train.init_from is 'shipped' but this install has no models/default.pt; "
                            "name a run folder or .pt file")
    ckpt, file = checkpoint.load_weights(model, path)
    same = config_mod.checkpoint_split_key(ckpt) == config_mod.split_key(cfg, pool_sha256)
    if not same:
        print(f"warning: the start, {path}, was trained on another train/validation split, so it may have seen "
              "this run's validation images; validation scores of this run are not held out from it", file=sys.stderr)
    return {"from": str(src), "sha256": sha256_file(file), "same_split": same}


def build_schedule(opt, t_cfg: dict, steps_per_epoch: int):
    """``train.schedule``: ``plateau`` (the seeds' ReduceLROnPlateau callback, no
    per-step schedule) or ``onecycle`` (warm up to ``train.onecycle.max_lr``, then
    cosine-anneal to ~0 by the last epoch; a fixed schedule, stepped per batch)."""
    name = t_cfg.get("schedule", "plateau")
    if name == "plateau":
        return None
    oc = t_cfg["onecycle"]
    return torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=oc["max_lr"], epochs=t_cfg["epochs"], steps_per_epoch=steps_per_epoch,
        pct_start=oc["pct_start"], div_factor=oc["div_factor"], final_div_factor=oc["final_div_factor"])


def train_step(model, opt, xb: torch.Tensor, yb: torch.Tensor, l2: float, clipnorm: float, teacher=None):
    """One optimizer step; returns the batch's logits and loss (detached). ``teacher``:
    (soft targets, alpha, temperature) for :func:`digitlab.distill.loss`, or None."""
    logits = model(xb)
    data_loss = F.cross_entropy(logits, yb) if teacher is None else distill.loss(logits, yb, *teacher)
    loss = data_loss + l2_penalty(model, l2)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    clip_per_tensor(model.parameters(), clipnorm)
    opt.step()
    return logits.detach(), loss.detach()


@torch.no_grad()
def evaluate_split(model, x, y, l2: float, device) -> tuple[float, float]:
    logits = predict_logits(model, x, device)
    loss = F.cross_entropy(logits, torch.as_tensor(y)).item() + float(l2_penalty(model, l2))
    acc = (logits.argmax(1).numpy() == y).mean().item()
    return loss, acc


def _history_csv(history: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in HISTORY_FIELDS})
    return buf.getvalue()


def train(cfg: dict | None = None, out_dir: str | Path | None = None, resume: str | Path | None = None,
          data_dir: str | None = None, progress: bool = True, max_epochs: int | None = None) -> RunResult:
    """Train from a resolved config into a new run folder, or ``resume`` one."""
    state = None
    if resume is not None:
        run_dir = Path(resume)
        state = checkpoint.load(run_dir / "last.pt") if (run_dir / "last.pt").is_file() else None
        if state is None:
            raise DigitlabError(f"{run_dir} has no last.pt to resume from; start a new run without --resume")
        cfg = state["config"]
        if state.get("stopped_early"):
            raise DigitlabError(f"{run_dir} already finished (early stopping after epoch {state['epoch']}); "
                                "start a new run to train further")
        if max_epochs and max_epochs != cfg["train"]["epochs"]:
            if cfg["train"].get("schedule", "plateau") == "onecycle":
                raise DigitlabError(f"{run_dir} uses a one-cycle schedule fixed to {cfg['train']['epochs']} epochs; "
                                    "resume without --epochs, or start a new run")
            cfg["train"]["epochs"] = max_epochs
    else:
        assert cfg is not None
        run_dir = Path(out_dir) if out_dir else new_run_dir(cfg.get("preset", "run"))
        if (run_dir / "best.pt").exists() or (run_dir / "last.pt").exists():
            raise DigitlabError(f"{run_dir} already holds a run; pass --resume {run_dir} or choose another --out")
    t_cfg = cfg["train"]
    device = resolve_device(t_cfg["device"])
    if t_cfg.get("num_threads"):
        torch.set_num_threads(int(t_cfg["num_threads"]))
    seed_everything(t_cfg["seed"])

    d = cfg["data"]
    splits = data.make_splits(d["sources"], d["val_fraction"], config_mod.split_seed(cfg), d["limit"], data_dir)
    if state is not None and state["data"]["pool_sha256"] != splits.pool_checksum:
        raise DigitlabError(f"the data behind {run_dir} has changed since it was trained; start a new run instead")
    aug_cfg = cfg.get("augment") or {}
    x_np, y_np = splits.x_train, splits.y_train
    x_aug, y_aug, aug_info = augment.static_expand(x_np, y_np, aug_cfg.get("static") or {}, t_cfg["seed"],
                                                   data.data_dir(data_dir) / "augment", progress)
    if len(x_aug):
        how = "reused from cache" if aug_info["cached"] else "computed and cached"
        print(f"Static augmentation: {len(x_aug):,} images ({aug_info['copies']} copies, {how}: {aug_info['cache']})",
              file=sys.stderr)
        x_np, y_np = np.concatenate([x_np, x_aug]), np.concatenate([y_np, y_aug])
    x_train = torch.from_numpy(x_np).to(device)
    y_train = torch.from_numpy(y_np).to(device)

    d_cfg = t_cfg.get("distill")
    soft = (distill.targets(d_cfg, cfg, splits.pool_checksum, x_np, len(splits.y_train), run_dir, device, progress)
            if d_cfg else None)
    model = build_model(cfg["model"])
    init = start_from(model, cfg, splits.pool_checksum) if state is None else state.get("init")
    model = prepare_model(model, device)
    l2 = float(cfg["model"].get("l2", 0.0))
    opt = torch.optim.Adam(model.parameters(), lr=t_cfg["lr"], eps=t_cfg["adam_eps"])
    gen = torch.Generator().manual_seed(t_cfg["seed"])
    realtime = augment.realtime_fn(aug_cfg.get("realtime") or {}, gen)
    n, bs, epochs = len(y_train), t_cfg["batch_size"], t_cfg["epochs"]
    sched = build_schedule(opt, t_cfg, math.ceil(n / bs))
    meta = {"config": cfg, "model": cfg["model"], "preprocessing": PREPROCESSING,
            "data": {**splits.describe(), "augmented": int(len(x_aug)), "augment_key": aug_info.get("key")},
            "params": count_parameters(model), "git_commit": git_commit(), "versions": library_versions(),
            "init": init}

    def save_best(epoch: int, logs: dict) -> None:
        checkpoint.save(run_dir / "best.pt", {**meta, "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                                              "metrics": {"epoch": epoch, **logs},
                                              "created": dt.datetime.now().isoformat(timespec="seconds")})

    callbacks = build_callbacks(cfg["callbacks"], opt, save_best)
    history: list[dict] = []
    start_epoch = 1
    if state is not None:
        model.load_state_dict(state["state_dict"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None:
            sched.load_state_dict(state["schedule"])
        for name, cb in callbacks.items():
            cb.load_state_dict(state["callbacks"].get(name, {}))
        history = list(state["history"])
        start_epoch = state["epoch"] + 1
        gen.set_state(state["rng"]["data"])
        torch.set_rng_state(state["rng"]["torch"])
        if device.type == "cuda" and state["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(state["rng"]["cuda"])
        print(f"Resuming {run_dir} at epoch {start_epoch}", file=sys.stderr)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "config.yaml", config_mod.dump(cfg))

    def save_last(epoch: int, stopped_early: bool = False) -> None:
        checkpoint.save(run_dir / "last.pt", {
            **meta, "state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "epoch": epoch,
            "stopped_early": stopped_early,
            "optimizer": opt.state_dict(), "schedule": sched.state_dict() if sched is not None else None,
            "callbacks": {n: cb.state_dict() for n, cb in callbacks.items()},
            "history": history, "rng": {"data": gen.get_state(), "torch": torch.get_rng_state(),
                                        "cuda": torch.cuda.get_rng_state() if device.type == "cuda" else None}})

    print(f"Training {cfg['model']['arch']} on {n:,} images ({len(splits.y_val):,} validation) on {device}"
          f"{', real-time augmentation on' if realtime else ''}; run folder {run_dir}", file=sys.stderr)
    stopped, interrupted = False, False
    saved_epoch = start_epoch - 1
    try:
        if state is None:
            save_last(0)
        for epoch in range(start_epoch, epochs + 1):
            if stopped:
                break
            model.train()
            t0 = time.perf_counter()
            perm = torch.randperm(n, generator=gen).to(device)
            tot_loss = torch.zeros((), device=device)
            tot_correct = torch.zeros((), device=device, dtype=torch.long)
            seen = 0
            bar = tqdm(range(0, n, bs), desc=f"epoch {epoch}/{epochs}", unit="batch", leave=False,
                       disable=not progress, file=sys.stderr, dynamic_ncols=True)
            for i in bar:
                idx = perm[i : i + bs]
                xb, yb = to_input(x_train[idx], device), y_train[idx]
                if realtime is not None:
                    xb = realtime(xb)
                teacher = None if soft is None else (soft[idx], d_cfg["alpha"], d_cfg["temperature"])
                logits, loss = train_step(model, opt, xb, yb, l2, t_cfg["clipnorm"], teacher)
                if sched is not None:
                    sched.step()
                tot_loss += loss * len(yb)
                tot_correct += (logits.argmax(1) == yb).sum()
                seen += len(yb)
                if progress and (i // bs) % 5 == 0:
                    bar.set_postfix(loss=f"{tot_loss.item() / seen:.4f}", acc=f"{tot_correct.item() / seen:.4f}",
                                    img_s=f"{seen / (time.perf_counter() - t0):.0f}")
            bar.close()
            val_loss, val_acc = evaluate_split(model, splits.x_val, splits.y_val, l2, device)
            lr_used = opt.param_groups[0]["lr"]  # one-cycle: the rate the next epoch starts with
            logs = {"loss": tot_loss.item() / seen, "acc": tot_correct.item() / seen, "val_loss": val_loss,
                    "val_acc": val_acc}
            if not all(math.isfinite(v) for v in logs.values()):
                raise DigitlabError(f"training diverged at epoch {epoch} (loss {logs['loss']}); lower train.lr")
            for cb in callbacks.values():
                stopped = cb.on_epoch_end(epoch, logs, model) or stopped
            history.append({"epoch": epoch, **logs, "lr": lr_used, "seconds": time.perf_counter() - t0})
            # last.pt before history.csv: a Ctrl-C between the two must never leave a history.csv row
            # that last.pt cannot resume from.
            save_last(epoch, stopped)
            saved_epoch = epoch
            write_text_atomic(run_dir / "history.csv", _history_csv(history))
            plots.training_curves(history, run_dir / "curves.png")
            print(f"epoch {epoch:3d}  loss {logs['loss']:.4f}  acc {logs['acc']:.4f}  val_loss {val_loss:.4f}  "
                  f"val_acc {val_acc:.4f}  lr {lr_used:.2g}  {history[-1]['seconds']:.1f}s "
                  f"({seen / history[-1]['seconds']:.0f} img/s)", file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
        print(f"\nInterrupted. {run_dir / 'last.pt'} holds the state after epoch {saved_epoch}; "
              f"continue with: digitlab train --resume {run_dir}", file=sys.stderr)
    if not interrupted:
        for cb in callbacks.values():
            cb.on_train_end(model)
    seconds = sum(h["seconds"] for h in history)
    best = min(history, key=lambda h: h["val_loss"]) if history else {"epoch": 0, "val_acc": 0.0, "val_loss": math.inf}
    result = RunResult(run_dir, best["epoch"], best["val_acc"], best["val_loss"], len(history), seconds, interrupted)
    if not interrupted:
        print(f"Done: {len(history)} epochs in {seconds / 60:.1f} min; best epoch {best['epoch']} "
              f"(val_loss {best['val_loss']:.4f}, val_acc {best['val_acc']:.4f}); model: {run_dir / 'best.pt'}",
              file=sys.stderr)
    return result


def dry_run(cfg: dict, data_dir: str | None = None) -> str:
    """Load the data, build the model and take one optimizer step; write nothing."""
    t_cfg, d = cfg["train"], cfg["data"]
    device = resolve_device(t_cfg["device"])
    seed_everything(t_cfg["seed"])
    splits = data.make_splits(d["sources"], d["val_fraction"], config_mod.split_seed(cfg), d["limit"], data_dir)
    model = build_model(cfg["model"])
    start_from(model, cfg, splits.pool_checksum)
    model = prepare_model(model, device)
    opt = torch.optim.Adam(model.parameters(), lr=t_cfg["lr"], eps=t_cfg["adam_eps"])
    if t_cfg.get("distill"):  # the teachers exist and share this run's split
        distill.load_teachers(t_cfg["distill"], cfg, splits.pool_checksum, device)
    aug_cfg = cfg.get("augment") or {}
    realtime = augment.realtime_fn(aug_cfg.get("realtime") or {}, torch.Generator().manual_seed(t_cfg["seed"]))
    copies = int((aug_cfg.get("static") or {}).get("copies") or 0)
    if copies:
        augment.build_static(aug_cfg["static"])  # validates the transform parameters
    xb = to_input(splits.x_train[: t_cfg["batch_size"]], device)
    if realtime is not None:
        xb = realtime(xb)
    yb = torch.as_tensor(splits.y_train[: t_cfg["batch_size"]], device=device)
    t0 = time.perf_counter()
    _, loss = train_step(model, opt, xb, yb, float(cfg["model"].get("l2", 0.0)), t_cfg["clipnorm"])
    c = count_parameters(model)
    return (f"dry run OK: {len(splits.y_train):,} train (+{copies * len(splits.y_train):,} static augmented) / "
            f"{len(splits.y_val):,} validation images; real-time augmentation {'on' if realtime else 'off'}; "
            f"{c['trainable']:,} trainable parameters; one step of {len(yb)} images: loss {loss.item():.4f} "
            f"in {time.perf_counter() - t0:.2f}s on {device}")
