import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA

from aelab.baselines import PCABaseline, PrecomputedEmbedding, RawInput, TSNEBaseline, UMAPBaseline
from aelab.metrics import clustering_accuracy, kmeans_labels


def blobs(n_per_class=60, n_features=10, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n_per_class)
    centres = rng.normal(scale=6.0, size=(3, n_features))
    return centres[y] + rng.normal(size=(len(y), n_features)), y


def test_raw_input_is_the_identity_and_checks_the_feature_count():
    X, _ = blobs()
    raw = RawInput().fit(X)
    np.testing.assert_array_equal(raw.transform(X[:5]), X[:5])
    assert not hasattr(raw, "inverse_transform")  # nothing to reconstruct
    with pytest.raises(ValueError, match="X has 9 features, but RawInput is expecting 10 features"):
        raw.transform(X[:, :9])


def test_pca_baseline_is_scikit_learns_pca():
    X, _ = blobs()
    baseline = PCABaseline(n_components=2, random_state=0).fit(X[:120])
    reference = PCA(n_components=2, random_state=0).fit(X[:120])
    np.testing.assert_allclose(baseline.transform(X[120:]), reference.transform(X[120:]))
    np.testing.assert_allclose(baseline.inverse_transform(baseline.transform(X[120:])),
                               reference.inverse_transform(reference.transform(X[120:])))


def test_tsne_embeds_new_points_next_to_their_class():
    X, y = blobs()
    train = np.arange(len(X)) % 4 != 0
    tsne = TSNEBaseline(n_components=2, perplexity=20, random_state=0).fit(X[train])
    Z_train = np.array(tsne.embedding_)
    Z_test = tsne.transform(X[~train])
    assert Z_test.shape == (45, 2)
    centres = np.array([np.asarray(Z_train)[y[train] == c].mean(axis=0) for c in range(3)])
    nearest_centre = np.argmin(((Z_test[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest_centre == y[~train]) == 1.0
    # same seed, same embedding
    again = TSNEBaseline(n_components=2, perplexity=20, random_state=0).fit(X[train])
    np.testing.assert_allclose(np.asarray(again.embedding_), np.asarray(Z_train))


def test_tsne_shrinks_its_perplexity_to_small_data_with_a_warning():
    X, _ = blobs(n_per_class=10)
    with pytest.warns(UserWarning, match=r"perplexity=30 is too large for 30 samples .* using perplexity=9.667 "
                                         "instead"):
        tsne = TSNEBaseline(random_state=0).fit(X)
    assert tsne.perplexity_ == pytest.approx(29 / 3) and tsne.perplexity == 30.0
    assert tsne.transform(X[:4]).shape == (4, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # enough samples: no warning, the perplexity as given
        assert TSNEBaseline(perplexity=9, random_state=0).fit(X).perplexity_ == 9.0
    with pytest.raises(ValueError, match="t-SNE needs at least 2 samples, got n_samples=1"):
        TSNEBaseline().fit(X[:1])


def test_umap_shrinks_n_neighbors_to_small_data_with_a_warning():
    X, _ = blobs(n_per_class=4)
    with pytest.warns(UserWarning, match="n_neighbors=15 is not less than the 12 samples; using n_neighbors=11 "
                                         "instead"):
        umap = UMAPBaseline(random_state=0).fit(X)
    assert umap.n_neighbors_ == 11 and umap.umap_.n_neighbors == 11 and umap.n_neighbors == 15
    with pytest.raises(ValueError, match="UMAP needs at least 3 samples .* got n_samples=2"):
        UMAPBaseline().fit(X[:2])
    with pytest.raises(ValueError, match="n_neighbors must be an integer of at least 2, got 1"):
        UMAPBaseline(n_neighbors=1).fit(X)


def test_umap_places_each_row_whatever_rows_come_with_it():
    X, _ = blobs(n_per_class=10)
    umap = UMAPBaseline(n_neighbors=5, random_state=0, placement="neighbours").fit(X)
    together = umap.transform(X)
    alone = np.vstack([umap.transform(X[i:i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(umap.transform(X[::-1]), together[::-1], rtol=1e-5, atol=1e-5)
    assert umap.transform(X).dtype == np.float64 and umap.transform(X.astype(np.float32)).dtype == np.float32


def test_umap_optimises_new_rows_as_umap_learn_does_by_default():
    X, _ = blobs(n_per_class=10)
    umap = UMAPBaseline(n_neighbors=5, random_state=0)
    layout = umap.fit_transform(X)
    np.testing.assert_array_equal(layout, umap.umap_.embedding_)  # the optimised layout of the training rows
    new = X[:7] + 0.01
    np.testing.assert_allclose(umap.transform(new), umap.umap_.transform(new.astype(np.float32)), rtol=1e-6)
    with pytest.raises(ValueError, match="placement must be one of optimise, neighbours, got 'mean'"):
        UMAPBaseline(placement="mean").fit(X)


def test_a_precomputed_embedding_says_it_cannot_embed_new_data():
    X, _ = blobs()
    embedding = PrecomputedEmbedding(embedding=X[:, :2], name="this t-SNE").fit(X)
    np.testing.assert_array_equal(embedding.transform(X), X[:, :2])
    with pytest.raises(ValueError, match="this t-SNE cannot embed new data"):
        embedding.transform(X[:10])


@pytest.mark.slow
def test_umap_separates_blobs_and_embeds_new_points():
    X, y = blobs()
    train = np.arange(len(X)) % 4 != 0
    umap = UMAPBaseline(n_components=2, random_state=0).fit(X[train])
    Z_test = umap.transform(X[~train])
    assert Z_test.shape == (45, 2)
    assert clustering_accuracy(y[~train], kmeans_labels(Z_test, 3)) == 1.0
