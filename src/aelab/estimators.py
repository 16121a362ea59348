"""scikit-learn facing autoencoder estimators, composed from aelab.nn, aelab.objectives and aelab.training."""

from __future__ import annotations

import copy
import numbers
import os
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from aelab.acceleration import check_precision, prefer_channels_last
from aelab.augmentation import AUGMENTATIONS, AffineAugmentation
from aelab.composite_loss import CompositeLoss, LossComposition, contractive_penalty
from aelab.corruption import CORRUPTIONS
from aelab.data.dataset import bad_values
from aelab.nn import OUTPUT_ACTIVATIONS, AutoencoderNetwork, DenseDecoder
from aelab.nn.conv import ConvBody, ConvDecoder, ConvDenseBody
from aelab.nn.dense import DenseStack
from aelab.nn.latent import DeterministicHead, Encoder, GaussianHead, reparameterise
from aelab.nn.layers import ACTIVATIONS
from aelab.objectives import RECONSTRUCTION_LOSSES, analytic_kl, reconstruction_error, reconstruction_error_sum
from aelab.training import (
    OPTIMIZERS,
    Checkpointing,
    TrainingSettings,
    make_generator,
    resolve_device,
    train_network,
)
from aelab.training.callbacks import check_callbacks
from aelab.training.faults import ON_DIVERGENCE

_INFERENCE_BATCH = 8192
ARCHITECTURES = ("dense", "conv")
LATENTS = ("deterministic", "gaussian")
KL_ESTIMATES = ("analytic", "batch")
LATENT_CYCLES = ("none", "alternating", "joint")

#: The named kinds of autoencoder, as the parameters they set (everything else keeps its default).
KINDS: dict[str, dict] = {
    "vanilla": {},
    "conv": {"architecture": "conv"},
    "denoising": {"corruption": "gaussian", "noise_level": 0.5},
    "sparse": {"activation": "sigmoid", "l1_code": 1e-4, "sparsity_weight": 1e-3, "sparsity_target": 0.05},
    "contractive": {"contractive_weight": 0.1},
    "variational": {"latent": "gaussian", "kl": "analytic", "beta": 1.0},
    "variational-batch": {"latent": "gaussian", "kl": "batch", "beta": 1.0},
    "double": {"latent_cycle": "alternating", "cycle_weight": 0.1, "n_alternations": 10},
}


