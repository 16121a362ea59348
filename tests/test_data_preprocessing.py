import numpy as np
import pytest

from aelab.data import Dataset, MinMaxScaling, load_dataset, split_dataset


def test_split_is_deterministic_and_stratified():
    d = load_dataset("digits")
    a, b = split_dataset(d, 0.2, random_state=3), split_dataset(d, 0.2, random_state=3)
    np.testing.assert_array_equal(a.test_index, b.test_index)
    assert a.description == {"kind": "random", "test_size": 0.2, "random_state": 3, "stratified": True,
                             "n_train": 1438, "n_test": 359}
    assert not set(a.train_index) & set(a.test_index)
    c = split_dataset(d, 0.2, random_state=4)
    assert not np.array_equal(a.test_index, c.test_index)


def test_official_split_is_kept():
    d = Dataset(np.arange(20.0).reshape(10, 2), None, (2,), "t", "t", n_train=7)
    s = split_dataset(d)
    assert s.description["kind"] == "official" and s.X_test.tolist() == [[14, 15], [16, 17], [18, 19]]


def test_images_are_scaled_globally_and_tables_per_feature():
    X = np.array([[0.0, 10.0], [5.0, 20.0]])
    image = MinMaxScaling.fit(X, per_feature=False)
    np.testing.assert_allclose(image.transform(X), [[0, 0.5], [0.25, 1.0]])
    table = MinMaxScaling.fit(X, per_feature=True)
    np.testing.assert_allclose(table.transform(X), [[0, 0], [1, 1]])
    np.testing.assert_allclose(table.inverse_transform(table.transform(X)), X)
    restored = MinMaxScaling.from_dict(table.to_dict())
    np.testing.assert_array_equal(restored.transform(X), table.transform(X))


def test_scaling_refuses_other_columns():
    with pytest.raises(ValueError, match="X has 3 features but the scaling was fitted on 2"):
        MinMaxScaling.fit(np.ones((2, 2)), per_feature=True).transform(np.ones((2, 3)))
