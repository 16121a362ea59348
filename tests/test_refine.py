"""Codes refined against the decoder: aelab.nn.refine and the Deterministic latent's refine_steps."""

import copy
import json
import logging

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from aelab import Autoencoder, load
from aelab.compare import METHODS, CompareJob
from aelab.data import DataOptions, load_dataset
from aelab.export import export_model
from aelab.nn.refine import refine_codes
from aelab.parts import Conv, Dense, Deterministic, Gaussian, kind


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data / 16.0).astype(np.float32)


def random_decoder(n_components=2, n_features=12, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(n_components, 16), torch.nn.Tanh(), torch.nn.Linear(16, n_features))


# ---------------------------------------------------------------------------------------------- refine_codes
def test_a_linear_decoder_reaches_the_least_squares_code():
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(10, 3, generator=generator, dtype=torch.float64)
    bias = torch.randn(10, generator=generator, dtype=torch.float64)
    x = torch.randn(5, 10, generator=generator, dtype=torch.float64)
    expected = torch.linalg.lstsq(weight, (x - bias).T).solution.T
    refined = refine_codes(lambda z: z @ weight.T + bias, x, torch.zeros(5, 3, dtype=torch.float64), steps=5)
    torch.testing.assert_close(refined, expected, rtol=0, atol=1e-9)


def test_no_row_ends_further_from_its_data_and_most_come_nearer():
    decoder = random_decoder()
    with torch.no_grad():
        x = decoder(torch.randn(200, 2) * 2) + 0.05 * torch.randn(200, 12)
        start = torch.randn(200, 2)
        before = (decoder(start) - x).square().sum(1)
        after = (decoder(refine_codes(decoder, x, start, steps=20)) - x).square().sum(1)
    assert bool((after <= before).all())
    assert float((after < 0.5 * before).float().mean()) > 0.9


def test_each_row_is_refined_alone():
    decoder = random_decoder().double()  # float64, so that only the rows refined together could differ
    with torch.no_grad():
        x = decoder(torch.randn(30, 2, dtype=torch.float64)) + 0.05 * torch.randn(30, 12, dtype=torch.float64)
        start = torch.randn(30, 2, dtype=torch.float64)
        together = refine_codes(decoder, x, start, steps=8)
        alone = torch.cat([refine_codes(decoder, x[i:i + 1], start[i:i + 1], steps=8) for i in range(30)])
    torch.testing.assert_close(together, alone, rtol=1e-6, atol=1e-6)


def test_zero_steps_return_the_codes_and_a_constant_decoder_moves_nothing():
    start = torch.randn(4, 2)
    assert refine_codes(random_decoder(), torch.randn(4, 12), start, steps=0) is start
    constant = torch.ones(4, 12)
    refined = refine_codes(lambda z: constant + 0 * z.sum(1, keepdim=True), torch.randn(4, 12), start, steps=3)
    torch.testing.assert_close(refined, start, rtol=0, atol=0)


# --------------------------------------------------------------------------------------------- the estimator
def fitted(digits, refine_steps=0, **params):
    return Autoencoder(latent=Deterministic(refine_steps=refine_steps), encoder=Dense(hidden=(32,)),
                       n_components=2, epochs=3, batch_size=64, random_state=0, device="cpu",
                       **params).fit(digits[:600])


