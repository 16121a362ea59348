"""What the training loop iterates over and evaluates: an epoch's shuffled batches, a mean loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

LossFunction = Callable[[nn.Module, torch.Tensor], torch.Tensor]


@torch.inference_mode()
def mean_loss(network: nn.Module, loss_fn: LossFunction, X, batch_size: int = 8192) -> float:
    """The sample-weighted mean of ``loss_fn`` over ``X`` (a tensor or a stream), evaluated in large batches."""
    network.eval()
    total = torch.zeros((), dtype=torch.float64)
    chunks = X.split(batch_size) if isinstance(X, torch.Tensor) else X.chunks(batch_size)
    for batch in chunks:
        total = total.to(batch.device) + loss_fn(network, batch).double() * len(batch)
    return float(total / len(X))


def epoch_batches(X_train, batch_size: int, generator: torch.Generator, shard=None):
    """One epoch of ``(batch, rows in the global batch, loss weight)``.

    A tensor is visited in one random permutation drawn on its device; any other source (a stream from
    aelab.data.streaming) gives its own shuffled batches. ``shard`` (see aelab.training.distributed) keeps
    this process's rows of each global batch.
    """
    if isinstance(X_train, torch.Tensor):
        order = torch.randperm(len(X_train), generator=generator, device=X_train.device)
        for start in range(0, len(X_train), batch_size):
            index = order[start:start + batch_size]
            mine, weight = shard(index) if shard is not None else (index, 1.0)
            yield X_train.index_select(0, mine), len(index), weight
    else:
        for batch in X_train.batches(batch_size, generator):
            mine, weight = shard(batch) if shard is not None else (batch, 1.0)
            yield mine, len(batch), weight
