"""Study ``clustering``: deep clustering of the autoencoder's code against clustering of the raw input.

    aelab bench clustering --data mnist5k --out runs/clustering

As in the deep clustering literature the task is unsupervised: every method is fitted on all the samples and
judged on the same samples (ACC after Hungarian matching, NMI, ARI). For each seed one autoencoder
(d-500-500-2000-10, ReLU, MSE, Adam, batch 256, all samples, no early stopping) is pretrained and shared by
all the methods on its code: k-means, a Gaussian mixture, N2D (UMAP to 10-D, 20 neighbours, min_dist 0,
then a Gaussian mixture), DEC (SGD 0.01, momentum 0.9), IDEC (Adam 0.001, gamma 0.1) and IDEC whose centres
start at the N2D clusters. The neighbour-graph autoencoders (``umap-ae``: the same network and pretraining with
``aelab.parts.NeighbourGraph`` on the code) are pretrained apart, one per row: a Gaussian mixture of the 2-D
code (umap-ae-gmm), and N2D over a 10-D code whose graph joins each sample to its neighbours in the code of the
seed's plain pretrained autoencoder (umap-ae-n2d) or in the input (umap-ae-n2d-input, run only when named in
``--methods``). Beside them, without an autoencoder: k-means of the
raw input, of its first 10 principal components and of a 2-D t-SNE, and UMAP + Gaussian mixture of the raw input.
``--methods`` runs some of them only.
"""

from __future__ import annotations

import logging
from itertools import chain

import numpy as np
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from aelab.baselines import TSNEBaseline
from aelab.bench import STUDY_METHODS
from aelab.bench.study import Stopwatch, StudyResult, StudySettings
from aelab.cluster import (
    DEC,
    IDEC,
    N2D,
    AutoencoderGaussianMixture,
    AutoencoderKMeans,
    clustering_autoencoder,
    umap_embedding,
)
from aelab.data import MinMaxScaling
from aelab.data.dataset import FIX_BAD_ROWS_REMEDY
from aelab.metrics import ari, clustering_accuracy, nmi
from aelab.parts import NeighbourGraph
from aelab.parts.augmentations import describe_augmentation, image_augmentation

NAME = "clustering"

logger = logging.getLogger(__name__)

N_SEEDS = 5
EPOCHS = 200
#: The neighbour-graph autoencoders train for at most this many epochs: on mnist5k 50 epochs of the graph gave
#: N2D over the input's graph 0.953 ACC and 200 epochs 0.945 (seed 0), at four times the time.
UMAP_AE_EPOCHS = 50
#: Iterations of DEC and IDEC (each one batch of 256) at most; both stop earlier once fewer than 0.1% of the
#: assignments change between two target updates (every 140 iterations).
MAX_ITER = 1000
#: Above this many samples the costly raw-input baselines (t-SNE, UMAP of 784-D rows) run on the first seed only.
LARGE = 20_000
QUICK_SAMPLES = 300
AUTOENCODER_METHODS = ("ae-kmeans", "ae-gmm", "n2d", "dec", "idec", "idec-n2d")
#: The neighbour-graph autoencoder rows -> the code size of the autoencoder each pretrains for itself, and where
#: its graph finds the neighbours: in the input, or in the code of the seed's plain pretrained autoencoder.
UMAP_AE_METHODS = {"umap-ae-gmm": (2, "input"), "umap-ae-n2d": (10, "code"), "umap-ae-n2d-input": (10, "input")}
RAW_METHODS = ("raw-kmeans", "pca-kmeans", "tsne-kmeans", "umap-gmm")
METHODS = STUDY_METHODS[NAME]
#: What runs without ``--methods``: all but umap-ae-n2d-input, which only shows what the code's graph adds.
DEFAULT_METHODS = tuple(m for m in METHODS if m != "umap-ae-n2d-input")
#: The rows that need the seed's plain pretrained autoencoder.
PRETRAINED_METHODS = (*AUTOENCODER_METHODS, *(m for m, (_, space) in UMAP_AE_METHODS.items() if space == "code"))
COSTLY = ("tsne-kmeans", "umap-gmm")
#: Published ACC of the same methods on the full MNIST / Fashion-MNIST (docs/benchmarks.md gives the sources).
PUBLISHED = {"n2d": {"mnist": 0.979, "fashion-mnist": 0.672}, "dec": {"mnist": 0.843}, "idec": {"mnist": 0.881}}


