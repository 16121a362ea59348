import numpy as np
import pytest
from matplotlib.figure import Figure

from aelab import plots


def test_latent_panel_draws_one_scatter_per_method_and_one_legend():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 10)
    codes = {"pca": rng.normal(size=(30, 2)), "tsne": rng.normal(size=(30, 2)), "raw": rng.normal(size=(30, 5)),
             "ae": rng.normal(size=(30, 2))}
    fig = plots.latent_panel(codes, labels, label_names=["a", "b", "c"], title="codes")
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["pca", "tsne", "raw", "ae", "", ""]  # 2 x 3 grid, the last two empty
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) == 1 and [t.get_text() for t in legends[0].get_texts()] == ["a", "b", "c"]
    assert fig.axes[2].get_xlabel() == "PC 1 of the code"
    with pytest.raises(ValueError, match="at least one method"):
        plots.latent_panel({})


def test_worst_reconstructions_shows_the_largest_errors_first():
    originals = np.zeros((6, 4))
    reconstructions = originals.copy()
    reconstructions[4] = 0.9  # worst
    reconstructions[1] = 0.5  # second worst
    originals[4, 0], originals[1, 0] = 1.0, 0.25  # mark them to recognise them in the figure
    fig = plots.worst_reconstructions(originals, reconstructions, (2, 2), n=2)
    first_original, second_original = fig.axes[0].images[0].get_array(), fig.axes[1].images[0].get_array()
    assert first_original[0, 0] == 1.0 and second_original[0, 0] == 0.25
    assert len(fig.axes) == 4


def test_latent_grid_decodes_a_regular_grid_spanning_the_codes():
    codes = np.array([[0.0, 0.0], [1.0, 2.0]])
    seen = []

    def decode(Z):
        seen.append(Z)
        return np.repeat(Z[:, :1] / 1.0, 4, axis=1)  # a 2x2 image filled with code 1

    fig = plots.latent_grid(decode, codes, (2, 2), n_per_side=3, quantiles=(0.0, 1.0))
    grid = seen[0]
    assert grid.shape == (9, 2)
    np.testing.assert_allclose(grid[:3], [[0, 2], [0.5, 2], [1, 2]])  # top row: largest code 2
    image = fig.axes[0].images[0]
    assert image.get_array().shape == (6, 6)
    np.testing.assert_allclose(image.get_array()[0], [0, 0, 0.5, 0.5, 1, 1])
    assert image.get_extent() == [0.0, 1.0, 0.0, 2.0]
    with pytest.raises(ValueError, match="needs a 2-D code"):
        plots.latent_grid(decode, np.zeros((4, 3)), (2, 2))


def test_generated_samples_mosaic():
    samples = np.linspace(0, 1, 7 * 4).reshape(7, 4)
    fig = plots.generated_samples(samples, (2, 2), n_columns=3)
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (6, 6)  # 3 rows x 3 columns of 2x2 images
    np.testing.assert_allclose(mosaic[:2, 2:4].ravel(), samples[1])
    assert np.all(mosaic[4:, 2:] == 1.0)  # the two unused tiles stay white
    with pytest.raises(ValueError, match="non-empty 2-D array"):
        plots.generated_samples(np.zeros((0, 4)), (2, 2))
