import torch

from aelab.objectives import reconstruction_error, reconstruction_loss


def test_mse_with_sigmoid_output_by_hand():
    logits = torch.tensor([[0.0, 2.0]])
    target = torch.tensor([[1.0, 0.0]])
    s = 1 / (1 + torch.exp(torch.tensor(-2.0)))
    expected = ((0.5 - 1.0) ** 2 + (s - 0.0) ** 2) / 2
    assert torch.allclose(reconstruction_error(logits, target, "mse", "sigmoid"), expected.reshape(1))


def test_bce_by_hand():
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    target = torch.tensor([[1.0, 0.0], [0.5, 1.0]])
    p = torch.sigmoid(logits)
    expected = -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean(dim=1)
    got = reconstruction_error(logits, target, "bce", "sigmoid")
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(reconstruction_loss(logits, target, "bce", "sigmoid"), expected.mean(), atol=1e-6)


def test_linear_mse_by_hand():
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([[1.0, 0.0, 0.0]])
    assert torch.allclose(reconstruction_loss(logits, target, "mse", "linear"), torch.tensor(13 / 3))
