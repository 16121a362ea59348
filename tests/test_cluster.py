"""aelab.cluster: DEC's soft assignment, target and loss by hand; the clusterers on tiny data; sweep_k."""

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, make_blobs

from aelab.cluster import (
    DEC,
    IDEC,
    N2D,
    AutoencoderGaussianMixture,
    AutoencoderKMeans,
    clustering_autoencoder,
    sweep_k,
)
from aelab.estimators import params_record
from aelab.metrics import clustering_accuracy
from aelab.nn.clustering import ClusteringLayer, soft_assignment, target_distribution
from aelab.objectives import clustering_kl


def test_soft_assignment_matches_hand_computation():
    z = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    centres = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    # alpha = 1: kernel 1 / (1 + d^2); sample 0: d^2 = 0 and 4 -> 1 and 0.2; sample 1: d^2 = 1 and 1 -> 0.5, 0.5
    expected = torch.tensor([[1 / 1.2, 0.2 / 1.2], [0.5, 0.5]])
    assert torch.allclose(soft_assignment(z, centres, alpha=1.0), expected, atol=1e-6)
    # alpha = 2: kernel (1 + d^2 / 2) ** -1.5; sample 0: 1 and 3 ** -1.5
    far = 3.0 ** -1.5
    q = soft_assignment(z, centres, alpha=2.0)
    assert q[0].tolist() == pytest.approx([1 / (1 + far), far / (1 + far)], abs=1e-6)


def test_target_distribution_matches_hand_computation():
    q = torch.tensor([[0.8, 0.2], [0.5, 0.5]])
    # f = (1.3, 0.7); row 0: (0.64 / 1.3, 0.04 / 0.7) normalised = 0.448 / 0.5 and 0.052 / 0.5
    # row 1: (0.25 / 1.3, 0.25 / 0.7) normalised = 0.7 / 2 and 1.3 / 2
    expected = torch.tensor([[0.896, 0.104], [0.35, 0.65]])
    assert torch.allclose(target_distribution(q), expected, atol=1e-6)


def test_clustering_kl_matches_hand_computation():
    p = torch.tensor([[0.896, 0.104], [0.35, 0.65]])
    q = torch.tensor([[0.8, 0.2], [0.5, 0.5]])
    by_hand = (0.896 * math.log(0.896 / 0.8) + 0.104 * math.log(0.104 / 0.2)
               + 0.35 * math.log(0.35 / 0.5) + 0.65 * math.log(0.65 / 0.5)) / 2
    assert clustering_kl(p, q).item() == pytest.approx(by_hand, abs=1e-6)
    assert clustering_kl(q, q).item() == pytest.approx(0.0, abs=1e-6)


def test_clustering_loss_reaches_the_codes_and_the_centres():
    z = torch.tensor([[0.0, 0.0], [1.0, 0.5], [2.0, 0.0]], requires_grad=True)
    layer = ClusteringLayer(torch.tensor([[0.0, 0.0], [2.0, 0.0]]))
    q = layer(z)
    clustering_kl(target_distribution(q), q).backward()
    assert isinstance(layer.centres, torch.nn.Parameter)
    assert layer.centres.grad.abs().sum() > 0 and z.grad.abs().sum() > 0


def _equal_tensors(first, second) -> list[bool]:
    first, second = list(first), list(second)
    assert len(first) == len(second)
    return [torch.equal(a, b) for a, b in zip(first, second, strict=True)]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="module")
def digits_autoencoder(digits):
    X, _ = digits
    return clustering_autoencoder(epochs=30, random_state=0, hidden=(64, 64, 128)).fit(X)


def test_clustering_autoencoder_has_the_literature_shape():
    ae = clustering_autoencoder(epochs=3, random_state=1)
    assert (ae.encoder.hidden, ae.n_components, ae.batch_size, ae.validation_fraction, ae.patience) == (
        (500, 500, 2000), 10, 256, 0.0, None)


def test_dec_moves_encoder_and_centres_and_beats_its_kmeans_start(digits, digits_autoencoder):
    X, y = digits
    before = [p.detach().clone() for p in digits_autoencoder.network_.encoder.parameters()]
    dec = DEC(digits_autoencoder, n_clusters=10, random_state=0).fit(X)
    # the shared autoencoder is left as it was; the copy in autoencoder_ was fine-tuned
    assert _equal_tensors(before, digits_autoencoder.network_.encoder.parameters()) == [True] * len(before)
    assert _equal_tensors(before, dec.autoencoder_.network_.encoder.parameters()) == [False] * len(before)
    assert dec.changed_[-1] < 0.001 and dec.n_iter_ % 140 == 0 and dec.n_iter_ < 20000
    start = clustering_accuracy(y, dec.initial_labels_)
    assert clustering_accuracy(y, dec.labels_) > start + 0.02
    np.testing.assert_array_equal(dec.predict(X), dec.labels_)
    q = dec.soft_assignment(X[:5])
    assert q.shape == (5, 10) and np.allclose(q.sum(axis=1), 1.0, atol=1e-5)


