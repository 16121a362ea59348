"""aelab, the autoencoder lab: scikit-learn compatible autoencoders over PyTorch."""

from aelab.anomaly import AutoencoderDetector, BaselineDetector
from aelab.data import load_dataset
from aelab.estimators import Autoencoder, load

__version__ = "0.1.0"

__all__ = ["Autoencoder", "AutoencoderDetector", "BaselineDetector", "__version__", "load", "load_dataset"]
