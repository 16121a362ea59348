"""The free layout: the neighbour graph's layout fitted first as free codes, one per training row, then learnt by
the network, whose decoder places new rows.

A network kept to the graph while it learns (``NeighbourGraph``) must carry every row's place in one set of
weights from the start; free codes move each row on its own and reach a layout with more of each row's
neighbourhood (on Fashion-MNIST the training images' 5-NN accuracy 0.81 against the encoder's 0.74-0.77,
docs/umap-ae.md). ``FreeLayout.prepare`` builds the graph, starts one code per training row at a start's code
of it (such as a fitted umap kind's, whose grouping the layout then keeps), and fits the codes by the edge loss
with Adam (``fit_free_layout``). Training then fits the decoder to decode each row's layout code to the row and
the encoder to give that code, and a ``Deterministic(refine_start="grid")`` latent places new rows by the
decoder: at the nearest decoded point of a grid over the layout, refined by Levenberg-Marquardt steps.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from aelab.objectives import reconstruction_loss
from aelab.parts.base import Batch, check_number, check_positive_int
from aelab.parts.neighbour_graph import EDGE_LOSSES, FuzzyGraph, NeighbourGraph, draw_edges, is_fitted

logger = logging.getLogger(__name__)

#: A start of the layout and its learning rate grow with the rows as the layout does: at ``REFERENCE_ROWS``
#: rows the start's first component has the deviation ``REFERENCE_SPREAD`` and Adam's rate is
#: ``REFERENCE_LEARNING_RATE``, both times (rows / ``REFERENCE_ROWS``) ** ``SPREAD_EXPONENT`` elsewhere: the
#: settings measured on Fashion-MNIST's 60,000 training images (17 and 0.3) and on mnist5k's 4,000 (6 and 0.1).
REFERENCE_ROWS = 60_000
REFERENCE_SPREAD = 17.0
REFERENCE_LEARNING_RATE = 0.3
SPREAD_EXPONENT = 0.385
#: An epoch of the layout draws the graph's total weight in edges, in at least this many steps (a small graph's
#: steps draw fewer edges than ``edge_batch_size``, so that Adam takes as many steps as it needs).
MIN_STEPS_PER_EPOCH = 12
#: Epochs of the layout unless ``epochs`` is given. More sharpen the neighbourhoods and split the start's
#: groups: on mnist5k's 4,000 training digits 200 epochs gave k-means ACC 0.704 of the layout against 100 epochs'
#: 0.793 (the start's 0.825), at 5-NN accuracy 0.937 against 0.935 (docs/umap-ae.md).
EPOCHS = 100


def fit_free_layout(graph: FuzzyGraph, start: np.ndarray, a: float, b: float, loss: str,
                    negative_sample_rate: int, edge_batch_size: int, epochs: int, learning_rate: float,
                    generator: torch.Generator, device: torch.device | str = "cpu",
                    start_weight: float = 0.0) -> torch.Tensor:
    """Free codes of the graph's rows, started at ``start`` and fitted by the edge loss: shape (n_rows, k).

    Each step draws edges in proportion to their weights (``draw_edges``) and, per edge,
    ``negative_sample_rate`` negatives uniformly among all rows, and takes one Adam step on the mean edge loss
    (``EDGE_LOSSES[loss]`` with the curve ``a``, ``b``); the learning rate falls linearly from
    ``learning_rate`` to 0 over ``epochs`` epochs, each of which draws the graph's total weight in edges
    (``edge_batch_size`` a step, fewer on a graph too small for ``MIN_STEPS_PER_EPOCH`` steps of them).

    Parameters
    ----------
    graph : FuzzyGraph
    start : ndarray of shape (n_rows, n_components)
        The codes the layout starts at.
    a, b : float
        The curve q(d) = 1 / (1 + a d^(2b)).
    loss : {"umap", "infonce"}
    negative_sample_rate, edge_batch_size, epochs : int
    learning_rate : float
    generator : torch.Generator
        The draws of edges and negatives, on ``device``.
    device : torch.device or str, default="cpu"
    start_weight : float, default=0.0
        Weight of a pull toward the start: each drawn edge's head row adds ``start_weight`` times its squared
        distance to its start code, over the start's first-component variance, to the step's loss.
    """
    edge_loss = EDGE_LOSSES[loss]
    anchors = torch.as_tensor(np.asarray(start, dtype=np.float32), device=device)
    codes = nn.Parameter(anchors.clone())
    pull = float(start_weight) / max(float(anchors[:, 0].var()), torch.finfo(anchors.dtype).tiny)
    heads = torch.as_tensor(graph.heads, device=device)
    tails = torch.as_tensor(graph.tails, device=device)
    cumulative = torch.as_tensor(np.cumsum(graph.weights, dtype=np.float64), device=device)
    total_weight = float(cumulative[-1])
    n_edges = max(1, min(int(edge_batch_size), math.ceil(total_weight / MIN_STEPS_PER_EPOCH)))
    steps = int(epochs) * math.ceil(total_weight / n_edges)
    optimizer = torch.optim.Adam([codes], lr=float(learning_rate))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / steps)
    n_rows = len(codes)
    for _ in range(steps):
        edges = draw_edges(cumulative, n_edges, generator)
        negatives = torch.randint(n_rows, (n_edges, int(negative_sample_rate)), generator=generator, device=device)
        # rows gathered by embedding, whose gradient sums repeated rows in a fixed order (see NeighbourGraphLoss)
        value = edge_loss(F.embedding(heads[edges], codes), F.embedding(tails[edges], codes),
                          F.embedding(negatives, codes), a, b).mean()
        if pull:
            rows = heads[edges]
            value = value + pull * (F.embedding(rows, codes) - anchors[rows]).square().sum(1).mean()
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        schedule.step()
    return codes.detach()


class FreeLayout(NeighbourGraph):
    """The neighbour graph's layout fitted as free codes of the training rows, then learnt by the network.

    At fit (``prepare``) the graph of the training rows is built as ``NeighbourGraph`` builds it; one code per
    training row starts at ``start``'s code of the row, scaled (``start_spread``), and is fitted by the edge loss
    alone (``fit_free_layout``: ``loss``, ``negative_sample_rate`` negatives among all rows, ``edge_batch_size``
    edges a step, ``epochs`` epochs (100 by default), Adam at ``learning_rate`` falling to 0). The layout is then
    standardised (mean 0, deviation 1 per component) and every training step is this part's: a batch of training
    rows, in a shuffled order of its own, and the reconstruction error of the decoder's output for their layout
    codes plus ``weight`` times the mean squared distance between the encoder's codes of the rows and their layout
    codes. The validation loss is the validation rows' reconstruction through the encoder's code, which stops
    improving long before the decoder's placements do: fit with ``validation_fraction=0`` (as compare's umap-ae
    does), so that no rows are left out of the layout and nothing stops the fit early. Pair it with
    ``Deterministic(refine_start="grid", refine_steps=10)``, which places any row (a training row too) by the
    decoder, and a wide decoder (``Dense(decoder_hidden=(128, 256, 512, 1024))``), which carries the layout's
    detail, as compare's umap-ae does. The encoder's own code (an exported encoder's) approximates the layout.

    Parameters
    ----------
    weight : float, default=1.0
        Weight of the encoder's distance to the layout against the decoder's reconstruction, >= 0.
    n_neighbors, min_dist, spread, a, b, metric, space
        As ``NeighbourGraph``'s: the graph and the curve.
    negative_sample_rate : int, default=500
        Negatives per edge, drawn among all training rows, >= 1.
    edge_batch_size : int, default=8192
        Edges a step of the layout, >= 1.
    loss : {"umap", "infonce"}, default="infonce"
        The edge loss of the layout (``NeighbourGraph``'s).
    start : transformer, estimator or None, default=None
        Where the codes start. None: the training rows' principal components (scikit-learn's PCA). A fitted
        transformer (anything with ``transform``): its code of the training rows, which must have
        ``n_components`` columns. An unfitted estimator (such as ``Autoencoder(**kind("umap", ...))``): a clone
        of it fitted on the training rows first. Used only while fitting: a model file records it as null.
    epochs : int or None, default=None
        Epochs of the layout, each drawing the graph's total weight in edges. None: 100 (``EPOCHS``).
    learning_rate : float or None, default=None
        Adam's first rate for the codes, > 0. None: 0.3 at 60,000 rows, scaled with the start's deviation.
    start_spread : float or None, default=None
        The deviation of the start's first component, > 0 (all components scaled alike). None: 17 at 60,000
        rows, times (rows / 60,000) ** 0.385 (6 at 4,000).
    start_weight : float, default=0.0
        Weight of a pull of each code toward its start, >= 0: every drawn edge adds ``start_weight`` times its
        head row's squared distance to its start code, in units of the start's first-component deviation.

    Examples
    --------
    >>> from aelab import Autoencoder
    >>> from aelab.parts import Dense, Deterministic
    >>> ae = Autoencoder(encoder=Dense(hidden=(256, 128), decoder_hidden=(128, 256, 512, 1024)),
    ...                  latent=Deterministic(refine_steps=10, refine_start="grid"), penalties=(FreeLayout(),),
    ...                  n_components=2, validation_fraction=0.0)
    """

    short_name = "free_layout"
    fit_only_params = ("space", "start")

    def __init__(self, weight=1.0, n_neighbors=15, min_dist=0.1, spread=1.0, a=None, b=None, metric="euclidean",
                 negative_sample_rate=500, edge_batch_size=8192, space=None, loss="infonce", start=None,
                 epochs=None, learning_rate=None, start_spread=None, start_weight=0.0):
        # the neighbour graph's parameters but its augmentation (None: nothing moves the rows, each code
        # belongs to one unmoved training row)
        super().__init__(weight=weight, n_neighbors=n_neighbors, min_dist=min_dist, spread=spread, a=a, b=b,
                         metric=metric, negative_sample_rate=negative_sample_rate, edge_batch_size=edge_batch_size,
                         space=space, loss=loss)
        self.start = start
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.start_spread = start_spread
        self.start_weight = start_weight

    def validate(self, n_features: int, encoder=None) -> None:
        super().validate(n_features, encoder)
        if self.epochs is not None:
            check_positive_int("FreeLayout epochs", self.epochs)
        if self.learning_rate is not None:
            check_number("FreeLayout learning_rate", self.learning_rate, 0.0, open_low=True)
        if self.start_spread is not None:
            check_number("FreeLayout start_spread", self.start_spread, 0.0, open_low=True)
        check_number("FreeLayout start_weight", self.start_weight, 0.0)
        if self.start is not None and not callable(getattr(self.start, "transform", None)):
            raise ValueError(f"FreeLayout start must be a transformer (a fitted one, or an estimator with fit and "
                             f"transform, which is then fitted on the training rows) or None for the rows' "
                             f"principal components, got {self.start!r}")

    def prepare(self, X_train: torch.Tensor, random_state: int, n_components: int = 2) -> FreeLayoutLoss:
        """The layout of the training rows ``X_train`` in ``n_components`` dimensions (the network's code) and the
        term that teaches it to the network (``FreeLayoutLoss``); the graph, the layout's draws and the PCA start
        are seeded by ``random_state``."""
        self.validate(X_train.shape[1])
        n_rows = len(X_train)
        graph = self.build_graph(X_train, random_state)
        if graph is None:
            raise ValueError(f"FreeLayout needs at least 3 training rows for a neighbour graph, got {n_rows}; fit "
                             f"on more rows, or without FreeLayout")
        X = X_train.detach().cpu().numpy()
        start = self._start_codes(X, random_state, int(n_components))
        factor = (n_rows / REFERENCE_ROWS) ** SPREAD_EXPONENT
        spread = REFERENCE_SPREAD * factor if self.start_spread is None else float(self.start_spread)
        learning_rate = (REFERENCE_LEARNING_RATE * factor if self.learning_rate is None
                         else float(self.learning_rate))
        epochs = int(self.epochs) if self.epochs is not None else EPOCHS
        deviation = float(start[:, 0].std())
        start = start * (spread / deviation if deviation > 0 else 1.0)
        a, b = self.curve()
        started = time.perf_counter()
        generator = torch.Generator(device=X_train.device).manual_seed(int(random_state))
        codes = fit_free_layout(graph, start, a, b, self.loss, int(self.negative_sample_rate),
                                int(self.edge_batch_size), epochs, learning_rate, generator, X_train.device,
                                float(self.start_weight))
        logger.info("free layout of %d training rows: %d epochs from a start of deviation %.3g at rate %.3g, "
                    "pulled toward it at %.3g, %.1f s", n_rows, epochs, spread, learning_rate,
                    float(self.start_weight), time.perf_counter() - started)
        codes = (codes - codes.mean(0)) / codes.std(0).clamp_min(torch.finfo(codes.dtype).tiny)
        return FreeLayoutLoss(X_train, codes, float(self.weight))

    def _start_codes(self, X: np.ndarray, random_state: int, n_components: int) -> np.ndarray:
        """The start's code of the training rows ``X`` (``n_components`` columns): PCA's, a fitted transformer's,
        or a fitted clone's."""
        if self.start is None:
            from sklearn.decomposition import PCA

            if n_components > min(X.shape):
                raise ValueError(f"FreeLayout starts at the training rows' {n_components} principal components, but "
                                 f"{X.shape[0]} rows of {X.shape[1]} features have at most {min(X.shape)}; pass a "
                                 f"start, or a smaller n_components")
            return PCA(n_components, random_state=random_state).fit_transform(X)
        start = self.start
        if not is_fitted(start):
            from sklearn.base import clone

            logger.info("FreeLayout: fitting the start %s on the %d training rows", type(start).__name__, len(X))
            start = clone(start).fit(X)
        codes = np.asarray(start.transform(X), dtype=np.float32)
        if codes.shape != (len(X), n_components):
            raise ValueError(f"FreeLayout start must transform {len(X)} rows into {len(X)} codes of the network's "
                             f"{n_components} components, got an array of shape {codes.shape}")
        return codes


class FreeLayoutLoss:
    """The steps a ``FreeLayout`` takes over in one fit: the layout codes of that fit's training rows and the
    order they are drawn in. Not a part: ``FreeLayout.prepare`` makes it, and it goes with the fit.

    Parameters
    ----------
    X_train : tensor of shape (n_rows, n_features)
        The training rows, on the training device.
    codes : tensor of shape (n_rows, n_components)
        Their layout codes, standardised.
    weight : float
        Weight of the encoder's squared distance to the layout.
    """

    generative = False

    def __init__(self, X_train: torch.Tensor, codes: torch.Tensor, weight: float) -> None:
        self.X_train, self.codes, self.weight = X_train, codes.to(X_train.device), weight
        self.order = torch.empty(0, dtype=torch.long, device=X_train.device)

    def takes_over(self, step: int, total_steps: int) -> bool:
        return True

    def next_rows(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """The next ``n`` training rows of a shuffled order (drawn anew from ``generator`` when spent)."""
        if len(self.order) < n:
            fresh = torch.randperm(len(self.X_train), generator=generator, device=self.X_train.device)
            self.order = torch.cat([self.order, fresh])
        rows, self.order = self.order[:n], self.order[n:]
        return rows

    def step_term(self, network: nn.Module, x: torch.Tensor, n_components: int, generator: torch.Generator | None,
                  loss: str = "mse", output_activation: str = "sigmoid") -> torch.Tensor:
        """The whole loss of a training step: as many training rows as the batch ``x`` has, the reconstruction
        error of their layout codes' decodings and ``weight`` times the encoder's squared distance to them."""
        rows = self.next_rows(len(x), generator)
        target, codes = self.X_train[rows], self.codes[rows]
        total = reconstruction_loss(network.decoder(codes), target, loss, output_activation)
        if self.weight:
            total = total + self.weight * (network.encode(target) - codes).square().sum(1).mean()
        return total

    def term(self, batch: Batch) -> torch.Tensor | None:
        return None
