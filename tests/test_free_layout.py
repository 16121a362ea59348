"""The free layout (aelab.parts.FreeLayout): free codes fitted to the graph, the steps that teach them to the
network, the grid start that places rows by the decoder, the model file, and the refusals."""

import json

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted

from aelab import Autoencoder, load
from aelab.metrics import knn_accuracy
from aelab.nn.refine import grid_codes
from aelab.parts import Dense, Deterministic, FreeLayout
from aelab.parts.free_layout import FreeLayoutLoss, fit_free_layout
from aelab.parts.neighbour_graph import fuzzy_neighbour_graph, umap_curve


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(150, n_features=10, centers=3, cluster_std=0.5, random_state=0)
    X = (X - X.min()) / (X.max() - X.min())
    return X.astype(np.float32), y


def layout_autoencoder(**layout):
    return Autoencoder(encoder=Dense(hidden=(16,), decoder_hidden=(16, 32)),
                       latent=Deterministic(refine_steps=5, refine_start="grid"),
                       penalties=(FreeLayout(**{"epochs": 20, **layout}),), n_components=2, epochs=15,
                       validation_fraction=0.0, random_state=0)


# --------------------------------------------------------------------------------------------- the layout
def test_free_codes_pull_a_scrambled_start_into_the_graphs_groups(blobs):
    X, y = blobs
    graph = fuzzy_neighbour_graph(X, 10, random_state=0)
    start = np.random.default_rng(0).normal(size=(len(X), 2)).astype(np.float32)
    assert knn_accuracy(start, y) < 0.6  # the start knows nothing of the groups
    a, b = umap_curve(0.1)
    codes = fit_free_layout(graph, start, a, b, "infonce", 20, 256, epochs=100, learning_rate=0.1,
                            generator=torch.Generator().manual_seed(0))
    assert codes.shape == (150, 2) and not codes.requires_grad
    assert knn_accuracy(codes.numpy(), y) > 0.98  # 2 of 150 rows left on the wrong side by the random start
    again = fit_free_layout(graph, start, a, b, "infonce", 20, 256, epochs=100, learning_rate=0.1,
                            generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, codes, rtol=0, atol=0)  # one seed, one layout


