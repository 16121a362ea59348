"""Activations by name and reproducible weight initialisation."""

from __future__ import annotations

import math

import torch
from torch import nn

#: The activations by name (``aelab.names.ACTIVATIONS``).
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky-relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}
# The gain names torch.nn.init knows for each activation (others use the ReLU gain).
_INIT_NONLINEARITY = {"relu": "relu", "leaky-relu": "leaky_relu", "selu": "selu", "tanh": "tanh",
                      "sigmoid": "sigmoid"}


def activation(name: str) -> nn.Module:
    """A fresh activation module from its name, e.g. ``activation("relu")``."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def init_linear(layer: nn.Linear, generator: torch.Generator, followed_by: str | None) -> None:
    """He-uniform weights before a rectifier-like activation, Glorot-uniform before none; zero bias."""
    if followed_by is None:
        bound = math.sqrt(6.0 / (layer.in_features + layer.out_features))
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=generator)
    else:
        nn.init.kaiming_uniform_(layer.weight, nonlinearity=_INIT_NONLINEARITY.get(followed_by, "relu"),
                                 generator=generator)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
