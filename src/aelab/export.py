"""Export a trained autoencoder for use without aelab: its encoder and decoder as ONNX or TorchScript files.

The run's scaling is folded into both: the exported encoder takes rows in the data's own units (as
``aelab encode`` reads them) and gives codes, the exported decoder takes codes and gives rows in the data's
units, as ``aelab.load(run).transform`` and ``inverse_transform`` do. A Gaussian latent's encoder gives the
posterior mean; a latent with ``refine_steps`` (the umap kind) exports the encoder's code before the refinement
steps, which ``export.json`` and a warning say. The batch size is free. ``export.json`` beside the files records
the format, the ONNX opset, the input and output names, dtypes and shapes, and the files' sizes.

ONNX export uses ``torch.onnx.export`` (the torch.export-based exporter; it needs the ``onnx`` and
``onnxscript`` packages, ``pip install 'aelab[export]'``); TorchScript export uses ``torch.jit.trace``.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from torch import nn

from aelab import __version__
from aelab.estimators import Autoencoder
from aelab.extras import require_optional
from aelab.io import atomic_write_json
from aelab.nn import AutoencoderNetwork
from aelab.parts.latents import Gaussian
from aelab.pipeline import load, run_parts
from aelab.runs import write_folder

logger = logging.getLogger(__name__)

FORMATS = ("onnx", "torchscript")
EXPORT_FILE = "export.json"
#: The file suffix of each format.
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
#: The name of each exported module's input and output.
NAMES = {"encoder": ("data", "code"), "decoder": ("code", "reconstruction")}
#: The batch size of the example the modules are traced with: 2, since torch.export takes 0 and 1 as constants.
_EXAMPLE_BATCH = 2


class ScaledEncoder(nn.Module):
    """Rows in the data's units -> the run's [0, 1] scaling -> the encoder -> codes (a Gaussian's mean)."""

    def __init__(self, encoder: nn.Module, data_min: torch.Tensor | None, data_range: torch.Tensor | None) -> None:
        super().__init__()
        self.encoder = encoder
        self.scaled = data_min is not None
        if self.scaled:
            self.register_buffer("data_min", data_min)
            self.register_buffer("data_range", data_range)

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        if self.scaled:
            data = (data - self.data_min) / self.data_range
        return self.encoder(data)


class ScaledDecoder(nn.Module):
    """Codes -> the decoder and its output activation -> the run's scaling undone: rows in the data's units."""

    def __init__(self, network: AutoencoderNetwork, data_min: torch.Tensor | None,
                 data_range: torch.Tensor | None) -> None:
        super().__init__()
        # the decoder and its output activation alone, so that the file holds none of the encoder's weights
        self.network = AutoencoderNetwork(nn.Identity(), network.decoder, network.output_activation)
        self.scaled = data_min is not None
        if self.scaled:
            self.register_buffer("data_min", data_min)
            self.register_buffer("data_range", data_range)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        reconstruction = self.network.decode(code)
        if self.scaled:
            reconstruction = reconstruction * self.data_range + self.data_min
        return reconstruction


def export_modules(model: Pipeline | Autoencoder) -> dict[str, nn.Module]:
    """The encoder and decoder of ``model`` (``aelab.load``'s Pipeline, or an Autoencoder: then without
    scaling) as float32 CPU modules in evaluation mode, the scaling folded in."""
    scaler, autoencoder = run_parts(model)
    network = copy.deepcopy(autoencoder.network_).to("cpu", torch.float32).eval()
    if scaler is None:
        data_min = data_range = None
    else:
        scaling = scaler.scaling_
        data_min = torch.as_tensor(scaling.data_min, dtype=torch.float32).reshape(1, -1)
        data_range = torch.as_tensor(scaling.data_range, dtype=torch.float32).reshape(1, -1)
    return {"encoder": ScaledEncoder(network.encoder, data_min, data_range).eval(),
            "decoder": ScaledDecoder(network, data_min, data_range).eval()}


def _check_format(format: str, opset: int | None) -> None:
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if opset is not None:
        if format != "onnx":
            raise ValueError(f"an opset is a setting of ONNX export, but the format is {format!r}; leave out the opset")
        if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or opset < 18:
            raise ValueError(f"opset must be an integer >= 18 (the ONNX exporter's lowest), got {opset!r}")
    if format == "onnx":
        require_optional(("onnx", "onnxscript"), "ONNX export")


def _export_onnx(module: nn.Module, example: torch.Tensor, names: tuple[str, str], path: Path,
                 opset: int | None) -> int:
    """Write ``module`` to the ONNX file ``path`` with a free batch size; the opset it was written with."""
    import onnx

    program = torch.onnx.export(module, (example,), input_names=[names[0]], output_names=[names[1]],
                                dynamic_shapes=({0: torch.export.Dim("batch")},), opset_version=opset,
                                dynamo=True, verbose=False)
    program.save(str(path))
    written = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in written.opset_import if o.domain in ("", "ai.onnx"))


