"""Convolutional encoder bodies and decoders over flat rows holding C x H x W images.

Both take and give flat rows (n, C*H*W), so corruption, loss terms and the estimator treat every
architecture alike; the reshaping to images happens inside.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from aelab.nn.layers import _INIT_NONLINEARITY, activation, init_linear


def conv_padding(kernel_size: int, stride: int) -> int:
    """The padding that makes a stride-``s`` convolution divide even sizes by ``s`` (1 for kernel 4, stride 2)."""
    return max((kernel_size - stride + 1) // 2, 0)


def conv_output_sizes(size: int, n_layers: int, kernel_size: int, stride: int) -> list[int]:
    """Spatial size after each convolution, input first: ``[size, s1, s2, ...]``."""
    padding = conv_padding(kernel_size, stride)
    sizes = [size]
    for _ in range(n_layers):
        sizes.append((sizes[-1] + 2 * padding - kernel_size) // stride + 1)
    return sizes


def init_conv(layer: nn.Module, generator: torch.Generator, followed_by: str | None) -> None:
    """He-uniform weights before a rectifier-like activation, Glorot-uniform before none; zero bias."""
    if followed_by is None:
        nn.init.xavier_uniform_(layer.weight, generator=generator)
    else:
        nn.init.kaiming_uniform_(layer.weight, nonlinearity=_INIT_NONLINEARITY.get(followed_by, "relu"),
                                 generator=generator)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


class ConvBody(nn.Module):
    """Flat rows -> (C, H, W) images -> Conv2d layers with ``activation_name`` -> flat features.

    Each convolution has the given kernel size and stride and the padding of ``conv_padding``, so with the
    defaults (kernel 4, stride 2) 28 x 28 becomes 14 x 14 then 7 x 7.
    """

    def __init__(self, sample_shape: Sequence[int], filters: Sequence[int], kernel_size: int, stride: int,
                 activation_name: str, generator: torch.Generator) -> None:
        super().__init__()
        self.sample_shape = tuple(int(d) for d in sample_shape)
        channels, height, width = self.sample_shape
        padding = conv_padding(kernel_size, stride)
        self.heights = conv_output_sizes(height, len(filters), kernel_size, stride)
        self.widths = conv_output_sizes(width, len(filters), kernel_size, stride)
        if min(self.heights + self.widths) < 1:
            raise ValueError(
                f"images of {height} x {width} are too small for {len(filters)} convolution(s) of kernel "
                f"{kernel_size} and stride {stride} (sizes {self.heights} x {self.widths}); use fewer filters "
                "or a smaller kernel_size/stride"
            )
        self.layers = nn.Sequential()
        previous = channels
        for f in filters:
            conv = nn.Conv2d(previous, int(f), kernel_size, stride=stride, padding=padding)
            init_conv(conv, generator, activation_name)
            self.layers.append(conv)
            self.layers.append(activation(activation_name))
            previous = int(f)
        self.feature_shape = (previous, self.heights[-1], self.widths[-1])
        self.out_features = previous * self.heights[-1] * self.widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # shape[0], not len(): a traced or exported network then keeps the batch size free
        return self.layers(x.reshape(x.shape[0], *self.sample_shape)).flatten(1)


class ConvDecoder(nn.Module):
    """Code -> linear layer to the last feature map -> transposed convolutions mirroring ``body`` -> flat rows.

    ``output_padding`` restores each size exactly, so sizes that do not divide evenly (7 -> 3 -> 7) come back
    to the input shape. The last layer is linear; the output activation is applied by the autoencoder.
    """

    def __init__(self, latent_dim: int, body: ConvBody, kernel_size: int, stride: int, activation_name: str,
                 generator: torch.Generator) -> None:
        super().__init__()
        self.feature_shape = body.feature_shape
        self.input = nn.Linear(latent_dim, body.out_features)
        # Glorot, not He: with fan-in = latent_dim (2, say) He's bound sqrt(6 / 2) amplifies the code so much that
        # the output saturates from the first steps and training stalls at a blank image.
        init_linear(self.input, generator, None)
        self.input_activation = activation(activation_name)
        padding = conv_padding(kernel_size, stride)
        channels = [body.sample_shape[0]] + [m.out_channels for m in body.layers if isinstance(m, nn.Conv2d)]
        self.layers = nn.Sequential()
        for i in range(len(channels) - 1, 0, -1):
            source_h, source_w = body.heights[i], body.widths[i]
            target_h, target_w = body.heights[i - 1], body.widths[i - 1]
            base_h = (source_h - 1) * stride - 2 * padding + kernel_size
            base_w = (source_w - 1) * stride - 2 * padding + kernel_size
            layer = nn.ConvTranspose2d(channels[i], channels[i - 1], kernel_size, stride=stride, padding=padding,
                                       output_padding=(target_h - base_h, target_w - base_w))
            is_last = i == 1
            init_conv(layer, generator, None if is_last else activation_name)
            self.layers.append(layer)
            if not is_last:
                self.layers.append(activation(activation_name))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        features = self.input_activation(self.input(z)).reshape(z.shape[0], *self.feature_shape)
        return self.layers(features).flatten(1)


class ConvDenseBody(nn.Sequential):
    """Convolutions then dense layers: a ``ConvBody`` followed by a ``DenseStack`` on its flat features."""

    def __init__(self, convolutions: ConvBody, dense: nn.Module) -> None:
        super().__init__(convolutions, dense)
        self.out_features = dense.out_features

    @property
    def convolutions(self) -> ConvBody:
        return self[0]
