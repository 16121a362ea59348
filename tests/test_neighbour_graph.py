"""The neighbour graph penalty (parametric UMAP): its graph against umap-learn's, its loss against a hand
computation, its gradients, the model file without a graph, the refusals, and the umap kind through the CLI."""

import json
import logging
import math
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, make_blobs
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator

from aelab import Autoencoder, load
from aelab.cli import main
from aelab.data.streaming import StreamingSource
from aelab.parts import Conv, Dense, NeighbourGraph, kind
from aelab.parts import neighbour_graph as graph_module
from aelab.parts.base import unchanged
from aelab.parts.neighbour_graph import FuzzyGraph, NeighbourGraphLoss, fuzzy_neighbour_graph, umap_curve


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data / 16.0).astype(np.float32)


def as_matrix(graph: FuzzyGraph, n_rows: int) -> np.ndarray:
    matrix = np.zeros((n_rows, n_rows), dtype=np.float64)
    matrix[graph.heads, graph.tails] = graph.weights
    return matrix


# ------------------------------------------------------------------------------------------------ the graph
def test_edge_weights_equal_umap_learns_own_graph():
    import umap

    X, _ = make_blobs(80, n_features=5, centers=3, random_state=0)
    X = X.astype(np.float32)
    graph = fuzzy_neighbour_graph(X, 10, "euclidean", random_state=0)
    with warnings.catch_warnings():  # "n_jobs overridden by setting random_state"
        warnings.simplefilter("ignore", UserWarning)
        reference = umap.UMAP(n_neighbors=10, n_epochs=0, random_state=0, init="random").fit(X).graph_.toarray()
    assert (reference > 0).sum() == len(graph.weights) > 80 * 9  # the union of both directions of 9 neighbours
    # umap-learn measures each pair with its own numba euclidean, aelab with scikit-learn's: the weights agree to
    # float32 rounding of the distances
    np.testing.assert_allclose(as_matrix(graph, 80), reference, rtol=1e-4, atol=0)
    # symmetric (a fuzzy union) and no row joined to itself
    np.testing.assert_array_equal(as_matrix(graph, 80), as_matrix(graph, 80).T)
    assert not np.any(graph.heads == graph.tails)


@pytest.mark.slow  # about 30 s: numba compiles pynndescent's search
def test_nearest_neighbour_descent_gives_the_exact_graph_on_small_data(monkeypatch):
    X, _ = make_blobs(80, n_features=5, centers=3, random_state=1)
    exact = fuzzy_neighbour_graph(X, 10, "manhattan", random_state=0)
    monkeypatch.setattr(graph_module, "EXACT_BELOW", 0)  # the path of 4,096 rows and more: pynndescent
    descent = fuzzy_neighbour_graph(X, 10, "manhattan", random_state=0)
    np.testing.assert_allclose(as_matrix(descent, 80), as_matrix(exact, 80), rtol=1e-5)


def test_building_the_graph_leaves_torchs_thread_count_as_it_was():
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        fuzzy_neighbour_graph(np.random.default_rng(0).random((50, 4)), 5)  # numba's parallel loops run here
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


def test_the_curve_comes_from_umap_learn():
    a, b = umap_curve(0.1)
    assert a == pytest.approx(1.577, abs=1e-3) and b == pytest.approx(0.895, abs=1e-3)


@pytest.mark.parametrize("min_dist, spread", [(0.1, 2.0), (0.0, 0.5), (1.0, 3.0)])
def test_the_spread_scales_the_curve_as_umaps_offset_exponential(min_dist, spread):
    """Beyond min_dist, q(d) follows exp(-(d - min_dist) / spread): half a spread, one and two spreads out."""
    a, b = NeighbourGraph(min_dist=min_dist, spread=spread).curve()
    for spreads in (0.5, 1.0, 2.0):
        d = min_dist + spreads * spread
        assert 1 / (1 + a * d ** (2 * b)) == pytest.approx(np.exp(-spreads), abs=0.03)


def test_a_and_b_given_replace_those_of_min_dist_and_spread(digits):
    term = NeighbourGraph(a=1, b=0.5, min_dist=0.9, spread=1.0).prepare(torch.from_numpy(digits[:60]), 0)
    assert (term.a, term.b) == (1.0, 0.5)
    assert NeighbourGraph(min_dist=0.9).prepare(torch.from_numpy(digits[:60]), 0).b > 1.0