def test_idec_keeps_training_the_decoder(digits, digits_autoencoder):
    X, _ = digits
    idec = IDEC(digits_autoencoder, n_clusters=10, max_iter=50, random_state=0).fit(X)
    assert (idec.gamma, idec.optimizer, idec.learning_rate) == (0.1, "adam", 0.001)
    shared = digits_autoencoder.network_.decoder
    assert not any(_equal_tensors(shared.parameters(), idec.autoencoder_.network_.decoder.parameters()))
    assert idec.n_iter_ == 50
    dec = DEC(digits_autoencoder, n_clusters=10, max_iter=50, random_state=0).fit(X)
    assert all(_equal_tensors(shared.parameters(), dec.autoencoder_.network_.decoder.parameters()))


def test_dec_starts_from_given_centres(digits, digits_autoencoder):
    X, _ = digits
    code = digits_autoencoder.transform(X)
    dec = DEC(digits_autoencoder, n_clusters=3, init=code[:3], max_iter=0, random_state=0).fit(X)
    np.testing.assert_allclose(dec.cluster_centers_, code[:3], atol=1e-6)
    with pytest.raises(ValueError, match=r"init has shape \(2, 10\) but the centres of 3 clusters"):
        DEC(digits_autoencoder, n_clusters=3, init=code[:2]).fit(X)


def test_code_clusterers_share_a_fitted_autoencoder(digits, digits_autoencoder):
    X, y = digits
    for model in (AutoencoderKMeans(digits_autoencoder, 10, random_state=0),
                  AutoencoderGaussianMixture(digits_autoencoder, 10, random_state=0)):
        labels = model.fit_predict(X)
        assert model.autoencoder_ is digits_autoencoder
        assert clustering_accuracy(y, labels) > 0.6
        np.testing.assert_array_equal(model.predict(X), labels)


def _unit_blobs(n, n_features, centers):
    X, y = make_blobs(n, n_features=n_features, centers=centers, cluster_std=0.5, random_state=0)
    return ((X - X.min()) / (X.max() - X.min())).astype(np.float32), y


def test_unfitted_autoencoder_is_cloned_and_fitted():
    X, y = _unit_blobs(200, n_features=6, centers=3)
    template = clustering_autoencoder(n_components=2, epochs=100, hidden=(16,), random_state=0)
    model = AutoencoderKMeans(template, n_clusters=3, random_state=0).fit(X)
    assert not hasattr(template, "network_") and model.autoencoder_.n_epochs_ == 100
    assert params_record(model.autoencoder_) == params_record(template)
    assert model.autoencoder_.encoder is not template.encoder
    assert clustering_accuracy(y, model.labels_) > 0.9


def test_n2d_separates_blobs():
    X, y = _unit_blobs(300, n_features=8, centers=3)
    ae = clustering_autoencoder(n_components=3, epochs=60, hidden=(16,), random_state=0).fit(X)
    model = N2D(ae, n_clusters=3, random_state=0).fit(X)
    assert model.embedding_.shape == (300, 3) and model.umap_.n_neighbors == 20 and model.umap_.min_dist == 0.0
    assert clustering_accuracy(y, model.labels_) == 1.0


def test_errors_say_what_was_wrong():
    X = np.random.default_rng(0).random((20, 4)).astype(np.float32)
    ae = clustering_autoencoder(n_components=2, epochs=1, hidden=(4,), random_state=0).fit(X)
    with pytest.raises(ValueError, match="n_clusters must be a positive integer, got 0"):
        AutoencoderKMeans(ae, n_clusters=0).fit(X)
    with pytest.raises(ValueError, match="n_clusters=30 is more than the 20 samples"):
        AutoencoderKMeans(ae, n_clusters=30).fit(X)
    with pytest.raises(TypeError, match="autoencoder must be an aelab Autoencoder .* got PCA"):
        from sklearn.decomposition import PCA

        AutoencoderKMeans(PCA()).fit(X)
    with pytest.raises(ValueError, match="init must be 'kmeans', 'n2d' or an array of centres, got 'random'"):
        DEC(ae, n_clusters=2, init="random").fit(X)


def test_sweep_k_finds_the_number_of_blobs():
    Z, _ = make_blobs(400, centers=4, cluster_std=0.6, random_state=3)
    sweep = sweep_k(Z, range(2, 8), random_state=0)
    assert sweep.ks == [2, 3, 4, 5, 6, 7]
    assert sweep.best_k_silhouette == 4 and sweep.best_k_bic == 4
    assert [row["k"] for row in sweep.rows()] == sweep.ks
    with pytest.raises(ValueError, match="every k of the sweep must be between 2 and n_samples - 1"):
        sweep_k(Z, [1, 2])
