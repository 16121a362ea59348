"""What a training run is set up with: its settings, its device, its random streams and its optimizer."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch

OPTIMIZERS = ("adam", "adamw", "sgd")


def epochs_for_steps(n_samples: int, batch_size: int, steps: int, min_epochs: int, max_epochs: int) -> int:
    """The epochs that give about ``steps`` optimisation steps on ``n_samples`` rows in batches of
    ``batch_size``, between ``min_epochs`` and ``max_epochs``.

    A training length in steps suits small and large data alike: 1,000 rows need many passes to take as
    many steps as one pass over 60,000 rows takes.

    Examples
    --------
    >>> epochs_for_steps(1_000, 250, steps=400, min_epochs=10, max_epochs=500)
    100
    >>> epochs_for_steps(60_000, 250, steps=400, min_epochs=10, max_epochs=500)
    10
    """
    steps_per_epoch = max(1, -(-int(n_samples) // max(1, min(int(batch_size), int(n_samples)))))
    return int(min(max(-(-int(steps) // steps_per_epoch), min_epochs), max_epochs))


@dataclass
class TrainingSettings:
    """The knobs of one training run."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float = 0.0
    optimizer: str = "adam"
    patience: int | None = 10
    tol: float = 0.0
    verbose: int = 0
    precision: str = "fp32"
    compile: bool = False
    on_divergence: str = "stop"


@dataclass
class TrainingResult:
    """What a training run learned besides the weights."""

    history: dict[str, list[float]] = field(default_factory=lambda: {"train_loss": [], "validation_loss": []})
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int = 0
    n_epochs: int = 0
    stopped_early: bool = False


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when present, else CPU; any other value is passed to torch.device."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here; use device='auto'")
    return resolved


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


@functools.cache
def fused_adam_available(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether this PyTorch has a fused Adam kernel for parameters of ``device`` and ``dtype``.

    Found by one Adam step on a throwaway tensor: PyTorch names the devices with a fused kernel only in a
    private function, and recent versions raise for an unsupported one at the first step, not at
    construction.
    """
    try:
        probe = torch.zeros(1, device=device, dtype=dtype, requires_grad=True)
        probe.grad = torch.zeros_like(probe)
        torch.optim.Adam([probe], fused=True).step()
    except (RuntimeError, TypeError):
        return False
    return True


def make_optimizer(parameters, settings: TrainingSettings, device: torch.device) -> torch.optim.Optimizer:
    """Adam (default), AdamW or SGD with momentum, built by ``torch.optim``.

    Adam and AdamW run PyTorch's fused kernel (``fused=True``) where this PyTorch has one for every
    parameter's device and dtype, and the multi-tensor kernel (``foreach=True``) elsewhere; the two keep
    the same state, so a checkpoint written by one loads into the other.

    Examples
    --------
    >>> network = torch.nn.Linear(4, 2)
    >>> settings = TrainingSettings(epochs=1, batch_size=8, learning_rate=1e-3, optimizer="adamw")
    >>> optimizer = make_optimizer(network.parameters(), settings, torch.device("cpu"))
    >>> type(optimizer).__name__
    'AdamW'
    """
    parameters = list(parameters)
    name = settings.optimizer
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        kinds = {(p.device, p.dtype) for p in parameters}
        fused = all(fused_adam_available(*kind) for kind in kinds)
        return cls(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay,
                   fused=True if fused else None, foreach=None if fused else True)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=settings.learning_rate, momentum=0.9,
                               weight_decay=settings.weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
