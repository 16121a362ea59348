"""The clustering layer of deep embedded clustering (DEC, IDEC): cluster centres in the code space and the
Student-t soft assignment of codes to them, and the sharpened target distribution it is trained towards."""

from __future__ import annotations

import torch
from torch import nn


def soft_assignment(z: torch.Tensor, centres: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Student-t similarity of each code to each centre, normalised over the centres.

    ``q_ij = (1 + ||z_i - mu_j||^2 / alpha) ** (-(alpha + 1) / 2) / sum_j' (...)``: shape (n_samples, n_clusters).

    Examples
    --------
    >>> soft_assignment(torch.tensor([[0.0]]), torch.tensor([[0.0], [1.0]]))  # 1 and 1/2, normalised
    tensor([[0.6667, 0.3333]])
    """
    squared_distance = (z.unsqueeze(1) - centres.unsqueeze(0)).square().sum(dim=2)
    kernel = (1.0 + squared_distance / alpha).pow(-(alpha + 1.0) / 2.0)
    return kernel / kernel.sum(dim=1, keepdim=True)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """DEC's auxiliary target: ``p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j')`` with ``f_j = sum_i q_ij``.

    Squaring sharpens confident assignments; dividing by the cluster frequency ``f_j`` keeps large clusters
    from taking over. Computed without gradient: it is a fixed target between updates.
    """
    q = q.detach()
    weight = q.square() / q.sum(dim=0, keepdim=True)
    return weight / weight.sum(dim=1, keepdim=True)


class ClusteringLayer(nn.Module):
    """Cluster centres as trainable parameters; ``forward(z)`` gives the soft assignment ``q`` of the codes.

    Parameters
    ----------
    centres : Tensor of shape (n_clusters, latent_dim)
        The initial centres (e.g. k-means of the codes); copied into an ``nn.Parameter``.
    alpha : float, default=1.0
        Degrees of freedom of the Student-t kernel.
    """

    def __init__(self, centres: torch.Tensor, alpha: float = 1.0) -> None:
        super().__init__()
        self.centres = nn.Parameter(centres.detach().clone().float())
        self.alpha = float(alpha)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return soft_assignment(z, self.centres, self.alpha)
