import itertools

import numpy as np
import pytest

from aelab.metrics import clustering_accuracy, matched_labels, reconstruction_mse


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_is_one_for_any_relabelling(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, size=50)
    permutation = rng.permutation(6) + 10
    assert clustering_accuracy(y, permutation[y]) == 1.0


@pytest.mark.parametrize("seed", range(20))
def test_accuracy_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 5))
    y, p = rng.integers(0, k, size=12), rng.integers(0, k, size=12)
    best = max(np.mean(np.array(perm)[p] == y) for perm in itertools.permutations(range(k)))
    assert clustering_accuracy(y, p) == pytest.approx(best)


def test_reconstruction_mse_by_hand():
    assert reconstruction_mse([[0, 1], [2, 2]], [[0, 0], [0, 2]]) == pytest.approx((1 / 2 + 4 / 2) / 2)
    np.testing.assert_allclose(reconstruction_mse([[0, 1], [2, 2]], [[0, 0], [0, 2]], per_sample=True), [0.5, 2])


def test_bce_by_hand():
    from aelab.metrics import reconstruction_bce

    assert reconstruction_bce([[1.0, 0.0]], [[0.5, 0.5]]) == pytest.approx(np.log(2))
    per = reconstruction_bce([[1.0, 0.5], [0.0, 0.0]], [[0.8, 0.5], [0.0, 0.5]], per_sample=True)
    first = -(np.log(0.8) + 0.5 * np.log(0.5) + 0.5 * np.log(0.5)) / 2
    second = -(np.log(1 - 1e-7) + np.log(0.5)) / 2  # a reconstruction of exactly 0 is clipped to 1e-7
    np.testing.assert_allclose(per, [first, second])
    assert reconstruction_bce([[1.0, 0.5], [0.0, 0.0]], [[0.8, 0.5], [0.0, 0.5]]) == pytest.approx((first + second) / 2)


def test_bce_refuses_data_outside_the_unit_range():
    from aelab.metrics import reconstruction_bce

    with pytest.raises(ValueError, match=r"needs data in \[0, 1\], got values in \[0, 2\]"):
        reconstruction_bce([[0.0, 2.0]], [[0.5, 0.5]])


def test_psnr_by_hand():
    from aelab.metrics import psnr

    assert psnr([[0.0, 1.0]], [[0.1, 0.9]]) == pytest.approx(20.0)
    assert psnr([[0.0, 1.0]], [[0.1, 0.9]], data_range=2.0) == pytest.approx(10 * np.log10(4 / 0.01))
    # per sample: MSEs 0.01 and 0.0001; overall from the mean MSE 0.00505
    np.testing.assert_allclose(psnr([[0, 1], [0, 1]], [[0.1, 0.9], [0.01, 0.99]], per_sample=True), [20.0, 40.0])
    assert psnr([[0, 1], [0, 1]], [[0.1, 0.9], [0.01, 0.99]]) == pytest.approx(10 * np.log10(1 / 0.00505))
    assert psnr([[0.5]], [[0.5]]) == np.inf


def test_nmi_and_ari_by_hand():
    from aelab.metrics import ari, nmi

    y, p = [0, 0, 1, 1], [0, 0, 0, 1]
    # joint probabilities 1/2, 1/4, 1/4; marginals y: 1/2, 1/2; p: 3/4, 1/4
    mutual_information = 0.5 * np.log(0.5 / (0.5 * 0.75)) + 0.25 * np.log(0.25 / (0.5 * 0.75)) \
        + 0.25 * np.log(0.25 / (0.5 * 0.25))
    entropy_y = np.log(2)
    entropy_p = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert nmi(y, p) == pytest.approx(mutual_information / ((entropy_y + entropy_p) / 2))
    assert nmi(y, [5, 5, 7, 7]) == pytest.approx(1.0)
    # ARI: sum C(n_ij, 2) = 1, rows 2, columns 3, C(4, 2) = 6 -> expected 1, max 2.5 -> 0
    assert ari(y, p) == pytest.approx(0.0)
    # sum C(n_ij, 2) = 3, rows 3, columns 1 + 6 = 7, C(6, 2) = 15 -> expected 1.4, max 5
    assert ari([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 1]) == pytest.approx((3 - 1.4) / (5 - 1.4))


