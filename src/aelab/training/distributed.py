"""Data-parallel training over several processes with torch.distributed, as started by ``torchrun``.

Every process (rank) holds the same network and draws the same shuffled order of the training data; each
takes its share of every global batch (rows ``rank, rank + world_size, ...``), and the training loop
averages the gradients over the ranks after each backward pass (``average_gradients``), so that one step
equals the step of a single process on the whole global batch.
Only rank 0 writes files and prints. ``torchrun`` sets the environment read here (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT); NCCL is used on GPUs and gloo on the CPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

_TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a data-parallel job.

    Attributes
    ----------
    rank : int
        This process's index among all processes, 0 to ``world_size - 1``; rank 0 writes the results.
    world_size : int
        Number of processes.
    local_rank : int
        Index among the processes of this machine; selects the GPU ``cuda:local_rank``.
    device : torch.device
        The device this process trains on.
    backend : str
        ``nccl`` on GPUs, ``gloo`` on the CPU.
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes files and prints."""
        return self.rank == 0

    def shard(self, rows: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This rank's rows of a global batch and the factor its mean loss is weighed by.

        The training loop averages the ranks' gradients; weighing each rank's mean loss by
        ``world_size * local rows / global rows`` makes that average the gradient of the global batch's
        mean loss even when the batch does not divide evenly. A rank left without rows (a last batch
        smaller than ``world_size``) computes on one row with weight 0, so that every rank joins the
        all-reduce.
        """
        total = len(rows)
        mine = rows[self.rank::self.world_size]
        if len(mine) == 0:
            return rows[:1], 0.0
        return mine, self.world_size * len(mine) / total

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of ``value`` over all ranks (a copy; ``value`` is left as it was)."""
        import torch.distributed as dist

        total = value.detach().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    def mean(self, value: float) -> float:
        """The mean of a number over all ranks, so that every rank takes the same decision."""
        tensor = torch.tensor(float(value), dtype=torch.float64, device=self.device)
        return float(self.sum(tensor)) / self.world_size

    def broadcast_parameters(self, network: nn.Module) -> None:
        """Give every rank rank 0's weights and buffers (the ranks' initialisations may differ)."""
        import torch.distributed as dist

        with torch.no_grad():
            for tensor in [*network.parameters(), *network.buffers()]:
                dist.broadcast(tensor, src=0)

    def average_gradients(self, network: nn.Module) -> None:
        """Replace each gradient by its mean over the ranks, in one all-reduce of all of them.

        A parameter without a gradient (unused by this step, as by the phases of an alternating latent
        cycle) keeps none: every rank runs the same step on its rows, so it is unused on every rank alike,
        and the optimizer skips it as it would in one process.
        """
        import torch.distributed as dist

        gradients = [p.grad for p in network.parameters() if p.grad is not None]
        if not gradients:
            return
        flat = torch.cat([g.reshape(-1) for g in gradients])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat.div_(self.world_size)
        offset = 0
        for gradient in gradients:
            gradient.copy_(flat[offset:offset + gradient.numel()].view_as(gradient))
            offset += gradient.numel()


def torchrun_environment() -> dict[str, str] | None:
    """The variables torchrun sets, or None when this process was not started by torchrun."""
    values = {name: os.environ.get(name) for name in _TORCHRUN_VARIABLES}
    if any(v is None for v in values.values()):
        return None
    return values


def started_by_torchrun() -> bool:
    """True when this process is one of several that torchrun started (WORLD_SIZE > 1)."""
    environment = torchrun_environment()
    return environment is not None and int(environment["WORLD_SIZE"]) > 1


def _device_for(device: str, local_rank: int) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was asked for but CUDA is not available here; use --device auto")
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"local rank {local_rank} has no GPU: this machine has {torch.cuda.device_count()}; start at most "
                "that many processes per node (torchrun --nproc-per-node)"
            )
        return torch.device("cuda", local_rank)
    if resolved.type != "cpu":
        raise ValueError(f"distributed training runs on 'cpu' or 'cuda', got device {device!r}")
    return resolved


@contextmanager
def distributed_session(device: str = "auto") -> Iterator[DistributedContext]:
    """Join the process group torchrun prepared, yield this rank's context, and leave it at the end.

    Parameters
    ----------
    device : str, default="auto"
        ``auto`` trains on the GPU ``cuda:LOCAL_RANK`` when CUDA is available (NCCL), else on the CPU
        (gloo); ``cpu`` forces the CPU.

    Notes
    -----
    A process group the script created before is used as it is and left to the script. Such a script should
    call ``torch.compiler.list_backends()`` (or build any ``torch.optim`` optimizer) before
    ``init_process_group``, as this function does: otherwise ``destroy_process_group`` leaves gloo's worker
    threads running, and one of them can abort the process at exit.

    Examples
    --------
    Under ``torchrun --nproc-per-node 2 script.py``::

        with distributed_session() as context:
            Autoencoder(...).fit(X, distributed=context)
    """
    import torch.distributed as dist

    environment = torchrun_environment()
    if environment is None:
        missing = [name for name in _TORCHRUN_VARIABLES if name not in os.environ]
        raise ValueError(
            f"distributed training needs the environment torchrun sets, and {', '.join(missing)} "
            "is not set; start it as 'torchrun --nproc-per-node N -m aelab train ... --distributed'"
        )
    rank, world_size = int(environment["RANK"]), int(environment["WORLD_SIZE"])
    local_rank = int(environment["LOCAL_RANK"])
    resolved = _device_for(device, local_rank)
    backend = "nccl" if resolved.type == "cuda" else "gloo"
    if resolved.type == "cuda":
        torch.cuda.set_device(resolved)
    owns_group = not dist.is_initialized()
    if owns_group:
        # import torch's compiler before the group exists (Notes): imported after, it keeps the group alive,
        # and at exit a gloo worker can abort the process ("terminate called without an active exception")
        torch.compiler.list_backends()
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size,
                                device_id=resolved if resolved.type == "cuda" else None)
    try:
        yield DistributedContext(rank, world_size, local_rank, resolved, backend)
    finally:
        if owns_group:
            dist.destroy_process_group()
