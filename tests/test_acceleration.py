import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from aelab import Autoencoder
from aelab.acceleration import autocast, compiled_or_eager, prefer_channels_last
from aelab.estimators import load
from aelab.parts import Affine, Conv, Dense, GaussianNoise

X = (load_digits().data[:400] / 16.0).astype(np.float32)


def _fit(**params):
    return Autoencoder(encoder=Dense(hidden=(16,)), n_components=2, epochs=2, random_state=0, device="cpu",
                       **params).fit(X)


def test_unknown_precision_names_the_choices():
    with pytest.raises(ValueError, match="precision='fp16' is not one of 'fp32', 'bf16'"):
        _fit(precision="fp16")


def test_compile_must_be_a_bool():
    with pytest.raises(ValueError, match="compile must be True or False, got 'yes'"):
        _fit(compile="yes")


def test_bf16_autocast_computes_products_in_bfloat16_and_trains():
    layer = torch.nn.Linear(4, 3)
    with autocast("bf16", torch.device("cpu")):
        assert layer(torch.ones(2, 4)).dtype == torch.bfloat16
    with autocast("fp32", torch.device("cpu")):
        assert layer(torch.ones(2, 4)).dtype == torch.float32
    bf16, fp32 = _fit(precision="bf16"), _fit()
    assert all(p.dtype == torch.float32 for p in bf16.network_.parameters())  # weights stay float32
    np.testing.assert_allclose(bf16.history_["train_loss"], fp32.history_["train_loss"], rtol=0.05)


@pytest.mark.parametrize("params", [{}, {"augmentation": Affine()}, {"corruption": GaussianNoise()}],
                         ids=["plain", "augmented", "corrupted"])
def test_compile_failure_warns_and_trains_as_without_it(monkeypatch, params):
    def broken_compile(function):
        def compiled(*args):
            raise RuntimeError("no C compiler found")
        return compiled

    monkeypatch.setattr(torch, "compile", broken_compile)
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*no C compiler found.*without compile=True"):
        compiled = _fit(compile=True, **params)
    plain = _fit(**params)
    for a, b in zip(compiled.network_.parameters(), plain.network_.parameters(), strict=True):
        assert torch.equal(a, b)


def test_compile_unavailable_warns_and_trains_as_without_it(monkeypatch):
    def unavailable(function):
        raise RuntimeError("Python 3.99 is not supported")

    monkeypatch.setattr(torch, "compile", unavailable)
    with pytest.warns(RuntimeWarning, match="torch.compile is not available here"):
        compiled = _fit(compile=True)
    plain = _fit()
    for a, b in zip(compiled.network_.parameters(), plain.network_.parameters(), strict=True):
        assert torch.equal(a, b)


def test_compiled_or_eager_without_compile_is_the_function_itself():
    def function(x):
        return x

    assert compiled_or_eager(function, compile=False) is function


@pytest.mark.slow
def test_compile_true_trains_like_eager():
    compiled, plain = _fit(compile=True), _fit()
    np.testing.assert_allclose(compiled.history_["train_loss"], plain.history_["train_loss"], rtol=1e-4)


def test_channels_last_on_cuda_layout_keeps_the_outputs():
    ae = Autoencoder(encoder=Conv(filters=(4, 8)), n_components=2, epochs=1, random_state=0,
                     device="cpu").fit(X)
    network = ae.network_
    before = network.decode(network.encode(torch.from_numpy(X[:5]))).detach()
    # the layout change is what CUDA gets; it can be checked on CPU tensors
    converted = prefer_channels_last(network, torch.device("cuda"))
    conv = [m for m in converted.modules() if isinstance(m, torch.nn.Conv2d)][-1]  # 4 -> 8 channels
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    after = converted.decode(converted.encode(torch.from_numpy(X[:5]))).detach()
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-6)
    cpu_only = Autoencoder(encoder=Conv(filters=(4, 8)), n_components=2, epochs=1, random_state=0,
                           device="cpu").fit(X).network_
    kept = prefer_channels_last(cpu_only, torch.device("cpu"))
    conv = [m for m in kept.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    assert conv.weight.is_contiguous() and not conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_precision_is_saved_and_a_model_without_it_is_refused(tmp_path):
    _fit(precision="bf16").save(tmp_path)
    record = json.loads((tmp_path / "model.json").read_text())
    assert record["params"]["precision"] == "bf16" and load(tmp_path).precision == "bf16"
    del record["params"]["precision"], record["params"]["compile"]
    (tmp_path / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"params must be exactly .*missing \['compile', 'precision'\]; "
                                         r"\['compile', 'precision'\] came after this model was saved: fit and save"):
        load(tmp_path)
