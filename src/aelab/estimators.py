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

from aelab.nn import OUTPUT_ACTIVATIONS, AutoencoderNetwork, DenseDecoder, DenseEncoder
from aelab.nn.layers import ACTIVATIONS
from aelab.objectives import RECONSTRUCTION_LOSSES, reconstruction_error, reconstruction_loss
from aelab.training import (
    OPTIMIZERS,
    TrainingSettings,
    make_generator,
    resolve_device,
    train_network,
)

_INFERENCE_BATCH = 8192


def _as_tensor(array: np.ndarray, dtype: np.dtype) -> torch.Tensor:
    """A CPU tensor sharing memory with ``array`` when it can, copying read-only or strided input."""
    array = np.ascontiguousarray(array, dtype=dtype)
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array)


def _check_finite(X: np.ndarray, what: str = "X") -> None:
    finite = np.isfinite(X)
    if not finite.all():
        rows, cols = np.nonzero(~finite)
        raise ValueError(
            f"{what} contains {len(rows)} NaN or infinite value(s), the first at row {rows[0]}, column {cols[0]}; "
            "remove or impute them first"
        )


def _check_positive_int(name: str, value, minimum: int = 1) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_choice(name: str, value, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")


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
    """Dense (stacked) autoencoder with the scikit-learn transformer interface.

    The encoder maps each sample through the ``hidden`` layers to a linear code of ``latent_dim`` values;
    the decoder mirrors it (or uses ``decoder_hidden``) back to the input space. ``transform`` returns the
    code, ``inverse_transform`` decodes codes, ``score_samples`` is the negative per-sample reconstruction
    error (higher means more normal).

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
        Reconstruction loss; ``bce`` needs data in [0, 1].
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
    ):
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.activation = activation
        self.decoder_hidden = decoder_hidden
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.loss = loss
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

    def _validate_X(self, X, reset: bool) -> np.ndarray:
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
    def _resolve_output_activation(self, X: np.ndarray) -> str:
        in_unit_range = bool(X.min() >= 0.0 and X.max() <= 1.0)
        if self.loss == "bce" and not in_unit_range:
            raise ValueError(
                f"loss='bce' needs data in [0, 1] but X ranges over [{X.min():.4g}, {X.max():.4g}]; "
                "scale it to [0, 1] first (e.g. MinMaxScaler) or use loss='mse'"
            )
        if self.output_activation == "auto":
            return "sigmoid" if in_unit_range else "linear"
        if self.loss == "bce" and self.output_activation != "sigmoid":
            raise ValueError("loss='bce' needs output_activation='sigmoid' (or 'auto')")
        return self.output_activation

    def _build_network(self, n_features: int, output_activation: str, seed: int) -> AutoencoderNetwork:
        generator = torch.Generator().manual_seed(seed)
        hidden = _check_layer_sizes("hidden", self.hidden)
        decoder_hidden = (
            tuple(reversed(hidden)) if self.decoder_hidden is None
            else _check_layer_sizes("decoder_hidden", self.decoder_hidden)
        )
        encoder = DenseEncoder(n_features, hidden, self.latent_dim, self.activation, generator,
                               code_activation=self.code_activation)
        decoder = DenseDecoder(self.latent_dim, decoder_hidden, n_features, self.activation, generator)
        return AutoencoderNetwork(encoder, decoder, output_activation)

    def _loss_function(self):
        loss, output_activation = self.loss, self.output_activation_

        def loss_fn(network, x):
            _, logits = network(x)
            return reconstruction_loss(logits, x, loss, output_activation)

        return loss_fn

    # -------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Train the autoencoder on ``X`` (``y`` is ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; for image data, pixels scaled to [0, 1].
        y : ignored

        Returns
        -------
        self : Autoencoder
        """
        X = self._validate_X(X, reset=True)
        self._validate_params(X.shape[1])
        self.output_activation_ = self._resolve_output_activation(X)
        random_state = check_random_state(self.random_state)
        seed = int(random_state.randint(0, 2**31 - 1))
        device = resolve_device(self.device)
        self.network_ = self._build_network(X.shape[1], self.output_activation_, seed).to(device)

        n_validation = int(len(X) * self.validation_fraction)
        order = random_state.permutation(len(X))
        if n_validation < 1 or len(X) - n_validation < 1:
            train_index, validation_index = order, None
        else:
            train_index, validation_index = order[n_validation:], order[:n_validation]
        X_all = _as_tensor(X, np.float32).to(device)
        X_train = X_all[torch.as_tensor(train_index, device=device)]
        X_validation = None if validation_index is None else X_all[torch.as_tensor(validation_index, device=device)]
        del X_all

        settings = TrainingSettings(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            optimizer=self.optimizer,
            patience=self.patience,
            verbose=self.verbose,
        )
        try:
            result = train_network(self.network_, self._loss_function(), X_train, X_validation, settings,
                                   make_generator(seed, device))
        except FloatingPointError as e:
            raise ValueError(str(e)) from None
        self.history_ = result.history
        self.n_epochs_ = result.n_epochs
        self.best_epoch_ = result.best_epoch
        self.epoch_seconds_ = result.epoch_seconds
        return self

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

    def score_samples(self, X):
        """Negative per-sample reconstruction error: higher means more like the training data."""
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
