"""PyTorch building blocks: encoders, decoders and the autoencoder network."""

from aelab.nn.autoencoder import OUTPUT_ACTIVATIONS, AutoencoderNetwork
from aelab.nn.dense import DenseDecoder, DenseEncoder, DenseStack
from aelab.nn.layers import ACTIVATIONS, activation

__all__ = ["ACTIVATIONS", "OUTPUT_ACTIVATIONS", "AutoencoderNetwork", "DenseDecoder", "DenseEncoder",
           "DenseStack", "activation"]
