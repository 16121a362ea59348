"""The registry: the part classes by name (what a model file may name) and the kinds of autoencoder as
compositions of parts (what ``aelab train --kind`` and the studies name).

A new part adds its class to ``PARTS`` (and, if it makes a new kind, a line to ``KINDS``); nothing else
needs to know it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sklearn.base import clone

from aelab.parts.augmentations import Affine
from aelab.parts.base import Part
from aelab.parts.corruptions import GaussianNoise, Masking, SaltPepper
from aelab.parts.encoders import Conv, Dense
from aelab.parts.free_layout import FreeLayout
from aelab.parts.latents import Deterministic, Gaussian
from aelab.parts.neighbour_graph import NeighbourGraph
from aelab.parts.penalties import Contractive, L1Code, LatentCycle, Sparsity

#: Every part class by its name: saving records this name, loading makes only these classes.
PARTS: dict[str, type[Part]] = {cls.__name__: cls for cls in (
    Dense, Conv, Deterministic, Gaussian, GaussianNoise, Masking, SaltPepper, Affine,
    L1Code, Sparsity, Contractive, LatentCycle, NeighbourGraph, FreeLayout,
)}


#: The umap kind's codes of new rows are refined against the decoder: its encoder, kept to the training rows'
#: graph, carries their neighbourhoods to new rows less well than the decoder's layout does (docs/umap-ae.md).
UMAP_REFINE_STEPS = 10


def _dense(hidden: Sequence[int] | None, activation: str | None) -> Dense:
    params = {k: v for k, v in (("hidden", hidden), ("activation", activation)) if v is not None}
    return Dense(**{k: tuple(v) if k == "hidden" else v for k, v in params.items()})


#: The kinds of autoencoder: each a function of the encoder's ``hidden`` widths and ``activation`` (None:
#: the part's default) giving the parts it is made of. The conv kind has no dense widths; the sparse kind's
#: encoder is a sigmoid one whatever ``activation`` says.
KINDS: dict[str, Callable[[Sequence[int] | None, str | None], dict[str, Any]]] = {
    "vanilla": lambda hidden, activation: {"encoder": _dense(hidden, activation)},
    "conv": lambda hidden, activation: {"encoder": Conv(**({} if activation is None else {"activation": activation}))},
    "denoising": lambda hidden, activation: {"encoder": _dense(hidden, activation), "corruption": GaussianNoise(0.5)},
    "sparse": lambda hidden, activation: {"encoder": _dense(hidden, "sigmoid"),
                                          "penalties": (L1Code(1e-4), Sparsity(1e-3, target=0.05))},
    "contractive": lambda hidden, activation: {"encoder": _dense(hidden, activation),
                                               "penalties": (Contractive(0.1),)},
    "variational": lambda hidden, activation: {"encoder": _dense(hidden, activation),
                                               "latent": Gaussian(beta=1.0, kl="analytic")},
    "variational-batch": lambda hidden, activation: {"encoder": _dense(hidden, activation),
                                                     "latent": Gaussian(beta=1.0, kl="batch")},
    "double": lambda hidden, activation: {"encoder": _dense(hidden, activation),
                                          "penalties": (LatentCycle(0.1, mode="alternating", n_alternations=10),)},
    "umap": lambda hidden, activation: {"encoder": _dense(hidden, activation),
                                        "latent": Deterministic(refine_steps=UMAP_REFINE_STEPS),
                                        "penalties": (NeighbourGraph(),)},
}


def kind(name: str, *, hidden: Sequence[int] | None = None, activation: str | None = None,
         **overrides: Any) -> dict[str, Any]:
    """The Autoencoder parameters of a named kind: fresh parts, every family present (None or () where the
    kind has none), then ``overrides``.

    Parameters
    ----------
    name : str
        One of ``KINDS``: vanilla, conv, denoising, sparse, contractive, variational, variational-batch, double,
        umap (the neighbour graph's UMAP loss on the code: a parametric UMAP that reconstructs; its codes of
        rows are refined against the decoder, ``Deterministic(refine_steps=10)``).
    hidden, activation : optional
        The encoder's widths and activation, where the kind does not fix them (see ``KINDS``).
    **overrides
        Further Autoencoder parameters, also nested ones: ``latent__beta=0.1``, ``encoder__filters=(16, 32)``.

    Examples
    --------
    >>> from aelab import Autoencoder
    >>> Autoencoder(**kind("variational", latent__beta=0.5, n_components=8)).latent
    Gaussian(beta=0.5)
    """
    if name not in KINDS:
        raise ValueError(f"unknown kind {name!r}; choose one of {', '.join(KINDS)}")
    params: dict[str, Any] = {"encoder": Dense(), "latent": Deterministic(), "corruption": None,
                              "augmentation": None, "penalties": ()}
    params.update(KINDS[name](hidden, activation))
    params = {k: clone(v) if isinstance(v, (Part, tuple)) else v for k, v in params.items()}
    for key, value in overrides.items():
        family, _, inner = key.partition("__")
        if not inner:
            params[key] = value
        elif isinstance(params.get(family), Part):
            params[family].set_params(**{inner: value})
        else:
            raise ValueError(f"the kind {name!r} has no part {family!r} to set {key!r} on; pass the part itself")
    return params
