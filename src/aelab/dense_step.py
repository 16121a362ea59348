"""A hand-written training step for plain dense autoencoders: forward and backward into kept buffers.

The most common autoencoder, linear layers with ReLU between them trained on MSE (or BCE) alone, spends
most of a small batch's step outside its matrix products when autograd runs it: building the graph,
allocating every activation and gradient afresh, and a dozen element-wise kernels. ``DenseStep`` runs the
same arithmetic with no graph: each layer's output goes into a buffer kept from step to step, ReLU works
in place, the loss and its gradient go into kept buffers too, and each weight and bias gradient is written
straight into the parameter's ``.grad``. Only public tensor operations are used. The results match
autograd's to float rounding (summation order).

``dense_step_for`` says when a network and loss qualify; aelab.training uses the step then and autograd
otherwise (any other layer, corruption, penalty, Gaussian code, bf16, torch.compile or several processes).
Image augmentation qualifies: the batch is moved first, with the loss's own random stream, as the
loss itself would move it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

#: How many batch sizes keep their buffers at once (an epoch has at most two: full and last).
_KEPT_SIZES = 4


@dataclass(eq=False)
class _StepBuffers:
    """What one batch size's step writes into, kept from step to step: each layer's output, the gradient
    of each layer's input and the reconstruction's error."""

    outputs: list[torch.Tensor]
    input_grads: list[torch.Tensor]
    difference: torch.Tensor

    @classmethod
    def for_layers(cls, layers: list[tuple[nn.Linear, bool]], rows: int, device: torch.device,
                   dtype: torch.dtype) -> _StepBuffers:
        options = {"device": device, "dtype": dtype}
        return cls(outputs=[torch.empty(rows, layer.out_features, **options) for layer, _ in layers],
                   input_grads=[torch.empty(rows, layer.in_features, **options) for layer, _ in layers],
                   difference=torch.empty(rows, layers[-1][0].out_features, **options))


class DenseStep:
    """``step(x) -> loss``: one forward and backward pass of a dense ReLU autoencoder on the batch ``x``.

    Parameters
    ----------
    layers : list of (nn.Linear, bool)
        The linear layers in forward order, each with whether a ReLU follows it.
    loss : {"mse", "bce"}
        The reconstruction loss, the mean over samples and features.
    output_activation : {"sigmoid", "linear"}
        Applied to the last layer's output (``bce`` needs ``sigmoid``).
    counter : object with an integer ``step`` attribute, optional
        Advanced by one per call, as the loss (aelab.parts.loss) counts its training steps.
    augment : callable, optional
        Applied to each batch first; the moved batch is then both input and target.

    After a call, every weight and bias of ``layers`` holds its gradient of the returned loss in ``.grad``
    (overwritten, not accumulated); the optimizer's step is the caller's.
    """

    def __init__(self, layers: list[tuple[nn.Linear, bool]], loss: str, output_activation: str,
                 counter=None, augment: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        if loss not in ("mse", "bce") or output_activation not in ("sigmoid", "linear"):
            raise ValueError(f"DenseStep runs mse or bce with a sigmoid or linear output, not {loss!r} with "
                             f"{output_activation!r}")
        if loss == "bce" and output_activation != "sigmoid":
            raise ValueError("the 'bce' loss needs a sigmoid output")
        self.layers = layers
        self.loss = loss
        self.output_activation = output_activation
        self.counter = counter
        self.augment = augment
        self._buffers: dict[tuple[int, torch.device], _StepBuffers] = {}

    def _buffers_for(self, x: torch.Tensor) -> _StepBuffers:
        key = (len(x), x.device)
        if key not in self._buffers:
            if len(self._buffers) >= _KEPT_SIZES:
                self._buffers.clear()
            self._buffers[key] = _StepBuffers.for_layers(self.layers, len(x), x.device, x.dtype)
        return self._buffers[key]

    def _ensure_grads(self) -> None:
        for layer, _ in self.layers:
            for parameter in (layer.weight, layer.bias):
                if parameter.grad is None or parameter.grad.shape != parameter.shape:
                    parameter.grad = torch.empty_like(parameter)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.augment is not None:
            x = self.augment(x)
        self._ensure_grads()
        buffers = self._buffers_for(x)
        outputs = buffers.outputs
        h = x
        for (layer, relu), out in zip(self.layers, outputs, strict=True):
            torch.addmm(layer.bias, h, layer.weight.t(), out=out)
            if relu:
                out.clamp_(min=0)
            h = out
        n = h.numel()
        # the loss and the gradient of the last layer's output
        if self.loss == "bce":
            loss = F.binary_cross_entropy_with_logits(h, x)
            grad = h.sigmoid_().sub_(x).mul_(1.0 / n)
        elif self.output_activation == "sigmoid":
            output = h.sigmoid_()
            difference = torch.sub(output, x, out=buffers.difference)
            flat = difference.view(-1)
            loss = torch.dot(flat, flat) / n
            # d loss / d logits = 2 / n * (output - x) * output * (1 - output): with p = (output - x) * output,
            # p - p * output is the sigmoid's backward, in place in the kept buffer
            grad = difference.mul_(output)
            grad.addcmul_(grad, output, value=-1.0).mul_(2.0 / n)
        else:
            difference = h.sub_(x)
            flat = difference.view(-1)
            loss = torch.dot(flat, flat) / n
            grad = difference.mul_(2.0 / n)
        for i in range(len(self.layers) - 1, -1, -1):
            layer, _ = self.layers[i]
            below = x if i == 0 else outputs[i - 1]
            torch.mm(grad.t(), below, out=layer.weight.grad)
            torch.sum(grad, dim=0, out=layer.bias.grad)
            if i > 0:
                grad_below = torch.mm(grad, layer.weight, out=buffers.input_grads[i])
                if self.layers[i - 1][1]:  # ReLU: no gradient where it gave 0
                    # the layer's output is not needed after this: it becomes the 0/1 mask in place, a
                    # tenth of the time of masked_fill_ with a boolean mask on the CPU
                    grad_below.mul_(below.gt_(0.0))
                grad = grad_below
        if self.counter is not None:
            self.counter.step += 1
        return loss


def _linear_relu_layers(network: nn.Module) -> list[tuple[nn.Linear, bool]] | None:
    """The network's linear layers in forward order with whether a ReLU follows each, or None when it holds
    anything else (or a ReLU that follows no linear layer, or an in-place one)."""
    layers: list[tuple[nn.Linear, bool]] = []
    for module in network.modules():
        if any(True for _ in module.children()):
            continue
        if isinstance(module, nn.Linear) and module.bias is not None:
            layers.append((module, False))
        elif isinstance(module, nn.ReLU) and layers and not layers[-1][1] and not module.inplace:
            layers[-1] = (layers[-1][0], True)
        else:
            return None
    return layers or None


def dense_step_for(network: nn.Module, loss_fn, precision: str = "fp32", compile: bool = False,
                   distributed=None) -> DenseStep | None:
    """A ``DenseStep`` for ``network`` trained on ``loss_fn`` (an aelab.parts.loss.AutoencoderLoss), or
    None when autograd must run the step.

    The step qualifies when the network is an AutoencoderNetwork of dense layers and ReLUs only (in the
    order encoder body, code layer, decoder), its parameters are float32, the loss says it is ``plain``
    (the reconstruction error alone, mse or bce with a sigmoid or linear output, image augmentation allowed),
    and training runs in fp32, uncompiled, in one process.
    """
    from aelab.nn import AutoencoderNetwork
    from aelab.nn.dense import DenseDecoder, DenseStack
    from aelab.nn.latent import DeterministicHead, Encoder

    if precision != "fp32" or compile or distributed is not None or not getattr(loss_fn, "plain", False):
        return None
    loss, output_activation = loss_fn.loss, loss_fn.output_activation
    if loss not in ("mse", "bce") or output_activation not in ("sigmoid", "linear"):
        return None
    if loss == "bce" and output_activation != "sigmoid":
        return None
    if not (isinstance(network, AutoencoderNetwork) and network.output_activation == output_activation
            and isinstance(network.encoder, Encoder) and isinstance(network.encoder.body, DenseStack)
            and isinstance(network.encoder.head, DeterministicHead) and isinstance(network.decoder, DenseDecoder)):
        return None
    if any(p.dtype != torch.float32 for p in network.parameters()):
        return None
    layers = _linear_relu_layers(network)
    if layers is None or layers[-1][1]:  # the output layer must end linear
        return None
    augment = loss_fn.augment if loss_fn.augmentation is not None else None
    return DenseStep(layers, loss, output_activation, counter=loss_fn, augment=augment)
