import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from aelab.data import load_dataset
from tests.conftest import needs_fashion_mnist


def test_mnist5k_is_the_embedded_default():
    d = load_dataset("mnist5k")
    assert d.X.shape == (5000, 784) and d.sample_shape == (28, 28)
    assert sorted(np.unique(d.y)) == list(range(10))
    assert d.X.max() == 255


def test_digits_and_blobs():
    digits = load_dataset("digits")
    assert digits.X.shape == (1797, 64) and digits.sample_shape == (8, 8)
    blobs = load_dataset("blobs")
    assert blobs.X.shape == (20000, 50) and blobs.sample_shape == (50,) and len(np.unique(blobs.y)) == 20


@needs_fashion_mnist
def test_fashion_mnist_from_debian_package():
    d = load_dataset("fashion-mnist")
    assert d.X.shape == (70000, 784) and d.n_train == 60000
    assert d.label_names[9] == "Ankle boot"


def test_mnist_from_a_directory_with_only_the_test_pair(idx_dir):
    directory, images, labels = idx_dir
    d = load_dataset("mnist", data_dir=directory)
    assert d.X.shape == (30, 36) and d.sample_shape == (6, 6) and d.n_train is None
    np.testing.assert_array_equal(d.X[3], images[3].ravel())
    np.testing.assert_array_equal(d.y, labels)


def test_mnist_data_dir_from_environment(idx_dir, monkeypatch):
    monkeypatch.setenv("AELAB_DATA_DIR", str(idx_dir[0]))
    assert load_dataset("mnist").n_samples == 30


def test_mnist_missing_directory_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("AELAB_DATA_DIR", raising=False)
    with pytest.raises(ValueError, match=r"dataset 'mnist' not found .*pass --data-dir"):
        load_dataset("mnist", data_dir=tmp_path)


def test_truncated_idx_in_directory(idx_dir):
    directory, _, _ = idx_dir
    path = directory / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz"):
        load_dataset("mnist", data_dir=directory)


def test_unknown_name():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnsit'.*aelab datasets"):
        load_dataset("mnsit")


def test_npy_is_memory_mapped(tmp_path):
    images = np.random.default_rng(0).random((5, 4, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", images)
    d = load_dataset(tmp_path / "x.npy")
    assert d.sample_shape == (4, 3) and d.X.shape == (5, 12) and d.y is None
    assert isinstance(d.X.base, np.memmap) or isinstance(d.X, np.memmap)
    np.testing.assert_array_equal(d.X, images.reshape(5, 12))


def test_npz_with_labels(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.ones((4, 3)), y=np.array(["a", "b", "a", "c"]))
    d = load_dataset(tmp_path / "d.npz")
    assert d.y.tolist() == [0, 1, 0, 2] and d.label_names == ["a", "b", "c"]


def test_csv_with_header_and_label_column(tmp_path):
    pd.DataFrame({"f1": [1.0, 2.0], "label": [3, 4], "f2": [5.0, 6.0]}).to_csv(tmp_path / "d.csv", index=False)
    d = load_dataset(tmp_path / "d.csv")
    assert d.X.tolist() == [[1.0, 5.0], [2.0, 6.0]] and d.y.tolist() == [3, 4]


def test_csv_without_header(tmp_path):
    (tmp_path / "d.csv").write_text("1,2,3\n4,5,6\n")
    d = load_dataset(tmp_path / "d.csv")
    assert d.X.tolist() == [[1, 2, 3], [4, 5, 6]] and d.y is None


def test_csv_non_numeric_column_is_named(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,oops\n3,what\n")
    with pytest.raises(ValueError, match=r"column 'b' of .* is not numeric \(row 1 holds 'oops'\)"):
        load_dataset(tmp_path / "d.csv")


def test_parquet(tmp_path):
    pd.DataFrame({"x": [0.5, 1.5], "y_val": [2.0, 3.0], "class": ["u", "v"]}).to_parquet(tmp_path / "d.parquet")
    d = load_dataset(tmp_path / "d.parquet")
    assert d.X.shape == (2, 2) and d.label_names == ["u", "v"]


def test_image_folder_with_label_subfolders(tmp_path):
    for label in ("cat", "dog"):
        os.makedirs(tmp_path / label)
        for i in range(2):
            Image.fromarray(np.full((5, 7), 40 * i, dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    d = load_dataset(tmp_path)
    assert d.sample_shape == (5, 7) and d.X.shape == (4, 35)
    assert d.y.tolist() == [0, 0, 1, 1] and d.label_names == ["cat", "dog"]


def test_rgb_image_folder_is_channels_first(tmp_path):
    Image.fromarray(np.zeros((4, 6, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((4, 6, 3), 9, dtype=np.uint8)).save(tmp_path / "b.jpg")
    d = load_dataset(tmp_path)
    assert d.sample_shape == (3, 4, 6) and d.y is None


def test_image_folder_of_mixed_sizes(tmp_path):
    Image.fromarray(np.zeros((4, 6), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((5, 6), dtype=np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(ValueError, match="all images must have one size"):
        load_dataset(tmp_path)


def test_unsupported_suffix(tmp_path):
    (tmp_path / "d.txt").write_text("1 2")
    with pytest.raises(ValueError, match="does not read; use .npy, .npz, .csv, .parquet"):
        load_dataset(tmp_path / "d.txt")