def _load(settings: StudySettings):
    dataset, _ = settings.data.load(remedy=FIX_BAD_ROWS_REMEDY)
    if dataset.y is None or len(np.unique(dataset.y)) < 2:
        raise ValueError(f"the {NAME} study measures clusters against labels, but {dataset.name} has no labels "
                         "of two classes or more; pass labelled data (--label-column for a table)")
    X = dataset.X.reshape(len(dataset.X), -1)
    y = np.asarray(dataset.y)
    if settings.quick:
        keep = np.sort(np.random.default_rng(settings.random_state).choice(len(X), min(QUICK_SAMPLES, len(X)),
                                                                           replace=False))
        X, y = X[keep], y[keep]
    X = MinMaxScaling.fit(X, per_feature=not dataset.is_image).transform(X)
    return dataset, X, y


def study_augmentation(settings: StudySettings) -> str:
    """The augmentation the study pretrains with: ``settings.augment``, else none (the literature's protocol)."""
    return settings.augment if settings.augment is not None else "none"


def _autoencoder(settings: StudySettings, epochs: int, seed: int, augmentation):
    if settings.quick:
        return clustering_autoencoder(epochs=epochs, random_state=seed, hidden=(32, 32, 64), device=settings.device,
                                      augmentation=clone(augmentation) if augmentation is not None else None)
    return clustering_autoencoder(epochs=epochs, random_state=seed, device=settings.device,
                                  augmentation=clone(augmentation) if augmentation is not None else None)


def _umap_autoencoder(settings: StudySettings, epochs: int, seed: int, augmentation, n_components: int,
                      space=None):
    """The study's autoencoder with the neighbour graph's UMAP loss (``NeighbourGraph``, its defaults, the
    neighbours found in ``space``'s transform of the samples or, None, among the samples) on a code of
    ``n_components``; its edge ends move with the augmentation as the reconstruction batch does."""
    graph = NeighbourGraph(space=None if space is None else FrozenEstimator(space))
    return _autoencoder(settings, epochs, seed, augmentation).set_params(n_components=n_components,
                                                                         penalties=(graph,))


def _autoencoder_methods(ae, X, k: int, seed: int, max_iter: int, neighbours: int, wanted):
    """Each method of ``wanted`` on the code of the one pretrained ``ae``: name -> (fitted clusterer, seconds)."""
    kwargs = {"max_iter": max_iter}
    fitted = {}
    for name, make in (("ae-kmeans", lambda: AutoencoderKMeans(ae, k, random_state=seed)),
                       ("ae-gmm", lambda: AutoencoderGaussianMixture(ae, k, random_state=seed)),
                       ("n2d", lambda: N2D(ae, k, n_neighbors=neighbours, random_state=seed)),
                       ("dec", lambda: DEC(ae, k, random_state=seed, **kwargs)),
                       ("idec", lambda: IDEC(ae, k, random_state=seed, **kwargs))):
        if name not in wanted and not (name == "n2d" and "idec-n2d" in wanted):
            continue
        with Stopwatch() as clock:
            model = make().fit(X)
        fitted[name] = (model, clock.seconds)
        if name in wanted:
            yield name, model, clock.seconds
    if "idec-n2d" not in wanted:
        return
    # IDEC started from the N2D clusters: their mean codes are the first centres
    n2d, n2d_seconds = fitted["n2d"]
    code = ae.transform(X)
    with Stopwatch() as clock:
        centres = np.stack([code[n2d.labels_ == j].mean(axis=0) for j in np.unique(n2d.labels_)])
        model = IDEC(ae, len(centres), init=centres, random_state=seed, **kwargs).fit(X)
    yield "idec-n2d", model, clock.seconds + n2d_seconds


def _umap_autoencoder_methods(settings: StudySettings, X, k: int, seed: int, epochs: int, augmentation,
                              neighbours: int, wanted, pretrained=None):
    """Each neighbour-graph row of ``wanted``: name -> (fitted clusterer, its pretraining seconds, its seconds).
    ``pretrained`` is the seed's plain autoencoder and its pretraining seconds, or None where no row needs it:
    the rows whose graph is of its code count its pretraining in theirs."""
    for name, (n_components, where) in UMAP_AE_METHODS.items():
        if name not in wanted:
            continue
        space, space_seconds = pretrained if where == "code" else (None, 0.0)
        with Stopwatch() as pretraining:
            ae = _umap_autoencoder(settings, min(epochs, UMAP_AE_EPOCHS), seed, augmentation, n_components,
                                   space).fit(X)
        logger.info(f"{NAME}: seed {seed}: {name}: {n_components}-D neighbour-graph autoencoder (neighbours in the "
                    f"{where}) pretrained in {pretraining.seconds:.0f} s")
        with Stopwatch() as clock:
            if name == "umap-ae-gmm":
                model = AutoencoderGaussianMixture(ae, k, random_state=seed).fit(X)
            else:
                model = N2D(ae, k, n_neighbors=neighbours, random_state=seed).fit(X)
        yield name, model, pretraining.seconds + space_seconds, clock.seconds


