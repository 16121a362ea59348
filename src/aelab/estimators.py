"""The scikit-learn facing autoencoder, composed of parts (aelab.parts), trained by aelab.training, and saved
to and loaded from a model folder (safetensors weights plus a JSON record of its parts)."""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from aelab import __version__
from aelab.acceleration import check_precision, prefer_channels_last
from aelab.data.dataset import bad_values
from aelab.data.streaming import DeviceStream, StreamingSource
from aelab.frames import as_input_features
from aelab.io import atomic_write_bytes, atomic_write_json, json_safe
from aelab.names import ON_DIVERGENCE
from aelab.nn import OUTPUT_ACTIVATIONS, AutoencoderNetwork
from aelab.objectives import RECONSTRUCTION_LOSSES, reconstruction_error
from aelab.parts.base import (
    Part,
    check_bool,
    check_choice,
    check_number,
    check_positive_int,
    check_sample_shape,
    older_model_hint,
    part_from_record,
    part_record,
)
from aelab.parts.encoders import Dense
from aelab.parts.kinds import PARTS
from aelab.parts.latents import Deterministic
from aelab.parts.loss import AutoencoderLoss
from aelab.parts.penalties import contractive_penalty
from aelab.persistence import (
    CONFIG_FILE,
    MODEL_FORMAT,
    WEIGHTS_FILE,
    check_fitted_record,
    read_model_record,
    require,
    tensor_shapes,
)
from aelab.training import (
    OPTIMIZERS,
    Checkpointing,
    TrainingSettings,
    epochs_for_steps,
    make_generator,
    resolve_device,
    train_network,
)
from aelab.training.callbacks import check_callbacks

logger = logging.getLogger(__name__)

_INFERENCE_BATCH = 8192
#: The default training length (``epochs=None``): epochs for about ``DEFAULT_STEPS`` optimisation steps, at
#: least ``MIN_EPOCHS`` and at most ``MAX_EPOCHS`` of them (docs/defaults.md measures the choice).
DEFAULT_STEPS = 3000
MIN_EPOCHS = 10
MAX_EPOCHS = 500
#: What a fit says when its best epoch is its last: the loss was still going down when training ended.
STILL_IMPROVING = "still improving at the last epoch: train longer"
#: The version of the model folder's model.json this aelab writes and reads: 2 records the parts, 3 also the
#: epoch limit the fit chose (``epochs_``).
MODEL_FORMAT_VERSION = 3
#: The part families among the parameters: what each may hold.
_PART_FAMILIES = ("encoder", "latent", "corruption", "augmentation")


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


def still_improving_warning(n_epochs: int) -> str:
    """The warning of a fit whose best epoch was its last, the ``n_epochs``-th."""
    return f"{STILL_IMPROVING} (epoch {n_epochs} of {n_epochs} was the best; raise epochs)"


