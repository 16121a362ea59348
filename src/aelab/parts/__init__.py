"""The parts an autoencoder is composed of, one module per family, and the registry of kinds.

>>> from aelab import Autoencoder
>>> from aelab.parts import Conv, Gaussian, GaussianNoise
>>> ae = Autoencoder(encoder=Conv(filters=(32, 64)), latent=Gaussian(beta=1.0), corruption=GaussianNoise(0.5))
"""

# base first, as it imports NumPy before torch: a Ctrl-C that lands while torch itself imports NumPy is lost
# inside torch's import, and this is the first module the command line imports
from aelab.parts.base import Part  # isort: skip
from aelab.parts.augmentations import Affine
from aelab.parts.corruptions import GaussianNoise, Masking, SaltPepper
from aelab.parts.encoders import Conv, Dense
from aelab.parts.free_layout import FreeLayout
from aelab.parts.kinds import KINDS, PARTS, kind
from aelab.parts.latents import Deterministic, Gaussian
from aelab.parts.neighbour_graph import NeighbourGraph
from aelab.parts.penalties import Contractive, L1Code, LatentCycle, Sparsity

__all__ = ["KINDS", "PARTS", "Affine", "Contractive", "Conv", "Dense", "Deterministic", "FreeLayout", "Gaussian",
           "GaussianNoise", "L1Code", "LatentCycle", "Masking", "NeighbourGraph", "Part", "SaltPepper", "Sparsity",
           "kind"]
