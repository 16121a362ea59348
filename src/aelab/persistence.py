"""Saving and loading models as safetensors (weights) plus JSON (configuration).

No pickle is read or written: a model folder holds ``model.safetensors`` and ``model.json`` only, and
loading checks the JSON against the expected schema and the tensors against the configuration.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aelab.io import atomic_write_bytes, atomic_write_json, json_safe, read_json

MODEL_FORMAT = "aelab-model"
MODEL_FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
_TOP_LEVEL_KEYS = {"format", "format_version", "aelab_version", "estimator", "params", "fitted"}
_FITTED_KEYS = {"n_features_in_", "output_activation_", "history_", "n_epochs_", "best_epoch_",
                "epoch_seconds_", "feature_names_in_", "sample_shape_"}
_TUPLE_PARAMS = ("hidden", "decoder_hidden", "filters", "conv_hidden", "sample_shape")
_LATER_PARAMS = ("precision", "compile", "conv_hidden", "on_divergence", "augmentation",
                 "augment_rotation", "augment_shift", "augment_scale", "augment_flip", "callbacks")


#: The JSON types a parameter may have besides its default's (None: the parameter may be None).
_NONE_DEFAULT_TYPES = {"decoder_hidden": (list,), "sample_shape": (list,), "code_activation": (str,),
                       "corruption": (str,), "augmentation": (str,), "random_state": (int,),
                       "patience": (type(None),)}


def _param_type_ok(value: Any, default: Any, also: tuple[type, ...]) -> bool:
    """Whether a parameter read from JSON has the type of its default (or one of ``also``): numbers for
    numbers, lists of integers for tuples, None where the parameter allows it."""
    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if value is None:
        return default is None or type(None) in also
    if isinstance(value, list):
        return (isinstance(default, tuple) or list in also) and all(is_int(v) for v in value)
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return is_int(value) or isinstance(value, float)
    if is_int(default):
        return is_int(value)
    if isinstance(default, str):
        return isinstance(value, str)
    return any(t is int and is_int(value) or t is not int and isinstance(value, t) for t in also)


# ------------------------------------------------------------------------- saving
def estimator_record(estimator) -> dict[str, Any]:
    """The JSON-ready description of a fitted estimator: its class, parameters and fitted attributes."""
    from aelab import __version__

    fitted = {
        "n_features_in_": int(estimator.n_features_in_),
        "output_activation_": estimator.output_activation_,
        "history_": {k: [float(v) for v in vs] for k, vs in estimator.history_.items()},
        "n_epochs_": int(estimator.n_epochs_),
        "best_epoch_": int(estimator.best_epoch_),
        "epoch_seconds_": [float(t) for t in estimator.epoch_seconds_],
    }
    if getattr(estimator, "sample_shape_", None) is not None:
        fitted["sample_shape_"] = [int(d) for d in estimator.sample_shape_]
    if hasattr(estimator, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(n) for n in estimator.feature_names_in_]
    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "aelab_version": __version__,
        "estimator": type(estimator).__name__,
        # callbacks are objects of the user's code, not part of a model file
        "params": {k: None if k == "callbacks" else json_safe(v)
                   for k, v in estimator.get_params(deep=False).items()},
        "fitted": fitted,
    }


def save_estimator(estimator, path: str | os.PathLike) -> None:
    """Write ``estimator`` to the folder ``path`` (created if needed): weights first, then the JSON."""
    from safetensors.torch import save as safetensors_bytes
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} exists and is not a folder; a model is saved as a folder of two files")
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in estimator.network_.state_dict().items()}
    atomic_write_bytes(path / WEIGHTS_FILE, safetensors_bytes(tensors, metadata={"format": MODEL_FORMAT}))
    atomic_write_json(path / CONFIG_FILE, estimator_record(estimator))


# ------------------------------------------------------------------------ loading
def _require(condition: bool, path: Path, what: str) -> None:
    if not condition:
        raise ValueError(f"{path} is not a valid aelab model: {what}")


def _read_record(path: Path) -> dict[str, Any]:
    config = path / CONFIG_FILE
    record = read_json(config, "the model folder is damaged")
    _require(isinstance(record, dict), config, "the JSON must be an object")
    unknown = set(record) - _TOP_LEVEL_KEYS
    missing = _TOP_LEVEL_KEYS - set(record)
    _require(not unknown, config, f"unknown keys {sorted(unknown)}")
    _require(not missing, config, f"missing keys {sorted(missing)}")
    _require(record["format"] == MODEL_FORMAT, config, f"format is {record['format']!r}, not {MODEL_FORMAT!r}")
    _require(record["format_version"] == MODEL_FORMAT_VERSION, config,
             f"format_version {record['format_version']!r} is not supported (this aelab reads "
             f"{MODEL_FORMAT_VERSION})")
    _require(isinstance(record["params"], dict) and isinstance(record["fitted"], dict), config,
             "params and fitted must be objects")
    _require(isinstance(record["estimator"], str) and isinstance(record["aelab_version"], str), config,
             "estimator and aelab_version must be strings")
    return record


def _tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The names and shapes in a safetensors file's header, read without loading any tensor."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    except (SafetensorError, ValueError, OSError, RuntimeError) as e:
        raise ValueError(f"{path} is not a valid safetensors file ({e}); the model folder is damaged") from None


def _check_fitted(fitted: dict[str, Any], where: Path) -> None:
    unknown = set(fitted) - _FITTED_KEYS
    _require(not unknown, where, f"unknown fitted attributes {sorted(unknown)}")
    n = fitted.get("n_features_in_")
    _require(isinstance(n, int) and not isinstance(n, bool) and n >= 1, where, "n_features_in_ must be an int >= 1")
    _require(isinstance(fitted.get("output_activation_"), str), where, "output_activation_ must be a string")
    history = fitted.get("history_")
    _require(isinstance(history, dict) and all(
        isinstance(v, list) and all(isinstance(x, (int, float)) for x in v) for v in history.values()
    ), where, "history_ must map names to lists of numbers")
    for key in ("n_epochs_", "best_epoch_"):
        _require(isinstance(fitted.get(key), int), where, f"{key} must be an integer")
    seconds = fitted.get("epoch_seconds_", [])
    _require(isinstance(seconds, list) and all(isinstance(t, (int, float)) for t in seconds), where,
             "epoch_seconds_ must be a list of numbers")
    names = fitted.get("feature_names_in_")
    _require(names is None or (isinstance(names, list) and len(names) == n
                               and all(isinstance(s, str) for s in names)),
             where, "feature_names_in_ must be one string per feature")
    shape = fitted.get("sample_shape_")
    _require(shape is None or (isinstance(shape, list) and len(shape) == 3
                               and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape)
                               and int(np.prod(shape)) == n),
             where, "sample_shape_ must be three positive sizes (C, H, W) whose product is n_features_in_")


def load(path: str | os.PathLike, device: str | None = None):
    """Load a model saved with ``est.save(path)`` (or the model of an ``aelab train`` run folder).

    Parameters
    ----------
    path : path-like
        The model folder (holding model.json and model.safetensors) or a run folder.
    device : str, optional
        Where to put the model; by default the saved ``device`` parameter, falling back to the CPU when
        the saved device is not available here.

    Returns
    -------
    Autoencoder
        A fitted estimator.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as safetensors_load

    from aelab.estimators import Autoencoder
    from aelab.training import resolve_device

    path = Path(path)
    _require(path.is_dir(), path, "it is not a folder (save with est.save(folder))")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        _require((path / name).is_file(), path, f"{name} is missing")
    record = _read_record(path)
    config = path / CONFIG_FILE
    estimators = {"Autoencoder": Autoencoder}
    cls = estimators.get(record["estimator"])
    _require(cls is not None, config, f"unknown estimator {record['estimator']!r}")
    params = dict(record["params"])
    defaults = cls().get_params(deep=False)
    for name in _LATER_PARAMS:  # models saved before these parameters existed used their defaults
        params.setdefault(name, defaults[name])
    expected = set(defaults)
    _require(set(params) == expected, config,
             f"params must be exactly {sorted(expected)}; unknown {sorted(set(params) - expected)}, "
             f"missing {sorted(expected - set(params))}")
    for key, value in params.items():
        _require(_param_type_ok(value, defaults[key], _NONE_DEFAULT_TYPES.get(key, ())), config,
                 f"params.{key} is {value!r}, of the wrong type for this parameter")
        # a parameter the configuration does not use (noise_level without corruption) is never validated
        _require(not isinstance(value, float) or math.isfinite(value), config,
                 f"params.{key} is {value!r}; it must be a finite number")
    for key in _TUPLE_PARAMS:
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    estimator = cls(**params)
    fitted = record["fitted"]
    _check_fitted(fitted, config)
    try:
        estimator._validate_params(fitted["n_features_in_"])
        sample_shape = tuple(fitted["sample_shape_"]) if fitted.get("sample_shape_") is not None else None
        _require(sample_shape is not None or estimator.architecture != "conv", config,
                 "a conv model needs sample_shape_ in fitted")
        with torch.device("meta"):  # the shapes the configuration needs, without allocating any memory
            expected = estimator._build_network(fitted["n_features_in_"], fitted["output_activation_"], seed=0,
                                                sample_shape=sample_shape).state_dict()
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, ZeroDivisionError,
            RuntimeError) as e:
        raise ValueError(f"{config} holds an invalid configuration ({type(e).__name__}: {e})") from None

    # names and shapes are checked against the file's header first, so a configuration can never make
    # loading allocate a network far larger than its weights file
    shapes = _tensor_shapes(path / WEIGHTS_FILE)
    unknown, missing = sorted(set(shapes) - set(expected)), sorted(set(expected) - set(shapes))
    _require(not unknown and not missing, path / WEIGHTS_FILE,
             f"tensor names do not match the configuration (unexpected {unknown}, missing {missing})")
    for name, shape in shapes.items():
        _require(shape == tuple(expected[name].shape), path / WEIGHTS_FILE,
                 f"tensor {name} has shape {shape} but the configuration needs {tuple(expected[name].shape)}")
    network = estimator._build_network(fitted["n_features_in_"], fitted["output_activation_"], seed=0,
                                       sample_shape=sample_shape)
    try:
        tensors = safetensors_load((path / WEIGHTS_FILE).read_bytes())
    except (SafetensorError, ValueError, OSError) as e:
        raise ValueError(
            f"{path / WEIGHTS_FILE} is not a valid safetensors file ({e}); the model folder is damaged"
        ) from None
    state = network.state_dict()
    for name, tensor in tensors.items():
        _require(tensor.dtype == state[name].dtype, path / WEIGHTS_FILE,
                 f"tensor {name} is {tensor.dtype} but the configuration needs {state[name].dtype}")
        _require(bool(torch.isfinite(tensor).all()), path / WEIGHTS_FILE, f"tensor {name} holds NaN or inf")
    network.load_state_dict(tensors)

    if device is None:
        try:
            target = resolve_device(estimator.device)
        except ValueError:
            target = torch.device("cpu")
    else:
        target = resolve_device(device)
        estimator.device = device
    estimator.network_ = network.to(target).eval()
    estimator.n_features_in_ = fitted["n_features_in_"]
    estimator.output_activation_ = fitted["output_activation_"]
    estimator.history_ = {k: list(v) for k, v in fitted["history_"].items()}
    estimator.n_epochs_ = fitted["n_epochs_"]
    estimator.best_epoch_ = fitted["best_epoch_"]
    estimator.epoch_seconds_ = [float(t) for t in fitted.get("epoch_seconds_", [])]
    estimator.sample_shape_ = sample_shape
    if "feature_names_in_" in fitted:
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    return estimator
