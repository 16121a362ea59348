"""PCA, t-SNE, UMAP and the raw input behind the interface of an autoencoder.

Each baseline is a scikit-learn style transformer: ``__init__`` stores the parameters, ``fit(X)`` learns,
``transform(X)`` returns the code of new rows. Those that can map a code back to the input space (PCA) also have
``inverse_transform``; the raw input has nothing to reconstruct. The comparison protocol of
``aelab compare`` is: fit on the training split, ``transform`` the test split, measure the test codes.

t-SNE embeds new rows with openTSNE's ``TSNEEmbedding.transform`` (each new point is placed against the fixed
training embedding) and UMAP with its own ``transform``. A method that cannot embed new rows raises a
ValueError that says so (see ``PrecomputedEmbedding``).

Examples
--------
>>> import numpy as np
>>> from aelab.baselines import PCABaseline
>>> X = np.random.default_rng(0).random((50, 6))
>>> PCABaseline(n_components=2).fit(X).transform(X).shape
(50, 2)
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data


class RawInput(TransformerMixin, BaseEstimator):
    """The identity: the input itself as the code, the reference every learned code should beat."""

    def fit(self, X, y=None):
        validate_data(self, X, reset=True)
        self.fitted_ = True
        return self

    def transform(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False)


class PCABaseline(TransformerMixin, BaseEstimator):
    """Principal component analysis (scikit-learn's) with ``n_components`` components."""

    def __init__(self, n_components: int = 2, random_state: int | None = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.decomposition import PCA

        X = validate_data(self, X, reset=True)
        self.pca_ = PCA(n_components=self.n_components, random_state=self.random_state).fit(X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        return self.pca_.transform(validate_data(self, X, reset=False))

    def inverse_transform(self, Z):
        check_is_fitted(self)
        return self.pca_.inverse_transform(np.asarray(Z))


class TSNEBaseline(TransformerMixin, BaseEstimator):
    """t-SNE (openTSNE) of the training rows; new rows are placed into that embedding by ``transform``.

    Parameters
    ----------
    n_components : int, default=2
        Size of the embedding. Gradients are Barnes-Hut below 10,000 training samples (faster there, and the
        same seed gives the same embedding) and for codes wider than 2, FFT-interpolated otherwise.
    perplexity : float, default=30
    n_jobs : int, default=1
    random_state : int, default=0
    """

    def __init__(self, n_components: int = 2, perplexity: float = 30.0, n_jobs: int = 1, random_state: int = 0):
        self.n_components = n_components
        self.perplexity = perplexity
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y=None):
        from openTSNE import TSNE

        X = validate_data(self, X, reset=True, dtype=np.float64)
        if len(X) <= 3 * self.perplexity:
            raise ValueError(f"t-SNE with perplexity {self.perplexity} needs more than {3 * self.perplexity:g} "
                             f"samples, got {len(X)}; pass more data or a smaller perplexity")
        method = "fft" if self.n_components <= 2 and len(X) >= 10000 else "bh"  # BH is faster on small data
        self.embedding_ = TSNE(n_components=self.n_components, perplexity=self.perplexity, n_jobs=self.n_jobs,
                               random_state=self.random_state, negative_gradient_method=method,
                               verbose=False).fit(X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return np.asarray(self.embedding_.transform(X))


class UMAPBaseline(TransformerMixin, BaseEstimator):
    """UMAP (umap-learn) fitted on the training rows; ``transform`` embeds new rows."""

    def __init__(self, n_components: int = 2, n_neighbors: int = 15, min_dist: float = 0.1, random_state: int = 0):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.random_state = random_state

    def fit(self, X, y=None):
        import warnings

        import umap

        X = validate_data(self, X, reset=True, dtype=np.float32)
        if len(X) <= self.n_neighbors:
            raise ValueError(f"UMAP with n_neighbors={self.n_neighbors} needs more than {self.n_neighbors} "
                             f"samples, got {len(X)}; pass more data or a smaller n_neighbors")
        with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": intended, reproducible
            warnings.simplefilter("ignore", UserWarning)
            self.umap_ = umap.UMAP(n_components=self.n_components, n_neighbors=self.n_neighbors,
                                   min_dist=self.min_dist, random_state=self.random_state).fit(X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        return np.asarray(self.umap_.transform(validate_data(self, X, reset=False, dtype=np.float32)))


class PrecomputedEmbedding(TransformerMixin, BaseEstimator):
    """A fixed embedding of the training rows (e.g. from another tool): it cannot embed new data.

    ``fit(X)`` stores ``embedding`` (one row per row of X); ``transform`` of the same X returns it and of any
    other data raises a ValueError that says so.
    """

    def __init__(self, embedding=None, name: str = "this embedding"):
        self.embedding = embedding
        self.name = name

    def fit(self, X, y=None):
        X = validate_data(self, X, reset=True)
        embedding = np.asarray(self.embedding)
        if embedding.ndim != 2 or len(embedding) != len(X):
            raise ValueError(f"embedding must have one row per sample of X ({len(X)}), got shape {embedding.shape}")
        self.X_fit_ = X
        self.embedding_ = embedding
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        if X.shape == self.X_fit_.shape and np.array_equal(X, self.X_fit_):
            return self.embedding_
        raise ValueError(f"{self.name} cannot embed new data: it only holds the embedding of the rows it was "
                         "fitted on; fit it on all the data you want embedded")