class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Autoencoder with the scikit-learn transformer interface, composed of parts.

    An encoder body (``Dense``, ``Conv``), a latent (``Deterministic``, ``Gaussian``), optionally an input
    corruption (``GaussianNoise``, ``Masking``, ``SaltPepper``), an image augmentation (``Affine``) and
    penalties (``L1Code``, ``Sparsity``, ``Contractive``, ``LatentCycle``, ``NeighbourGraph``), all from
    aelab.parts. The loss is
    the sum of what the parts contribute. ``transform`` returns the code (the posterior mean for a Gaussian
    latent), ``inverse_transform`` decodes codes, ``score_samples`` is the negative per-sample
    reconstruction error (higher means more normal). The kinds of the literature are named compositions
    (aelab.parts.kinds): ``Autoencoder(**kind("variational"))``. Any combination works, e.g. a denoising
    variational convolutional autoencoder. Parts are parameters: ``set_params(latent__beta=0.1)`` and
    GridSearchCV reach into them; a penalty's parameters are ``penalties__<short_name>__<param>``, e.g.
    ``penalties__l1_code__weight``.

    Parameters
    ----------
    encoder : Dense, Conv or None, default=None
        The encoder body and its mirrored decoder; None is ``Dense()``, hidden layers (256, 128).
    latent : Deterministic, Gaussian or None, default=None
        The code: None is ``Deterministic()``, a linear code; ``Gaussian(beta, kl)`` a variational autoencoder.
    corruption : GaussianNoise, Masking, SaltPepper or None, default=None
        Noise applied to the input during training only (denoising); the loss compares the reconstruction
        with the clean input. Data in [0, 1] (sigmoid output) are clipped back to [0, 1] after Gaussian noise.
    augmentation : Affine or None, default=None
        Image data augmentation during training only: each image of a batch is moved by its own random map,
        and the moved image is both input and target. Needs image samples: the part's ``sample_shape``,
        image arrays, or square grayscale rows.
    penalties : tuple of parts, default=()
        Terms added to the loss, e.g. ``(L1Code(1e-4), Sparsity(1e-3))``; at most one of each.
    n_components : int, default=2
        Size of the code; at most the number of input features.
    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss; ``bce`` needs data in [0, 1]. The mean over features, except with a Gaussian
        latent: then the sum over features (the negative log-likelihood in nats for ``bce``), which is what
        ``beta`` weighs the KL term against.
    output_activation : {"auto", "sigmoid", "linear", "relu"}, default="auto"
        ``auto`` uses a sigmoid when the training data lie in [0, 1] and a linear output otherwise.
    epochs : int or None, default=None
        Maximum number of passes over the training data. None: enough epochs for about ``DEFAULT_STEPS``
        (3,000) optimisation steps, at least ``MIN_EPOCHS`` (10) and at most ``MAX_EPOCHS`` (500), so that
        small and large data train alike; early stopping usually ends training before. The number chosen is
        ``epochs_``.
    batch_size : int, default=256
        Samples per gradient step.
    learning_rate : float, default=3e-3
        Step size of the optimizer (3e-3 gave a lower test error than 1e-3 on digits, mnist5k, blobs and
        Fashion-MNIST with the default network, docs/defaults.md).
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
        1 shows the progress of the fit: a bar on a terminal or in a notebook, one line per epoch through the
        logger ``aelab.training.callbacks`` otherwise (epoch, losses, samples/s, time left). Where logging is
        not configured, the lines go to standard error for the fit; configure logging
        (``logging.basicConfig(level=logging.INFO)``) to route them elsewhere. 0 shows nothing.
    precision : {"fp32", "bf16"}, default="fp32"
        ``bf16``: the training step's forward pass under bfloat16 autocast (weights and optimizer state stay
        float32). Meant for CUDA; on the CPU it runs too, but is only faster on processors with bfloat16
        instructions.
    compile : bool, default=False
        Compile the training step with ``torch.compile`` on the first batch; if that fails (no C compiler,
        an operation it does not support) a RuntimeWarning says why and training goes on without it.
    on_divergence : {"stop", "restore-halve-lr"}, default="stop"
        What a NaN or infinite training loss does. ``stop``: fit raises a ValueError naming the epoch (the
        network keeps the weights of the last good epoch). ``restore-halve-lr``: the weights and optimizer
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
    epochs_ : int
        The most epochs the fit could run: ``epochs``, or the number the step budget chose for ``None``.
    n_epochs_ : int
        Epochs run. When the best epoch is the last (``best_epoch_ == n_epochs_``) the loss was still going
        down: fit logs ``STILL_IMPROVING`` on the logger ``aelab.estimators``, as a warning when ``verbose`` is
        positive and at DEBUG level otherwise.
    best_epoch_ : int
        The epoch whose weights were kept (1-based).
    epoch_seconds_ : list of float
        Wall-clock seconds of each training epoch (validation excluded).
    sample_shape_ : tuple of int or None
        The (C, H, W) shape of one sample when a part works on images; None otherwise.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from aelab import Autoencoder
    >>> from aelab.parts import Dense
    >>> X = load_digits().data / 16.0
    >>> ae = Autoencoder(encoder=Dense(hidden=(64,)), n_components=8, epochs=5, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 8)
    """

    def __init__(
        self,
        encoder=None,
        latent=None,
        corruption=None,
        augmentation=None,
        penalties=(),
        n_components=2,
        loss="mse",
        output_activation="auto",
        epochs=None,
        batch_size=256,
        learning_rate=3e-3,
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
        self.encoder = encoder
        self.latent = latent
        self.corruption = corruption
        self.augmentation = augmentation
        self.penalties = penalties
        self.n_components = n_components
        self.loss = loss
        self.output_activation = output_activation
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

    # ------------------------------------------------------------ parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters; with ``deep`` also each part's, as ``encoder__hidden`` and, for the penalties,
        ``penalties__<short_name>__<param>`` (e.g. ``penalties__l1_code__weight``)."""
        params = super().get_params(deep=deep)
        if deep and isinstance(self.penalties, (tuple, list)):
            for penalty in self.penalties:
                if isinstance(penalty, Part):
                    for key, value in penalty.get_params().items():
                        params[f"penalties__{penalty.short_name}__{key}"] = value
        return params

    def set_params(self, **params):
        """Set parameters, also nested ones: ``latent__beta=0.1``, ``penalties__sparsity__target=0.1``."""
        nested = {k: params.pop(k) for k in list(params) if k.startswith("penalties__")}
        if "penalties" in params:
            self.penalties = params.pop("penalties")
        super().set_params(**params)
        if not nested:
            return self
        by_name = {p.short_name: p for p in self._penalties() if isinstance(p, Part)}
        for key, value in nested.items():
            _, name, inner = key.split("__", 2) if key.count("__") >= 2 else (None, key, "")
            if name not in by_name or not inner:
                raise ValueError(f"invalid parameter {key!r}: the penalties are "
                                 f"{', '.join(by_name) or 'none'}; name one as penalties__<name>__<param>")
            by_name[name].set_params(**{inner: value})
        return self

    def _encoder(self) -> Part:
        return Dense() if self.encoder is None else self.encoder

    def _latent(self) -> Part:
        return Deterministic() if self.latent is None else self.latent

    def _parts(self) -> list[Part]:
        """Every part of the composition, the encoder first."""
        parts = [self._encoder(), self._latent(), self.corruption, self.augmentation, *self._penalties()]
        return [p for p in parts if p is not None]

    def _penalties(self) -> tuple[Part, ...]:
        if self.penalties is None:
            return ()
        if not isinstance(self.penalties, (tuple, list)):
            raise ValueError(f"penalties must be a tuple of penalty parts such as (L1Code(1e-4),), got "
                             f"{self.penalties!r}")
        return tuple(self.penalties)

    # ----------------------------------------------------------------- checks
    def check_params(self, n_features: int) -> None:
        """Check every parameter and part for data of ``n_features`` features, before any work; a ValueError
        names what is wrong, the value seen and how to fix it."""
        self._check_part_families()
        n_components = check_positive_int("n_components", self.n_components)
        if n_components > n_features:
            raise ValueError(
                f"n_components={n_components} is larger than the input, which has {n_features} feature(s); "
                f"pass n_components <= {n_features}"
            )
        check_choice("output_activation", self.output_activation, ("auto", *OUTPUT_ACTIVATIONS))
        check_choice("loss", self.loss, RECONSTRUCTION_LOSSES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.epochs is not None:
            check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        if self.patience is not None:
            check_positive_int("patience", self.patience)
        check_number("learning_rate", self.learning_rate, open_low=True)
        check_number("weight_decay", self.weight_decay)
        check_number("validation_fraction", self.validation_fraction, 0.0, 1.0, open_high=True)
        check_precision(self.precision)
        check_bool("compile", self.compile)
        check_choice("on_divergence", self.on_divergence, ON_DIVERGENCE)
        check_callbacks(self.callbacks)
        encoder = self._encoder()
        for part in self._parts():
            part.validate(n_features, encoder)
        if self._needs_image_shape():  # a shape the parts name must fit the data; else it comes in fit
            self._resolve_sample_shape(n_features, None, from_data=False)

    def _check_part_families(self) -> None:
        """Each family parameter holds a part that can play it (an encoder builds, a latent has a head...)."""
        roles = {"encoder": "build", "latent": "head", "corruption": "corrupt", "augmentation": "augment"}
        for family, method in roles.items():
            value = getattr(self, family)
            if value is not None and not (isinstance(value, Part) and hasattr(value, method)):
                raise ValueError(f"{family}={value!r} is not one of the {family} parts; pass one of aelab.parts "
                                 f"({', '.join(n for n, c in PARTS.items() if hasattr(c, method))}) or None")
        names = []
        for penalty in self._penalties():
            if not (isinstance(penalty, Part) and hasattr(penalty, "takes_over")):
                raise ValueError(f"penalties holds {penalty!r}, which is not a penalty part; pass parts such as "
                                 f"{', '.join(n for n, c in PARTS.items() if hasattr(c, 'takes_over'))}")
            names.append(penalty.short_name)
        if len(set(names)) != len(names):
            raise ValueError(f"penalties holds the same penalty twice ({', '.join(names)}); pass each at most once")

    def _needs_image_shape(self) -> bool:
        """Whether fitting needs the shape of one image: some part works on images."""
        return any(getattr(p, "needs_image_shape", False) for p in self._parts())

    def _resolve_sample_shape(self, n_features: int, image_shape: tuple[int, ...] | None,
                              from_data: bool = True) -> tuple[int, int, int] | None:
        """The (C, H, W) of one sample for the parts that work on images: the shape they name, else the
        image arrays' shape, else a square grayscale image; checked against the feature count."""
        users = [p for p in self._parts() if p.needs_image_shape]
        named = {check_sample_shape(f"{type(p).__name__} sample_shape", p.sample_shape) for p in users
                 if p.sample_shape is not None}
        if len(named) > 1:
            raise ValueError(f"the parts name different sample shapes {sorted(named)}; pass one shape")
        shape = next(iter(named)) if named else check_sample_shape("the images' shape", image_shape)
        if shape is None:
            if not from_data:
                return None
            side = int(round(np.sqrt(n_features)))
            if side * side != n_features:
                raise ValueError(
                    f"{type(users[0]).__name__} needs the image shape, and {n_features} features are not a square "
                    "image; pass sample_shape=(C, H, W) to the part or fit on an image array (n, H, W) or "
                    "(n, C, H, W)"
                )
            shape = (1, side, side)
        if int(np.prod(shape)) != n_features:
            raise ValueError(
                f"sample_shape {shape} holds {int(np.prod(shape))} values but the data have {n_features} "
                "features; pass the shape of one sample"
            )
        return shape

    def _flatten_images(self, X):
        """Image arrays (n, H, W) or (n, C, H, W) as flat rows when a part works on images, with their shape."""
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

    def build_network(self, n_features: int, output_activation: str, seed: int,
                      sample_shape: tuple[int, ...] | None = None) -> AutoencoderNetwork:
        """A fresh network of this composition for ``n_features`` inputs, its weights drawn from ``seed``."""
        generator = torch.Generator().manual_seed(seed)
        encoder, decoder = self._encoder().build(n_features, int(self.n_components), self._latent(), generator,
                                                 sample_shape)
        return AutoencoderNetwork(encoder, decoder, output_activation)

    def training_loss(self, total_steps: int = 1, value_range: tuple[float, float] = (0.0, 1.0),
                      generator: torch.Generator | None = None, output_activation: str | None = None,
                      X_train: torch.Tensor | None = None, random_state: int = 0) -> AutoencoderLoss:
        """The loss of this composition: what its parts contribute, over a run of ``total_steps`` steps on
        data in ``value_range``, its randomness drawn from ``generator``; ``output_activation`` defaults to
        the fitted one (``output_activation_``). With the training rows ``X_train`` (a tensor on the training
        device), each penalty is first prepared on them (``Penalty.prepare``, seeded by ``random_state``):
        the neighbour graph builds its graph there."""
        if output_activation is None:
            output_activation = self.output_activation_
        penalties = self._penalties()
        if X_train is not None:
            penalties = tuple(penalty.prepare(X_train, random_state, n_components=int(self.n_components))
                              for penalty in penalties)
        return AutoencoderLoss(self._encoder(), self._latent(), self.corruption, self.augmentation,
                               penalties, self.loss, output_activation, int(self.n_components),
                               value_range, getattr(self, "sample_shape_", None), total_steps, generator)

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
        streaming = isinstance(X, StreamingSource)
        if streaming:
            n_features = X.n_features
            image_shape = X.sample_shape if len(X.sample_shape) in (2, 3) else None
            self.check_params(n_features)
            self._check_training(streaming, distributed)
            self.__dict__.pop("feature_names_in_", None)
            self.n_features_in_ = n_features
            value_range = X.value_range()  # one pass over the file, also checking for NaN
        else:
            _, image_shape = self._flatten_images(X)
            X = self._validate_X(X, reset=True)
            n_features = X.shape[1]
            self.check_params(n_features)
            self._check_training(streaming, distributed)
            value_range = (float(X.min()), float(X.max()))
        self.sample_shape_ = (self._resolve_sample_shape(n_features, image_shape) if self._needs_image_shape()
                              else None)
        self.output_activation_ = self._resolve_output_activation(*value_range)
        random_state = check_random_state(self.random_state)
        seed = int(random_state.randint(0, 2**31 - 1))
        device = distributed.device if distributed is not None else resolve_device(self.device)
        network = self.build_network(n_features, self.output_activation_, seed, sample_shape=self.sample_shape_)
        self.network_ = prefer_channels_last(network.to(device), device)

        if streaming:
            train_part, validation_part = X.split(self.validation_fraction, int(random_state.randint(0, 2**31 - 1)))
            X_train = DeviceStream(train_part, device)
            X_validation = None if validation_part is None else DeviceStream(validation_part, device)
        else:
            X_train, X_validation = self._split_tensors(X, random_state, device)

        self.epochs_ = (int(self.epochs) if self.epochs is not None else
                        epochs_for_steps(len(X_train), self.batch_size, DEFAULT_STEPS, MIN_EPOCHS, MAX_EPOCHS))
        settings = self._training_settings(self.epochs_)
        total_steps = self.epochs_ * -(-len(X_train) // min(self.batch_size, len(X_train)))
        # the loss terms' randomness (corruption, sampled codes, edges) has its own stream, seeded from the fit's
        loss_fn = self.training_loss(total_steps, value_range, make_generator(seed + 1, device),
                                     X_train=None if streaming else X_train, random_state=seed + 2)
        checkpointing = self._checkpointing(checkpoint, checkpoint_every, resume, n_features, distributed)
        try:
            result = train_network(self.network_, loss_fn, X_train, X_validation, settings,
                                   make_generator(seed, device), distributed=distributed, checkpointing=checkpointing,
                                   callbacks=check_callbacks(self.callbacks))
        except FloatingPointError as e:
            raise ValueError(str(e)) from None
        self._keep_result(result)
        self._latent().finish_fit(self.network_.eval(), self._training_chunks(X_train, streaming))
        return self

    @staticmethod
    def _training_chunks(X_train, streaming: bool):
        """The training rows in device chunks of ``_INFERENCE_BATCH`` rows (a stream read once more)."""
        if streaming:
            return X_train.chunks(_INFERENCE_BATCH)
        return (X_train[i:i + _INFERENCE_BATCH] for i in range(0, len(X_train), _INFERENCE_BATCH))

    def _check_training(self, streaming: bool, distributed) -> None:
        """Before any work: a ValueError from a penalty that cannot train on a stream or over several processes."""
        for penalty in self._penalties():
            penalty.check_training(streaming, distributed is not None)

    def _keep_result(self, result) -> None:
        """The fitted history attributes of a training result; a warning when the best epoch was the last."""
        self.history_ = result.history
        self.n_epochs_ = result.n_epochs
        self.best_epoch_ = result.best_epoch
        self.epoch_seconds_ = result.epoch_seconds
        if self.best_epoch_ == self.n_epochs_:  # verbose=0 keeps it off a script's stderr; log.txt still has it
            logger.log(logging.WARNING if self.verbose else logging.DEBUG, still_improving_warning(self.n_epochs_))

    def _training_settings(self, epochs: int) -> TrainingSettings:
        return TrainingSettings(epochs=epochs, batch_size=self.batch_size, learning_rate=float(self.learning_rate),
                                weight_decay=float(self.weight_decay), optimizer=self.optimizer, patience=self.patience,
                                verbose=self.verbose, precision=self.precision, compile=bool(self.compile),
                                on_divergence=self.on_divergence)

    def _checkpointing(self, checkpoint, every, resume, n_features: int, distributed):
        """The Checkpointing of a fit, or None; the run's config is the parameters that change its result."""
        if checkpoint is None and resume is None:
            return None
        check_positive_int("checkpoint_every", every, minimum=0)
        if isinstance(self.random_state, np.random.RandomState) or self.random_state is None:
            raise ValueError("checkpoints need a reproducible run: pass an integer random_state (got "
                             f"{self.random_state!r})")
        config = {k: v for k, v in params_record(self).items()
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
        """The code of each sample: array of shape (n_samples, n_components).

        The encoder's code (a Gaussian latent's mean), refined against the decoder where the latent has
        ``refine_steps``.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._batched(X, self._latent().code)

    def inverse_transform(self, X):
        """Decode codes of shape (n_samples, n_components) into the input space; with
        ``set_output(transform="pandas")``, a DataFrame of the input's columns."""
        check_is_fitted(self)
        decoded = self._batched(self._validate_codes(X), lambda network, z: network.decode(z))
        return as_input_features(self, decoded, X)

    @property
    def _n_features_out(self) -> int:  # get_feature_names_out's names: autoencoder0, autoencoder1, ...
        check_is_fitted(self)
        return int(self.n_components)

    def _validate_codes(self, Z) -> np.ndarray:
        Z = check_array(Z, dtype=[np.float64, np.float32], ensure_all_finite=False)
        _check_finite(Z, "the codes")
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"the codes have {Z.shape[1]} columns but the model's n_components is {self.n_components}; "
                "pass the output of transform"
            )
        return Z

    def reconstruct(self, X):
        """The decoding of ``transform(X)``: the autoencoder's reconstruction, shape (n_samples, n_features)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        code = self._latent().code
        return self._batched(X, lambda network, x: network.decode(code(network, x)))

    def reconstruction_error(self, X):
        """Per-sample reconstruction error (mean over features of the training loss): shape (n_samples,)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        loss, output_activation, code = self.loss, self.output_activation_, self._latent().code

        def error(network, x):
            return reconstruction_error(network.decode_logits(code(network, x)), x, loss, output_activation)

        return self._batched(X, error)

    def denoise(self, X):
        """The reconstruction of (noisy) samples ``X``: what a denoising autoencoder gives as the clean data.

        The same computation as ``reconstruct``; named for the denoising use. Shape (n_samples, n_features).
        """
        return self.reconstruct(X)

    @property
    def can_generate(self) -> bool:
        """True when the decoder learns from codes drawn from N(0, I): a Gaussian latent (variational) or a
        latent cycle penalty (double)."""
        return bool(self._latent().generative) or any(getattr(p, "generative", False) for p in self._penalties())

    @property
    def has_elbo(self) -> bool:
        """True when ``elbo`` applies: a latent that gives one (Gaussian) and a Bernoulli likelihood (bce)."""
        return bool(self._latent().has_elbo) and self.loss == "bce"

    def sample(self, n_samples: int = 1, random_state=None) -> np.ndarray:
        """Generate ``n_samples`` new samples: codes drawn from the prior N(0, I), decoded.

        Only for generative compositions (``can_generate``): a Gaussian latent (variational) or a
        ``LatentCycle`` penalty (double). Returns an array of shape (n_samples, n_features), float32.
        """
        check_is_fitted(self)
        if not self.can_generate:
            raise ValueError(
                "sample() needs a generative autoencoder, one whose decoder was trained on codes from N(0, I); "
                f"this one has latent={self._latent()!r} and penalties={self._penalties()!r}; fit with "
                "latent=Gaussian() (variational) or a LatentCycle() penalty (double)"
            )
        check_positive_int("n_samples", n_samples)
        codes = check_random_state(random_state).standard_normal((n_samples, self.n_components)).astype(np.float32)
        return self._batched(codes, lambda network, z: network.decode(z))

    def elbo(self, X, n_samples: int = 1, random_state=None) -> np.ndarray:
        """Per-sample evidence lower bound in nats: E_q[log p(x | z)] - KL(q(z | x) || N(0, I)).

        The log-likelihood is the Bernoulli one summed over features (``loss="bce"``, data in [0, 1]),
        estimated with ``n_samples`` codes drawn from q(z | x) by reparameterisation; the KL is analytic.
        Needs a Gaussian latent (``has_elbo``). Higher is better; its mean over test data is the test ELBO.
        """
        check_is_fitted(self)
        if not self.has_elbo:
            raise ValueError(
                f"elbo() needs a variational autoencoder with a Bernoulli likelihood, but latent={self._latent()!r} "
                f"and loss={self.loss!r}; fit with latent=Gaussian() and loss='bce'"
            )
        check_positive_int("n_samples", n_samples)
        X = self._validate_X(X, reset=False)
        if X.min() < 0 or X.max() > 1:
            raise ValueError(f"elbo() needs data in [0, 1] but X ranges over [{X.min():.4g}, {X.max():.4g}]")
        generator = torch.Generator(device=self._device()).manual_seed(
            int(check_random_state(random_state).randint(0, 2**31 - 1)))
        latent, loss, output_activation = self._latent(), self.loss, self.output_activation_
        return self._batched(X, lambda network, x: latent.elbo(network, x, n_samples, generator, loss,
                                                               output_activation))

    def jacobian_norm(self, X) -> np.ndarray:
        """Frobenius norm of the encoder's Jacobian d code / d x at each sample: shape (n_samples,).

        Computed like the contractive penalty (closed form for a one-layer sigmoid encoder, else batched
        autograd: about ``n_components`` backward passes per batch); the code is the posterior mean for a
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
        """Save to the folder ``path`` (created if needed): model.safetensors (weights), then model.json (the
        parameters, each part as ``{"part": NAME, "params": {...}}``, and the fitted attributes)."""
        from safetensors.torch import save as safetensors_bytes

        check_is_fitted(self)
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ValueError(f"{path} exists and is not a folder; a model is saved as a folder of two files")
        tensors = {name: t.detach().to("cpu").contiguous() for name, t in self.network_.state_dict().items()}
        atomic_write_bytes(path / WEIGHTS_FILE, safetensors_bytes(tensors, metadata={"format": MODEL_FORMAT}))
        atomic_write_json(path / CONFIG_FILE, _model_record(self))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        return tags


# ------------------------------------------------------------------------------------------------ model files
def params_record(estimator: Autoencoder) -> dict[str, Any]:
    """The parameters as JSON: parts as part records, the penalties as a list of them."""
    record = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in _PART_FAMILIES:
            record[key] = part_record(value)
        elif key == "penalties":
            record[key] = [part_record(p) for p in estimator._penalties()]
        elif key == "callbacks":
            record[key] = None  # objects of the user's code: not part of a model file
        else:
            record[key] = json_safe(value)
    return record


def _model_record(estimator: Autoencoder) -> dict[str, Any]:
    """The JSON-ready description of a fitted estimator: its class, parameters and fitted attributes."""
    fitted = {
        "n_features_in_": int(estimator.n_features_in_),
        "output_activation_": estimator.output_activation_,
        "history_": {k: [float(v) for v in vs] for k, vs in estimator.history_.items()},
        "epochs_": int(estimator.epochs_),
        "n_epochs_": int(estimator.n_epochs_),
        "best_epoch_": int(estimator.best_epoch_),
        "epoch_seconds_": [float(t) for t in estimator.epoch_seconds_],
    }
    if getattr(estimator, "sample_shape_", None) is not None:
        fitted["sample_shape_"] = [int(d) for d in estimator.sample_shape_]
    if hasattr(estimator, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(n) for n in estimator.feature_names_in_]
    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "aelab_version": __version__,
        "estimator": type(estimator).__name__,
        "params": params_record(estimator),
        "fitted": fitted,
    }


def _param_type_ok(value: Any, default: Any, allows_none: bool) -> bool:
    """Whether a plain parameter read from JSON has the type of its default (None where it may be None)."""
    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if value is None:
        return default is None or allows_none
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return is_int(value) or isinstance(value, float)
    if is_int(default):
        return is_int(value)
    if isinstance(default, str):
        return isinstance(value, str)
    return default is None and is_int(value)  # random_state


def _estimator_from_record(record: dict[str, Any], config: Path) -> Autoencoder:
    """The unfitted Autoencoder a model.json's params describe; only registered parts are made."""
    params = dict(record["params"])
    defaults = Autoencoder().get_params(deep=False)
    expected = set(defaults)
    missing, unknown = expected - set(params), set(params) - expected
    require(not missing and not unknown, config,
            f"params must be exactly {sorted(expected)}; unknown {sorted(unknown)}, missing {sorted(missing)}"
            f"{older_model_hint(missing, unknown)}")
    for key, value in params.items():
        if key in _PART_FAMILIES:
            params[key] = part_from_record(value, PARTS, f"{config}: params.{key}")
        elif key == "penalties":
            require(isinstance(value, list), config, f"params.penalties is {value!r}, not a list of parts")
            params[key] = tuple(part_from_record(p, PARTS, f"{config}: params.penalties[{i}]")
                                for i, p in enumerate(value))
        else:
            require(_param_type_ok(value, defaults[key], key in ("epochs", "patience", "random_state")), config,
                    f"params.{key} is {value!r}, of the wrong type for this parameter")
            require(not isinstance(value, float) or bool(np.isfinite(value)), config,
                    f"params.{key} is {value!r}; it must be a finite number")
    return Autoencoder(**params)


def _load_weights(network: torch.nn.Module, weights: Path) -> None:
    """Read the safetensors file ``weights`` into ``network``, checking each tensor's type and values."""
    from safetensors import SafetensorError
    from safetensors.torch import load as safetensors_load

    try:
        tensors = safetensors_load(weights.read_bytes())
    except (SafetensorError, ValueError, OSError) as e:
        raise ValueError(f"{weights} is not a valid safetensors file ({e}); the model folder is damaged") from None
    state = network.state_dict()
    for name, tensor in tensors.items():
        require(tensor.dtype == state[name].dtype, weights,
                f"tensor {name} is {tensor.dtype} but the configuration needs {state[name].dtype}")
        require(bool(torch.isfinite(tensor).all()), weights, f"tensor {name} holds NaN or inf")
    network.load_state_dict(tensors)


def load(path: str | os.PathLike, device: str | None = None) -> Autoencoder:
    """Load a model saved with ``est.save(path)`` (or the model of an ``aelab train`` run folder).

    Parameters
    ----------
    path : path-like
        The model folder (holding model.json and model.safetensors).
    device : str, optional
        Where to put the model; by default the saved ``device`` parameter, falling back to the CPU when
        the saved device is not available here.

    Returns
    -------
    Autoencoder
        A fitted estimator.
    """
    path = Path(path)
    record = read_model_record(path, MODEL_FORMAT_VERSION)
    config = path / CONFIG_FILE
    require(record["estimator"] == "Autoencoder", config, f"unknown estimator {record['estimator']!r}")
    fitted = record["fitted"]
    check_fitted_record(fitted, config)
    try:
        estimator = _estimator_from_record(record, config)
        estimator.check_params(fitted["n_features_in_"])
        sample_shape = tuple(fitted["sample_shape_"]) if fitted.get("sample_shape_") is not None else None
        require(sample_shape is not None or not estimator._needs_image_shape(), config,
                "a model whose parts work on images needs sample_shape_ in fitted")
        with torch.device("meta"):  # the shapes the configuration needs, without allocating any memory
            expected = estimator.build_network(fitted["n_features_in_"], fitted["output_activation_"], seed=0,
                                               sample_shape=sample_shape).state_dict()
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, ZeroDivisionError,
            RuntimeError) as e:
        if str(e).startswith(str(config)):
            raise
        raise ValueError(f"{config} holds an invalid configuration ({type(e).__name__}: {e})") from None

    # names and shapes are checked against the file's header first, so a configuration can never make
    # loading allocate a network far larger than its weights file
    shapes = tensor_shapes(path / WEIGHTS_FILE)
    unknown, missing = sorted(set(shapes) - set(expected)), sorted(set(expected) - set(shapes))
    require(not unknown and not missing, path / WEIGHTS_FILE,
            f"tensor names do not match the configuration (unexpected {unknown}, missing {missing})")
    for name, shape in shapes.items():
        require(shape == tuple(expected[name].shape), path / WEIGHTS_FILE,
                f"tensor {name} has shape {shape} but the configuration needs {tuple(expected[name].shape)}")
    network = estimator.build_network(fitted["n_features_in_"], fitted["output_activation_"], seed=0,
                                      sample_shape=sample_shape)
    _load_weights(network, path / WEIGHTS_FILE)

    if device is None:
        try:
            target = resolve_device(estimator.device)
        except ValueError:
            target = torch.device("cpu")
    else:
        target = resolve_device(device)
        estimator.device = device
    estimator.network_ = network.to(target).eval()
    estimator.n_features_in_ = fitted["n_features_in_"]
    estimator.output_activation_ = fitted["output_activation_"]
    estimator.history_ = {k: list(v) for k, v in fitted["history_"].items()}
    estimator.epochs_ = fitted["epochs_"]
    estimator.n_epochs_ = fitted["n_epochs_"]
    estimator.best_epoch_ = fitted["best_epoch_"]
    estimator.epoch_seconds_ = [float(t) for t in fitted.get("epoch_seconds_", [])]
    estimator.sample_shape_ = sample_shape
    if "feature_names_in_" in fitted:
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    return estimator
