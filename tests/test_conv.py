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
