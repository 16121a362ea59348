"""PyTorch building blocks: encoders, decoders, latent heads and the autoencoder network."""

from aelab.nn.autoencoder import OUTPUT_ACTIVATIONS, AutoencoderNetwork
from aelab.nn.conv import ConvBody, ConvDecoder
from aelab.nn.dense import DenseDecoder, DenseEncoder, DenseStack
from aelab.nn.latent import DeterministicHead, Encoder, GaussianHead, reparameterise
from aelab.nn.layers import ACTIVATIONS, activation

__all__ = ["ACTIVATIONS", "OUTPUT_ACTIVATIONS", "AutoencoderNetwork", "ConvBody", "ConvDecoder", "DenseDecoder",
           "DenseEncoder", "DenseStack", "DeterministicHead", "Encoder", "GaussianHead", "activation",
           "reparameterise"]
