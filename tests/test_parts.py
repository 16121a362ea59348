"""Parts as scikit-learn parameters: nested get/set, GridSearchCV, clone, the registry, and the loss as the sum
of what the parts contribute, against a hand computation."""

import inspect
import json

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from aelab import Autoencoder, load
from aelab.objectives import l1_penalty, reconstruction_error_sum, reconstruction_loss, sparsity_kl
from aelab.parts import (
    KINDS,
    PARTS,
    Contractive,
    Conv,
    Dense,
    Deterministic,
    Gaussian,
    GaussianNoise,
    L1Code,
    LatentCycle,
    Sparsity,
    kind,
)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return (load_digits().data[:200] / 16.0).astype(np.float32)


def test_the_constructor_takes_at_most_22_parameters():
    parameters = inspect.signature(Autoencoder.__init__).parameters
    assert len(parameters) - 1 == 22
    assert "n_components" in parameters and "latent_dim" not in parameters


def test_nested_parameters_of_parts_and_penalties():
    ae = Autoencoder(encoder=Dense(hidden=(8,)), latent=Gaussian(beta=0.5), penalties=(L1Code(1e-3), Sparsity()))
    params = ae.get_params()
    assert params["latent__beta"] == 0.5 and params["encoder__hidden"] == (8,)
    assert params["penalties__l1_code__weight"] == 1e-3 and params["penalties__sparsity__target"] == 0.05
    ae.set_params(latent__kl="batch", penalties__sparsity__target=0.1, penalties__l1_code__weight=0.0, n_components=3)
    assert ae.latent.kl == "batch" and ae.penalties[1].target == 0.1 and ae.penalties[0].weight == 0.0
    assert ae.n_components == 3
    with pytest.raises(ValueError, match="invalid parameter 'penalties__contractive__weight': the penalties are "
                                         "l1_code, sparsity; name one as penalties__<name>__<param>"):
        ae.set_params(penalties__contractive__weight=1.0)


def test_clone_keeps_parts_independent():
    ae = Autoencoder(encoder=Dense(hidden=(8,)), latent=Gaussian(beta=0.5), penalties=(L1Code(1e-3),))
    copy = clone(ae)
    copy.set_params(latent__beta=2.0, encoder__hidden=(4,), penalties__l1_code__weight=0.5)
    assert ae.latent.beta == 0.5 and ae.encoder.hidden == (8,) and ae.penalties[0].weight == 1e-3
    assert copy.latent is not ae.latent and copy.penalties[0] is not ae.penalties[0]


def test_grid_search_over_nested_part_parameters(digits):
    ae = Autoencoder(encoder=Dense(hidden=(8,)), latent=Gaussian(), epochs=2, batch_size=64, random_state=0,
                     device="cpu")
    search = GridSearchCV(ae, {"latent__beta": [0.1, 1.0], "n_components": [2, 4]}, cv=2).fit(digits)
    assert sorted(map(tuple, (sorted(p.items()) for p in search.cv_results_["params"]))) == [
        (("latent__beta", 0.1), ("n_components", 2)), (("latent__beta", 0.1), ("n_components", 4)),
        (("latent__beta", 1.0), ("n_components", 2)), (("latent__beta", 1.0), ("n_components", 4))]
    assert search.best_estimator_.latent.beta == search.best_params_["latent__beta"]
    assert ae.latent.beta == 1.0  # the searched estimator's parts are clones
    sparse = Autoencoder(**kind("sparse", hidden=(8,), epochs=2, batch_size=64, random_state=0, device="cpu"))
    search = GridSearchCV(sparse, {"penalties__l1_code__weight": [0.0, 1e-2]}, cv=2).fit(digits)
    assert [p["penalties__l1_code__weight"] for p in search.cv_results_["params"]] == [0.0, 1e-2]
    assert search.best_estimator_.penalties[0].weight == search.best_params_["penalties__l1_code__weight"]


