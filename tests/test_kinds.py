"""Every kind of autoencoder through the estimator: fitting, save/load, sampling, ELBO, denoising, images."""

import numpy as np
import pytest
import torch

from aelab import Autoencoder, load
from aelab.estimators import params_record
from aelab.parts import (
    KINDS,
    Contractive,
    Conv,
    Dense,
    Gaussian,
    LatentCycle,
    Masking,
    Sparsity,
    kind,
)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return (load_digits().data[:300] / 16.0).astype(np.float32)


def tiny(name="vanilla", **kw):
    params = kind(name, hidden=(16,), n_components=3, epochs=2, batch_size=64, random_state=0, device="cpu")
    if params["encoder"].needs_image_shape:
        params["encoder"].set_params(filters=(4, 8))
    params.update(kw)
    return Autoencoder(**params)


COMBINATIONS = [(name, {}) for name in KINDS] + [
    ("variational", {"encoder": Conv(filters=(4, 8)), "corruption": Masking(0.2)}),
    ("sparse", {"penalties": (*kind("sparse")["penalties"], Contractive(0.01), LatentCycle(1.0, mode="joint"))}),
]


@pytest.mark.parametrize("kind, extra", COMBINATIONS, ids=[k + ("+" if e else "") for k, e in COMBINATIONS])
def test_every_kind_fits_and_round_trips_bit_identically(digits, tmp_path, kind, extra):
    ae = tiny(kind, **extra).fit(digits)
    assert np.isfinite(ae.history_["train_loss"]).all() and len(ae.history_["train_loss"]) == 2
    ae.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert params_record(loaded) == params_record(ae)
    assert [type(p) for p in loaded.penalties] == [type(p) for p in ae.penalties]
    np.testing.assert_array_equal(loaded.transform(digits), ae.transform(digits))
    np.testing.assert_array_equal(loaded.reconstruct(digits), ae.reconstruct(digits))
    assert ae.transform(digits).shape == (300, 3) and ae.reconstruct(digits).shape == (300, 64)
    if ae.can_generate:
        assert kind in ("variational", "variational-batch", "double") or extra
        np.testing.assert_array_equal(loaded.sample(4, random_state=1), ae.sample(4, random_state=1))
        assert ae.sample(4, random_state=1).shape == (4, 64)


def test_sample_refused_for_kinds_that_do_not_generate(digits):
    with pytest.raises(ValueError, match=r"sample\(\) needs a generative autoencoder.*latent=Deterministic\(\) and "
                                         r"penalties=\(\); fit with latent=Gaussian\(\)"):
        tiny("denoising").fit(digits).sample(2)


