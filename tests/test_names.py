"""The light name lists of aelab.names agree with the registries they stand for."""

import pytest

from aelab import names


@pytest.mark.parametrize("light, module, registry", [
    ("KINDS", "aelab.parts.kinds", "KINDS"),
    ("METHODS", "aelab.compare", "METHODS"),
    ("CLUSTER_METHODS", "aelab.cluster", "METHODS"),
    ("AUGMENTATIONS", "aelab.parts.augmentations", "AUGMENT_CHOICES"),
    ("ACTIVATIONS", "aelab.nn.layers", "ACTIVATIONS"),
])
def test_each_name_list_is_its_registrys_keys_in_order(light, module, registry):
    import importlib

    assert getattr(names, light) == tuple(getattr(importlib.import_module(module), registry))


def test_every_choice_is_hyphenated():
    for values in (names.KINDS, names.METHODS, names.CLUSTER_METHODS, names.SCORERS, names.AUGMENTATIONS,
                   names.ACTIVATIONS, names.ON_DIVERGENCE):
        assert [v for v in values if "_" in v] == []