def _raw_methods(X, k: int, seed: int, costly: bool, neighbours: int, wanted):
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    def kmeans(Z):
        return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(Z)

    steps = {"raw-kmeans": lambda: kmeans(X),
             "pca-kmeans": lambda: kmeans(PCA(n_components=min(10, X.shape[1]), random_state=seed).fit_transform(X))}
    if costly and "tsne-kmeans" in wanted:
        steps["tsne-kmeans"] = lambda: kmeans(TSNEBaseline(n_components=2, random_state=seed).fit_transform(X))
    if costly and "umap-gmm" in wanted:
        def umap_gmm():
            _, embedding = umap_embedding(X, k, n_neighbors=neighbours, random_state=seed)
            return GaussianMixture(k, covariance_type="full", n_init=10, reg_covar=1e-5,
                                   random_state=seed).fit(embedding).predict(embedding)

        steps["umap-gmm"] = umap_gmm
    for name, step in steps.items():
        if name not in wanted:
            continue
        with Stopwatch() as clock:
            labels = step()
        yield name, labels, clock.seconds


def _scores(y, labels) -> dict[str, float]:
    return {"accuracy": clustering_accuracy(y, labels), "nmi": nmi(y, labels), "ari": ari(y, labels)}


def _log_row(row: dict) -> None:
    logger.info(f"{NAME}: seed {row['seed']}: {row['method']}: ACC {row['accuracy']:.4f} NMI {row['nmi']:.4f} "
                f"ARI {row['ari']:.4f} ({row['seconds']:.0f} s)")


def _summary(per_seed: list[dict]) -> list[dict]:
    rows = []
    for method in METHODS:
        runs = [r for r in per_seed if r["method"] == method]
        if not runs:
            continue
        row = {"method": method, "seeds": len(runs)}
        for metric in ("accuracy", "nmi", "ari"):
            values = np.array([r[metric] for r in runs])
            row[f"{metric}_mean"] = float(values.mean())
            row[f"{metric}_std"] = float(values.std())
        row["seconds"] = float(np.mean([r["seconds"] for r in runs]))
        pretrain = [r["pretrain_seconds"] for r in runs if r.get("pretrain_seconds") is not None]
        row["pretrain_seconds"] = float(np.mean(pretrain)) if pretrain else None
        rows.append(row)
    return rows


def _figures(summary: list[dict], kept: dict, X, y, dataset, seed: int) -> dict:
    """The clusters of the autoencoder method of best mean accuracy, on the first seed."""
    from aelab import plots

    best = max((r for r in summary if r["method"] in kept), key=lambda r: r["accuracy_mean"])
    embedding, code, labels = kept[best["method"]]
    what = "the code" if embedding is None else "the UMAP embedding of the code"
    figures = {
        "clusters.png": plots.cluster_scatter(code if embedding is None else embedding, labels, y,
                                              dataset.label_names,
                                              title=f"{best['method']} on {dataset.name}, seed {seed}: "
                                                    f"{what} coloured by cluster and by label"),
        "cluster_samples.png": plots.cluster_samples(X, labels, dataset.sample_shape, random_state=seed,
                                                     title=f"{best['method']}: random samples of each cluster")
        if dataset.is_image else None,
    }
    return {name: figure for name, figure in figures.items() if figure is not None}


