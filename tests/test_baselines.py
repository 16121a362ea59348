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


def test_tsne_needs_enough_samples_for_its_perplexity():
    X, _ = blobs(n_per_class=10)
    with pytest.raises(ValueError, match="perplexity 30.0 needs more than 90 samples, got 30"):
        TSNEBaseline().fit(X)


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