def test_gmm_and_kmeans_labels_find_separated_blobs():
    from aelab.metrics import gmm_labels, kmeans_labels

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    Z = np.array([[0, 0], [10, 0], [0, 10]])[y] + rng.normal(scale=0.5, size=(90, 2))
    assert clustering_accuracy(y, gmm_labels(Z, 3)) == 1.0
    assert clustering_accuracy(y, kmeans_labels(Z, 3)) == 1.0


def test_trustworthiness_by_hand():
    from aelab.metrics import trustworthiness

    X = np.array([[0.0], [1], [3], [7], [15], [31]])
    assert trustworthiness(X, X, n_neighbors=1) == 1.0
    # swapping the embeddings of the first and last points puts, with 1 neighbour, three points next to a
    # non-neighbour of rank 4, 5 and 4 in X: penalty (3 + 4 + 3) = 10, T = 1 - 2 / (6 * 1 * (12 - 3 - 1)) * 10
    Z = X[[5, 1, 2, 3, 4, 0]]
    assert trustworthiness(X, Z, n_neighbors=1) == pytest.approx(1 - 20 / 48)


def test_trustworthiness_subsamples_large_inputs_with_a_fixed_seed():
    from aelab.metrics import trustworthiness

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    Z = X[:, :2]
    value = trustworthiness(X, Z, max_samples=100)
    keep = np.sort(np.random.default_rng(0).choice(300, 100, replace=False))
    from sklearn.manifold import trustworthiness as reference

    assert value == pytest.approx(reference(X[keep], Z[keep], n_neighbors=5))
    with pytest.raises(ValueError, match="X has 300 rows but the code Z has 299"):
        trustworthiness(X, Z[:-1])


def test_knn_accuracy_matches_a_hand_cross_validation():
    from sklearn.model_selection import StratifiedKFold

    from aelab.metrics import knn_accuracy

    rng = np.random.default_rng(1)
    Z = rng.normal(size=(40, 2))
    y = (Z[:, 0] + rng.normal(scale=0.7, size=40) > 0).astype(int)
    correct = []
    for train, test in StratifiedKFold(n_splits=4, shuffle=True, random_state=3).split(Z, y):
        distances = ((Z[test][:, None, :] - Z[train][None, :, :]) ** 2).sum(-1)
        nearest = y[train][np.argmin(distances, axis=1)]
        correct.append(np.mean(nearest == y[test]))
    assert knn_accuracy(Z, y, n_neighbors=1, cv=4, random_state=3) == pytest.approx(np.mean(correct))
    separated = np.r_[np.zeros((10, 2)), np.full((10, 2), 9.0)] + rng.normal(scale=0.1, size=(20, 2))
    assert knn_accuracy(separated, np.repeat([0, 1], 10)) == 1.0


def test_score_code_and_score_reconstruction_keys():
    from aelab.metrics import score_code, score_reconstruction

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    X = rng.random((40, 4))
    X[:, 0] = y
    scores = score_code(X, X[:, :2], y)
    assert sorted(scores) == sorted(["kmeans_accuracy", "kmeans_nmi", "kmeans_ari", "gmm_accuracy", "gmm_nmi",
                                     "gmm_ari", "silhouette", "trustworthiness", "knn_accuracy"])
    assert scores["kmeans_accuracy"] == 1.0 and scores["knn_accuracy"] == 1.0
    assert sorted(score_code(X, X[:, :2], None)) == ["trustworthiness"]
    assert score_reconstruction(X, X * 0.9)["reconstruction_mse"] == pytest.approx(np.mean((0.1 * X) ** 2))
    assert score_reconstruction(X * 3, X)["reconstruction_bce"] is None


def test_matched_labels_is_the_matching_behind_the_clustering_accuracy():
    y_true = [0, 0, 0, 1, 1, 2, 2, 2]
    y_pred = [7, 7, 1, 1, 1, 4, 4, 9]  # a fourth cluster (9) that no label is left for
    assert matched_labels(y_true, y_pred) == {1: 1, 4: 2, 7: 0}
    assert clustering_accuracy(y_true, y_pred) == 6 / 8
    with pytest.raises(ValueError, match="1-D of one non-zero length"):
        matched_labels([0, 1], [0])
