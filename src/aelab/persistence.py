"""The checks of a model folder's files: its model.json's top level and fitted attributes, its weights' header.

No pickle is read or written: a model folder holds ``model.safetensors`` and ``model.json`` only. What an
estimator's record holds, and how it is built back, lives with the estimator (aelab.estimators); this module
imports nothing of aelab but aelab.io (atomic writes and checked JSON).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aelab.io import read_json

MODEL_FORMAT = "aelab-model"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
_TOP_LEVEL_KEYS = {"format", "format_version", "aelab_version", "estimator", "params", "fitted"}
_FITTED_KEYS = {"n_features_in_", "output_activation_", "history_", "epochs_", "n_epochs_", "best_epoch_",
                "epoch_seconds_", "feature_names_in_", "sample_shape_"}


# ------------------------------------------------------------------------ loading
def require(condition: bool, path: Path, what: str) -> None:
    """A ValueError saying that ``path`` is not a valid aelab model, and why, unless ``condition``."""
    if not condition:
        raise ValueError(f"{path} is not a valid aelab model: {what}")


def read_model_record(path: Path, version: int) -> dict[str, Any]:
    """The checked top level of the model.json in the model folder ``path``, written in format ``version``.

    A folder of another format version gets a one-line ValueError naming both versions.
    """
    path = Path(path)
    require(path.is_dir(), path, "it is not a folder (save with est.save(folder))")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        require((path / name).is_file(), path, f"{name} is missing")
    config = path / CONFIG_FILE
    record = read_json(config, "the model folder is damaged")
    require(isinstance(record, dict), config, "the JSON must be an object")
    require(record.get("format") == MODEL_FORMAT, config, f"format is {record.get('format')!r}, not {MODEL_FORMAT!r}")
    if record.get("format_version") != version:
        raise ValueError(f"{CONFIG_FILE} in {path} has format version {record.get('format_version')!r} but this "
                         f"aelab reads version {version}; retrain the model with this version")
    unknown = set(record) - _TOP_LEVEL_KEYS
    missing = _TOP_LEVEL_KEYS - set(record)
    require(not unknown, config, f"unknown keys {sorted(unknown)}")
    require(not missing, config, f"missing keys {sorted(missing)}")
    require(isinstance(record["params"], dict) and isinstance(record["fitted"], dict), config,
            "params and fitted must be objects")
    require(isinstance(record["estimator"], str) and isinstance(record["aelab_version"], str), config,
            "estimator and aelab_version must be strings")
    return record


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The names and shapes in a safetensors file's header, read without loading any tensor."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    except (SafetensorError, ValueError, OSError, RuntimeError) as e:
        raise ValueError(f"{path} is not a valid safetensors file ({e}); the model folder is damaged") from None


def check_fitted_record(fitted: dict[str, Any], where: Path) -> None:
    """A ValueError unless ``fitted`` holds well-formed fitted attributes of an autoencoder."""
    unknown = set(fitted) - _FITTED_KEYS
    require(not unknown, where, f"unknown fitted attributes {sorted(unknown)}")
    n = fitted.get("n_features_in_")
    require(isinstance(n, int) and not isinstance(n, bool) and n >= 1, where, "n_features_in_ must be an int >= 1")
    require(isinstance(fitted.get("output_activation_"), str), where, "output_activation_ must be a string")
    history = fitted.get("history_")
    require(isinstance(history, dict) and all(
        isinstance(v, list) and all(isinstance(x, (int, float)) for x in v) for v in history.values()
    ), where, "history_ must map names to lists of numbers")
    for key in ("epochs_", "n_epochs_", "best_epoch_"):
        require(isinstance(fitted.get(key), int), where, f"{key} must be an integer")
    seconds = fitted.get("epoch_seconds_", [])
    require(isinstance(seconds, list) and all(isinstance(t, (int, float)) for t in seconds), where,
             "epoch_seconds_ must be a list of numbers")
    names = fitted.get("feature_names_in_")
    require(names is None or (isinstance(names, list) and len(names) == n
                               and all(isinstance(s, str) for s in names)),
             where, "feature_names_in_ must be one string per feature")
    shape = fitted.get("sample_shape_")
    require(shape is None or (isinstance(shape, list) and len(shape) == 3
                               and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape)
                               and int(np.prod(shape)) == n),
             where, "sample_shape_ must be three positive sizes (C, H, W) whose product is n_features_in_")
