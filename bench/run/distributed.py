"""Data-parallel training of one run over several processes (one per device) with ``torch.distributed``.

``bench run ... --nproc N`` (config key ``nproc``) trains one cell on N ranks with the batch semantics of one
device: the global batch is ``batch_size``, each rank takes ``batch_size / N`` of it, and the gradients of
every optimizer step are averaged over the ranks, which is the gradient of the global batch's mean loss. What
the ranks see together is what one process would see:

- every rank keeps the same generator states: a rank draws the global batch's noise (z, labels, the GP's
  mixing weights) and keeps its own rows (``Method.draw_rows``), and every rank draws the same real-batch
  indices from the sampler and keeps its slice; so one RNG state (rank 0's, in the checkpoint) serves all;
- parameters start equal (broadcast from rank 0) and stay equal (same averaged gradients, same Adam);
- buffers (BatchNorm running statistics) are broadcast from rank 0 after each iteration, as DDP's
  ``broadcast_buffers`` does, so a checkpoint of rank 0 describes every rank.

What differs from one device, by design (the simplest honest semantics):

- BatchNorm in train mode normalises with per-rank batch statistics (B/N samples), as DDP without
  SyncBatchNorm;
- batch-level losses see the local batch only: the contrastive losses (2C, D2D-CE, ECO) pair a sample with the
  others of its rank's batch, not with the whole global batch; per-sample losses (adversarial, GP, CE) average
  to the global mean exactly.

So the losses of an N-rank run track those of a one-process run of the same global batch closely but not bit
for bit. Ranks synchronise gradients through an optimizer step pre-hook instead of wrapping G and D in
``DistributedDataParallel``: a method's D step runs D three times (reals, fakes, GP mixes) and takes a double
backward for the GP, which DDP's reducer does not support, and methods reach sub-modules (``D.logit``) that a
DDP wrapper would hide. Only rank 0 writes to the run folder; the loop (``bench.run.loop``) does that.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in a data-parallel run: its ``rank`` among ``world`` processes."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Whether this process writes the run folder (rank 0)."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world > 1

    def rows(self, n: int) -> slice:
        """This rank's rows of a global batch of ``n`` (``n`` divisible by ``world``)."""
        local = n // self.world
        return slice(self.rank * local, (self.rank + 1) * local)


def free_port() -> int:
    """A TCP port free on this host now (for the rendezvous of the ranks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def init_ranks(rank: int, world: int, port: int, device: torch.device, timeout: timedelta | None = None) -> Ranks:
    """Join the process group of ``world`` ranks on this host: NCCL on CUDA, gloo on CPU; collectives wait up
    to ``timeout`` (None = torch's default)."""
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ["MASTER_PORT"] = str(port)
    backend = "nccl" if device.type == "cuda" else "gloo"
    kwargs: dict[str, Any] = {"device_id": device} if device.type == "cuda" else {}
    if timeout is not None:
        kwargs["timeout"] = timeout
    dist.init_process_group(backend, rank=rank, world_size=world, **kwargs)
    return Ranks(rank, world)


def close_ranks() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _flat_all(tensors: list[torch.Tensor]) -> dict[tuple[torch.device, torch.dtype], list[torch.Tensor]]:
    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.device, t.dtype), []).append(t)
    return groups


def broadcast_tensors(tensors: Iterable[torch.Tensor], src: int = 0) -> None:
    """Copy rank ``src``'s values of ``tensors`` into every rank's, in place (one broadcast per dtype)."""
    from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

    for group in _flat_all([t.data for t in tensors]).values():
        flat = _flatten_dense_tensors(group)
        dist.broadcast(flat, src)
        for t, value in zip(group, _unflatten_dense_tensors(flat, group), strict=True):
            t.copy_(value)


def broadcast_modules(modules: Iterable[nn.Module], *, parameters: bool = True) -> None:
    """Rank 0's buffers (and, with ``parameters``, parameters) of ``modules`` on every rank."""
    tensors: list[torch.Tensor] = []
    for module in modules:
        tensors += list(module.parameters()) if parameters else []
        tensors += list(module.buffers())
    broadcast_tensors(tensors)


def average_gradients(params: Iterable[torch.Tensor], world: int) -> None:
    """Replace each gradient by its mean over the ranks (one all-reduce per dtype of the flattened grads)."""
    from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

    grads = [p.grad for p in params if p.grad is not None]
    for group in _flat_all(grads).values():
        flat = _flatten_dense_tensors(group)
        dist.all_reduce(flat)
        flat.div_(world)
        for g, value in zip(group, _unflatten_dense_tensors(flat, group), strict=True):
            g.copy_(value)


def average_before_step(optimizer: torch.optim.Optimizer, world: int) -> Any:
    """Register a pre-step hook on ``optimizer`` that averages its parameters' gradients over the ranks, so
    the step every rank takes is that of the global batch. Returns the hook handle."""

    def hook(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        average_gradients((p for group in opt.param_groups for p in group["params"]), world)

    return optimizer.register_step_pre_hook(hook)


def mean_over_ranks(values: torch.Tensor, world: int) -> torch.Tensor:
    """The element-wise mean of ``values`` over the ranks (a new tensor)."""
    total = values.clone()
    dist.all_reduce(total)
    return total / world


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()
