"""The training step: a batch in, gradients computed, the optimizer stepped, the loss out."""

from __future__ import annotations

import torch
from torch import nn

from aelab.acceleration import autocast, compiled_or_eager
from aelab.training.faults import TrainingOutOfMemory, is_out_of_memory, out_of_memory_message
from aelab.training.settings import TrainingSettings


class TrainingStep:
    """``step(batch, weight) -> loss``: one optimizer step on ``batch``, its loss a tensor on the device.

    Autograd computes the gradients of ``weight * loss_fn(network, batch)``, under bf16 autocast for
    ``settings.precision == "bf16"`` and through ``torch.compile`` for ``settings.compile``. With
    ``distributed`` the gradients are averaged over the ranks before the optimizer's step. A device out of
    memory raises TrainingOutOfMemory naming a smaller batch.
    """

    def __init__(self, network: nn.Module, loss_fn, optimizer: torch.optim.Optimizer, settings: TrainingSettings,
                 distributed=None) -> None:
        self.network, self.loss_fn, self.optimizer = network, loss_fn, optimizer
        self.settings, self.distributed = settings, distributed
        self.device = next(network.parameters()).device
        self.forward = compiled_or_eager(self._loss, settings.compile)

    def _loss(self, batch: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(self.network, batch)

    def __call__(self, batch: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
        try:
            loss = self.gradients(batch, weight)
            if self.distributed is not None:
                self.distributed.average_gradients(self.network)
            self.optimizer.step()
        except RuntimeError as e:
            if is_out_of_memory(e):
                raise TrainingOutOfMemory(out_of_memory_message(self.settings.batch_size, self.device)) from None
            raise
        return loss

    def gradients(self, batch: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
        """Write the gradients of ``weight`` times the batch's loss into the parameters' ``.grad``; return
        the loss."""
        with autocast(self.settings.precision, self.device):
            loss = self.forward(batch)
        self.optimizer.zero_grad(set_to_none=True)
        (loss * weight if weight != 1.0 else loss).backward()
        return loss