# ------------------------------------------------------------------------------------------------- the loss
class Identity(torch.nn.Module):
    """A network whose code is its input, so that the loss can be computed by hand."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def encode(self, x):
        return x * self.scale


POINTS = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [-1.0, -1.0]])


def five_point_term(weight=0.5, a=1.5, b=0.8):
    graph = FuzzyGraph(heads=np.array([0, 1, 2, 3, 1, 0]), tails=np.array([1, 2, 3, 4, 0, 4]),
                       weights=np.array([1.0, 0.5, 0.25, 0.25, 1.0, 0.5], dtype=np.float32), n_neighbors=3,
                       seconds=0.0)
    return NeighbourGraphLoss(POINTS, graph, weight, a, b, negative_sample_rate=2, edge_batch_size=4,
                              random_state=0)


def test_the_loss_of_a_five_point_graph_by_hand():
    term = five_point_term()
    edges = torch.tensor([0, 2, 3, 5])  # (0, 1), (2, 3), (3, 4), (0, 4): every point is an end
    # uniform numbers that pick the negatives among the 5 encoded points: (j + 0.5) / 5 picks point j
    picks = [[2, 3], [0, 4], [1, 1], [3, 2]]
    negatives = (torch.tensor(picks, dtype=torch.float32) + 0.5) / 5

    def q(i, j):  # 1 / (1 + a (d² + 0.001)^b)
        squared = float(((POINTS[i] - POINTS[j]) ** 2).sum())
        return 1.0 / (1.0 + 1.5 * (squared + 0.001) ** 0.8)

    ends = [(0, 1), (2, 3), (3, 4), (0, 4)]
    per_edge = [-math.log(q(h, t)) - sum(math.log(1.0 - q(h, n)) for n in negs)
                for (h, t), negs in zip(ends, picks, strict=True)]
    # e.g. edge (0, 1): d² = 1, q = 1 / (1 + 1.5 * 1.001^0.8) = 0.39981, attraction 0.91677; its negatives,
    # points 2 (d² = 4) and 3 (d² = 10), repel with 0.19875 and 0.10043
    assert per_edge[0] == pytest.approx(1.21595, abs=1e-5)
    loss = term.mean_edge_loss(Identity(), edges, negatives).detach()
    assert float(loss) == pytest.approx(sum(per_edge) / 4, rel=1e-6)


def test_the_infonce_loss_of_a_five_point_graph_by_hand():
    graph = five_point_term().graph
    term = NeighbourGraphLoss(POINTS, graph, 0.5, 1.5, 0.8, negative_sample_rate=2, edge_batch_size=4,
                              random_state=0, loss="infonce")
    edges = torch.tensor([0, 2, 3, 5])  # (0, 1), (2, 3), (3, 4), (0, 4)
    picks = [[2, 3], [0, 4], [1, 1], [3, 2]]
    negatives = (torch.tensor(picks, dtype=torch.float32) + 0.5) / 5

    def q(i, j):
        squared = float(((POINTS[i] - POINTS[j]) ** 2).sum())
        return 1.0 / (1.0 + 1.5 * (squared + 0.001) ** 0.8)

    ends = [(0, 1), (2, 3), (3, 4), (0, 4)]
    per_edge = [-math.log(q(h, t) / (q(h, t) + sum(q(h, n) for n in negs)))
                for (h, t), negs in zip(ends, picks, strict=True)]
    # edge (0, 1): q = 0.39981 against its negatives' 0.18026 (point 2) and 0.09556 (point 3)
    assert per_edge[0] == pytest.approx(math.log((0.39981 + 0.18026 + 0.09556) / 0.39981), abs=1e-4)
    loss = term.mean_edge_loss(Identity(), edges, negatives).detach()
    assert float(loss) == pytest.approx(sum(per_edge) / 4, rel=1e-6)
    umap_loss = five_point_term().mean_edge_loss(Identity(), edges, negatives).detach()
    assert float(umap_loss) != pytest.approx(float(loss), rel=1e-2)


def test_the_infonce_loss_trains_the_code_and_is_recorded(digits, tmp_path):
    ae = umap_autoencoder(loss="infonce", negative_sample_rate=50).fit(digits[:300])
    assert ae.history_["train_loss"][-1] < ae.history_["train_loss"][0]
    ae.save(tmp_path / "model")
    again = load(tmp_path / "model")
    assert again.get_params()["penalties"][0].loss == "infonce"
    np.testing.assert_array_equal(again.transform(digits[300:340]), ae.transform(digits[300:340]))


def test_the_term_is_the_weighted_loss_and_validation_uses_one_fixed_draw():
    term = five_point_term(weight=0.5)
    network = Identity()
    batch = SimpleNamespace(training=False, network=network, generator=None)
    first, second = float(term.term(batch)), float(term.term(batch))
    assert first == second == pytest.approx(
        0.5 * float(term.mean_edge_loss(network, term.validation_edges, term.validation_negatives)), rel=1e-6)
    training = SimpleNamespace(training=True, network=network, generator=torch.Generator().manual_seed(0),
                               augment=unchanged, sample_shape=None)
    assert float(term.term(training)) != float(term.term(training))  # each training step draws its own edges


class Stretch:
    """An augmentation part that scales every row by ``factor`` and records the image shape it was given."""

    def __init__(self, factor):
        self.factor, self.shapes = factor, []

    def augment(self, x, sample_shape, generator):
        self.shapes.append(sample_shape)
        return x * self.factor


def test_edge_ends_move_as_the_batch_does_or_by_the_graphs_own_augmentation():
    def training_term(term, **batch):
        return float(term.term(SimpleNamespace(training=True, network=Identity(), sample_shape=(1, 2, 1),
                                               generator=torch.Generator().manual_seed(0), **batch)))

    def loss_on(points):
        term = five_point_term(weight=0.5)
        term.X_train = points
        return training_term(term, augment=unchanged)

    # no augmentation of its own: the ends move by the batch's (here doubling every point)
    assert training_term(five_point_term(weight=0.5), augment=lambda x: 2 * x) == pytest.approx(loss_on(2 * POINTS))
    # its own augmentation replaces the batch's, and is given the estimator's image shape
    term, stretch = five_point_term(weight=0.5), Stretch(3.0)
    term.augmentation = stretch
    assert training_term(term, augment=lambda x: 2 * x) == pytest.approx(loss_on(3 * POINTS))
    assert stretch.shapes == [(1, 2, 1)]
    # validation measures the unmoved rows
    assert float(term.term(SimpleNamespace(training=False, network=Identity(), generator=None))) == pytest.approx(
        0.5 * float(term.mean_edge_loss(Identity(), term.validation_edges, term.validation_negatives)))


def test_edges_are_drawn_in_proportion_to_their_weights():
    term = five_point_term()
    term.edge_batch_size = 200_000
    edges, negatives = term.draw(torch.Generator().manual_seed(0))
    frequencies = np.bincount(edges.numpy(), minlength=6) / 200_000
    np.testing.assert_allclose(frequencies, np.array([1.0, 0.5, 0.25, 0.25, 1.0, 0.5]) / 3.5, atol=0.004)
    assert negatives.shape == (200_000, 2) and 0 <= float(negatives.min()) and float(negatives.max()) < 1


def test_gradients_reach_the_encoder_and_not_the_decoder(digits):
    ae = Autoencoder(encoder=Dense(hidden=(16,)), penalties=(NeighbourGraph(edge_batch_size=64),), n_components=2,
                     random_state=0, device="cpu")
    network = ae.build_network(64, "sigmoid", seed=0)
    term = ae._penalties()[0].prepare(torch.from_numpy(digits[:200]), random_state=0)
    network.train()
    loss = term.term(SimpleNamespace(training=True, network=network, generator=torch.Generator().manual_seed(0),
                                     augment=unchanged, sample_shape=None))
    loss.backward()
    encoder_grads = [p.grad for p in network.encoder.parameters()]
    assert all(g is not None and float(g.abs().sum()) > 0 for g in encoder_grads)
    assert all(p.grad is None for p in network.decoder.parameters())


def test_a_weight_of_zero_adds_nothing():
    term = five_point_term(weight=0.0)
    assert term.term(SimpleNamespace(training=True, network=Identity(), generator=None)) is None


# -------------------------------------------------------------------------------------------- the estimator
def umap_autoencoder(**graph):
    params = kind("umap", hidden=(32,), n_components=2, epochs=3, batch_size=64, random_state=0, device="cpu")
    params["penalties"] = (NeighbourGraph(edge_batch_size=256, **graph),)
    return Autoencoder(**params)


def test_fit_builds_the_graph_and_keeps_nothing_of_it(digits, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="aelab.parts.neighbour_graph"):
        ae = umap_autoencoder().fit(digits[:400])
    [message] = [r.getMessage() for r in caplog.records]
    assert message.startswith("neighbour graph of 360 training rows (15 neighbours each): ")
    assert not any(isinstance(v, NeighbourGraphLoss) for v in vars(ae).values())
    assert ae.penalties[0].get_params()["n_neighbors"] == 15  # the part itself is as the user set it
    ae.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["model.json", "model.safetensors"]
    record = json.loads((tmp_path / "m" / "model.json").read_text())
    assert record["params"]["penalties"] == [{"part": "NeighbourGraph", "params": {
        "edge_batch_size": 256, "metric": "euclidean", "min_dist": 0.1, "spread": 1.0, "a": None, "b": None,
        "n_neighbors": 15, "negative_sample_rate": 5, "loss": "umap", "weight": 1.0, "augmentation": None,
        "space": None}}]
    from safetensors import safe_open

    with safe_open(tmp_path / "m" / "model.safetensors", "pt") as weights:
        assert set(weights.keys()) == set(ae.network_.state_dict())  # weights only, no graph
    loaded = load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.transform(digits), ae.transform(digits))
    np.testing.assert_array_equal(loaded.reconstruct(digits), ae.reconstruct(digits))


def test_transform_of_new_rows_needs_no_graph_and_no_umap(digits, tmp_path, monkeypatch):
    ae = umap_autoencoder().fit(digits[:300])
    ae.save(tmp_path / "m")
    expected = ae.transform(digits[300:])
    for name in [m for m in sys.modules if m == "umap" or m.startswith(("umap.", "pynndescent"))]:
        monkeypatch.setitem(sys.modules, name, None)  # importing umap-learn now fails
    monkeypatch.setitem(sys.modules, "umap", None)
    loaded = load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.transform(digits[300:]), expected)
    assert expected.shape == (1497, 2)


def test_the_same_seed_gives_the_same_fit(digits):
    first = umap_autoencoder().fit(digits[:300]).transform(digits[:50])
    np.testing.assert_array_equal(umap_autoencoder().fit(digits[:300]).transform(digits[:50]), first)


def test_the_same_seed_gives_the_same_weights_on_two_threads(digits):
    # edges of 4,096 ends share their codes; summing the gradients of shared rows must not depend on threads
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        fits = [umap_autoencoder().set_params(epochs=2, penalties__neighbour_graph__edge_batch_size=4096).fit(digits)
                for _ in range(2)]
    finally:
        torch.set_num_threads(threads)
    first, second = (fit.network_.state_dict() for fit in fits)
    for name in first:
        torch.testing.assert_close(second[name], first[name], rtol=0, atol=0, msg=name)


def test_too_few_rows_shrink_the_neighbours_with_a_warning(digits, caplog):
    with caplog.at_level(logging.WARNING, logger="aelab.parts.neighbour_graph"):
        ae = umap_autoencoder(n_neighbors=15).set_params(validation_fraction=0.0).fit(digits[:12])
    assert [r.getMessage() for r in caplog.records] == [
        "NeighbourGraph n_neighbors=15 is not less than the 12 training rows; using n_neighbors=11"]
    assert ae.transform(digits[:3]).shape == (3, 2)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aelab.parts.neighbour_graph"):
        umap_autoencoder().set_params(validation_fraction=0.0).fit(digits[:2])
    assert [r.getMessage() for r in caplog.records] == [
        "NeighbourGraph: 2 training row(s) make no neighbour graph (it needs 3 or more); this fit has no graph term"]


def test_a_conv_body_with_augmentation_trains_with_the_graph(digits):
    from aelab.parts import Affine

    ae = Autoencoder(encoder=Conv(filters=(4, 8), sample_shape=(8, 8)), augmentation=Affine(),
                     penalties=(NeighbourGraph(edge_batch_size=128),), n_components=2, epochs=2, batch_size=64,
                     random_state=0, device="cpu").fit(digits[:300])
    assert np.isfinite(ae.history_["train_loss"]).all() and ae.transform(digits[:5]).shape == (5, 2)


def test_the_graphs_own_augmentation_moves_the_edge_ends_of_a_dense_body(digits, tmp_path):
    from aelab.parts import Affine

    ae = umap_autoencoder(augmentation=Affine(rotation=5.0)).fit(digits[:300])
    assert ae.augmentation is None and ae.sample_shape_ == (1, 8, 8)  # the shape of the 64 features, as a square
    assert np.isfinite(ae.history_["train_loss"]).all()
    ae.save(tmp_path / "m")
    record = json.loads((tmp_path / "m" / "model.json").read_text())
    assert record["params"]["penalties"][0]["params"]["augmentation"]["part"] == "Affine"
    loaded = load(tmp_path / "m")
    assert loaded.get_params()["penalties__neighbour_graph__augmentation__rotation"] == 5.0
    np.testing.assert_array_equal(loaded.transform(digits[:50]), ae.transform(digits[:50]))


def test_the_graph_term_is_in_the_loss_the_fit_minimises(digits):
    """With a large weight the graph dominates the training loss: a loss far above the reconstruction alone."""
    plain = umap_autoencoder(weight=0.0).fit(digits[:300])
    graph = umap_autoencoder(weight=1.0).fit(digits[:300])
    assert plain.history_["train_loss"][-1] < 0.2 < graph.history_["train_loss"][-1]


@pytest.mark.parametrize("value, message", [
    ({"n_neighbors": 1}, "NeighbourGraph n_neighbors must be an integer >= 2, got 1"),
    ({"min_dist": -0.5}, "NeighbourGraph min_dist must be a number >= 0.0, got -0.5"),
    ({"min_dist": 1.5}, "NeighbourGraph min_dist=1.5 is more than spread=1.0; the curve needs min_dist <= spread: "
                        "lower min_dist or raise spread"),
    ({"spread": 0}, "NeighbourGraph spread must be a number > 0.0, got 0"),
    ({"a": 1.0}, "NeighbourGraph a and b are given together or not at all, got a=1.0 and b=None; pass both"),
    ({"a": 1.0, "b": -1}, "NeighbourGraph b must be a number > 0.0, got -1"),
    ({"metric": "l7"}, "NeighbourGraph metric='l7' is not one of 'euclidean'"),
    ({"negative_sample_rate": 0}, "NeighbourGraph negative_sample_rate must be an integer >= 1, got 0"),
    ({"loss": "tsne"}, "NeighbourGraph loss='tsne' is not one of 'umap', 'infonce'"),
    ({"augmentation": "affine"}, "NeighbourGraph augmentation must be an image augmentation part such as "
                                 "aelab.parts.Affine"),
    ({"space": "pca"}, "NeighbourGraph space must be a fitted transformer .with a transform method, such as a fitted "
                       "Autoencoder or PCA. or None for the training rows themselves, got 'pca'"),
    ({"space": PCA(5)}, "NeighbourGraph space PCA is not fitted; fit it first, and wrap it in "
                        "sklearn.frozen.FrozenEstimator"),
])
def test_bad_parameters_are_named(digits, value, message):
    with pytest.raises(ValueError, match=message):
        umap_autoencoder(**value).fit(digits[:50])


def test_the_neighbours_can_be_found_in_a_fitted_transformers_space(digits, tmp_path, caplog):
    pca = PCA(n_components=5, random_state=0).fit(digits)
    rows = torch.from_numpy(digits[:300])
    term = NeighbourGraph(space=pca).prepare(rows, random_state=0)
    expected = fuzzy_neighbour_graph(pca.transform(digits[:300]), 15, random_state=0)
    np.testing.assert_allclose(as_matrix(term.graph, 300), as_matrix(expected, 300), rtol=1e-6)
    assert not np.allclose(as_matrix(term.graph, 300), as_matrix(fuzzy_neighbour_graph(digits[:300], 15), 300))
    np.testing.assert_array_equal(term.X_train.numpy(), digits[:300])  # the edges still join the rows themselves
    # a fit with it, its space frozen so that the clone a grid search makes keeps it fitted
    ae = clone(umap_autoencoder(space=FrozenEstimator(pca)))
    with caplog.at_level(logging.INFO, logger="aelab.parts.neighbour_graph"):
        ae.fit(digits[:400])
    [message] = [r.getMessage() for r in caplog.records]
    assert message.startswith("neighbour graph of 360 training rows (15 neighbours each, found in the "
                              "frozen PCA's space): ")
    ae.save(tmp_path / "m")
    record = json.loads((tmp_path / "m" / "model.json").read_text())
    assert record["params"]["penalties"][0]["params"]["space"] is None  # used only in fit: no user object in a file
    loaded = load(tmp_path / "m")
    assert loaded.penalties[0].space is None
    np.testing.assert_array_equal(loaded.transform(digits), ae.transform(digits))


def test_a_space_must_transform_each_row_into_one_row(digits):
    class Flattens:
        def transform(self, X):
            return X.ravel()

        def __sklearn_is_fitted__(self):
            return True

    with pytest.raises(ValueError, match=r"NeighbourGraph space must transform 300 rows into 300 rows of features, "
                                         r"got an array of shape \(19200,\)"):
        NeighbourGraph(space=Flattens()).prepare(torch.from_numpy(digits[:300]), random_state=0)


# ----------------------------------------------------------------------------------------------- refusals
def test_streamed_and_distributed_fits_are_refused_in_one_line(digits, tmp_path):
    np.save(tmp_path / "d.npy", digits)
    with pytest.raises(ValueError, match=r"^NeighbourGraph builds one neighbour graph of all training rows, so it "
                                         r"cannot train on a streamed file; load the data \(train without --stream\), "
                                         r"or train without the graph$"):
        umap_autoencoder().fit(StreamingSource(tmp_path / "d.npy"))
    with pytest.raises(ValueError, match=r"^NeighbourGraph samples edges of one neighbour graph of all training "
                                         r"rows, which data-parallel training does not share between processes; "
                                         r"train on one process \(without --distributed or torchrun\), or train "
                                         r"without the graph$"):
        umap_autoencoder().fit(digits, distributed=SimpleNamespace())


def test_cli_refuses_stream_with_the_umap_kind(digits, tmp_path, capsys):
    np.save(tmp_path / "d.npy", digits)
    assert main(["train", "--data", str(tmp_path / "d.npy"), "--stream", "--kind", "umap", "--hidden", "16",
                 "--epochs", "1", "--quiet", "--device", "cpu", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aelab: error: NeighbourGraph builds one neighbour graph") and err.count("\n") == 1


# ------------------------------------------------------------------------------------------------- the CLI
def test_cli_trains_the_umap_kind_with_augmentation(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--data", "digits", "--kind", "umap", "--hidden", "32", "--latent", "2", "--epochs",
                 "2", "--augment", "affine", "--quiet", "--device", "cpu", "--out", str(run)]) == 0
    model = json.loads((run / "model.json").read_text())
    assert [p["part"] for p in model["params"]["penalties"]] == ["NeighbourGraph"]
    assert model["params"]["augmentation"]["part"] == "Affine"
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 < metrics["ae"]["kmeans_accuracy"] <= 1 and 0 < metrics["ae"]["reconstruction_mse"] < 1


def test_cli_compare_measures_umap_ae_beside_ae_on_a_conv_body(tmp_path):
    out = tmp_path / "c"
    # 300 digits: umap-ae's free layout takes 100 epochs of its graph, and its placement decodes a grid of 90,000 codes
    assert main(["compare", "--data", "digits", "--subset", "300", "--methods", "ae,umap-ae", "--kind", "conv",
                 "--epochs", "2", "--quiet", "--device", "cpu", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["ae", "umap-ae"]
    assert 0 < metrics["umap-ae"]["trustworthiness"] <= 1 and metrics["umap-ae"]["reconstruction_mse"] > 0
    config = json.loads((out / "config.json").read_text())
    assert "neighbour-graph" in config["methods"]["umap-ae"]
    report = (out / "report.html").read_text()
    assert '"umap-ae"' in report  # the explorer's menu offers its code
