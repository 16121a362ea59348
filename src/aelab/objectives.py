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
    if loss == "mse" and output_activation == "sigmoid":
        return F.mse_loss(torch.sigmoid(logits), target)
    if loss == "bce" and output_activation == "sigmoid":
        return F.binary_cross_entropy_with_logits(logits, target)
    return reconstruction_error(logits, target, loss, output_activation).mean()


def reconstruction_error_sum(logits: torch.Tensor, target: torch.Tensor, loss: str, output_activation: str,
                             ) -> torch.Tensor:
    """Per-sample reconstruction error summed over features: the negative log-likelihood in nats for ``bce``.

    A variational autoencoder weighs this, not the mean over features, against its KL term.
    """
    return reconstruction_error(logits, target, loss, output_activation) * target[0].numel()


def analytic_kl(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag(exp(log_variance))) || N(0, I)) of each sample, in nats: shape (n_samples,).

    ``0.5 * sum_j (mean_j**2 + exp(log_variance_j) - 1 - log_variance_j)``.
    """
    return 0.5 * (mean.square() + log_variance.exp() - 1.0 - log_variance).sum(dim=1)


def batch_kl(codes: torch.Tensor, jitter: float = 1e-6) -> torch.Tensor:
    """KL(N(m, S) || N(0, I)) for the Gaussian fitted to a batch of codes (sample mean m, sample covariance S).

    ``0.5 * (trace(S) + m.m - k - log det S)``, with S the unbiased covariance (divided by n - 1; by 1 for a
    batch of one) plus ``jitter * I`` so that the log-determinant stays finite. A scalar for the batch.
    """
    n, k = codes.shape
    mean = codes.mean(dim=0)
    centred = codes - mean
    covariance = centred.T @ centred / max(n - 1, 1)
    covariance = covariance + jitter * torch.eye(k, dtype=codes.dtype, device=codes.device)
    log_det = torch.linalg.slogdet(covariance)[1]
    return 0.5 * (torch.diagonal(covariance).sum() + mean.square().sum() - k - log_det)


def l1_penalty(codes: torch.Tensor) -> torch.Tensor:
    """Sum of absolute code values of each sample: shape (n_samples,)."""
    return codes.abs().sum(dim=1)


def sparsity_kl(activations: torch.Tensor, target: float, eps: float = 1e-7) -> torch.Tensor:
    """Sparsity penalty on hidden activations in [0, 1]: ``sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j))``.

    ``rho_hat_j`` is unit j's mean activation over the batch, clamped to [eps, 1 - eps]; ``rho`` is
    ``target``. A scalar for the batch.
    """
    rho_hat = activations.flatten(1).mean(dim=0).clamp(eps, 1 - eps)
    rho = target
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def latent_cycle_loss(codes: torch.Tensor, codes_again: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between codes and their decode-then-encode images, over samples and code units.

    A mean over code units, like the reconstruction's mean over features, so that the two terms are on one
    scale whatever ``n_components``.
    """
    return (codes_again - codes).square().mean()


def jacobian_frobenius_sigmoid(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Closed form of ||dh/dx||_F^2 for h = sigmoid(W x + b), each sample: ``sum_j (h_j (1 - h_j))^2 ||W_j||^2``.

    Costs one matrix product, O(n d k) for n samples, d inputs and k units.
    """
    h = torch.sigmoid(x @ weight.T + bias)
    return (h * (1 - h)).square() @ weight.square().sum(dim=1)


def jacobian_frobenius(encode, x: torch.Tensor) -> torch.Tensor:
    """||d encode(x) / dx||_F^2 of each sample by batched autograd: shape (n_samples,).

    Rows must not interact in ``encode`` (no batch statistics), so that the gradient of the batch sum of code
    unit j with respect to x holds each sample's own row of the Jacobian. The k rows (k = code size) are
    computed in one vectorised backward pass (``is_grads_batched``), so the cost is about k backward passes
    through the encoder, O(k) times the cost of the reconstruction loss' encoder part; the graph is kept
    (``create_graph``) so the penalty can itself be differentiated for training.
    """
    with torch.inference_mode(False), torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        codes = encode(x)
        k = codes.shape[1]
        basis = torch.eye(k, dtype=codes.dtype, device=codes.device)[:, None, :].expand(k, *codes.shape)
        try:
            (rows,) = torch.autograd.grad(codes, x, grad_outputs=basis, is_grads_batched=True, create_graph=True)
        except RuntimeError:  # an operation without a batching rule: one backward pass per code unit
            rows = torch.stack([torch.autograd.grad(codes, x, grad_outputs=basis[j], create_graph=True)[0]
                                for j in range(k)])
        return rows.square().flatten(2).sum(dim=2).sum(dim=0)


def clustering_kl(target: torch.Tensor, q: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """KL(P || Q) between a target assignment ``P`` and the soft assignment ``Q`` (DEC's clustering loss):
    ``sum_j p_ij log(p_ij / q_ij)`` for each sample, averaged over the samples. Gradients flow through ``q``
    only; ``target`` is held fixed."""
    target = target.detach()
    return (target * (torch.log(target + eps) - torch.log(q + eps))).sum(dim=1).mean()