def test_zero_learning_rate_leaves_the_start(blobs):
    X, _ = blobs
    graph = fuzzy_neighbour_graph(X, 10, random_state=0)
    start = PCA(2).fit_transform(X).astype(np.float32)
    codes = fit_free_layout(graph, start, 1.0, 1.0, "umap", 5, 64, epochs=2, learning_rate=0.0,
                            generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(codes.numpy(), start)


def test_a_pull_toward_the_start_keeps_the_codes_near_it(blobs):
    X, y = blobs
    graph = fuzzy_neighbour_graph(X, 10, random_state=0)
    start = (PCA(2).fit_transform(X) * 5).astype(np.float32)
    a, b = umap_curve(0.1)

    def moved(start_weight):
        codes = fit_free_layout(graph, start, a, b, "infonce", 20, 256, epochs=50, learning_rate=0.3,
                                generator=torch.Generator().manual_seed(0), start_weight=start_weight).numpy()
        return np.linalg.norm(codes - start, axis=1).mean() / start[:, 0].std(), knn_accuracy(codes, y)

    free, held = moved(0.0), moved(100.0)
    assert free[0] > 1.0  # free codes go more than the start's deviation from it (2.1 on average)
    assert held[0] < 0.02  # a strong pull keeps them within 2 % of it (0.004)
    assert free[1] == held[1] == 1.0  # both keep the three blobs apart


# ------------------------------------------------------------------------------ the steps the part takes over
def test_a_step_is_the_decoders_error_on_layout_codes_plus_the_encoders_distance():
    torch.manual_seed(0)
    X = torch.rand(6, 4)
    codes = torch.randn(6, 2)
    network = Autoencoder(encoder=Dense(hidden=(3,)), n_components=2).build_network(4, "sigmoid", seed=0)
    term = FreeLayoutLoss(X, codes, weight=0.5)
    term.order = torch.tensor([4, 1, 5, 0, 2, 3])
    value = term.step_term(network, torch.zeros(3, 4), 2, None, "mse", "sigmoid")
    rows = [4, 1, 5]
    decoded = torch.sigmoid(network.decoder(codes[rows]))
    by_hand = ((decoded - X[rows]) ** 2).mean() + 0.5 * ((network.encode(X[rows]) - codes[rows]) ** 2).sum(1).mean()
    torch.testing.assert_close(value, by_hand)
    assert term.order.tolist() == [0, 2, 3]  # the next step takes the next rows of the same order


def test_one_pass_of_steps_draws_every_row_once():
    term = FreeLayoutLoss(torch.rand(10, 3), torch.randn(10, 2), weight=1.0)
    generator = torch.Generator().manual_seed(0)
    drawn = torch.cat([term.next_rows(4, generator), term.next_rows(4, generator)])
    assert len(set(drawn.tolist())) == 8
    rest = term.next_rows(4, generator)  # 2 left of the first order, then a fresh one
    assert sorted(torch.cat([drawn, rest[:2]]).tolist()) == list(range(10))
    assert term.takes_over(0, 1) and term.takes_over(99, 100)


# ------------------------------------------------------------------------------------------- the grid start
def test_the_grid_start_is_the_grid_point_whose_decoding_is_nearest():
    decode = lambda z: torch.cat([z, z.sum(1, keepdim=True)], 1)  # noqa: E731
    x = torch.tensor([[0.26, -0.74, -0.48], [5.0, 5.0, 10.0]])
    start = grid_codes(decode, x, torch.tensor([-1.0, -1.0]), torch.tensor([1.0, 1.0]), 81)  # 9 x 9: steps of 0.25
    torch.testing.assert_close(start, torch.tensor([[0.25, -0.75], [1.0, 1.0]]))  # the far row: the nearest corner
    one = grid_codes(lambda z: z * 3, torch.tensor([[0.9]]), torch.tensor([0.0]), torch.tensor([1.0]), 11)
    torch.testing.assert_close(one, torch.tensor([[0.3]]))


def test_a_fit_keeps_the_range_of_the_training_codes_and_places_rows_from_the_grid(blobs):
    X, y = blobs
    ae = Autoencoder(encoder=Dense(hidden=(16,)), latent=Deterministic(refine_start="grid"), n_components=2,
                     epochs=5, validation_fraction=0.0, random_state=0).fit(X)
    codes = ae.set_params(latent__refine_start="encoder").transform(X)  # the encoder's own codes
    low, high = ae.network_.encoder.head.code_range.numpy()
    np.testing.assert_allclose(low, codes.min(0), rtol=1e-6)
    np.testing.assert_allclose(high, codes.max(0), rtol=1e-6)
    placed = ae.set_params(latent__refine_start="grid").transform(X)  # no steps: grid points alone
    axis = np.linspace(low[0], high[0], 300, dtype=np.float32)
    assert np.isin(placed[:, 0], axis).all() and not np.array_equal(placed, codes)


def test_a_grid_start_refuses_codes_of_more_than_three_components(blobs):
    ae = Autoencoder(latent=Deterministic(refine_start="grid"), n_components=4, epochs=1)
    with pytest.raises(ValueError, match="refine_start='grid' covers codes of at most 3 components, but "
                                         "n_components is 4; use refine_start='encoder' or a smaller code"):
        ae.fit(blobs[0])
    with pytest.raises(ValueError, match="Deterministic refine_start='centre' is not one of 'encoder', 'grid'"):
        Autoencoder(latent=Deterministic(refine_start="centre"), epochs=1).fit(blobs[0])
    fitted = Autoencoder(n_components=2, epochs=1, random_state=0).fit(blobs[0])
    with pytest.raises(ValueError, match="refine_start='grid' needs the range of the training rows' codes, which "
                                         "only a fit with refine_start='grid' keeps"):
        fitted.set_params(latent=Deterministic(refine_start="grid")).transform(blobs[0])


# ------------------------------------------------------------------------------------------------- the part
def test_the_network_learns_the_layout_and_places_new_rows_by_it(blobs, tmp_path):
    X, y = blobs
    start = Autoencoder(encoder=Dense(hidden=(16,)), n_components=2, epochs=5, random_state=0)
    ae = layout_autoencoder(start=start).fit(X[:120])
    with pytest.raises(Exception, match="not fitted"):
        check_is_fitted(start)  # a clone of the start was fitted, not the user's
    assert knn_accuracy(ae.transform(X[120:]), y[120:]) == 1.0
    ae.save(tmp_path / "model")
    record = json.loads((tmp_path / "model" / "model.json").read_text())
    layout = record["params"]["penalties"][0]
    assert layout["part"] == "FreeLayout" and layout["params"]["start"] is None
    assert record["params"]["latent"]["params"] == {"refine_start": "grid", "refine_steps": 5}
    np.testing.assert_array_equal(load(tmp_path / "model").transform(X[120:]), ae.transform(X[120:]))


def test_a_fitted_start_is_used_as_it_is_and_must_give_one_code_per_row(blobs):
    X, _ = blobs
    pca = PCA(2).fit(X)
    layout_autoencoder(start=pca, epochs=2).fit(X)
    assert pca.n_components_ == 2
    with pytest.raises(ValueError, match="FreeLayout start must transform 150 rows into 150 codes of the "
                                         r"network's 2 components, got an array of shape \(150,\)"):
        layout_autoencoder(start=_Flat()).fit(X)
    with pytest.raises(ValueError, match=r"got an array of shape \(150, 2\)"):
        layout_autoencoder(start=pca).set_params(n_components=3, latent=Deterministic()).fit(X)


def test_the_pca_start_has_the_codes_size(blobs):
    X, y = blobs
    ae = layout_autoencoder(epochs=2).set_params(n_components=3, latent=Deterministic(refine_start="grid")).fit(X)
    assert ae.transform(X).shape == (150, 3)
    with pytest.raises(ValueError, match="FreeLayout starts at the training rows' 5 principal components, but 4 "
                                         "rows of 10 features have at most 4; pass a start, or a smaller"):
        layout_autoencoder().set_params(n_components=5, latent=Deterministic()).fit(X[:4])


class _Flat:
    def transform(self, X):
        return X[:, 0]


@pytest.mark.parametrize("params, message", [
    ({"epochs": 0}, "FreeLayout epochs must be an integer >= 1, got 0"),
    ({"learning_rate": -1.0}, "FreeLayout learning_rate"),
    ({"start_spread": 0.0}, "FreeLayout start_spread"),
    ({"start_weight": -0.5}, "FreeLayout start_weight must be a number >= 0.0, got -0.5"),
    ({"start": "pca"}, "FreeLayout start must be a transformer"),
    ({"loss": "tsne"}, "NeighbourGraph loss='tsne' is not one of 'umap', 'infonce'"),
])
def test_bad_parameters_are_refused_before_any_work(blobs, params, message):
    with pytest.raises(ValueError, match=message):
        layout_autoencoder(**params).fit(blobs[0])


def test_it_has_no_augmentation_and_needs_three_rows(blobs):
    assert "augmentation" not in FreeLayout().get_params() and FreeLayout().augmentation is None
    with pytest.raises(ValueError, match="Invalid parameter 'augmentation'"):
        FreeLayout().set_params(augmentation=None)
    with pytest.raises(ValueError, match="FreeLayout needs at least 3 training rows for a neighbour graph, got 2"):
        layout_autoencoder().fit(blobs[0][:2])


def test_streamed_and_distributed_fits_are_refused_in_its_own_name():
    with pytest.raises(ValueError, match="^FreeLayout builds one neighbour graph of all training rows, so it cannot "
                                         "train on a streamed file"):
        FreeLayout().check_training(streaming=True, distributed=False)
    with pytest.raises(ValueError, match="^FreeLayout samples edges of one neighbour graph"):
        FreeLayout().check_training(streaming=False, distributed=True)
