import itertools

import numpy as np
import pytest

from aelab.metrics import clustering_accuracy, reconstruction_mse


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


def test_psnr_by_hand():
    from aelab.metrics import psnr

    clean = np.zeros((2, 4))
    assert psnr(clean, np.full((2, 4), 0.1)) == pytest.approx(20.0)
    assert psnr(clean, clean) == float("inf")
