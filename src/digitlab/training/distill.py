"""Knowledge distillation: a student network learns from finished runs (its teachers) as well as the labels.

The ``train.distill`` config section has three required keys: ``teachers``
(run folders or checkpoints), ``alpha`` and ``temperature`` (T). Before the first
epoch the teachers' softmax at ``temperature``, averaged over teachers, is
computed once for every training image and kept in the run folder
(``teachers.npz``) so ``--resume`` reuses it. The optional ``targets_from`` says
which image a static augmented copy's target comes from: ``image`` (the
default) the copy itself, ``original`` the clean training image it was made
from. Teachers that never saw the heavy corruptions are unsure or wrong on
such copies; asked about the clean original, they give the copy a target that
still names its digit, so the student learns to read through the corruption. The
loss is ``alpha * T^2 * KL(teachers || student at T) + (1 - alpha) * CE(labels)``
(Hinton et al., 2015); the T^2 keeps the soft term's gradients on the scale of
the hard one's.

The targets come from each image before its real-time warp: computing them
per batch would cost one forward pass per teacher per step, more than the
student's own step, and a 10-degree turn or a 10% shift does not change
which digit an image shows.

Teachers must have been selected on the student's own validation split (same
sources, fraction, split seed and data): a teacher that trained on the
student's validation images would leak them into the student, and its
validation score would no longer be held out.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from digitlab.core.config import checkpoint_split_key, distill_copy_teachers, distill_targets_from, split_key
from digitlab.core.errors import DigitlabError
from digitlab.core.io import atomic_path
from digitlab.core.rundir import RunDir, model_file
from digitlab.inference import Predictor, to_input


def load_teachers(d_cfg: dict, cfg: dict, pool_sha256: str, device: torch.device) -> dict[str, Predictor]:
    """Every run named in ``teachers`` and ``copy_teachers``, by the name the config gives it."""
    want = split_key(cfg, pool_sha256)
    teachers = {}
    for path in dict.fromkeys(d_cfg["teachers"] + distill_copy_teachers(d_cfg)):
        if not model_file(path).is_file():
            raise DigitlabError(f"teacher {path} not found: give a run folder or a .pt checkpoint")
        t = Predictor.load(path, device=device.type, backend="torch")
        if checkpoint_split_key(t.checkpoint) != want:
            raise DigitlabError(
                f"teacher {path} was trained on another train/validation split; its training data may "
                "hold this run's validation images. Use teachers trained with the same data.sources, "
                "data.val_fraction and split seed (--set data.split_seed=N)"
            )
        teachers[path] = t
    return teachers


@torch.no_grad()
def soft_targets(
    teachers: list[Predictor], x: np.ndarray, temperature: float, progress: bool = True, batch_size: int = 2048
) -> np.ndarray:
    """The teachers' mean softmax at ``temperature`` for every image of ``x`` (N, 28, 28), float32 (N, 10)."""
    out = np.zeros((len(x), 10), np.float32)
    bar = tqdm(
        total=len(x) * len(teachers),
        desc="teacher targets",
        unit="img",
        unit_scale=True,
        leave=False,
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    for t in teachers:
        for i in range(0, len(x), batch_size):
            xb = to_input(x[i : i + batch_size], t.device)
            out[i : i + batch_size] += torch.softmax(t.forward(xb) / temperature, 1).cpu().numpy()
            bar.update(len(xb))
    bar.close()
    return out / len(teachers)


def targets(
    d_cfg: dict,
    cfg: dict,
    pool_sha256: str,
    x: np.ndarray,
    n_original: int,
    run_dir: Path,
    device: torch.device,
    progress: bool = True,
) -> torch.Tensor:
    """The soft targets for ``x``: read from ``run_dir`` when a resumed run has them, else computed and saved.

    ``x`` holds the ``n_original`` training images, then their static augmented
    copies in the same order, copy after copy (:func:`digitlab.augment.static_expand`)."""
    path = RunDir(run_dir).teachers
    from_original = distill_targets_from(d_cfg) == "original"
    names, copy_names = list(d_cfg["teachers"]), distill_copy_teachers(d_cfg)
    other_copy_teachers = copy_names != names
    key = (names, float(d_cfg["temperature"]), len(x), pool_sha256, from_original)
    key = repr(key + (copy_names,) if other_copy_teachers else key)  # runs made before copy_teachers keep their key
    if path.is_file():
        with np.load(path) as f:
            if str(f["key"]) == key:  # made by these teachers for these images
                return torch.from_numpy(f["soft"]).to(device)
    if from_original and len(x) % n_original:
        raise ValueError(f"{len(x)} images are not whole copies of {n_original} originals")
    with torch.random.fork_rng(devices=[]):  # building the teachers must not move the student's initialisation
        loaded = load_teachers(d_cfg, cfg, pool_sha256, device)

    def ask(who: list, images: np.ndarray) -> np.ndarray:
        return soft_targets([loaded[n] for n in who], images, float(d_cfg["temperature"]), progress)

    soft = ask(names, x[:n_original])
    if from_original:  # each copy takes its original's target, asked of copy_teachers
        copies = np.tile(
            ask(copy_names, x[:n_original]) if other_copy_teachers else soft, (len(x) // n_original - 1, 1)
        )
    else:
        copies = ask(copy_names, x[n_original:])
    soft = np.concatenate([soft, copies])
    copy_note = f", copies taught by {len(copy_names)}" if other_copy_teachers else ""
    print(
        f"Distilling from {len(names)} teacher(s){copy_note} at temperature {d_cfg['temperature']}, "
        f"alpha {d_cfg['alpha']}, targets from each {'original' if from_original else 'image'}; saved to {path}",
        file=sys.stderr,
    )
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, soft=soft, key=np.array(key))
    return torch.from_numpy(soft).to(device)


def loss(logits: torch.Tensor, y: torch.Tensor, soft: torch.Tensor, alpha: float, temperature: float) -> torch.Tensor:
    hard = F.cross_entropy(logits, y)
    if alpha == 0:
        return hard
    kl = F.kl_div(F.log_softmax(logits / temperature, 1), soft, reduction="batchmean")
    return alpha * temperature**2 * kl + (1 - alpha) * hard