def test_the_loss_is_the_sum_of_what_the_parts_contribute(digits):
    ae = Autoencoder(encoder=Dense(hidden=(6,), activation="sigmoid"), penalties=(L1Code(0.3), Sparsity(0.2, 0.1)),
                     n_components=3, epochs=1, random_state=0, device="cpu").fit(digits)
    x = torch.from_numpy(digits[:20])
    network = ae.network_.eval()
    loss_fn = ae.training_loss(1, (0.0, 1.0), None)
    with torch.no_grad():
        hidden = network.encoder.body(x)
        codes = network.encoder.head(hidden)
        expected = (reconstruction_loss(network.decoder(codes), x, "mse", "sigmoid")
                    + 0.3 * l1_penalty(codes).mean() + 0.2 * sparsity_kl(hidden, 0.1))
        assert float(loss_fn(network, x)) == pytest.approx(float(expected), rel=1e-6)
    gaussian = Autoencoder(encoder=Dense(hidden=(6,)), latent=Gaussian(beta=0.7), n_components=2, epochs=1,
                           random_state=0, device="cpu").fit(digits)
    network = gaussian.network_.eval()
    with torch.no_grad():
        mean, log_variance = network.encoder.head(network.encoder.body(x))
        kl = 0.5 * (mean.square() + log_variance.exp() - 1 - log_variance).sum(dim=1)
        expected = reconstruction_error_sum(network.decoder(mean), x, "mse", "sigmoid").mean() + 0.7 * kl.mean()
        assert float(gaussian.training_loss()(network, x)) == pytest.approx(float(expected), rel=1e-6)


def test_capabilities_come_from_the_parts():
    assert not Autoencoder().can_generate and not Autoencoder(loss="bce").has_elbo
    assert Autoencoder(latent=Gaussian()).can_generate and Autoencoder(latent=Gaussian(), loss="bce").has_elbo
    assert Autoencoder(penalties=(LatentCycle(),)).can_generate


def test_the_registry_names_every_part_and_every_kind():
    assert set(PARTS) == {"Dense", "Conv", "Deterministic", "Gaussian", "GaussianNoise", "Masking", "SaltPepper",
                          "Affine", "L1Code", "Sparsity", "Contractive", "LatentCycle", "NeighbourGraph", "FreeLayout"}
    assert list(KINDS) == ["vanilla", "conv", "denoising", "sparse", "contractive", "variational",
                           "variational-batch", "double", "umap"]
    sparse = kind("sparse", hidden=(32,), activation="relu")
    assert sparse["encoder"].get_params() == Dense(hidden=(32,), activation="sigmoid").get_params()
    assert [type(p) for p in sparse["penalties"]] == [L1Code, Sparsity]
    assert isinstance(kind("conv", hidden=(32,))["encoder"], Conv) and kind("conv")["encoder"].hidden == ()
    assert kind("variational-batch", latent__beta=0.1)["latent"].get_params() == {"beta": 0.1, "kl": "batch"}
    assert isinstance(kind("vanilla")["latent"], Deterministic) and kind("contractive")["penalties"][0].weight == 0.1
    assert kind("vanilla")["encoder"] is not kind("vanilla")["encoder"]
    with pytest.raises(ValueError, match="the kind 'vanilla' has no part 'corruption' to set 'corruption__level'"):
        kind("vanilla", corruption__level=0.1)


def test_model_json_records_each_part_by_name(digits, tmp_path):
    ae = Autoencoder(encoder=Dense(hidden=(8,)), latent=Gaussian(beta=0.5), corruption=GaussianNoise(0.2),
                     penalties=(Contractive(0.01),), n_components=2, epochs=1, random_state=0, device="cpu").fit(digits)
    ae.save(tmp_path / "m")
    record = json.loads((tmp_path / "m" / "model.json").read_text())
    assert record["format_version"] == 3
    assert record["params"]["latent"] == {"part": "Gaussian", "params": {"beta": 0.5, "kl": "analytic"}}
    assert record["params"]["encoder"] == {"part": "Dense", "params": {"activation": "relu", "code_activation": None,
                                                                      "decoder_hidden": None, "hidden": [8]}}
    assert record["params"]["penalties"] == [{"part": "Contractive", "params": {"weight": 0.01}}]
    assert record["params"]["augmentation"] is None
    loaded = load(tmp_path / "m")
    assert loaded.encoder.hidden == (8,) and loaded.corruption.level == 0.2
    np.testing.assert_array_equal(loaded.transform(digits), ae.transform(digits))


