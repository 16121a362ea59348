"""Latents: the encoder's last layer (the head) and the reconstruction term it brings to the loss."""

from __future__ import annotations

import torch
from torch import nn

from aelab.nn.latent import DeterministicHead, GaussianHead, reparameterise
from aelab.nn.refine import grid_codes, refine_codes
from aelab.objectives import analytic_kl, batch_kl, reconstruction_error_sum, reconstruction_loss
from aelab.parts.base import Part, check_choice, check_number, check_positive_int

KL_ESTIMATES = ("analytic", "batch")
#: Where the refinement of a deterministic code starts (``Deterministic(refine_start=...)``).
REFINE_STARTS = ("encoder", "grid")
#: The points of the grid a ``refine_start="grid"`` refinement starts from: 300 x 300 for a 2-D code.
GRID_POINTS = 90_000
#: A grid start covers codes of at most this many components (beyond it, its points are too sparse to help).
GRID_MAX_COMPONENTS = 3


class Deterministic(Part):
    """A linear code (optionally followed by the encoder's ``code_activation``): a plain autoencoder.

    Its term is the reconstruction error, the mean over samples and features.

    Parameters
    ----------
    refine_steps : int, default=0
        After fitting, the code of a row (``transform``, and what ``reconstruct`` and ``score_samples`` decode)
        is the encoder's code moved by this many Levenberg-Marquardt steps on the squared error between its
        decoding and the row (``aelab.nn.refine``): the code whose decoding is nearest the row, near the
        encoder's. 0 gives the encoder's code. Training is unchanged; the encoder's code stays the start, and
        an exported encoder (ONNX, TorchScript) gives it without the steps. On new rows the steps lower the
        reconstruction error and, where the encoder carries a code poorly to rows it was not trained on (a
        2-D code kept to the neighbour graph, the umap kind), keep more of their neighbourhoods.
    refine_start : {"encoder", "grid"}, default="encoder"
        Where the refinement starts. "encoder": the encoder's code. "grid": the point of a regular grid of
        ``GRID_POINTS`` codes (300 x 300 for a 2-D code) whose decoding is nearest the row
        (``aelab.nn.refine.grid_codes``), over the box the encoder's codes of the training rows filled at the
        end of the fit (kept with the weights, as the head's ``code_range`` buffer): a row then starts where the
        decoder draws rows like it, whatever its encoder's code. For codes of at most ``GRID_MAX_COMPONENTS``
        components; the layouts a decoder learns from free codes (``aelab.parts.FreeLayout``) are placed so.

    Examples
    --------
    >>> Deterministic()
    Deterministic()
    >>> Deterministic(refine_steps=10, refine_start="grid")
    Deterministic(refine_start='grid', refine_steps=10)
    """

    #: The decoder learns from codes drawn from N(0, I), so ``sample`` makes sense.
    generative = False
    #: ``elbo`` gives the evidence lower bound.
    has_elbo = False

    def __init__(self, refine_steps=0, refine_start="encoder"):
        self.refine_steps = refine_steps
        self.refine_start = refine_start

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        check_positive_int("Deterministic refine_steps", self.refine_steps, minimum=0)
        check_choice("Deterministic refine_start", self.refine_start, REFINE_STARTS)

    def code(self, network: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The code of each row of ``x``: the encoder's (or the nearest grid point's, ``refine_start="grid"``),
        refined by ``refine_steps`` steps against the decoder."""
        if self.refine_start == "grid":
            code_range = getattr(network.encoder.head, "code_range", None)
            if code_range is None:
                raise ValueError("Deterministic refine_start='grid' needs the range of the training rows' codes, "
                                 "which only a fit with refine_start='grid' keeps; fit the model with it, or use "
                                 "refine_start='encoder'")
            low, high = code_range
            start = grid_codes(network.decode, x, low, high, GRID_POINTS)
        else:
            start = network.encode(x)
        return refine_codes(network.decode, x, start, int(self.refine_steps))

    def head(self, in_features: int, n_components: int, generator: torch.Generator,
             code_activation: str | None = None) -> nn.Module:
        """The code layer: a linear map of ``in_features`` to ``n_components``, then ``code_activation``; with
        ``refine_start="grid"`` it also keeps the range of the training rows' codes (``finish_fit``)."""
        track_range = self.refine_start == "grid"
        if track_range and n_components > GRID_MAX_COMPONENTS:
            raise ValueError(f"Deterministic refine_start='grid' covers codes of at most {GRID_MAX_COMPONENTS} "
                             f"components, but n_components is {n_components}; use refine_start='encoder' or a "
                             f"smaller code")
        return DeterministicHead(in_features, n_components, "relu", generator, code_activation=code_activation,
                                 track_range=track_range)

    def finish_fit(self, network: nn.Module, chunks) -> None:
        """After training: with ``refine_start="grid"``, the smallest and largest of the encoder's codes of the
        training rows (``chunks``, an iterable of row tensors) kept in the head's ``code_range``."""
        if self.refine_start != "grid":
            return
        low = high = None
        with torch.no_grad():
            for rows in chunks:
                codes = network.encode(rows)
                low = codes.amin(0) if low is None else torch.minimum(low, codes.amin(0))
                high = codes.amax(0) if high is None else torch.maximum(high, codes.amax(0))
        if low is not None:
            network.encoder.head.code_range.copy_(torch.stack([low, high]))

    def term(self, network: nn.Module, head_output, target: torch.Tensor, training: bool,
             generator: torch.Generator | None, loss: str, output_activation: str,
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """The codes of the batch and the reconstruction term (the mean error over samples and features)."""
        codes = head_output
        return codes, reconstruction_loss(network.decoder(codes), target, loss, output_activation)

    def elbo(self, network: nn.Module, x: torch.Tensor, n_samples: int, generator: torch.Generator | None,
             loss: str, output_activation: str) -> torch.Tensor:
        raise ValueError("elbo() needs a variational autoencoder, but the latent is Deterministic(); fit with "
                         "latent=Gaussian() and loss='bce'")


class Gaussian(Part):
    """A diagonal Gaussian posterior q(z | x): a variational autoencoder.

    The encoder gives a mean and a log-variance; training samples codes by reparameterisation and adds
    ``beta`` times a KL term to N(0, I) to the reconstruction error summed over features (the negative
    log-likelihood in nats for ``loss="bce"``). ``transform`` gives the posterior mean.

    Parameters
    ----------
    beta : float, default=1.0
        Weight of the KL term (beta-VAE).
    kl : {"analytic", "batch"}, default="analytic"
        ``analytic``: the closed-form KL of each sample's posterior to N(0, I), averaged over the batch;
        ``batch``: the KL between the Gaussian fitted to the batch's sampled codes (sample mean and
        covariance) and N(0, I).

    Examples
    --------
    >>> Gaussian(beta=0.5, kl="batch")
    Gaussian(beta=0.5, kl='batch')
    """

    generative = True
    has_elbo = True

    def __init__(self, beta=1.0, kl="analytic"):
        self.beta = beta
        self.kl = kl

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        check_number("Gaussian beta", self.beta)
        check_choice("Gaussian kl", self.kl, KL_ESTIMATES)

    def head(self, in_features: int, n_components: int, generator: torch.Generator,
             code_activation: str | None = None) -> nn.Module:
        """Two linear layers, to the mean and to the log-variance (a code activation does not apply)."""
        return GaussianHead(in_features, n_components, generator)

    def code(self, network: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The code of each row of ``x``: the posterior mean."""
        return network.encode(x)

    def finish_fit(self, network: nn.Module, chunks) -> None:
        """Nothing to keep after training."""

    def term(self, network: nn.Module, head_output, target: torch.Tensor, training: bool,
             generator: torch.Generator | None, loss: str, output_activation: str,
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampled codes in training (the mean otherwise) and the summed reconstruction error + beta * KL."""
        mean, log_variance = head_output
        codes = reparameterise(mean, log_variance, generator) if training else mean
        logits = network.decoder(codes)
        total = reconstruction_error_sum(logits, target, loss, output_activation).mean()
        if self.kl == "analytic":
            return codes, total + float(self.beta) * analytic_kl(mean, log_variance).mean()
        return codes, total + float(self.beta) * batch_kl(codes)

    def elbo(self, network: nn.Module, x: torch.Tensor, n_samples: int, generator: torch.Generator | None,
             loss: str, output_activation: str) -> torch.Tensor:
        """Per-sample E_q[log p(x | z)] - KL(q(z | x) || N(0, I)), the expectation over ``n_samples`` codes."""
        mean, log_variance = network.encoder.head(network.encoder.body(x))
        likelihood = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        for _ in range(n_samples):
            codes = reparameterise(mean, log_variance, generator)
            likelihood -= reconstruction_error_sum(network.decoder(codes), x, loss, output_activation)
        return likelihood / n_samples - analytic_kl(mean, log_variance)
