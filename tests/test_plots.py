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
    assert image.get_array().shape == (12, 12)  # 3 x 3 tiles of 2x2, each framed by a white pixel
    np.testing.assert_allclose(image.get_array()[1], [1, 0, 0, 1, 1, 0.5, 0.5, 1, 1, 1, 1, 1])
    assert np.all(image.get_array()[[0, 3, 4, 7, 8, 11]] == 1.0)  # white rows between the tiles
    # each tile is centred on the code it decodes: the grid's 0 .. 1 and 0 .. 2 plus half a step outside
    assert image.get_extent() == [-0.25, 1.25, -0.5, 2.5]
    with pytest.raises(ValueError, match="needs a 2-D code"):
        plots.latent_grid(decode, np.zeros((4, 3)), (2, 2))


def test_generated_samples_mosaic():
    samples = np.linspace(0, 1, 7 * 4).reshape(7, 4)
    fig = plots.generated_samples(samples, (2, 2), n_columns=3)
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (12, 12)  # 3 rows x 3 columns of 2x2 images, each framed by a white pixel
    np.testing.assert_allclose(mosaic[1:3, 5:7].ravel(), samples[1])
    assert np.all(mosaic[8:, 4:] == 1.0)  # the two unused tiles stay white
    with pytest.raises(ValueError, match="non-empty 2-D array"):
        plots.generated_samples(np.zeros((0, 4)), (2, 2))


def test_loss_curves_mark_the_best_epoch_on_whole_epoch_ticks():
    history = {"train_loss": [0.9, 0.5, 0.4, 0.35, 0.3], "validation_loss": [1.0, 0.6, 0.45, 0.5, 0.55]}
    fig = plots.loss_curves(history, best_epoch=3)
    ax = fig.axes[0]
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 5]
    assert ticks == [1, 2, 3, 4, 5]  # no 1.5, 2.5 ...
    best = [line for line in ax.get_lines() if line.get_label() == "best epoch 3: weights kept"]
    assert len(best) == 1 and best[0].get_xydata().tolist() == [[3.0, 0.45]]  # on the validation loss


def test_clusters_take_the_colour_of_the_label_they_are_matched_to():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    clusters = np.array([2, 0, 1])[labels]  # cluster 2 holds label 0, cluster 0 label 1, cluster 1 label 2
    clusters[:2] = 3  # a fourth cluster, matched to no label
    fig = plots.cluster_scatter(rng.normal(size=(60, 2)), clusters, labels, label_names=["a", "b", "c"])
    by_cluster, by_label = fig.axes

    def colours(ax):
        return {t.get_text(): tuple(c.get_facecolor()[0]) for t, c in
                zip(ax.get_legend().get_texts(), ax.collections, strict=True)}

    label_colours, cluster_colours = colours(by_label), colours(by_cluster)
    assert list(cluster_colours) == ["0: b", "1: c", "2: a", "3: unmatched"]
    assert [cluster_colours[name] for name in ("2: a", "0: b", "1: c")] == [label_colours[n] for n in "abc"]
    assert cluster_colours["3: unmatched"] not in label_colours.values()
