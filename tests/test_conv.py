import pytest
import torch

from aelab.nn.conv import ConvBody, ConvDecoder, conv_output_sizes


def test_conv_sizes_of_mnist_with_the_defaults():
    assert conv_output_sizes(28, 2, 4, 2) == [28, 14, 7]
    assert conv_output_sizes(7, 2, 4, 2) == [7, 3, 1]


@pytest.mark.parametrize("shape, kernel, stride", [((1, 28, 28), 4, 2), ((3, 7, 9), 4, 2), ((1, 5, 5), 3, 2),
                                                   ((2, 17, 12), 5, 3)])
def test_decoder_gives_back_the_exact_input_shape(shape, kernel, stride):
    g = torch.Generator().manual_seed(0)
    body = ConvBody(shape, (4, 6), kernel, stride, "relu", g)
    decoder = ConvDecoder(3, body, kernel, stride, "relu", g)
    x = torch.rand(2, shape[0] * shape[1] * shape[2])
    features = body(x)
    assert features.shape == (2, body.out_features)
    assert decoder(torch.zeros(2, 3)).shape == x.shape


def test_too_small_images_are_refused():
    with pytest.raises(ValueError, match=r"images of 2 x 2 are too small for 3 convolution\(s\) of kernel 4"):
        ConvBody((1, 2, 2), (4, 4, 4), 4, 2, "relu", torch.Generator())


def test_conv_hidden_puts_dense_layers_between_the_convolutions_and_the_code(tmp_path):
    import numpy as np

    from aelab import load
    from aelab.estimators import Autoencoder
    from aelab.parts import Conv

    X = np.random.default_rng(0).random((40, 64), dtype=np.float32)
    ae = Autoencoder(encoder=Conv(filters=(4, 8), hidden=(16, 8)), n_components=3, epochs=1,
                     validation_fraction=0.0, random_state=0, device="cpu").fit(X)
    widths = [(m.in_features, m.out_features) for m in ae.network_.modules() if isinstance(m, torch.nn.Linear)]
    # encoder: 8 channels x 2 x 2 -> 16 -> 8 -> code 3; decoder: 3 -> 8 -> 16 -> the last feature map
    assert widths == [(32, 16), (16, 8), (8, 3), (3, 8), (8, 16), (16, 32)]
    assert ae.reconstruct(X).shape == X.shape
    ae.save(tmp_path / "model")
    np.testing.assert_allclose(load(tmp_path / "model").transform(X), ae.transform(X), rtol=1e-6)
    with pytest.raises(ValueError, match=r"Conv hidden must hold positive integer widths, got \(0,\)"):
        Autoencoder(encoder=Conv(hidden=(0,)), epochs=1).fit(X)
