"""Building a training run from its config: the parts :func:`digitlab.training.loop.train`
runs and :func:`dry_run` checks, made by one :func:`build`."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from digitlab import augment, data
from digitlab.core import checkpoint
from digitlab.core import config as config_mod
from digitlab.core.errors import DigitlabError
from digitlab.core.io import sha256_file
from digitlab.core.paths import shipped_model
from digitlab.core.rundir import RunDir
from digitlab.core.runinfo import git_commit, library_versions, resolve_device, seed_everything
from digitlab.data.preprocess import SPEC as PREPROCESSING
from digitlab.inference import to_input
from digitlab.models import build_model, count_parameters

from .distill import load_teachers
from .distill import targets as teacher_targets
from .distributed import SINGLE, World, device_for, main_first, sync_bn_model, wrap
from .outliers import outlier_pool
from .step import amp_dtype, prepare_model, train_step, weight_average


@dataclass
class Parts:
    """Everything :func:`build` makes from a config: what one training run is made of."""

    cfg: dict
    device: torch.device
    splits: data.Splits
    x: np.ndarray  # training images: the split's, then their static copies
    y: np.ndarray
    static: dict  # where the static copies came from (augment.static_expand's record)
    soft: torch.Tensor | None  # the teachers' targets per training image, when distilling
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler | None
    gen: torch.Generator  # shuffling and real-time warps
    realtime: object  # the per-batch warp, or None
    init: dict | None  # train.init_from's record
    provenance: dict  # git commit and library versions, read once when the run starts
    world: World = SINGLE  # this process's place under torchrun
    net: torch.nn.Module | None = None  # what the training step runs: model, or DDP round it under torchrun
    ema: torch.optim.swa_utils.AveragedModel | None = None  # train.ema's moving average of model, or None
    outliers: torch.Tensor | None = None  # train.outliers' pool of non-digits (uint8, on device), or None

    def __post_init__(self):
        if self.net is None:
            self.net = self.model

    @property
    def kept(self) -> torch.nn.Module:
        """The network validation reads and ``best.pt`` keeps: the moving average when ``train.ema`` is on."""
        return self.model if self.ema is None else self.ema.module

    @property
    def l2(self) -> float:
        return float(self.cfg["model"]["l2"])

    @property
    def amp(self) -> torch.dtype | None:
        return amp_dtype(self.cfg["train"]["amp"], self.device)

    def meta(self) -> dict:
        """What every checkpoint of this run records beside its weights."""
        return {
            "config": self.cfg,
            "model": self.cfg["model"],
            "preprocessing": PREPROCESSING,
            "data": {
                **self.splits.describe(),
                "augmented": int(len(self.x) - len(self.splits.y_train)),
                "augment_key": self.static.get("key"),
            },
            "params": count_parameters(self.model),
            **self.provenance,
            "init": self.init,
        }


def start_from(model: torch.nn.Module, cfg: dict, split_sha256: str) -> dict | None:
    """``train.init_from``: fine-tune, starting from a finished model's weights (a run folder, a ``.pt``
    file, or ``shipped`` for ``models/default.pt``) instead of a fresh draw; returns what the run records.

    A start trained on another split may have seen this run's validation images, so
    the run still trains but says, here and in its reports, that validation is not held out."""
    src = cfg["train"]["init_from"]
    if not src:
        return None
    path = shipped_model() if src == "shipped" else Path(src)
    if path is None:
        raise DigitlabError(
            "train.init_from is 'shipped' but this install has no models/default.pt; name a run folder or .pt file"
        )
    ckpt, file = checkpoint.load_weights(model, path)
    same = config_mod.checkpoint_split_key(ckpt) == config_mod.split_key(cfg, split_sha256)
    if not same:
        print(
            f"warning: the start, {path}, was trained on another train/validation split, so it may have seen "
            "this run's validation images; validation scores of this run are not held out from it",
            file=sys.stderr,
        )
    return {"from": str(src), "sha256": sha256_file(file), "same_split": same}


def build_schedule(opt, t_cfg: dict, steps_per_epoch: int):
    """``train.schedule``: ``plateau`` (the seeds' ReduceLROnPlateau callback, no
    per-step schedule) or ``onecycle`` (warm up to ``train.onecycle.max_lr``, then
    cosine-anneal to ~0 by the last epoch; a fixed schedule, stepped per batch)."""
    if t_cfg["schedule"] == "plateau":
        return None
    oc = t_cfg["onecycle"]
    total = t_cfg["epochs"] * steps_per_epoch
    if abs(oc["pct_start"] * total - 1) < 1e-9:  # OneCycleLR's warm-up would end at step 0: it divides by zero
        raise DigitlabError(
            f"the one-cycle schedule's warm-up is train.onecycle.pct_start x {total} steps ({t_cfg['epochs']} "
            f"epochs of {steps_per_epoch} batches) = exactly 1 step, which PyTorch cannot schedule; "
            "change --epochs, the number of images or train.batch_size"
        )
    return torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=oc["max_lr"],
        epochs=t_cfg["epochs"],
        steps_per_epoch=steps_per_epoch,
        pct_start=oc["pct_start"],
        div_factor=oc["div_factor"],
        final_div_factor=oc["final_div_factor"],
    )


def training_images(cfg: dict, splits: data.Splits, data_dir, progress: bool, dry: bool, say: bool = True):
    """The split's training images plus their static augmented copies (from the cache when it has
    them); ``dry`` only checks the transform settings; ``say``: print where the copies came from."""
    static_cfg = cfg["augment"]["static"]
    if dry:
        copies = int(static_cfg["copies"] or 0)
        if copies:
            augment.build_static(static_cfg)  # validates the transform parameters
        return splits.x_train, splits.y_train, {"copies": copies}
    x_aug, y_aug, info = augment.static_expand(
        splits.x_train, splits.y_train, static_cfg, cfg["train"]["seed"], data.data_dir(data_dir) / "augment", progress
    )
    if not len(x_aug):
        return splits.x_train, splits.y_train, info
    how = "reused from cache" if info["cached"] else "computed and cached"
    if say:
        print(
            f"Static augmentation: {len(x_aug):,} images ({info['copies']} copies, {how}: {info['cache']})",
            file=sys.stderr,
        )
    return np.concatenate([splits.x_train, x_aug]), np.concatenate([splits.y_train, y_aug]), info


def build(
    cfg: dict,
    run_dir: RunDir | None,
    data_dir=None,
    progress: bool = True,
    state: dict | None = None,
    dry: bool = False,
    world: World = SINGLE,
) -> Parts:
    """Data, static copies, teacher targets, model, optimizer and schedule, in the order that
    keeps a seed's history reproducible. ``state``: a resumed run's ``last.pt``, whose data must
    not have changed. ``dry``: static copies and teacher targets are only checked, not made.
    ``world``: under torchrun, rank 0 fills the caches first and the network is wrapped in DDP."""
    t_cfg = cfg["train"]
    device = device_for(world, resolve_device(t_cfg["device"]))
    if t_cfg["num_threads"] and not dry:
        torch.set_num_threads(int(t_cfg["num_threads"]))
    seed_everything(t_cfg["seed"])
    splits = data.splits_for(cfg, data_dir)
    if state is not None and state["data"]["pool_sha256"] != splits.pool_checksum:
        raise DigitlabError(f"the data behind {run_dir} has changed since it was trained; start a new run instead")
    with main_first(world):
        x, y, static = training_images(cfg, splits, data_dir, progress and world.main, dry, world.main)
    d_cfg, soft = t_cfg["distill"], None
    if d_cfg and not dry:
        with main_first(world):
            soft = teacher_targets(
                d_cfg, cfg, splits.split_checksum, x, len(splits.y_train), run_dir.path, device, progress and world.main
            )
    model = build_model(cfg["model"])
    init = state.get("init") if state is not None else start_from(model, cfg, splits.split_checksum)
    model = prepare_model(sync_bn_model(model, t_cfg, device), device)
    opt = torch.optim.Adam(model.parameters(), lr=t_cfg["lr"], eps=t_cfg["adam_eps"])
    if d_cfg and dry:  # the teachers exist and share this run's split
        load_teachers(d_cfg, cfg, splits.split_checksum, device)
    gen = torch.Generator().manual_seed(t_cfg["seed"])
    realtime = augment.realtime_fn(cfg["augment"]["realtime"], gen)
    sched = build_schedule(opt, t_cfg, math.ceil(len(y) / t_cfg["batch_size"]))
    provenance = {"git_commit": git_commit(), "versions": library_versions()}
    net = wrap(model, world, device)
    if t_cfg["compile"] and not dry:
        net = torch.compile(net)
    parts = Parts(
        cfg, device, splits, x, y, static, soft, model, opt, sched, gen, realtime, init, provenance, world, net
    )
    parts.ema = weight_average(model, t_cfg["ema"])
    parts.outliers = None if dry else non_digit_pool(t_cfg, data_dir, device, world, progress)
    return parts


def non_digit_pool(t_cfg: dict, data_dir, device: torch.device, world: World, progress: bool) -> torch.Tensor | None:
    """``train.outliers``' non-digits on ``device`` (rank 0 fills the cache first), or None when off."""
    with main_first(world):
        pool = outlier_pool(
            t_cfg["outliers"], t_cfg["seed"], data.data_dir(data_dir) / "augment", progress and world.main
        )
    return None if pool is None else torch.from_numpy(pool).to(device)


def dry_run(cfg: dict, data_dir: str | None = None) -> str:
    """Load the data, build the model and take one optimizer step; write nothing."""
    p = build(config_mod.complete(cfg), None, data_dir, progress=False, dry=True)
    bs = cfg["train"]["batch_size"]
    xb = to_input(p.splits.x_train[:bs], p.device)
    if p.realtime is not None:
        xb = p.realtime(xb)
    yb = torch.as_tensor(p.splits.y_train[:bs], device=p.device)
    t0 = time.perf_counter()
    _, loss = train_step(p.model, p.opt, xb, yb, p.l2, cfg["train"]["clipnorm"])
    c = count_parameters(p.model)
    copies = p.static["copies"]
    return (
        f"dry run OK: {len(p.splits.y_train):,} train (+{copies * len(p.splits.y_train):,} static augmented) / "
        f"{len(p.splits.y_val):,} validation images; real-time augmentation {'on' if p.realtime else 'off'}; "
        f"{c['trainable']:,} trainable parameters; one step of {len(yb)} images: loss {loss.item():.4f} "
        f"in {time.perf_counter() - t0:.2f}s on {p.device}"
    )
