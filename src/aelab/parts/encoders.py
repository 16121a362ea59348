"""Encoder bodies: the layers between the input and the code, and the decoder that mirrors them.

Each encoder part builds the network's encoder (its body, then the latent part's head) and its decoder,
in that order from one generator, so that a seed gives the same weights every time.
"""

from __future__ import annotations

import torch
from torch import nn

from aelab.nn.conv import ConvBody, ConvDecoder, ConvDenseBody
from aelab.nn.dense import DenseDecoder, DenseStack
from aelab.nn.latent import Encoder
from aelab.nn.layers import ACTIVATIONS
from aelab.parts.base import Part, check_choice, check_layer_sizes, check_positive_int, check_sample_shape


class Dense(Part):
    """A dense (stacked) encoder: the input through the ``hidden`` layers to the code; the decoder mirrors it.

    Parameters
    ----------
    hidden : tuple of int, default=(256, 128)
        Widths of the encoder's hidden layers, input side first. ``()`` gives a single linear layer.
    activation : str, default="relu"
        Hidden-layer activation: relu, leaky-relu, elu, selu, gelu, silu, tanh or sigmoid.
    decoder_hidden : tuple of int or None, default=None
        Widths of the decoder's hidden layers, code side first; None mirrors ``hidden``.
    code_activation : str or None, default=None
        Activation on the code; None keeps the bottleneck linear.

    Examples
    --------
    >>> Dense(hidden=(64,), activation="sigmoid")
    Dense(activation='sigmoid', hidden=(64,))
    """

    def __init__(self, hidden=(256, 128), activation="relu", decoder_hidden=None, code_activation=None):
        self.hidden = hidden
        self.activation = activation
        self.decoder_hidden = decoder_hidden
        self.code_activation = code_activation

    @property
    def has_hidden_layers(self) -> bool:
        """Whether layers lie between the input and the code (a sparsity penalty then acts on the last one)."""
        return bool(check_layer_sizes("Dense hidden", self.hidden))

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        check_layer_sizes("Dense hidden", self.hidden)
        check_layer_sizes("Dense decoder_hidden", self.decoder_hidden)
        check_choice("Dense activation", self.activation, tuple(ACTIVATIONS))
        if self.code_activation is not None:
            check_choice("Dense code_activation", self.code_activation, tuple(ACTIVATIONS))

    def build(self, n_features: int, n_components: int, latent: Part, generator: torch.Generator,
              sample_shape: tuple[int, int, int] | None = None) -> tuple[Encoder, nn.Module]:
        """The encoder (body, then ``latent``'s head) and the decoder, their weights drawn from ``generator``."""
        hidden = check_layer_sizes("Dense hidden", self.hidden)
        body = DenseStack([n_features, *hidden], self.activation, generator)
        head = latent.head(body.out_features, n_components, generator, code_activation=self.code_activation)
        decoder_hidden = (tuple(reversed(hidden)) if self.decoder_hidden is None
                          else check_layer_sizes("Dense decoder_hidden", self.decoder_hidden))
        decoder = DenseDecoder(n_components, decoder_hidden, n_features, self.activation, generator)
        return Encoder(body, head), decoder


class Conv(Part):
    """A convolutional encoder: Conv2d layers of ``filters`` into a linear code; the decoder mirrors them with
    transposed convolutions back to the exact input shape.

    Parameters
    ----------
    filters : tuple of int, default=(32, 64)
        Channels of the convolutions, input side first.
    kernel_size : int, default=4
        Convolution kernel size.
    stride : int, default=2
        Convolution stride.
    hidden : tuple of int, default=()
        Widths of dense ``activation`` layers between the last convolution and the code, mirrored in the
        decoder before the transposed convolutions, e.g. (256,).
    activation : str, default="relu"
        Activation after each convolution and dense layer.
    sample_shape : tuple of int or None, default=None
        Shape of one sample: (H, W) or (C, H, W). None takes it from image arrays (n, H, W) or (n, C, H, W)
        given to fit, or, for flat rows, a square grayscale image.

    Examples
    --------
    >>> Conv(filters=(16, 32), hidden=(128,))
    Conv(filters=(16, 32), hidden=(128,))
    """

    needs_image_shape = True

    def __init__(self, filters=(32, 64), kernel_size=4, stride=2, hidden=(), activation="relu", sample_shape=None):
        self.filters = filters
        self.kernel_size = kernel_size
        self.stride = stride
        self.hidden = hidden
        self.activation = activation
        self.sample_shape = sample_shape

    has_hidden_layers = True

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        if not check_layer_sizes("Conv filters", self.filters):
            raise ValueError("Conv filters must name at least one convolution, e.g. (32, 64), got ()")
        check_layer_sizes("Conv hidden", self.hidden)
        check_positive_int("Conv kernel_size", self.kernel_size)
        check_positive_int("Conv stride", self.stride)
        check_choice("Conv activation", self.activation, tuple(ACTIVATIONS))
        check_sample_shape("Conv sample_shape", self.sample_shape)

    def build(self, n_features: int, n_components: int, latent: Part, generator: torch.Generator,
              sample_shape: tuple[int, int, int] | None = None) -> tuple[Encoder, nn.Module]:
        """The encoder (convolutions, dense layers, then ``latent``'s head) and the mirrored decoder for images
        of ``sample_shape`` (C, H, W)."""
        filters = check_layer_sizes("Conv filters", self.filters)
        hidden = check_layer_sizes("Conv hidden", self.hidden)
        convolutions = ConvBody(sample_shape, filters, self.kernel_size, self.stride, self.activation, generator)
        body = convolutions
        if hidden:
            body = ConvDenseBody(convolutions, DenseStack([convolutions.out_features, *hidden], self.activation,
                                                          generator))
        head = latent.head(body.out_features, n_components, generator, code_activation=None)
        decoder = ConvDecoder(hidden[0] if hidden else n_components, convolutions, self.kernel_size, self.stride,
                              self.activation, generator)
        if hidden:
            decoder = nn.Sequential(DenseStack([n_components, *reversed(hidden)], self.activation, generator),
                                    decoder)
        return Encoder(body, head), decoder