def kind_parameters(kind: str) -> dict:
    """The Autoencoder parameters of a named kind, e.g. ``Autoencoder(**kind_parameters("variational"))``."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    return dict(KINDS[kind])


def _as_tensor(array: np.ndarray, dtype: np.dtype) -> torch.Tensor:
    """A CPU tensor sharing memory with ``array`` when it can, copying read-only or strided input."""
    array = np.ascontiguousarray(array, dtype=dtype)
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array)


def _check_finite(X: np.ndarray, what: str = "X") -> None:
    rows, cols = np.nonzero(bad_values(X))
    if len(rows):
        value = float(X[rows[0], cols[0]])
        huge = f" ({value!r}, beyond float32's range |x| > 3.4e38)" if np.isfinite(value) else ""
        raise ValueError(
            f"{what} contains {len(rows)} NaN or infinite value(s), the first at row {rows[0]}, column {cols[0]}"
            f"{huge}; remove or impute them first"
        )


def _check_positive_int(name: str, value, minimum: int = 1) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_choice(name: str, value, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")


def _check_number(name: str, value, low: float = 0.0, high: float | None = None, open_low: bool = False) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and (high is None or value <= high)
    if not ok:
        bounds = f"{'>' if open_low else '>='} {low}" + ("" if high is None else f" and <= {high}")
        raise ValueError(f"{name} must be a number {bounds}, got {value!r}")


def _check_layer_sizes(name: str, sizes) -> tuple[int, ...]:
    if sizes is None:
        return ()
    if isinstance(sizes, numbers.Integral):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of layer widths such as (512, 256), got {sizes!r}") from None
    for s in sizes:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool) or s < 1:
            raise ValueError(f"{name} must hold positive integer widths, got {sizes!r}")
    return tuple(int(s) for s in sizes)


class Autoencoder(TransformerMixin, BaseEstimator):
    """Autoencoder with the scikit-learn transformer interface, composed of an architecture, an input
    corruption, a latent type and a sum of loss terms.

    By default a dense (stacked) autoencoder: the encoder maps each sample through the ``hidden`` layers to a
    linear code of ``latent_dim`` values; the decoder mirrors it (or uses ``decoder_hidden``) back to the
    input space. ``transform`` returns the code (the posterior mean for a Gaussian latent),
    ``inverse_transform`` decodes codes, ``score_samples`` is the negative per-sample reconstruction error
    (higher means more normal).

    The kinds of the literature are combinations of the parameters below (see ``KINDS``): convolutional
    (``architecture="conv"``), denoising (``corruption``), sparse (``l1_code``, ``sparsity_weight``),
    contractive (``contractive_weight``), variational (``latent="gaussian"``, ``kl``, ``beta``) and double
    (``latent_cycle``). Any combination works, e.g. a denoising variational convolutional autoencoder.

    Parameters
    ----------
    hidden : tuple of int, default=(256, 128)
        Widths of the encoder's hidden layers, input side first. ``()`` gives a single linear layer.
    latent_dim : int, default=2
        Size of the code; at most the number of input features.
    activation : str, default="relu"
        Hidden-layer activation: relu, leaky_relu, elu, selu, gelu, silu, tanh or sigmoid.
    decoder_hidden : tuple of int or None, default=None
        Widths of the decoder's hidden layers, code side first; None mirrors ``hidden``.
    code_activation : str or None, default=None
        Activation on the code; None keeps the bottleneck linear.
    output_activation : {"auto", "sigmoid", "linear", "relu"}, default="auto"
        ``auto`` uses a sigmoid when the training data lie in [0, 1] and a linear output otherwise.
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss; ``bce`` needs data in [0, 1]. The mean over features, except with
        ``latent="gaussian"``: then the sum over features (the negative log-likelihood in nats for ``bce``),
        which is what ``beta`` weighs the KL term against.
    architecture : {"dense", "conv"}, default="dense"
        ``conv``: Conv2d layers of ``filters`` (kernel ``kernel_size``, stride ``stride``, ``activation``)
        into a linear bottleneck; the decoder mirrors them with transposed convolutions back to the exact
        input shape. ``hidden`` and ``decoder_hidden`` are not used by ``conv``; ``conv_hidden`` adds dense
        layers between the convolutions and the code.
    sample_shape : tuple of int or None, default=None
        Shape of one sample for ``conv``: (H, W) or (C, H, W). None takes it from image arrays (n, H, W) or
        (n, C, H, W) given to fit, or, for flat rows, a square grayscale image.
    filters : tuple of int, default=(32, 64)
        Channels of the convolutions (``conv`` only).
    conv_hidden : tuple of int, default=()
        Widths of dense ``activation`` layers between the last convolution and the code, mirrored in the
        decoder before the transposed convolutions (``conv`` only), e.g. (256,).
    kernel_size : int, default=4
        Convolution kernel size (``conv`` only).
    stride : int, default=2
        Convolution stride (``conv`` only).
    latent : {"deterministic", "gaussian"}, default="deterministic"
        ``gaussian``: a variational autoencoder; the encoder gives a mean and a log-variance, training
        samples codes by reparameterisation and adds ``beta`` times a KL term to N(0, I).
    beta : float, default=1.0
        Weight of the KL term (beta-VAE; ``latent="gaussian"`` only).
    kl : {"analytic", "batch"}, default="analytic"
        ``analytic``: the closed-form KL of each sample's posterior to N(0, I), averaged over the batch;
        ``batch``: the KL between the Gaussian fitted to the batch's sampled codes (sample mean and
        covariance) and N(0, I).
    corruption : {None, "gaussian", "masking", "salt_pepper"}, default=None
        Noise applied to the input during training only (denoising); the loss compares the reconstruction
        with the clean input. Data in [0, 1] (sigmoid output) are clipped back to [0, 1] after Gaussian noise.
    noise_level : float, default=0.5
        Standard deviation of the Gaussian noise, or the fraction of values masked or set to salt/pepper.
    augmentation : {None, "affine"}, default=None
        Image data augmentation during training only: ``affine`` moves each image of a batch by its own
        random rotation (up to ``augment_rotation`` degrees), shift (up to ``augment_shift`` of the image
        size) and zoom (up to ``augment_scale``), optionally mirrored (``augment_flip``); the moved image is
        both input and target (see aelab.augmentation). On small image sets it makes the code cluster by
        class far better. Needs image samples: ``sample_shape``, image arrays, or square grayscale rows.
    augment_rotation : float, default=10.0
        Largest rotation in degrees (``augmentation="affine"``).
    augment_shift : float, default=0.1
        Largest shift as a fraction of the image's width and height, in [0, 1].
    augment_scale : float, default=0.1
        Largest relative zoom, in [0, 1): scales are drawn in [1 - augment_scale, 1 + augment_scale].
    augment_flip : bool, default=False
        Also mirror half the images left to right.
    l1_code : float, default=0.0
        Weight of the L1 penalty on the code (sum of absolute values per sample, batch mean).
    sparsity_weight : float, default=0.0
        Weight of the KL sparsity penalty on the mean activation of the encoder's last hidden layer (the
        code when there is none); those activations must lie in [0, 1], so it needs
        ``activation="sigmoid"``.
    sparsity_target : float, default=0.05
        The target mean activation rho of the sparsity penalty, in (0, 1).
    contractive_weight : float, default=0.0
        Weight of the squared Frobenius norm of the encoder's Jacobian (contractive autoencoder). A one-layer
        sigmoid encoder (``hidden=()``, ``code_activation="sigmoid"``) uses the closed form, O(n d k) per
        batch; any other encoder batched autograd, about ``latent_dim`` extra backward passes per step.
    latent_cycle : {"none", "alternating", "joint"}, default="none"
        Double autoencoder: also learn to reconstruct codes drawn from N(0, I) through decoder then encoder.
        ``alternating`` splits the run's steps into ``2 * n_alternations`` phases that alternate between the
        reconstruction terms and the cycle term; ``joint`` adds the cycle term at every step.
    cycle_weight : float, default=1.0
        Weight of the latent cycle term.
    n_alternations : int, default=10
        Number of (reconstruction, cycle) phase pairs for ``latent_cycle="alternating"``.
    epochs : int, default=50
        Maximum number of passes over the training data.
    batch_size : int, default=256
        Samples per gradient step.
    learning_rate : float, default=1e-3
        Step size of the optimizer.
    weight_decay : float, default=0.0
        L2 penalty (decoupled for ``adamw``).
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        The optimizer.
    validation_fraction : float, default=0.1
        Fraction of the training data held out to monitor the validation loss; 0 disables it.
    patience : int or None, default=10
        Stop after this many epochs without a better validation loss (None: never stop early). The
        weights of the best validation epoch are kept.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the validation split and shuffling. On the CPU, two fits with the same
        integer give identical results.
    device : str, default="auto"
        ``auto`` trains on CUDA when available, else on the CPU; or ``cpu``, ``cuda``, ``cuda:1``...
    verbose : int, default=0
        1 shows a progress bar on a terminal.
    precision : {"fp32", "bf16"}, default="fp32"
        ``bf16``: the training step's forward pass under bfloat16 autocast (weights and optimizer state stay
        float32). Meant for CUDA; on the CPU it runs too, but is only faster on processors with bfloat16
        instructions.
    compile : bool, default=False
        Compile the training step with ``torch.compile`` on the first batch; if that fails (no C compiler,
        an operation it does not support) a RuntimeWarning says why and training goes on without it.
    on_divergence : {"stop", "restore_halve_lr"}, default="stop"
        What a NaN or infinite training loss does. ``stop``: fit raises a ValueError naming the epoch (the
        network keeps the weights of the last good epoch). ``restore_halve_lr``: the weights and optimizer
        state of the last good epoch are restored, the learning rate halved and the epoch trained again, at
        most 4 times in a run.
    callbacks : list of aelab.training.Callback or None, default=None
        Objects the training loop calls at the start and end of training, of each epoch and after each
        batch (see aelab.training.callbacks for the hooks and the state they receive); one may stop
        training. They are copied by ``clone`` and not saved with the model.

    Attributes
    ----------
    network_ : AutoencoderNetwork
        The trained PyTorch module.
    n_features_in_ : int
        Number of features seen in fit.
    output_activation_ : str
        The output activation used (``auto`` resolved).
    history_ : dict of list of float
        Per-epoch ``train_loss`` and ``validation_loss``.
    n_epochs_ : int
        Epochs run.
    best_epoch_ : int
        The epoch whose weights were kept (1-based).
    epoch_seconds_ : list of float
        Wall-clock seconds of each training epoch (validation excluded).
    sample_shape_ : tuple of int or None
        The (C, H, W) shape of one sample for ``architecture="conv"``; None for ``dense``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from aelab import Autoencoder
    >>> X = load_digits().data / 16.0
    >>> ae = Autoencoder(hidden=(64,), latent_dim=8, epochs=5, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 8)
    """

    def __init__(
        self,
        hidden=(256, 128),
        latent_dim=2,
        activation="relu",
        decoder_hidden=None,
        code_activation=None,
        output_activation="auto",
        loss="mse",
        architecture="dense",
        sample_shape=None,
        filters=(32, 64),
        conv_hidden=(),
        kernel_size=4,
        stride=2,
        latent="deterministic",
        beta=1.0,
        kl="analytic",
        corruption=None,
        noise_level=0.5,
        augmentation=None,
        augment_rotation=10.0,
        augment_shift=0.1,
        augment_scale=0.1,
        augment_flip=False,
        l1_code=0.0,
        sparsity_weight=0.0,
        sparsity_target=0.05,
        contractive_weight=0.0,
        latent_cycle="none",
        cycle_weight=1.0,
        n_alternations=10,
        epochs=50,
        batch_size=256,
        learning_rate=1e-3,
        weight_decay=0.0,
        optimizer="adam",
        validation_fraction=0.1,
        patience=10,
        random_state=None,
        device="auto",
        verbose=0,
        precision="fp32",
        compile=False,
        on_divergence="stop",
        callbacks=None,
    ):
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.activation = activation
        self.decoder_hidden = decoder_hidden
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.loss = loss
        self.architecture = architecture
        self.sample_shape = sample_shape
        self.filters = filters
        self.conv_hidden = conv_hidden
        self.kernel_size = kernel_size
        self.stride = stride
        self.latent = latent
        self.beta = beta
        self.kl = kl
        self.corruption = corruption
        self.noise_level = noise_level
        self.augmentation = augmentation
        self.augment_rotation = augment_rotation
        self.augment_shift = augment_shift
        self.augment_scale = augment_scale
        self.augment_flip = augment_flip
        self.l1_code = l1_code
        self.sparsity_weight = sparsity_weight
        self.sparsity_target = sparsity_target
        self.contractive_weight = contractive_weight
        self.latent_cycle = latent_cycle
        self.cycle_weight = cycle_weight
        self.n_alternations = n_alternations
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.precision = precision
        self.compile = compile
        self.on_divergence = on_divergence
        self.callbacks = callbacks

    # ----------------------------------------------------------------- checks
    def _validate_params(self, n_features: int) -> None:
        _check_layer_sizes("hidden", self.hidden)
        _check_layer_sizes("decoder_hidden", self.decoder_hidden)
        _check_positive_int("latent_dim", self.latent_dim)
        if self.latent_dim > n_features:
            raise ValueError(
                f"latent_dim={self.latent_dim} is larger than the input, which has {n_features} feature(s); "
                f"pass latent_dim <= {n_features}"
            )
        _check_choice("activation", self.activation, tuple(ACTIVATIONS))
        if self.code_activation is not None:
            _check_choice("code_activation", self.code_activation, tuple(ACTIVATIONS))
        _check_choice("output_activation", self.output_activation, ("auto", *OUTPUT_ACTIVATIONS))
        _check_choice("loss", self.loss, RECONSTRUCTION_LOSSES)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_positive_int("epochs", self.epochs)
        _check_positive_int("batch_size", self.batch_size)
        if self.patience is not None:
            _check_positive_int("patience", self.patience)
        if not (isinstance(self.learning_rate, numbers.Real) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        if not (isinstance(self.weight_decay, numbers.Real) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        if not (isinstance(self.validation_fraction, numbers.Real) and 0 <= self.validation_fraction < 1):
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")
        _check_choice("architecture", self.architecture, ARCHITECTURES)
        if self.architecture == "conv":
            if not _check_layer_sizes("filters", self.filters):
                raise ValueError("filters must name at least one convolution, e.g. (32, 64), got ()")
            _check_layer_sizes("conv_hidden", self.conv_hidden)
            _check_positive_int("kernel_size", self.kernel_size)
            _check_positive_int("stride", self.stride)
        if self._needs_image_shape() and self.sample_shape is not None:  # else it comes from the data, in fit
            self._resolve_sample_shape(n_features, None)
        _check_choice("latent", self.latent, LATENTS)
        _check_number("beta", self.beta)
        _check_choice("kl", self.kl, KL_ESTIMATES)
        if self.corruption is not None:
            _check_choice("corruption", self.corruption, CORRUPTIONS)
            if self.corruption == "gaussian":
                _check_number("noise_level", self.noise_level)
            else:
                _check_number("noise_level", self.noise_level, 0.0, 1.0)
        if self.augmentation is not None:
            _check_choice("augmentation", self.augmentation, AUGMENTATIONS)
        _check_number("augment_rotation", self.augment_rotation, 0.0, 180.0)
        _check_number("augment_shift", self.augment_shift, 0.0, 1.0)
        _check_number("augment_scale", self.augment_scale, 0.0, 1.0)
        if self.augment_scale >= 1:
            raise ValueError(f"augment_scale must be below 1 (a zoom of 1 - augment_scale must stay positive), got "
                             f"{self.augment_scale!r}")
        if not isinstance(self.augment_flip, (bool, np.bool_)):
            raise ValueError(f"augment_flip must be True or False, got {self.augment_flip!r}")
        for name in ("l1_code", "sparsity_weight", "contractive_weight", "cycle_weight"):
            _check_number(name, getattr(self, name))
        if not (isinstance(self.sparsity_target, numbers.Real) and 0 < self.sparsity_target < 1):
            raise ValueError(f"sparsity_target must be in (0, 1), got {self.sparsity_target!r}")
        if self.sparsity_weight > 0 and self.activation != "sigmoid":
            raise ValueError(
                f"sparsity_weight > 0 needs hidden activations in [0, 1], but activation={self.activation!r}; "
                "pass activation='sigmoid'"
            )
        _check_choice("latent_cycle", self.latent_cycle, LATENT_CYCLES)
        _check_positive_int("n_alternations", self.n_alternations)
        check_precision(self.precision)
        if not isinstance(self.compile, (bool, np.bool_)):
            raise ValueError(f"compile must be True or False, got {self.compile!r}")
        _check_choice("on_divergence", self.on_divergence, ON_DIVERGENCE)
        check_callbacks(self.callbacks)

    def _needs_image_shape(self) -> bool:
        """Whether fitting needs the shape of one image: convolutions and image augmentation do."""
        return self.architecture == "conv" or self.augmentation is not None

    def _resolve_sample_shape(self, n_features: int, image_shape: tuple[int, ...] | None) -> tuple[int, int, int]:
        """The (C, H, W) of one sample for the conv architecture or augmentation, checked against the
        feature count."""
        shape = self.sample_shape if self.sample_shape is not None else image_shape
        if shape is None:
            side = int(round(np.sqrt(n_features)))
            if side * side != n_features:
                needs = "architecture='conv'" if self.architecture == "conv" else f"augmentation={self.augmentation!r}"
                raise ValueError(
                    f"{needs} needs the image shape, and {n_features} features are not a square "
                    "image; pass sample_shape=(C, H, W) or fit on an image array (n, H, W) or (n, C, H, W)"
                )
            shape = (side, side)
        try:
            shape = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise ValueError(f"sample_shape must be (H, W) or (C, H, W), got {shape!r}") from None
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"sample_shape must be (H, W) or (C, H, W) of positive sizes, got {shape!r}")
        if int(np.prod(shape)) != n_features:
            raise ValueError(
                f"sample_shape {shape} holds {int(np.prod(shape))} values but the data have {n_features} "
                "features; pass the shape of one sample"
            )
        return shape

    def _flatten_images(self, X):
        """Image arrays (n, H, W) or (n, C, H, W) as flat rows for ``conv``, with their sample shape."""
        if self._needs_image_shape() and getattr(X, "ndim", 2) in (3, 4):
            X = np.asarray(X)
            return X.reshape(len(X), -1), X.shape[1:]
        return X, None

    def _validate_X(self, X, reset: bool) -> np.ndarray:
        X, image_shape = self._flatten_images(X)
        if not reset and image_shape is not None and getattr(self, "sample_shape_", None) is not None:
            shape = image_shape if len(image_shape) == 3 else (1, *image_shape)
            if tuple(shape) != tuple(self.sample_shape_):
                raise ValueError(f"the images have shape {tuple(image_shape)} but the model was fitted on "
                                 f"{tuple(self.sample_shape_)}; pass images of the fitted shape")
        try:
            X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False)
        except ValueError as e:
            message = str(e)
            if "features, but" in message and "is expecting" in message:
                raise ValueError(f"{message.rstrip('.')}; pass data with the same columns as in fit") from None
            raise
        _check_finite(X)
        return X

    # ------------------------------------------------------------- building
    def _resolve_output_activation(self, low: float, high: float) -> str:
        in_unit_range = bool(low >= 0.0 and high <= 1.0)
        if self.loss == "bce" and not in_unit_range:
            raise ValueError(
                f"loss='bce' needs data in [0, 1] but X ranges over [{low:.4g}, {high:.4g}]; "
                "scale it to [0, 1] first (e.g. MinMaxScaler) or use loss='mse'"
            )
        if self.output_activation == "auto":
            return "sigmoid" if in_unit_range else "linear"
        if self.loss == "bce" and self.output_activation != "sigmoid":
            raise ValueError("loss='bce' needs output_activation='sigmoid' (or 'auto')")
        return self.output_activation

    def _build_network(self, n_features: int, output_activation: str, seed: int,
                       sample_shape: tuple[int, ...] | None = None) -> AutoencoderNetwork:
        generator = torch.Generator().manual_seed(seed)
        if self.architecture == "conv":
            filters = _check_layer_sizes("filters", self.filters)
            conv_hidden = _check_layer_sizes("conv_hidden", self.conv_hidden)
            body = ConvBody(sample_shape, filters, self.kernel_size, self.stride, self.activation, generator)
            if conv_hidden:
                body = ConvDenseBody(body, DenseStack([body.out_features, *conv_hidden], self.activation, generator))
        else:
            hidden = _check_layer_sizes("hidden", self.hidden)
            body = DenseStack([n_features, *hidden], self.activation, generator)
        if self.latent == "gaussian":
            head = GaussianHead(body.out_features, self.latent_dim, generator)
        else:
            head = DeterministicHead(body.out_features, self.latent_dim, self.activation, generator,
                                     code_activation=self.code_activation)
        if self.architecture == "conv":
            convolutions = body.convolutions if conv_hidden else body
            decoder = ConvDecoder(conv_hidden[0] if conv_hidden else self.latent_dim, convolutions,
                                  self.kernel_size, self.stride, self.activation, generator)
            if conv_hidden:
                decoder = torch.nn.Sequential(DenseStack([self.latent_dim, *reversed(conv_hidden)], self.activation,
                                                 generator), decoder)
        else:
            decoder_hidden = (
                tuple(reversed(hidden)) if self.decoder_hidden is None
                else _check_layer_sizes("decoder_hidden", self.decoder_hidden)
            )
            decoder = DenseDecoder(self.latent_dim, decoder_hidden, n_features, self.activation, generator)
        return AutoencoderNetwork(Encoder(body, head), decoder, output_activation)

    def _loss_composition(self, X: np.ndarray | None = None, total_steps: int = 1,
                          value_range: tuple[float, float] | None = None) -> LossComposition:
        if value_range is None:
            value_range = (0.0, 1.0) if X is None else (float(X.min()), float(X.max()))
        low, high = value_range
        return LossComposition(
            loss=self.loss, output_activation=self.output_activation_, gaussian=self.latent == "gaussian",
            beta=float(self.beta), kl=self.kl, corruption=self.corruption, noise_level=float(self.noise_level),
            data_low=low, data_high=high, clip=self.output_activation_ == "sigmoid",
            l1_code=float(self.l1_code), sparsity_weight=float(self.sparsity_weight),
            sparsity_target=float(self.sparsity_target), contractive_weight=float(self.contractive_weight),
            latent_cycle=self.latent_cycle, cycle_weight=float(self.cycle_weight),
            n_alternations=int(self.n_alternations), total_steps=total_steps, latent_dim=int(self.latent_dim),
            augmentation=self._affine_augmentation(), sample_shape=getattr(self, "sample_shape_", None),
        )

    def _affine_augmentation(self) -> AffineAugmentation | None:
        """The ranges of the training batches' random moves (``augmentation``), or None."""
        if self.augmentation is None:
            return None
        return AffineAugmentation(rotation=float(self.augment_rotation), shift=float(self.augment_shift),
                                  scale=float(self.augment_scale), flip=bool(self.augment_flip))

    # -------------------------------------------------------------- fitting
    def fit(self, X, y=None, *, distributed=None, checkpoint=None, checkpoint_every=1, resume=None):
        """Train the autoencoder on ``X`` (``y`` is ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or StreamingSource
            Training data; for image data, pixels scaled to [0, 1]. A ``aelab.data.streaming.StreamingSource``
            is streamed from its file block by block, never loaded whole; its validation part is
            ``validation_fraction`` of its blocks.
        y : ignored
        distributed : DistributedContext or None, default=None
            Under torchrun, the context of ``aelab.training.distributed.distributed_session()``: this process
            trains on its share of every batch of ``batch_size`` rows on the context's device and the gradients
            are averaged across processes (see docs/scaling.md).
        checkpoint : path-like or None, default=None
            A folder to write the training checkpoint to (see aelab.training.checkpoints): every
            ``checkpoint_every`` epochs, at the end, and on Ctrl-C, which stops training after the current
            batch and raises aelab.training.TrainingInterrupted (a KeyboardInterrupt).
        checkpoint_every : int, default=1
            Epochs between two checkpoints; 0 writes only the last one (and the one on Ctrl-C).
        resume : path-like or None, default=None
            A checkpoint folder written by an earlier ``fit`` with the same parameters and data: training
            continues from it (and goes on writing checkpoints there, unless ``checkpoint`` names another
            folder). On the CPU the result is identical to an uninterrupted fit.

        Returns
        -------
        self : Autoencoder
        """
        from aelab.data.streaming import DeviceStream, StreamingSource

        streaming = isinstance(X, StreamingSource)
        if streaming:
            n_features = X.n_features
            image_shape = X.sample_shape if len(X.sample_shape) in (2, 3) else None
            self._validate_params(n_features)
            self.__dict__.pop("feature_names_in_", None)
            self.n_features_in_ = n_features
            value_range = X.value_range()  # one pass over the file, also checking for NaN
        else:
            _, image_shape = self._flatten_images(X)
            X = self._validate_X(X, reset=True)
            n_features = X.shape[1]
            self._validate_params(n_features)
            value_range = (float(X.min()), float(X.max()))
        self.sample_shape_ = (self._resolve_sample_shape(n_features, image_shape) if self._needs_image_shape()
                              else None)
        self.output_activation_ = self._resolve_output_activation(*value_range)
        random_state = check_random_state(self.random_state)
        seed = int(random_state.randint(0, 2**31 - 1))
        device = distributed.device if distributed is not None else resolve_device(self.device)
        network = self._build_network(n_features, self.output_activation_, seed, sample_shape=self.sample_shape_)
        self.network_ = prefer_channels_last(network.to(device), device)

        if streaming:
            train_part, validation_part = X.split(self.validation_fraction, int(random_state.randint(0, 2**31 - 1)))
            X_train = DeviceStream(train_part, device)
            X_validation = None if validation_part is None else DeviceStream(validation_part, device)
        else:
            X_train, X_validation = self._split_tensors(X, random_state, device)

        settings = TrainingSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            optimizer=self.optimizer,
            patience=self.patience,
            verbose=self.verbose,
            precision=self.precision,
            compile=bool(self.compile),
            on_divergence=self.on_divergence,
        )
        total_steps = self.epochs * -(-len(X_train) // min(self.batch_size, len(X_train)))
        # the loss terms' randomness (corruption, sampled codes) has its own stream, seeded from the fit's
        composition = self._loss_composition(None, total_steps, value_range)
        loss_fn = CompositeLoss(composition, make_generator(seed + 1, device))
        checkpointing = self._checkpointing(checkpoint, checkpoint_every, resume, n_features, distributed)
        try:
            result = train_network(self.network_, loss_fn, X_train, X_validation, settings,
                                   make_generator(seed, device), distributed=distributed, checkpointing=checkpointing,
                                   callbacks=check_callbacks(self.callbacks))
        except FloatingPointError as e:
            raise ValueError(str(e)) from None
        self.history_ = result.history
        self.n_epochs_ = result.n_epochs
        self.best_epoch_ = result.best_epoch
        self.epoch_seconds_ = result.epoch_seconds
        return self

    def _checkpointing(self, checkpoint, every, resume, n_features: int, distributed):
        """The Checkpointing of a fit, or None; the run's config is the parameters that change its result."""
        from aelab.io import json_safe

        if checkpoint is None and resume is None:
            return None
        _check_positive_int("checkpoint_every", every, minimum=0)
        if isinstance(self.random_state, np.random.RandomState) or self.random_state is None:
            raise ValueError("checkpoints need a reproducible run: pass an integer random_state (got "
                             f"{self.random_state!r})")
        config = {k: json_safe(v) for k, v in self.get_params(deep=False).items()
                  if k not in ("verbose", "device", "compile", "callbacks")}
        config["n_features_in_"] = int(n_features)
        return Checkpointing(folder=checkpoint if checkpoint is not None else resume, every=int(every),
                             resume=resume is not None, config=config,
                             write=distributed is None or distributed.is_main)

    def _split_tensors(self, X: np.ndarray, random_state, device: torch.device):
        """The training and validation rows (``validation_fraction`` of them, or None) as device tensors."""
        n_validation = int(len(X) * self.validation_fraction)
        order = random_state.permutation(len(X))
        if n_validation < 1 or len(X) - n_validation < 1:
            train_index, validation_index = order, None
        else:
            train_index, validation_index = order[n_validation:], order[:n_validation]
        X_all = _as_tensor(X, np.float32).to(device)
        X_train = X_all[torch.as_tensor(train_index, device=device)]
        X_validation = None if validation_index is None else X_all[torch.as_tensor(validation_index, device=device)]
        return X_train, X_validation

    # ------------------------------------------------------------ inference
    def _device(self) -> torch.device:
        return next(self.network_.parameters()).device

    def _batched(self, X: np.ndarray, function) -> np.ndarray:
        """Apply ``function(network, batch)`` to device batches of ``X`` in inference mode.

        float32 input is computed in float32; float64 input in float64 on a double copy of the network,
        so that each row's result does not depend on which other rows share its batch.
        """
        network = self.network_
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        if dtype == torch.float64:
            network = copy.deepcopy(network).double()
        device = self._device()
        outputs = []
        with torch.inference_mode():
            network.eval()
            for start in range(0, len(X), _INFERENCE_BATCH):
                chunk = _as_tensor(X[start:start + _INFERENCE_BATCH], X.dtype)
                outputs.append(function(network, chunk.to(device, dtype)).cpu().numpy())
        return np.concatenate(outputs).astype(X.dtype, copy=False)

    def transform(self, X):
        """The code of each sample: array of shape (n_samples, latent_dim)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._batched(X, lambda network, x: network.encode(x))

    def inverse_transform(self, X):
        """Decode codes of shape (n_samples, latent_dim) into the input space."""
        check_is_fitted(self)
        return self._batched(self._validate_codes(X), lambda network, z: network.decode(z))

    def _validate_codes(self, Z) -> np.ndarray:
        Z = check_array(Z, dtype=[np.float64, np.float32], ensure_all_finite=False)
        _check_finite(Z, "the codes")
        if Z.shape[1] != self.latent_dim:
            raise ValueError(
                f"the codes have {Z.shape[1]} columns but the model's latent_dim is {self.latent_dim}; "
                "pass the output of transform"
            )
        return Z

    def reconstruct(self, X):
        """Encode then decode ``X``: the autoencoder's reconstruction, shape (n_samples, n_features)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._batched(X, lambda network, x: network.decode(network.encode(x)))

    def reconstruction_error(self, X):
        """Per-sample reconstruction error (mean over features of the training loss): shape (n_samples,)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        loss, output_activation = self.loss, self.output_activation_

        def error(network, x):
            _, logits = network(x)
            return reconstruction_error(logits, x, loss, output_activation)

        return self._batched(X, error)

    def denoise(self, X):
        """The reconstruction of (noisy) samples ``X``: what a denoising autoencoder gives as the clean data.

        The same computation as ``reconstruct``; named for the denoising use. Shape (n_samples, n_features).
        """
        return self.reconstruct(X)

    @property
    def can_generate(self) -> bool:
        """True for the kinds whose decoder learns from codes drawn from N(0, I): variational and double."""
        return self.latent == "gaussian" or self.latent_cycle != "none"

    def sample(self, n_samples: int = 1, random_state=None) -> np.ndarray:
        """Generate ``n_samples`` new samples: codes drawn from the prior N(0, I), decoded.

        Only for generative kinds: ``latent="gaussian"`` (variational) or ``latent_cycle`` other than
        ``"none"`` (double). Returns an array of shape (n_samples, n_features), float32.
        """
        check_is_fitted(self)
        if not self.can_generate:
            raise ValueError(
                "sample() needs a generative autoencoder, one whose decoder was trained on codes from N(0, I); "
                f"this one has latent={self.latent!r} and latent_cycle={self.latent_cycle!r}; fit with "
                "latent='gaussian' (variational) or latent_cycle='alternating' or 'joint' (double)"
            )
        _check_positive_int("n_samples", n_samples)
        codes = check_random_state(random_state).standard_normal((n_samples, self.latent_dim)).astype(np.float32)
        return self.inverse_transform(codes)

    def elbo(self, X, n_samples: int = 1, random_state=None) -> np.ndarray:
        """Per-sample evidence lower bound in nats: E_q[log p(x | z)] - KL(q(z | x) || N(0, I)).

        The log-likelihood is the Bernoulli one summed over features (``loss="bce"``, data in [0, 1]),
        estimated with ``n_samples`` codes drawn from q(z | x) by reparameterisation; the KL is analytic.
        Needs ``latent="gaussian"``. Higher is better; its mean over test data is the test ELBO.
        """
        check_is_fitted(self)
        if self.latent != "gaussian" or self.loss != "bce":
            raise ValueError(
                f"elbo() needs a variational autoencoder with a Bernoulli likelihood, but latent={self.latent!r} "
                f"and loss={self.loss!r}; fit with latent='gaussian' and loss='bce'"
            )
        _check_positive_int("n_samples", n_samples)
        X = self._validate_X(X, reset=False)
        if X.min() < 0 or X.max() > 1:
            raise ValueError(f"elbo() needs data in [0, 1] but X ranges over [{X.min():.4g}, {X.max():.4g}]")
        generator = torch.Generator(device=self._device()).manual_seed(
            int(check_random_state(random_state).randint(0, 2**31 - 1)))
        loss, output_activation = self.loss, self.output_activation_

        def per_sample(network, x):
            mean, log_variance = network.encoder.head(network.encoder.body(x))
            likelihood = torch.zeros(len(x), dtype=x.dtype, device=x.device)
            for _ in range(n_samples):
                codes = reparameterise(mean, log_variance, generator)
                likelihood -= reconstruction_error_sum(network.decoder(codes), x, loss, output_activation)
            return likelihood / n_samples - analytic_kl(mean, log_variance)

        return self._batched(X, per_sample)

    def jacobian_norm(self, X) -> np.ndarray:
        """Frobenius norm of the encoder's Jacobian d code / d x at each sample: shape (n_samples,).

        Computed like the contractive penalty (closed form for a one-layer sigmoid encoder, else batched
        autograd: about ``latent_dim`` backward passes per batch); the code is the posterior mean for a
        Gaussian latent.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        network = copy.deepcopy(self.network_).to(dtype=dtype).eval()
        device = self._device()
        norms = []
        for start in range(0, len(X), 1024):
            x = _as_tensor(X[start:start + 1024], X.dtype).to(device, dtype)
            norms.append(contractive_penalty(network.encoder, x).detach().sqrt().cpu().numpy())
        return np.concatenate(norms).astype(X.dtype, copy=False)

    def score_samples(self, X):
        """Negative per-sample reconstruction error: higher means more like the training data.

        A threshold on these scores, ``predict`` and ``decision_function`` are ``aelab.AutoencoderDetector``'s.
        """
        return -self.reconstruction_error(X)

    def score(self, X, y=None):
        """Mean of ``score_samples``: the negative mean reconstruction error (higher is better)."""
        return float(np.mean(self.score_samples(X)))

    # ---------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """Save to the folder ``path``: model.safetensors (weights) and model.json (configuration)."""
        from aelab.persistence import save_estimator

        save_estimator(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        return tags
