"""The set of figures drawn for one fitted method, shared by ``aelab train`` and ``aelab compare``."""

from __future__ import annotations

from typing import Any

import numpy as np

from aelab.data import Dataset

N_GRID_IMAGES = 10
N_GENERATED = 64
#: The figures ``method_figures`` may draw, by the stem of their file names, in the order a report shows them.
FIGURE_KINDS = ("latent", "reconstructions", "worst_reconstructions", "latent_grid", "loss", "samples")


def method_figures(name: str, estimator, code: np.ndarray, reconstruction: np.ndarray | None, X_test: np.ndarray,
                   y_test, dataset: Dataset, suffix: str = "", random_state: int = 0) -> dict[str, Any]:
    """Figures of one method on the test data, keyed by file name (``latent{suffix}.png`` ...).

    The latent scatter always; for images with a decoder the reconstructions (of test images drawn with
    ``random_state``, the same for every method), the worst reconstructions and,
    for a 2-D code, the decoder over a grid of it; the loss curves of a trained model; and samples from the
    prior for a model that can generate.
    """
    from aelab import plots

    figures = {f"latent{suffix}.png": plots.latent_scatter(code, y_test, label_names=dataset.label_names,
                                                           title=f"{name}: code of the test data ({dataset.name})")}
    if dataset.is_image and reconstruction is not None:
        n = min(N_GRID_IMAGES, len(X_test))
        # a fixed random draw, the same for every method: the first rows of sorted data are all of one class
        shown = np.sort(np.random.default_rng(random_state).choice(len(X_test), n, replace=False))
        figures[f"reconstructions{suffix}.png"] = plots.reconstruction_grid(
            X_test[shown], reconstruction[shown], dataset.sample_shape,
            title=f"{name}: test images\noriginal (top), reconstruction (bottom)")
        figures[f"worst_reconstructions{suffix}.png"] = plots.worst_reconstructions(
            X_test, reconstruction, dataset.sample_shape, n=n,
            title=f"{name}: the worst reconstructed test images\noriginal (top), reconstruction (bottom)")
        if code.shape[1] == 2:
            figures[f"latent_grid{suffix}.png"] = plots.latent_grid(
                lambda Z: np.clip(estimator.inverse_transform(Z.astype(code.dtype)), 0, 1), code,
                dataset.sample_shape, title=f"{name}: decoder output over a grid of the 2-D code")
    if getattr(estimator, "history_", None):
        figures[f"loss{suffix}.png"] = plots.loss_curves(estimator.history_, best_epoch=estimator.best_epoch_,
                                                         title=f"{name}: loss per epoch")
    if dataset.is_image and getattr(estimator, "can_generate", False):
        samples = estimator.sample(N_GENERATED, random_state=random_state)
        figures[f"samples{suffix}.png"] = plots.generated_samples(
            samples, dataset.sample_shape, n_columns=8,
            title=f"{name}: {N_GENERATED} samples decoded from codes drawn from N(0, I)")
    return figures


def side_by_side(figures: dict[str, Any], suffixes: list[str]) -> list[list[str]]:
    """The names of the same figure of each method (``method_figures`` with each of ``suffixes``) in
    groups, one per kind of figure (``FIGURE_KINDS``), for a report to show them beside each other."""
    groups = [[f"{kind}{suffix}.png" for suffix in suffixes if f"{kind}{suffix}.png" in figures]
              for kind in FIGURE_KINDS]
    return [group for group in groups if len(group) > 1]