def test_elbo_is_the_bernoulli_log_likelihood_minus_the_kl(digits):
    ae = tiny("variational", loss="bce").fit(digits)
    x = torch.from_numpy(digits[:5].astype(np.float64))
    seed = int(np.random.RandomState(7).randint(0, 2**31 - 1))
    network = ae.network_.double()
    with torch.no_grad():
        mean, log_variance = network.encoder.head(network.encoder.body(x))
        eps = torch.randn(mean.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        p = torch.sigmoid(network.decoder(mean + torch.exp(0.5 * log_variance) * eps))
        log_likelihood = (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=1)
        kl = 0.5 * (mean**2 + log_variance.exp() - 1 - log_variance).sum(dim=1)
    ae.network_.float()
    np.testing.assert_allclose(ae.elbo(digits[:5].astype(np.float64), random_state=7),
                               (log_likelihood - kl).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="elbo\\(\\) needs a variational autoencoder with a Bernoulli likelihood"):
        tiny("variational").fit(digits).elbo(digits)


def test_transform_of_a_vae_is_the_posterior_mean(digits):
    ae = tiny("variational").fit(digits)
    with torch.no_grad():
        mean, _ = ae.network_.encoder.head(ae.network_.encoder.body(torch.from_numpy(digits)))
    np.testing.assert_allclose(ae.transform(digits), mean.numpy(), rtol=1e-6)


def test_denoising_corrupts_only_in_training(digits):
    clean = tiny().fit(digits)
    noisy = tiny("denoising").fit(digits)
    assert noisy.history_["train_loss"] != clean.history_["train_loss"]
    np.testing.assert_array_equal(noisy.denoise(digits), noisy.reconstruct(digits))
    # evaluation mode (the validation loss) sees the clean input; training mode a corrupted one
    x = torch.from_numpy(digits[:50])
    loss_fn = noisy.training_loss(1, (float(digits.min()), float(digits.max())), torch.Generator().manual_seed(0))
    network = noisy.network_.eval()
    with torch.no_grad():
        clean_error = float(noisy.reconstruction_error(digits[:50]).mean())
        assert float(loss_fn(network, x)) == pytest.approx(clean_error, rel=1e-5)
        assert float(loss_fn(network, x)) == float(loss_fn(network, x))
        network.train()
        first, second = float(loss_fn(network, x)), float(loss_fn(network, x))
        assert first != second and first != pytest.approx(clean_error, rel=1e-5)
        network.eval()


def test_conv_takes_image_arrays_and_flat_rows_alike(digits):
    images = digits.reshape(-1, 8, 8)
    ae = tiny("conv").fit(images)
    assert ae.sample_shape_ == (1, 8, 8) and ae.n_features_in_ == 64
    np.testing.assert_array_equal(ae.transform(images), ae.transform(digits))
    np.testing.assert_array_equal(ae.transform(images[:, None]), ae.transform(digits))
    with pytest.raises(ValueError, match=r"the images have shape \(4, 16\) but the model was fitted on \(1, 8, 8\)"):
        ae.transform(digits.reshape(-1, 4, 16))
    rgb = np.random.default_rng(0).random((40, 3, 7, 9)).astype(np.float32)
    ae = tiny("conv").fit(rgb)
    assert ae.sample_shape_ == (3, 7, 9) and ae.reconstruct(rgb).shape == (40, 189)
    with pytest.raises(ValueError, match="Conv needs the image shape, and 189 features are not a square image; pass "
                                         "sample_shape"):
        tiny("conv").fit(rgb.reshape(40, -1))
    with pytest.raises(ValueError, match=r"sample_shape \(1, 8, 9\) holds 72 values but the data have 64"):
        tiny("conv", encoder=Conv(filters=(4, 8), sample_shape=(8, 9))).fit(digits)


def test_contractive_penalty_lowers_the_jacobian_norm(digits):
    vanilla = tiny(epochs=5).fit(digits)
    contractive = tiny("contractive", penalties=(Contractive(1.0),), epochs=5).fit(digits)
    assert contractive.jacobian_norm(digits).mean() < vanilla.jacobian_norm(digits).mean()
    one_layer = tiny(encoder=Dense(hidden=(), code_activation="sigmoid"), penalties=(Contractive(1.0),)).fit(digits)
    assert one_layer.jacobian_norm(digits).shape == (300,)


@pytest.mark.parametrize("params, message", [
    ({"encoder": "rnn"},
     "encoder='rnn' is not one of the encoder parts; pass one of aelab.parts \\(Dense, Conv\\) or None"),
    ({"latent": "uniform"},
     "latent='uniform' is not one of the latent parts; pass one of aelab.parts \\(Deterministic, "
                            "Gaussian\\)"),
    ({"latent": Gaussian(kl="mc")}, "Gaussian kl='mc' is not one of 'analytic', 'batch'"),
    ({"corruption": "blur"},
     "corruption='blur' is not one of the corruption parts; pass one of aelab.parts \\(GaussianNoise, "
                             "Masking, SaltPepper\\)"),
    ({"corruption": Masking(1.5)}, "Masking level must be a number >= 0.0 and <= 1.0, got 1.5"),
    ({"latent": Gaussian(beta=-1)}, "Gaussian beta must be a number >= 0.0, got -1"),
    ({"penalties": (Sparsity(0.1),)}, "Sparsity needs hidden activations in \\[0, 1\\], but the encoder is "
                                      "Dense\\(hidden=\\(16,\\)\\) with activation='relu'; pass an encoder with "
                                      "activation='sigmoid'"),
    ({"encoder": Dense(activation="sigmoid"), "penalties": (Sparsity(0.1, target=1.0),)},
     "Sparsity target must be a number > 0.0 and < 1.0, got 1.0"),
    ({"penalties": (LatentCycle(mode="sometimes"),)}, "LatentCycle mode='sometimes' is not one of"),
    ({"penalties": (LatentCycle(n_alternations=0),)}, "LatentCycle n_alternations must be an integer >= 1, got 0"),
    ({"encoder": Conv(filters=())}, "Conv filters must name at least one convolution"),
    ({"penalties": (Contractive(), Contractive())}, "penalties holds the same penalty twice \\(contractive, "
                                                    "contractive\\)"),
    ({"penalties": (Masking(),)}, "penalties holds Masking\\(\\), which is not a penalty part"),
])
def test_bad_kind_parameters(digits, params, message):
    with pytest.raises(ValueError, match=message):
        tiny(**params).fit(digits)


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown kind 'magic'; choose one of vanilla, conv, denoising"):
        kind("magic")