def _export_torchscript(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    """Write ``module`` traced on ``example`` to the TorchScript file ``path``."""
    traced = torch.jit.trace(module, example)
    traced.save(str(path))


def _io_record(name: str, width: int) -> dict[str, Any]:
    return {"name": name, "dtype": "float32", "shape": ["batch", int(width)]}


def _code_description(autoencoder: Autoencoder, steps: int) -> str:
    if isinstance(autoencoder.latent, Gaussian):
        return "the posterior mean"
    if steps:
        return (f"the encoder's code, before the {steps} refinement steps against the decoder that the model's "
                "transform takes (refine_steps)")
    return "the code"


def export_model(model: str | os.PathLike | Pipeline | Autoencoder, out: str | os.PathLike, format: str = "onnx",
                 opset: int | None = None, force: bool = False) -> dict[str, Any]:
    """Export the encoder and the decoder of a trained autoencoder to the folder ``out``.

    Parameters
    ----------
    model : path-like, Pipeline or Autoencoder
        A run folder (written by ``aelab train``), what ``aelab.load`` gives for one (its scaling is folded
        in), or a fitted Autoencoder (exported as it is, taking data as it was fitted on).
    out : path-like
        The folder to write: ``encoder`` and ``decoder`` files (``.onnx`` or ``.pt``) and ``export.json``.
        It is written in one piece.
    format : {"onnx", "torchscript"}, default="onnx"
    opset : int or None, default=None
        The ONNX opset (18 or more); None takes the exporter's default. ONNX only.
    force : bool, default=False
        Replace ``out`` if it exists and is not empty.

    Returns
    -------
    dict
        The content of export.json: ``format``, ``opset`` (None for TorchScript), and for ``encoder`` and
        ``decoder`` their ``file``, ``bytes``, ``inputs`` and ``outputs`` (name, dtype, shape).

    Examples
    --------
    >>> record = export_model("runs/digits", "exported", format="onnx")  # doctest: +SKIP
    >>> import onnxruntime  # doctest: +SKIP
    >>> encoder = onnxruntime.InferenceSession("exported/encoder.onnx")  # doctest: +SKIP
    >>> codes = encoder.run(["code"], {"data": raw_rows.astype("float32")})[0]  # doctest: +SKIP
    """
    _check_format(format, opset)
    source = None
    if isinstance(model, (str, os.PathLike)):
        source = str(model)
        model = load(model, device="cpu")
    scaler, autoencoder = run_parts(model)
    modules = export_modules(model)
    refine_steps = getattr(autoencoder.latent, "refine_steps", 0)  # transform's steps, not in the encoder file
    widths = {"encoder": (autoencoder.n_features_in_, autoencoder.n_components),
              "decoder": (autoencoder.n_components, autoencoder.n_features_in_)}
    record: dict[str, Any] = {
        "format": format, "opset": None, "aelab_version": __version__, "torch_version": torch.__version__,
        "source": source, "batch": "free (the first dimension of every input and output)",
        "scaling_folded_in": scaler is not None,
        "code": _code_description(autoencoder, refine_steps),
    }
    if refine_steps:
        logger.warning("the exported encoder gives the encoder's code, without the %d refinement steps against "
                       "the decoder that transform takes (refine_steps); its codes of new rows differ from "
                       "transform's", refine_steps)

    def fill(staging: Path) -> None:
        generator = torch.Generator().manual_seed(0)
        for part, module in modules.items():
            path = staging / f"{part}{SUFFIXES[format]}"
            example = torch.rand(_EXAMPLE_BATCH, widths[part][0], generator=generator)
            if format == "onnx":
                record["opset"] = _export_onnx(module, example, NAMES[part], path, opset)
            else:
                _export_torchscript(module, example, path)
            record[part] = {"file": path.name, "bytes": path.stat().st_size,
                            "inputs": [_io_record(NAMES[part][0], widths[part][0])],
                            "outputs": [_io_record(NAMES[part][1], widths[part][1])]}
        atomic_write_json(staging / EXPORT_FILE, record)

    written = write_folder(out, force, fill)
    logger.info("exported the encoder and decoder as %s to %s", format, written)
    return record
