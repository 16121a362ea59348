"""Image augmentation: the affine maps against hand-made moves, its ranges, and its place in training."""

import json
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from aelab import Autoencoder, load
from aelab.parts import Affine, Conv, Dense
from aelab.parts.augmentations import affine_transform, random_affine, random_affine_matrices


def _dot_image(row: int, col: int, size: int = 4) -> torch.Tensor:
    image = torch.zeros(1, size * size)
    image[0, row * size + col] = 1.0
    return image


def test_a_shift_of_a_quarter_width_moves_a_4x4_image_by_one_pixel():
    # output pixel (r, c) reads input (r, c + 1): the dot at column 2 lands at column 1
    theta = torch.tensor([[[1.0, 0.0, 2 * 0.25], [0.0, 1.0, 0.0]]])
    moved = affine_transform(_dot_image(1, 2), (1, 4, 4), theta)
    assert torch.allclose(moved, _dot_image(1, 1), atol=1e-6)


def test_a_mirror_matrix_flips_left_to_right_and_a_quarter_turn_rotates():
    x = torch.arange(16.0).reshape(1, 16)
    mirror = torch.tensor([[[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    assert torch.allclose(affine_transform(x, (1, 4, 4), mirror), x.reshape(4, 4).flip(1).reshape(1, 16), atol=1e-5)
    turn = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]])  # output (x, y) reads input (-y, x)
    assert torch.allclose(affine_transform(x, (1, 4, 4), turn), torch.rot90(x.reshape(4, 4), 1).reshape(1, 16),
                          atol=1e-5)


def test_random_matrices_stay_within_their_ranges_and_flip_about_half():
    augmentation = Affine(rotation=10.0, shift=0.1, scale=0.2, flip=True)
    theta = random_affine_matrices(4000, augmentation, torch.Generator().manual_seed(0), dtype=torch.float64)
    linear = theta[:, :, :2]
    determinant = torch.linalg.det(linear)  # (+/-) 1 / zoom^2
    zoom = 1 / determinant.abs().sqrt()
    assert zoom.min() >= 0.8 - 1e-9 and zoom.max() <= 1.2 + 1e-9
    # [[c, -s], [s, c]] / zoom, its first column negated when mirrored
    angle = torch.atan2(linear[:, 1, 0] * torch.sign(determinant), linear[:, 1, 1])
    assert angle.abs().max() <= math.radians(10.0) + 1e-9
    assert theta[:, :, 2].abs().max() <= 0.2 + 1e-9
    flipped = (determinant < 0).double().mean()
    assert 0.45 < flipped < 0.55


def test_still_augmentation_leaves_images_alone_and_moves_keep_the_range():
    x = torch.rand(8, 64)
    still = random_affine(x, (1, 8, 8), Affine(0.0, 0.0, 0.0), torch.Generator().manual_seed(0))
    assert torch.allclose(still, x, atol=1e-6)
    moved = random_affine(x, (1, 8, 8), Affine(30.0, 0.2, 0.2, True), torch.Generator().manual_seed(0))
    assert not torch.allclose(moved, x, atol=1e-3)
    assert moved.min() >= x.min() - 1e-6 and moved.max() <= x.max() + 1e-6


def test_the_loss_augments_in_training_only_and_uses_the_moved_image_as_target():
    ae = Autoencoder(encoder=Dense(hidden=(8,)), n_components=2, random_state=0)
    network = ae.build_network(16, "sigmoid", seed=0)
    x = torch.rand(5, 16)
    plain = ae.training_loss(generator=torch.Generator().manual_seed(0), output_activation="sigmoid")
    ae.set_params(augmentation=Affine(90.0, 0.25, 0.0, True, sample_shape=(4, 4)))
    ae.sample_shape_ = (1, 4, 4)
    moved = ae.training_loss(generator=torch.Generator().manual_seed(0), output_activation="sigmoid")
    network.eval()
    assert torch.equal(plain(network, x), moved(network, x))
    network.train()
    # the same draws by hand: target and input are the same moved batch
    theta = random_affine_matrices(5, Affine(90.0, 0.25, 0.0, True), torch.Generator().manual_seed(0))
    x_moved = affine_transform(x, (1, 4, 4), theta)
    expected = torch.nn.functional.mse_loss(network.decode(network.encode(x_moved)), x_moved)
    assert torch.allclose(moved(network, x), expected)


def _digits():
    return (load_digits().data / 16.0).astype(np.float32)


def test_fit_with_augmentation_is_reproducible_differs_from_plain_and_round_trips(tmp_path):
    X = _digits()[:400]
    params = dict(encoder=Dense(hidden=(32,)), n_components=4, epochs=3, random_state=0, device="cpu")
    augmented = Autoencoder(augmentation=Affine(flip=True), **params).fit(X)
    again = Autoencoder(augmentation=Affine(flip=True), **params).fit(X)
    plain = Autoencoder(**params).fit(X)
    assert augmented.sample_shape_ == (1, 8, 8)
    assert augmented.history_["train_loss"] == again.history_["train_loss"]
    assert augmented.history_["train_loss"] != plain.history_["train_loss"]
    augmented.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    assert loaded.augmentation.get_params() == Affine(flip=True).get_params()
    np.testing.assert_allclose(loaded.transform(X), augmented.transform(X), rtol=1e-6)


def test_conv_and_image_arrays_take_augmentation():
    X = _digits()[:200].reshape(-1, 8, 8)
    ae = Autoencoder(encoder=Conv(filters=(8,)), n_components=2, epochs=1, augmentation=Affine(),
                     random_state=0, device="cpu").fit(X)
    assert ae.transform(X).shape == (200, 2)
    dense = Autoencoder(encoder=Dense(hidden=(16,)), n_components=2, epochs=1, augmentation=Affine(), random_state=0,
                        device="cpu").fit(X)
    assert dense.sample_shape_ == (1, 8, 8) and dense.n_features_in_ == 64


@pytest.mark.parametrize("params, message", [
    ({"augmentation": Affine()}, "Affine needs the image shape, and 10 features are not a square"),
    ({"augmentation": "elastic"}, "augmentation='elastic' is not one of the augmentation parts; pass one of "
                                  "aelab.parts (Affine) or None"),
    ({"augmentation": Affine(scale=1.0)}, "Affine scale must be below 1"),
    ({"augmentation": Affine(shift=-0.1)}, "Affine shift must be a number >= 0.0 and <= 1.0"),
    ({"augmentation": Affine(flip="yes")}, "Affine flip must be True or False"),
    ({"augmentation": Affine(sample_shape=(3, 3))}, "sample_shape (1, 3, 3) holds 9 values but the data have 10"),
])
def test_bad_augmentation_settings_say_what_to_pass(params, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Autoencoder(epochs=1, n_components=2, **params).fit(np.random.default_rng(0).random((20, 10)))


def test_dec_fine_tunes_on_batches_moved_as_the_pretraining_moved_them():
    from aelab.cluster import DEC, _augmenter

    X = _digits()[:300]
    plain = Autoencoder(encoder=Dense(hidden=(32,)), n_components=4, epochs=2, random_state=0, device="cpu").fit(X)
    assert _augmenter(plain, 0, torch.device("cpu")) is None
    moved = Autoencoder(encoder=Dense(hidden=(32,)), n_components=4, epochs=2, augmentation=Affine(), random_state=0,
                        device="cpu").fit(X)
    augment = _augmenter(moved, 0, torch.device("cpu"))
    batch = torch.as_tensor(X[:16])
    assert augment(batch).shape == (16, 64) and not torch.allclose(augment(batch), batch, atol=1e-3)
    runs = [DEC(ae, n_clusters=5, max_iter=20, update_interval=10, random_state=0).fit(X) for ae in (plain, moved)]
    assert all(run.n_iter_ == 20 and run.labels_.shape == (300,) for run in runs)


def test_cli_train_and_cluster_take_augment_and_refuse_it_where_it_cannot_apply(tmp_path, capsys):
    from aelab.cli import main

    assert main(["train", "--data", "digits", "--augment", "affine", "--hidden", "16", "--latent", "2",
                 "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["job"]["augment"] == "affine"
    assert main(["cluster", "--data", "digits", "--method", "kmeans", "--augment", "affine-flip", "--hidden",
                 "16,16,32", "--epochs", "1", "--quiet", "--out", str(tmp_path / "clusters")]) == 0
    assert json.loads((tmp_path / "clusters" / "config.json").read_text())["job"]["augment"] == "affine-flip"
    capsys.readouterr()
    assert main(["train", "--data", "blobs", "--augment", "affine", "--out", str(tmp_path / "blobs")]) == 2
    assert "--augment affine moves images, but blobs does not hold images" in capsys.readouterr().err
    assert not (tmp_path / "blobs").exists()
    assert main(["bench", "blobs", "--augment", "affine", "--out", str(tmp_path / "bench")]) == 2
    assert "the blobs study trains as its reference study did and takes no --augment" in capsys.readouterr().err