def test_transform_reconstruct_and_scores_use_the_refined_code(digits):
    ae = fitted(digits, refine_steps=10)
    new = digits[600:900]
    codes = ae.transform(new)
    network = ae.network_
    with torch.no_grad():
        x = torch.as_tensor(new)
        encoder_codes = network.encode(x)
        expected = refine_codes(network.decode, x, encoder_codes, 10).numpy()
    np.testing.assert_allclose(codes, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(codes - encoder_codes.numpy()).max() > 1e-3
    np.testing.assert_array_equal(ae.reconstruct(new), ae.inverse_transform(codes))
    refined_error = ae.reconstruction_error(new)
    np.testing.assert_allclose(refined_error, ((ae.reconstruct(new) - new) ** 2).mean(1), rtol=1e-4)
    unrefined_error = ae.set_params(latent__refine_steps=0).reconstruction_error(new)
    assert bool((refined_error <= unrefined_error + 1e-7).all())
    assert refined_error.mean() < 0.99 * unrefined_error.mean()
    assert float((refined_error < unrefined_error).mean()) > 0.9


def test_float64_rows_are_refined_in_float64(digits):
    ae = fitted(digits, refine_steps=5)
    codes = ae.transform(digits[600:650].astype(np.float64))
    assert codes.dtype == np.float64
    np.testing.assert_allclose(codes, ae.transform(digits[600:650]), rtol=1e-3, atol=1e-4)


def test_a_conv_body_refines_too(digits):
    ae = Autoencoder(encoder=Conv(filters=(4,), sample_shape=(1, 8, 8)), latent=Deterministic(refine_steps=5),
                     n_components=2, epochs=2, random_state=0, device="cpu").fit(digits[:300])
    before = ae.set_params(latent__refine_steps=0).reconstruction_error(digits[300:400])
    after = ae.set_params(latent__refine_steps=5).reconstruction_error(digits[300:400])
    assert after.mean() < before.mean()


def test_a_negative_number_of_steps_is_refused(digits):
    with pytest.raises(ValueError, match=r"Deterministic refine_steps must be an integer >= 0, got -1"):
        Autoencoder(latent=Deterministic(refine_steps=-1), epochs=1, device="cpu").fit(digits[:100])


def test_save_and_load_keep_the_steps_and_the_codes(digits, tmp_path):
    ae = fitted(digits, refine_steps=4)
    ae.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert loaded.latent.get_params() == {"refine_start": "encoder", "refine_steps": 4}
    np.testing.assert_array_equal(loaded.transform(digits[600:]), ae.transform(digits[600:]))


def test_the_umap_kind_and_compares_umap_ae_refine_their_codes():
    from aelab.parts.kinds import UMAP_REFINE_STEPS

    assert kind("umap")["latent"].get_params() == {"refine_start": "encoder", "refine_steps": UMAP_REFINE_STEPS}
    assert kind("vanilla")["latent"].get_params() == {"refine_start": "encoder", "refine_steps": 0}
    dataset = load_dataset("digits")
    for name in ("vanilla", "conv", "umap"):
        job = CompareJob(data=DataOptions("digits"), kind=name, device="cpu")
        umap_ae = METHODS["umap-ae"].make(job, dataset)
        assert umap_ae.latent.get_params() == {"refine_start": "grid", "refine_steps": UMAP_REFINE_STEPS}
        start = umap_ae.penalties[0].start  # the neighbour-graph autoencoder whose code starts the layout
        assert umap_ae.penalties[0].start_weight == 3.0  # and holds it near that code
        assert start.latent.refine_steps == UMAP_REFINE_STEPS
        assert METHODS["ae"].make(job, dataset).latent.refine_steps == (UMAP_REFINE_STEPS if name == "umap" else 0)
    job = CompareJob(data=DataOptions("digits"), kind="variational", device="cpu")
    umap_ae = METHODS["umap-ae"].make(job, dataset)
    assert isinstance(umap_ae.penalties[0].start.latent, Gaussian) and isinstance(umap_ae.latent, Deterministic)


def test_compares_refine_steps_set_both_autoencoders():
    dataset = load_dataset("digits")
    for steps in (0, 3):
        job = CompareJob(data=DataOptions("digits"), refine_steps=steps, device="cpu")
        latent = METHODS["umap-ae"].make(job, dataset).latent
        assert latent.get_params() == {"refine_start": "grid" if steps else "encoder", "refine_steps": steps}
        assert METHODS["ae"].make(job, dataset).latent.refine_steps == steps
    job = CompareJob(data=DataOptions("digits"), kind="umap", refine_steps=0, device="cpu")
    assert METHODS["ae"].make(job, dataset).latent.refine_steps == 0


def test_export_gives_the_encoders_code_and_says_so(digits, tmp_path, caplog):
    ae = fitted(digits, refine_steps=3)
    with caplog.at_level(logging.WARNING, logger="aelab.export"):
        record = export_model(ae, tmp_path / "out", format="torchscript")
    assert record["code"] == ("the encoder's code, before the 3 refinement steps against the decoder that the "
                              "model's transform takes (refine_steps)")
    assert any("without the 3 refinement steps" in r.getMessage() for r in caplog.records)
    encoder = torch.jit.load(str(tmp_path / "out" / "encoder.pt"))
    unrefined = copy.deepcopy(ae).set_params(latent__refine_steps=0)
    with torch.no_grad():
        exported = encoder(torch.as_tensor(digits[600:700])).numpy()
    np.testing.assert_allclose(exported, unrefined.transform(digits[600:700]), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- the command line
def test_train_takes_refine_steps_and_records_them(tmp_path):
    from aelab.cli import main

    assert main(["train", "--data", "digits", "--refine-steps", "4", "--latent", "2", "--hidden", "16",
                 "--epochs", "1", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["job"]["refine_steps"] == 4
    model = json.loads((tmp_path / "run" / "model.json").read_text())
    assert model["params"]["latent"] == {"part": "Deterministic",
                                         "params": {"refine_start": "encoder", "refine_steps": 4}}


def test_train_refuses_refine_steps_for_a_gaussian_code(tmp_path, capsys):
    from aelab.cli import main

    assert main(["train", "--data", "digits", "--kind", "variational", "--refine-steps", "3", "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == (
        "aelab: error: --refine-steps refines a deterministic code, but the variational kind's code is Gaussian(); "
        "leave out --refine-steps for this kind")
    assert not (tmp_path / "run").exists()


def test_compare_takes_refine_steps_and_records_them(tmp_path):
    from aelab.cli import main

    assert main(["compare", "--data", "digits", "--methods", "pca,ae", "--refine-steps", "2", "--hidden", "16",
                 "--epochs", "1", "--out", str(tmp_path / "c"), "--quiet", "--plotly", "cdn"]) == 0
    config = json.loads((tmp_path / "c" / "config.json").read_text())
    assert config["job"]["refine_steps"] == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--kind", "variational", "--refine-steps", "3"],
     "--refine-steps refines a deterministic code, but the variational kind's code is Gaussian(); leave out "
     "--refine-steps for this kind"),
    (["--refine-steps", "-1"], "--refine-steps must be an integer >= 0, got -1"),
])
def test_compare_refuses_bad_refine_steps_before_fitting(tmp_path, capsys, monkeypatch, args, message):
    from aelab import baselines
    from aelab.cli import main

    monkeypatch.setattr(baselines.TSNEBaseline, "fit", lambda *a, **k: pytest.fail("t-SNE was fitted"))
    assert main(["compare", "--data", "digits", "--methods", "tsne,ae", *args, "--epochs", "1",
                 "--out", str(tmp_path / "c"), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == f"aelab: error: {message}"
    assert not (tmp_path / "c").exists()
