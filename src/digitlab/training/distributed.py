"""Training in several processes, GPUs or machines with ``torch.distributed``, launched by ``torchrun``.

``torchrun --standalone --nproc_per_node=N -m digitlab train ...`` starts N processes
on one machine (``--nnodes``/``--node-rank``/``--rdzv-endpoint`` join machines);
torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) tells each process
its place. They talk through gloo on CPU and NCCL on CUDA (one GPU per process).

How the work is shared: ``train.batch_size`` is the *global* batch. Every process draws
the same permutation and the same real-time warps (one generator, one seed) and trains
on its share of each global batch, images ``rank, rank + N, ...``.
DistributedDataParallel averages the gradients, so a step is the single-process step
on the same batch and the learning rate is not rescaled. What differs: BatchNorm
normalises each process's share by its own statistics (``train.sync_bn: true`` makes it
use the whole batch's, on CUDA only: PyTorch's ``SyncBatchNorm`` runs on GPUs), and
dropout masks come from the same seed in every process.

Rank 0 alone writes: the run folder, checkpoints, history, plots and caches. It
validates, and every process runs the callbacks on its numbers, so all stop together.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from digitlab.core.errors import DigitlabError
from digitlab.core.runinfo import resolve_device


@dataclass(frozen=True)
class World:
    """This process's place among the run's processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


SINGLE = World()


class Stopped(KeyboardInterrupt):
    """torchrun ended this process (SIGTERM) because another one of the run ended."""


def _on_term(signum, frame):
    raise Stopped


def init(device_name: str = "auto") -> World:
    """Join the run's process group when torchrun started this process; a single process otherwise."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return SINGLE
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        cuda = resolve_device(device_name).type == "cuda"
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=dt.timedelta(minutes=10))
        signal.signal(signal.SIGTERM, _on_term)  # torchrun stops the others with SIGTERM when one fails
    return World(dist.get_rank(), dist.get_world_size(), local)


def close(world: World) -> None:
    """Leave the run's process group, and end it while Python is still fully alive.

    gloo's threads free each finished collective's tensors, which takes the GIL. While
    DistributedDataParallel still held the group, it lived until the interpreter's last
    garbage collection, and a thread that came late to that freeing aborted the process on
    its way out ("terminate called without an active exception"; about 1 run in 10 on a busy
    CPU). The caller has let go of the wrapper; collecting it first leaves the group to
    ``destroy_process_group`` alone.
    """
    if world.active and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def device_for(world: World, device: torch.device) -> torch.device:
    """One GPU per process under torchrun: ``cuda`` becomes ``cuda:LOCAL_RANK``."""
    return torch.device("cuda", world.local_rank) if world.active and device.type == "cuda" else device


def from_main(world: World, fn: Callable):
    """``fn()`` run on rank 0 and its result (or its one-line error) handed to every process."""
    if not world.active:
        return fn()
    box = [None]
    if world.main:
        try:
            box[0] = ("ok", fn())
        except DigitlabError as e:
            box[0] = ("error", str(e))
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise DigitlabError(value)
    return value


@contextmanager
def main_first(world: World) -> Iterator[None]:
    """Rank 0 runs the block first (filling a cache), the others after it (reading the cache)."""
    if world.active and not world.main:
        dist.barrier()
    yield
    if world.active and world.main:
        dist.barrier()


def wrap(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """The network the training step runs: ``model`` itself, or a DDP wrapper round it under torchrun."""
    if not world.active:
        return model
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def sync_bn_model(model: nn.Module, cfg_train: dict, device: torch.device) -> nn.Module:
    """``train.sync_bn``: BatchNorm over the whole global batch (CUDA only), checked before training starts."""
    if not cfg_train.get("sync_bn"):
        return model
    if device.type != "cuda":
        raise DigitlabError("train.sync_bn needs CUDA (PyTorch's SyncBatchNorm runs on GPUs only); set it to false")
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


def shard(t: torch.Tensor, world: World) -> torch.Tensor:
    """This process's share of a global batch."""
    return t[world.rank :: world.size] if world.active else t


def sum_all(world: World, t: torch.Tensor) -> torch.Tensor:
    """``t`` summed over every process, in place (unchanged in a single process)."""
    if world.active:
        dist.all_reduce(t)
    return t


def peer_lost(exc: BaseException, world: World) -> bool:
    """Under torchrun, whether ``exc`` says another process of the run has gone (killed, crashed,
    Ctrl-C): gloo raises it from inside autograd as a plain RuntimeError."""
    if not world.active:
        return False
    if isinstance(exc, (KeyboardInterrupt, dist.DistError)):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(s in text for s in ("Connection reset", "Connection closed", "NCCL"))


def stopped_message(world: World) -> None:
    """One line from a process other than rank 0 that is ended early (rank 0 says what to do next)."""
    if not world.main:
        print(f"rank {world.rank}: stopped with the rest of the run", file=sys.stderr)