@pytest.mark.parametrize("change, message", [
    (lambda r: r["params"].update(latent={"part": "os.system", "params": {}}),
     "params.latent names the part 'os.system', which is not one of Dense, Conv"),
    (lambda r: r["params"].update(latent={"part": "Gaussian", "params": {"beta": 1.0, "kl": "analytic", "x": 1}}),
     r"the parameters of Gaussian must be exactly \['beta', 'kl'\]"),
    (lambda r: r["params"].update(latent={"part": "Gaussian", "params": {"beta": -1.0, "kl": "analytic"}}),
     "holds an invalid configuration .*Gaussian beta must be a number >= 0.0, got -1.0"),
    (lambda r: r["params"].update(penalties={"part": "L1Code"}), "params.penalties is .*, not a list of parts"),
    (lambda r: r["params"].update(encoder=["Dense"]), r"params.encoder must be \{'part': NAME, 'params'"),
])
def test_loading_refuses_unregistered_or_bad_parts(digits, tmp_path, change, message):
    Autoencoder(encoder=Dense(hidden=(8,)), epochs=1, random_state=0, device="cpu").fit(digits).save(tmp_path / "m")
    record = json.loads((tmp_path / "m" / "model.json").read_text())
    change(record)
    (tmp_path / "m" / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=message):
        load(tmp_path / "m")


def test_a_model_folder_of_the_old_format_gets_one_line_naming_both_versions(digits, tmp_path):
    Autoencoder(encoder=Dense(hidden=(8,)), epochs=1, random_state=0, device="cpu").fit(digits).save(tmp_path / "m")
    record = json.loads((tmp_path / "m" / "model.json").read_text())
    record["format_version"] = 1
    record["params"] = {"hidden": [8], "latent_dim": 2}
    (tmp_path / "m" / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError) as caught:
        load(tmp_path / "m")
    assert str(caught.value) == (f"model.json in {tmp_path / 'm'} has format version 1 but this aelab reads version 3; "
                                 "retrain the model with this version")


def test_a_model_saved_before_a_parameter_existed_is_told_to_fit_again(digits, tmp_path):
    Autoencoder(encoder=Dense(hidden=(8,)), latent=Deterministic(refine_steps=3), epochs=1, random_state=0,
                device="cpu").fit(digits).save(tmp_path / "m")
    record = json.loads((tmp_path / "m" / "model.json").read_text())
    del record["params"]["latent"]["params"]["refine_start"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError) as caught:
        load(tmp_path / "m")
    assert str(caught.value) == (
        f"{tmp_path / 'm' / 'model.json'}: params.latent: the parameters of Deterministic must be exactly "
        "['refine_start', 'refine_steps'], got ['refine_steps']; ['refine_start'] came after this model was saved: "
        "fit and save it again with this aelab (or load it with the aelab that saved it)")
    record["params"]["latent"]["params"] = {"refine_start": "encoder", "refine_steps": 3, "steps": 3}  # unknown
    (tmp_path / "m" / "model.json").write_text(json.dumps(record))
    with pytest.raises(ValueError) as caught:
        load(tmp_path / "m")
    assert str(caught.value).endswith("must be exactly ['refine_start', 'refine_steps'], got ['refine_start', "
                                      "'refine_steps', 'steps']")


def test_a_new_part_needs_only_its_class_and_a_registry_line(digits, tmp_path, monkeypatch):
    from aelab.parts.base import check_number
    from aelab.parts.penalties import Penalty

    class L2Code(Penalty):
        """``weight`` times the squared L2 norm of the code (batch mean)."""

        short_name = "l2_code"

        def __init__(self, weight=1e-3):
            self.weight = weight

        def validate(self, n_features, encoder=None):
            check_number("L2Code weight", self.weight)

        def term(self, batch):
            return float(self.weight) * batch.codes.square().sum(dim=1).mean()

    monkeypatch.setitem(PARTS, "L2Code", L2Code)  # the registry line
    settings = dict(encoder=Dense(hidden=(8,)), n_components=2, epochs=2, random_state=0, device="cpu")
    ae = Autoencoder(penalties=(L2Code(0.5),), **settings).fit(digits)
    plain = Autoencoder(**settings).fit(digits)
    x = torch.from_numpy(digits[:20])
    network = ae.network_.eval()
    with torch.no_grad():
        codes = network.encode(x)
        expected = (reconstruction_loss(network.decoder(codes), x, "mse", "sigmoid")
                    + 0.5 * codes.square().sum(dim=1).mean())
        assert float(ae.training_loss()(network, x)) == pytest.approx(float(expected), rel=1e-6)
    assert ae.history_["train_loss"] != plain.history_["train_loss"]
    assert ae.get_params()["penalties__l2_code__weight"] == 0.5
    ae.save(tmp_path / "m")
    assert load(tmp_path / "m").penalties[0].get_params() == {"weight": 0.5}
    with pytest.raises(ValueError, match="L2Code weight must be a number >= 0.0, got -1"):
        Autoencoder(penalties=(L2Code(-1),), **settings).fit(digits)
