"""What every part shares: scikit-learn style parameters, the checks of its own values, its JSON record.

A part is one idea of an autoencoder (an encoder body, a latent, a corruption, an augmentation, a penalty)
as a small class whose ``__init__`` only stores its parameters, so ``get_params``, ``set_params``, ``clone``
and the estimator's nested parameters (``latent__beta``) work as for any scikit-learn estimator.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator


class Part(BaseEstimator):
    """The base of every part.

    Attributes a part may set (class attributes, read by the estimator and the loss instead of asking for
    the part's type):

    short_name : str
        The name of a penalty in nested parameters: ``penalties__<short_name>__<param>``.
    needs_image_shape : bool
        The part works on images (convolutions, image moves): fitting resolves the shape of one sample.
    fit_only_params : tuple of str
        Parameters used only while fitting (objects of the user's, such as a fitted transformer): a model file
        records them as null.
    """

    short_name: ClassVar[str] = ""
    needs_image_shape: ClassVar[bool] = False
    fit_only_params: ClassVar[tuple[str, ...]] = ()

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        """Check the part's parameters (and, where a part needs it, the encoder's) for ``n_features`` inputs;
        a ValueError names the parameter, the value seen and how to fix it. Parts without checks pass."""


# ---------------------------------------------------------------------------- checks of parameter values
def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, or a ValueError naming ``name`` and the value seen."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """A ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")


def check_number(name: str, value: Any, low: float = 0.0, high: float | None = None, open_low: bool = False,
                 open_high: bool = False) -> float:
    """``value`` as a finite float in the given bounds, or a ValueError naming ``name``, the bounds and value."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))
    ok = ok and (value > low if open_low else value >= low)
    ok = ok and (high is None or (value < high if open_high else value <= high))
    if not ok:
        bounds = f"{'>' if open_low else '>='} {low}"
        if high is not None:
            bounds += f" and {'<' if open_high else '<='} {high}"
        raise ValueError(f"{name} must be a number {bounds}, got {value!r}")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool, or a ValueError: only True or False (or NumPy's) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_layer_sizes(name: str, sizes: Any) -> tuple[int, ...]:
    """Layer widths as a tuple of positive ints (None and () give ()), or a ValueError saying what was seen."""
    if sizes is None:
        return ()
    if isinstance(sizes, numbers.Integral):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of layer widths such as (512, 256), got {sizes!r}") from None
    for s in sizes:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool) or s < 1:
            raise ValueError(f"{name} must hold positive integer widths, got {sizes!r}")
    return tuple(int(s) for s in sizes)


def check_sample_shape(name: str, shape: Any) -> tuple[int, int, int] | None:
    """An image shape (H, W) or (C, H, W) as (C, H, W), None for None, or a ValueError."""
    if shape is None:
        return None
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (H, W) or (C, H, W), got {shape!r}") from None
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{name} must be (H, W) or (C, H, W) of positive sizes, got {shape!r}")
    return shape


# ----------------------------------------------------------------------------------------- JSON records
def _json_value(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_json_value(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, Part):
        return part_record(value)
    return value


def part_record(part: Part | None) -> dict[str, Any] | None:
    """A part as JSON: ``{"part": "Gaussian", "params": {"beta": 1.0, "kl": "analytic"}}`` (None for None); a
    part among the parameters (a neighbour graph's augmentation) is a record of its own, and a parameter used only
    while fitting (``Part.fit_only_params``) is null."""
    if part is None:
        return None
    return {"part": type(part).__name__,
            "params": {k: None if k in part.fit_only_params else _json_value(v)
                       for k, v in part.get_params(deep=False).items()}}


def _is_part_record(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"part", "params"}


def part_from_record(record: Any, registry: Mapping[str, type[Part]], where: str) -> Part | None:
    """The part a ``part_record`` describes; only classes of ``registry`` are made, never any other.

    Lists become tuples (layer widths, shapes). A ValueError names ``where`` and what is wrong.
    """
    if record is None:
        return None
    if not (isinstance(record, dict) and set(record) == {"part", "params"} and isinstance(record["params"], dict)):
        raise ValueError(f"{where} must be {{'part': NAME, 'params': {{...}}}} or null, got {record!r}")
    cls = registry.get(record["part"]) if isinstance(record["part"], str) else None
    if cls is None:
        raise ValueError(f"{where} names the part {record['part']!r}, which is not one of {', '.join(registry)}")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in record["params"].items()}
    params.update({k: part_from_record(v, registry, f"{where}.params.{k}") for k, v in params.items()
                   if _is_part_record(v)})
    for key, value in params.items():  # a value no check reads (a weight left at 0) must still be a number
        if isinstance(value, float) and not np.isfinite(value):
            raise ValueError(f"{where}.params.{key} is {value!r}; it must be a finite number")
    expected = set(cls().get_params(deep=False))
    missing, unknown = expected - set(params), set(params) - expected
    if missing or unknown:
        raise ValueError(f"{where}: the parameters of {record['part']} must be exactly {sorted(expected)}, got "
                         f"{sorted(params)}{older_model_hint(missing, unknown)}")
    return cls(**params)


def older_model_hint(missing: set[str], unknown: set[str]) -> str:
    """What a model record's error adds when it only lacks parameters: it was saved before they existed."""
    if missing and not unknown:
        return (f"; {sorted(missing)} came after this model was saved: fit and save it again with this aelab (or "
                f"load it with the aelab that saved it)")
    return ""


def unchanged(x: torch.Tensor) -> torch.Tensor:
    """``x`` itself: a batch's ``augment`` where nothing moves the rows."""
    return x


@dataclass
class Batch:
    """What a penalty may look at on one batch, as the loss computed it.

    target : the clean (possibly augmented) batch the reconstruction is compared with
    inputs : what the encoder saw (``target`` corrupted, in training with a corruption)
    hidden : the encoder body's output; ``has_hidden`` is False when the body has no layer (it is the input)
    codes : the codes the decoder got (sampled ones for a Gaussian latent in training)
    network : the AutoencoderNetwork; ``training`` its mode; ``generator`` the loss's random stream
    n_components : the code size
    augment : moves other rows as the training batch was moved (the augmentation, from the same stream); the
        identity outside training or without an augmentation
    sample_shape : the shape of one image (C, H, W) when a part works on images, else None
    """

    target: torch.Tensor
    inputs: torch.Tensor | None
    hidden: torch.Tensor | None
    has_hidden: bool
    codes: torch.Tensor | None
    network: torch.nn.Module
    training: bool
    generator: torch.Generator | None
    n_components: int
    augment: Callable[[torch.Tensor], torch.Tensor] = unchanged
    sample_shape: tuple[int, ...] | None = None
