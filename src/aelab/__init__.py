"""aelab, the autoencoder lab: scikit-learn compatible autoencoders over PyTorch."""

import importlib

__version__ = "0.1.0"

# The public names are imported on first use, so that ``python -m aelab`` starts without torch and its
# command line can answer Ctrl-C during the heavy imports in one line.
_PUBLIC = {"Autoencoder": "aelab.estimators", "AutoencoderDetector": "aelab.anomaly",
           "BaselineDetector": "aelab.anomaly", "export_model": "aelab.export", "load": "aelab.pipeline",
           "load_dataset": "aelab.data"}

__all__ = ["Autoencoder", "AutoencoderDetector", "BaselineDetector", "__version__", "export_model", "load",
           "load_dataset"]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'aelab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
