"""Loss terms. Each takes tensors and returns a tensor; the estimator sums the terms it is composed of."""

from __future__ import annotations

import torch
import torch.nn.functional as F

RECONSTRUCTION_LOSSES = ("mse", "bce")


def reconstruction_error(logits: torch.Tensor, target: torch.Tensor, loss: str, output_activation: str,
                         ) -> torch.Tensor:
    """Per-sample reconstruction error, the mean over features: shape (n_samples,).

    ``logits`` are the decoder's pre-activation outputs; ``output_activation`` turns them into data.
    ``bce`` needs a sigmoid output and targets in [0, 1], and is computed from the logits for stability.
    """
    if loss == "bce":
        if output_activation != "sigmoid":
            raise ValueError("the 'bce' loss needs a sigmoid output; use loss='mse' for other outputs")
        per_element = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    elif loss == "mse":
        if output_activation == "sigmoid":
            output = torch.sigmoid(logits)
        elif output_activation == "relu":
            output = torch.relu(logits)
        else:
            output = logits
        per_element = (output - target).square()
    else:
        raise ValueError(f"unknown reconstruction loss {loss!r}; choose one of {', '.join(RECONSTRUCTION_LOSSES)}")
    return per_element.flatten(1).mean(dim=1)


def reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, loss: str, output_activation: str,
                        ) -> torch.Tensor:
    """Mean reconstruction error over samples and features (the plain autoencoder's training loss)."""
    if loss == "mse" and output_activation == "linear":
        return F.mse_loss(logits, target)
    if loss == "bce" and output_activation == "sigmoid":
        return F.binary_cross_entropy_with_logits(logits, target)
    return reconstruction_error(logits, target, loss, output_activation).mean()
