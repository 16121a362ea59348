"""Refining codes against the decoder: each code moved until its decoding is as near its row as the decoder allows.

An encoder is one network for all rows, so the code it gives a row it was not trained on is seldom the code whose
decoding is nearest that row (the amortisation gap of Cremer, Li & Duvenaud 2018, "Inference suboptimality in
variational autoencoders"). ``refine_codes`` closes that gap row by row with Levenberg-Marquardt steps on the
squared error between the decoding and the row, starting from the encoder's code: a few steps of a small
least-squares problem in the code's few dimensions, needing only the decoder.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

#: Rows refined together are limited so that their Jacobians (rows x features x code size) stay near 128 MB.
_JACOBIAN_ELEMENTS = 2**25
#: Marquardt's damping at the first step, relative to the diagonal of J^T J; each row's own then falls by 3 after
#: a step that lowers its error and rises by 4 after one that does not (which is not taken).
_FIRST_DAMPING = 1e-3


def refine_codes(decode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, codes: torch.Tensor,
                 steps: int) -> torch.Tensor:
    """``codes`` after ``steps`` Levenberg-Marquardt steps on each row's squared error ``|decode(code) - x|^2``.

    Each row is refined alone (its result does not depend on the other rows); a step that would raise a row's
    error is not taken, so no row ends further from its data than the encoder's code left it. The Jacobian of
    ``decode`` comes from ``codes.shape[1]`` forward-mode products, so ``decode`` must support forward-mode
    automatic differentiation (linear, convolution and the usual activation layers do).

    Parameters
    ----------
    decode : callable
        Codes of shape (n, n_components) to rows of ``x``'s shape.
    x : Tensor of shape (n, ...)
        The rows to decode to.
    codes : Tensor of shape (n, n_components)
        The starting codes (the encoder's).
    steps : int
        Levenberg-Marquardt steps; 0 returns ``codes``.
    """
    if steps == 0 or len(codes) == 0:
        return codes
    n_features = x[:1].numel()
    chunk = max(1, _JACOBIAN_ELEMENTS // (n_features * codes.shape[1]))
    return torch.cat([_refine_chunk(decode, x[i:i + chunk].flatten(1), codes[i:i + chunk], steps)
                      for i in range(0, len(codes), chunk)])


def _refine_chunk(decode, x: torch.Tensor, codes: torch.Tensor, steps: int) -> torch.Tensor:
    n_components = codes.shape[1]
    directions = torch.eye(n_components, dtype=codes.dtype, device=codes.device)

    def residual(z: torch.Tensor) -> torch.Tensor:
        return decode(z).flatten(1) - x

    r = residual(codes)
    cost = r.square().sum(1)
    damping = torch.full_like(cost, _FIRST_DAMPING)
    tiny = torch.finfo(codes.dtype).tiny
    for _ in range(steps):
        jacobian = torch.stack([torch.func.jvp(residual, (codes,), (directions[k].expand_as(codes),))[1]
                                for k in range(n_components)], 2)
        normal = jacobian.transpose(1, 2) @ jacobian
        gradient = (jacobian.transpose(1, 2) @ r.unsqueeze(2)).squeeze(2)
        diagonal = torch.diagonal(normal, dim1=1, dim2=2)
        # Marquardt's scaling by the diagonal keeps the step free of the code's units; the small floor keeps a
        # direction the decoder ignores (a zero column) from making the system singular
        floor = 1e-6 * diagonal.mean(1, keepdim=True) + tiny
        step = torch.linalg.solve(normal + torch.diag_embed(damping[:, None] * diagonal + floor), -gradient)
        candidate = codes + step
        r_candidate = residual(candidate)
        cost_candidate = r_candidate.square().sum(1)
        better = cost_candidate < cost
        codes = torch.where(better[:, None], candidate, codes)
        r = torch.where(better[:, None], r_candidate, r)
        cost = torch.where(better, cost_candidate, cost)
        damping = torch.where(better, damping / 3, damping * 4)
    return codes


#: Rows compared with the decoded grid together: their distances to it (rows x grid points) stay near 128 MB.
_DISTANCE_ELEMENTS = 2**25


def grid_codes(decode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, low: torch.Tensor,
               high: torch.Tensor, points: int) -> torch.Tensor:
    """For each row of ``x``, the point of a regular grid of codes whose decoding is nearest the row.

    The grid spans the box from ``low`` to ``high`` (one bound per code component) with about ``points`` points
    in all (the same number along each component): a start for ``refine_codes`` that does not depend on an
    encoder, so that a row lands in the part of the code space whose decodings look most like it.

    Parameters
    ----------
    decode : callable
        Codes of shape (n, n_components) to rows of ``x``'s shape.
    x : Tensor of shape (n, ...)
    low, high : Tensor of shape (n_components,)
    points : int
        The grid's size in all: ``round(points ** (1 / n_components))`` points along each component.

    Examples
    --------
    >>> decode = lambda z: z * 2.0
    >>> grid_codes(decode, torch.tensor([[1.0, -1.0]]), torch.tensor([-1.0, -1.0]), torch.tensor([1.0, 1.0]), 25)
    tensor([[ 0.5000, -0.5000]])
    """
    n_components = len(low)
    per_axis = max(2, round(points ** (1 / n_components)))
    axes = [torch.linspace(float(low[k]), float(high[k]), per_axis, dtype=x.dtype, device=x.device)
            for k in range(n_components)]
    grid = torch.stack([axis.reshape(-1) for axis in torch.meshgrid(*axes, indexing="ij")], 1)
    decoded = decode(grid).flatten(1)
    rows = x.flatten(1)
    chunk = max(1, _DISTANCE_ELEMENTS // len(grid))
    nearest = torch.cat([torch.cdist(rows[i:i + chunk], decoded).argmin(1) for i in range(0, len(rows), chunk)])
    return grid[nearest]
