"""A run folder as one fitted scikit-learn Pipeline: the run's scaling (``RangeScaler``) then its autoencoder.

A run folder written by ``aelab train`` holds the model (model.safetensors and model.json, see
aelab.estimators) and the scaling fitted on the training part (preprocessing.json). ``load`` gives both as
one estimator that takes data in their own units: ``transform`` gives codes, ``inverse_transform`` decodes
codes back to the data's units, ``score_samples`` is the negative reconstruction error. Nothing is pickled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from aelab.data import MinMaxScaling
from aelab.data.preprocessing import RangeScaler
from aelab.estimators import Autoencoder
from aelab.estimators import load as load_autoencoder
from aelab.io import read_json

PREPROCESSING_FILE = "preprocessing.json"


def preprocessing_record(scaling: MinMaxScaling, sample_shape: tuple[int, ...]) -> dict[str, Any]:
    """The content of a run folder's preprocessing.json: the shape of one sample and the fitted scaling."""
    return {"sample_shape": [int(d) for d in sample_shape], "scaling": scaling.to_dict()}


def _read_scaler(run: Path, n_features: int) -> RangeScaler:
    """The checked scaling of the run folder ``run`` for a model of ``n_features`` features."""
    record = read_json(run / PREPROCESSING_FILE, "train the run again")
    try:
        if not isinstance(record, dict) or not {"sample_shape", "scaling"} <= set(record):
            raise ValueError("it must be an object with the fields sample_shape and scaling")
        scaling = MinMaxScaling.from_dict(record["scaling"], n_features=n_features)
        sample_shape = record["sample_shape"]
        if not isinstance(sample_shape, list) or not sample_shape or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in sample_shape) \
                or int(np.prod(sample_shape, dtype=np.float64)) != n_features:
            raise ValueError(f"sample_shape is {sample_shape!r}, but it must be positive sizes whose product is the "
                             f"model's {n_features} features")
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{run / PREPROCESSING_FILE} is damaged ({e}); train the run again") from None
    return RangeScaler.from_scaling(scaling, n_features)


def load_run(run: str | os.PathLike, device: str | None = None) -> Pipeline:
    """The run folder ``run`` (written by ``aelab train``) as a fitted Pipeline taking data in their own units.

    Parameters
    ----------
    run : path-like
        The run folder.
    device : str, optional
        Where to put the autoencoder (see ``aelab.estimators.load``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Two fitted steps: ``scaling`` (a ``RangeScaler``) and ``autoencoder`` (an ``Autoencoder``).
    """
    run = Path(run)
    if not (run / PREPROCESSING_FILE).is_file():
        raise ValueError(f"{run} is not an aelab run folder ({PREPROCESSING_FILE} is missing); pass a folder "
                         "written by 'aelab train'")
    autoencoder = load_autoencoder(run, device=device)
    scaler = _read_scaler(run, autoencoder.n_features_in_)
    return Pipeline([("scaling", scaler), ("autoencoder", autoencoder)])


def load(path: str | os.PathLike, device: str | None = None) -> Pipeline | Autoencoder:
    """Load what a folder holds: a run folder as a fitted Pipeline, a model folder as a fitted Autoencoder.

    A run folder (written by ``aelab train``; it holds preprocessing.json) gives a Pipeline of its scaling and
    its autoencoder that takes data in their own units, as ``aelab encode`` reads them. A model folder
    (written by ``Autoencoder.save``) gives the Autoencoder, which takes data as it was fitted on.

    Parameters
    ----------
    path : path-like
        The folder.
    device : str, optional
        Where to put the autoencoder; by default its saved ``device`` parameter, falling back to the CPU when
        that device is not available here.

    Returns
    -------
    sklearn.pipeline.Pipeline or Autoencoder

    Examples
    --------
    >>> import aelab
    >>> model = aelab.load("runs/digits")  # doctest: +SKIP
    >>> codes = model.transform(raw_rows)  # doctest: +SKIP
    >>> back = model.inverse_transform(codes)  # the reconstructions, in the data's units  # doctest: +SKIP
    """
    if (Path(path) / PREPROCESSING_FILE).is_file():
        return load_run(path, device=device)
    return load_autoencoder(path, device=device)


def run_parts(model: Pipeline | Autoencoder) -> tuple[RangeScaler | None, Autoencoder]:
    """The scaler (None for a bare autoencoder) and the fitted autoencoder of what ``load`` gives."""
    if isinstance(model, Autoencoder):
        return None, model
    if isinstance(model, Pipeline) and [name for name, _ in model.steps] == ["scaling", "autoencoder"]:
        scaler, autoencoder = (step for _, step in model.steps)
        if isinstance(scaler, RangeScaler) and isinstance(autoencoder, Autoencoder):
            return scaler, autoencoder
    raise TypeError(f"expected a fitted Autoencoder or the Pipeline of a run folder (aelab.load(run)), got "
                    f"{type(model).__name__}; load the model with aelab.load")
