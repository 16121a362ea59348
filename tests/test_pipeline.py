"""A run folder loads as one fitted Pipeline that takes data in their own units: its codes, reconstructions and
scores are those the command line writes, for a table (scaled per feature) and images (one global range)."""

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import aelab
from aelab import Autoencoder
from aelab.cli import main
from aelab.data import load_dataset
from aelab.data.preprocessing import RangeScaler

TRAIN = ["train", "--hidden", "8", "--latent", "2", "--epochs", "2", "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """A CSV of 120 rows whose 5 columns have very different ranges, and a run trained on it."""
    folder = tmp_path_factory.mktemp("table")
    rng = np.random.default_rng(0)
    values = rng.standard_normal((120, 5)) * [1, 10, 100, 0.1, 5] + [0, 50, -300, 2, 7]
    data = folder / "table.csv"
    np.savetxt(data, values, delimiter=",", header="a,b,c,d,e", comments="", fmt="%.6f")
    assert main([*TRAIN, "--data", str(data), "--out", str(folder / "run")]) == 0
    return folder / "run", data, np.loadtxt(data, delimiter=",", skiprows=1)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A run trained on the built-in 8 x 8 digits (pixels 0..16, scaled by one global range)."""
    run = tmp_path_factory.mktemp("images") / "run"
    assert main([*TRAIN, "--data", "digits", "--out", str(run)]) == 0
    return run, "digits", load_dataset("digits").X


@pytest.mark.parametrize("case", ["table", "images"])
def test_the_loaded_pipeline_gives_what_the_command_line_writes(case, request, tmp_path):
    run, data, X = request.getfixturevalue(case)
    model = aelab.load(run)
    assert isinstance(model, Pipeline) and [name for name, _ in model.steps] == ["scaling", "autoencoder"]
    written = {}
    for command in ("encode", "reconstruct", "score"):
        out = tmp_path / f"{command}.npy"
        assert main([command, "--run", str(run), "--data", str(data), "--out", str(out)]) == 0
        written[command] = np.load(out)
    codes = model.transform(X)
    np.testing.assert_array_equal(codes, written["encode"])
    np.testing.assert_array_equal(model.inverse_transform(codes), written["reconstruct"])
    np.testing.assert_array_equal(-model.score_samples(X)[:, None], written["score"])


def test_inverse_transform_gives_the_data_units(table):
    run, _, X = table
    model = aelab.load(run)
    reconstruction = model.inverse_transform(model.transform(X))
    # a sigmoid output lies in (0, 1): back in the data's units, each column within its own training range (which
    # excludes [0, 1] for the columns centred at 50 and -300)
    assert model.named_steps["autoencoder"].output_activation_ == "sigmoid"
    assert ((reconstruction >= X.min(axis=0)) & (reconstruction <= X.max(axis=0))).all()


def test_the_pipeline_refuses_other_columns_naming_the_counts(table):
    run, _, X = table
    with pytest.raises(ValueError, match="X has 4 features, but RangeScaler is expecting 5 features"):
        aelab.load(run).transform(X[:, :4])


def test_a_model_folder_loads_as_its_autoencoder(tmp_path):
    X = load_dataset("digits").X[:200] / 16.0
    Autoencoder(n_components=2, epochs=1, random_state=0, device="cpu").fit(X).save(tmp_path / "model")
    assert isinstance(aelab.load(tmp_path / "model"), Autoencoder)


def test_a_pipeline_of_a_range_scaler_and_an_autoencoder_fits_on_raw_data():
    X = load_dataset("digits").X[:300]
    model = Pipeline([("scaling", RangeScaler(per_feature=False)),
                      ("autoencoder", Autoencoder(n_components=2, epochs=1, random_state=0, device="cpu"))]).fit(X)
    assert model.named_steps["autoencoder"].output_activation_ == "sigmoid"  # it saw the pixels in [0, 1]
    assert model.transform(X).shape == (300, 2)


def test_range_scaler_scales_images_by_one_range_and_tables_per_feature():
    X = np.array([[0.0, 10.0], [5.0, 20.0]])
    np.testing.assert_allclose(RangeScaler(per_feature=False).fit_transform(X), [[0, 0.5], [0.25, 1.0]])
    table = RangeScaler().fit(X)
    np.testing.assert_allclose(table.transform(X), [[0, 0], [1, 1]])
    np.testing.assert_allclose(table.inverse_transform(table.transform(X)), X)


@parametrize_with_checks([RangeScaler(), RangeScaler(per_feature=False)])
def test_range_scaler_passes_scikit_learn_checks(estimator, check):
    check(estimator)
