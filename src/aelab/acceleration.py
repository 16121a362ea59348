"""Ways to run the same network faster: bf16 autocast, torch.compile, channels-last convolutions.

None of them changes what is learned beyond rounding: bf16 autocast computes the matrix products and
convolutions in bfloat16 while the weights, the optimizer state and the loss's reductions stay float32;
torch.compile fuses the step's element-wise work into fewer kernels; channels-last lays out a
convolution's images the way GPU kernels read them fastest.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable

import torch
from torch import nn

PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str) -> None:
    """Raise ValueError unless ``precision`` is one of ``PRECISIONS``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {', '.join(map(repr, PRECISIONS))}; use 'fp32' "
                         "(the default) or 'bf16' (bfloat16 autocast)")


def autocast(precision: str, device: torch.device):
    """The context one training step's forward pass runs in: nothing for fp32, bf16 autocast for bf16.

    On CUDA bf16 autocast uses the tensor cores; on the CPU it runs too (PyTorch's CPU autocast) but is only
    faster on processors with bfloat16 instructions (AVX-512 BF16, AMX), and slower elsewhere.
    """
    check_precision(precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


class _CompiledOrEager:
    """Calls the compiled function; if the first call fails (no compiler, an unsupported operation), warns
    and calls the plain function from then on. Once a compiled call succeeded, errors are not hidden."""

    def __init__(self, function: Callable, compiled: Callable) -> None:
        self.function = function
        self.compiled = compiled
        self.proven = False

    def __call__(self, *args):
        if self.compiled is None:
            return self.function(*args)
        if self.proven:
            return self.compiled(*args)
        try:
            result = self.compiled(*args)
        except Exception as e:  # torch.compile raises many exception types; any of them means "not here"
            first_line = (str(e).splitlines() or [""])[0][:200]
            warnings.warn(f"torch.compile failed ({type(e).__name__}: {first_line}); training continues "
                          "without compile=True", RuntimeWarning, stacklevel=2)
            self.compiled = None
            return self.function(*args)
        self.proven = True
        return result


def compiled_or_eager(function: Callable, compile: bool) -> Callable:
    """``torch.compile(function)`` when ``compile`` and this PyTorch can, else ``function`` itself.

    Compiling happens on the first call; when it fails, a RuntimeWarning says why and the plain function
    is used for the rest of the run.
    """
    if not compile:
        return function
    if not hasattr(torch, "compile"):
        warnings.warn("compile=True needs torch.compile (PyTorch >= 2.0); training without it", RuntimeWarning,
                      stacklevel=2)
        return function
    try:
        compiled = torch.compile(function)
    except Exception as e:  # e.g. an unsupported Python version
        warnings.warn(f"torch.compile is not available here ({e}); training without compile=True", RuntimeWarning,
                      stacklevel=2)
        return function
    return _CompiledOrEager(function, compiled)


def prefer_channels_last(network: nn.Module, device: torch.device) -> nn.Module:
    """Store a convolutional network's 4-D weights channels-last on CUDA, where cuDNN runs it faster.

    The convolution layers (aelab.nn.conv) put their input images in the same layout. On the CPU the
    default layout is kept.
    """
    has_conv = any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in network.modules())
    if has_conv and device.type == "cuda":
        network = network.to(memory_format=torch.channels_last)
    return network