def run(settings: StudySettings) -> StudyResult:
    """Pretrain one autoencoder per seed, cluster its code with every method, cluster the raw input with the
    baselines, and summarise ACC, NMI and ARI over the seeds."""
    epochs = settings.epochs_or(full=EPOCHS, quick=2)
    n_seeds = settings.seeds if settings.seeds else (2 if settings.quick else N_SEEDS)
    max_iter = 30 if settings.quick else MAX_ITER
    with Stopwatch() as total:
        dataset, X, y = _load(settings)
        augment = study_augmentation(settings)
        augmentation = image_augmentation(dataset, augment)
        k = len(np.unique(y))
        neighbours = min(20, len(X) // 4)
        seeds = [settings.random_state + i for i in range(n_seeds)]
        wanted = set(settings.methods or DEFAULT_METHODS)
        per_seed, kept = [], {}
        for seed in seeds:
            pretrained, fitted = None, ()
            if wanted & set(PRETRAINED_METHODS):
                with Stopwatch() as pretraining:
                    ae = _autoencoder(settings, epochs, seed, augmentation).fit(X)
                logger.info(f"{NAME}: seed {seed}: autoencoder pretrained in {pretraining.seconds:.0f} s "
                            f"(final loss {ae.history_['train_loss'][-1]:.5f})")
                on_code = _autoencoder_methods(ae, X, k, seed, max_iter, neighbours, wanted)
                fitted = ((name, model, pretraining.seconds, seconds) for name, model, seconds in on_code)
                pretrained = (ae, pretraining.seconds)
            for name, model, pretrain_seconds, seconds in chain(fitted, _umap_autoencoder_methods(
                    settings, X, k, seed, epochs, augmentation, neighbours, wanted, pretrained)):
                row = {"method": name, "seed": seed, **_scores(y, model.labels_), "seconds": seconds,
                       "pretrain_seconds": pretrain_seconds}
                if hasattr(model, "n_iter_"):
                    row["iterations"] = model.n_iter_
                per_seed.append(row)
                _log_row(row)
                if seed == seeds[0]:
                    kept[name] = (getattr(model, "embedding_", None), model.autoencoder_.transform(X), model.labels_)
            costly = len(X) <= LARGE or seed == seeds[0]
            for name, labels, seconds in _raw_methods(X, k, seed, costly, neighbours, wanted):
                per_seed.append({"method": name, "seed": seed, **_scores(y, labels), "seconds": seconds})
                _log_row(per_seed[-1])
        summary = _summary(per_seed)
        figures = _figures(summary, kept, X, y, dataset, seeds[0]) if kept else {}
    family = "fashion-mnist" if "fashion" in dataset.name else "mnist"
    notes = [f"All {len(X)} samples are clustered and scored (unsupervised, as in the literature); mean and "
             f"standard deviation over seeds {seeds[0]}..{seeds[-1]}; {k} clusters.",
             f"Autoencoder {X.shape[1]}-" + "-".join(map(str, _autoencoder(settings, epochs, 0, None).encoder.hidden))
             + f"-10 pretrained for {epochs} epochs per seed (pretrain_seconds), shared by all its methods; "
             "seconds is each method's own time after pretraining (idec-n2d includes its N2D step).",
             "umap-ae-gmm, umap-ae-n2d and umap-ae-n2d-input each pretrain their own autoencoder, the same network "
             f"and training (at most {UMAP_AE_EPOCHS} epochs) with the neighbour graph's UMAP loss on the code "
             "(aelab.parts.NeighbourGraph, its defaults: 15 neighbours, min_dist 0.1): a Gaussian mixture (5 inits) "
             "of its 2-D code, and N2D over its 10-D code. Their graphs join each sample to its neighbours in the "
             "input, except umap-ae-n2d's, whose neighbours are found in the code of the seed's plain pretrained "
             "autoencoder (its pretrain_seconds include that autoencoder's).",
             "Pretraining augmentation: " + describe_augmentation(augment)
             + ("; DEC and IDEC fine-tune on batches moved the same way." if augment != "none" else "."),
             f"DEC and IDEC: target update every 140 iterations, stop below 0.1% changed assignments, at most "
             f"{max_iter} iterations.",
             "PCA k-means: 10 components; t-SNE k-means: openTSNE 2-D, perplexity 30; UMAP+GMM: UMAP of the raw "
             "input to as many dimensions as clusters (20 neighbours, min_dist 0), Gaussian mixture of 10 inits."]
    if len(X) > LARGE and len(seeds) > 1:
        notes.append(f"Above {LARGE} samples t-SNE k-means and UMAP+GMM of the raw input ran on the first seed only "
                     "(the seeds column).")
    published = {m: v[family] for m, v in PUBLISHED.items() if family in v}
    notes.append("Published ACC on the full " + ("Fashion-MNIST" if family == "fashion-mnist" else "MNIST") + ": "
                 + ", ".join(f"{m} {v}" for m, v in published.items()) + ".")
    return StudyResult(
        study=NAME, title=f"Deep clustering on {dataset.name}: {len(X)} samples, {len(seeds)} seeds",
        settings={"epochs": epochs, "seeds": seeds, "max_iter": max_iter, "n_clusters": k, "quick": settings.quick,
                  "device": settings.device, "augment": augment,
                  "methods": sorted(wanted, key=METHODS.index)},
        data={"name": dataset.name, "n_train_used": len(X), "n_test_used": f"the same {len(X)}"},
        tables={"mean and standard deviation over seeds": summary, "every seed": per_seed},
        figures=figures, notes=notes, extra={"published_accuracy": published}, seconds=total.seconds)
