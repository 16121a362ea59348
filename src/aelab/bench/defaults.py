"""The default ``Autoencoder()`` against PCA with as many components: test reconstruction MSE.

    python -m aelab.bench.defaults                          # docs/defaults.md: digits, mnist5k, blobs; code 2
    python -m aelab.bench.defaults --seeds 0 1 2 --n-components 2 8

Each dataset is split and scaled as ``aelab train`` splits and scales it (``aelab.data.DataOptions`` with
test_size 0.2, stratified, split seed ``--split-seed``; min-max scaling fitted on the training part, globally
for images and per feature otherwise). ``Autoencoder(n_components=k, random_state=seed)`` keeps every other
parameter at its default; PCA is scikit-learn's with the same ``k``. Both are measured by the mean squared
error of the test part's reconstruction. Printed as a Markdown table, one row per dataset, code size and seed.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

DATASETS = ("digits", "mnist5k", "blobs")


@dataclass
class Comparison:
    """One dataset, code size and seed: the default autoencoder's and PCA's test reconstruction MSE."""

    data: str
    n_components: int
    seed: int
    autoencoder_mse: float
    pca_mse: float
    max_epochs: int
    epochs_run: int
    best_epoch: int
    fit_seconds: float


def compare_with_pca(data: str, n_components: int, seed: int, split_seed: int = 0, device: str = "cpu") -> Comparison:
    """Fit the default autoencoder (seeded with ``seed``) and PCA on ``data``'s training part and measure both on
    its test part, split with ``split_seed`` and scaled as ``aelab train`` does."""
    from sklearn.decomposition import PCA

    from aelab.data import DataOptions
    from aelab.estimators import Autoencoder
    from aelab.metrics import reconstruction_mse
    from aelab.runs import scale_split

    options = DataOptions(data)
    dataset, _ = options.load(split_seed)
    _, X_train, X_test = scale_split(dataset, options.split(dataset, split_seed))
    started = time.perf_counter()
    autoencoder = Autoencoder(n_components=n_components, random_state=seed, device=device).fit(X_train)
    seconds = time.perf_counter() - started
    pca = PCA(n_components=n_components, random_state=seed).fit(X_train)
    return Comparison(data, n_components, seed,
                      autoencoder_mse=reconstruction_mse(X_test, autoencoder.reconstruct(X_test)),
                      pca_mse=reconstruction_mse(X_test, pca.inverse_transform(pca.transform(X_test))),
                      max_epochs=autoencoder.epochs_, epochs_run=autoencoder.n_epochs_,
                      best_epoch=autoencoder.best_epoch_, fit_seconds=seconds)


def format_table(rows: list[Comparison]) -> str:
    """The comparisons as a Markdown table."""
    lines = ["| data | code | seed | Autoencoder() test MSE | PCA test MSE | AE / PCA | epochs (limit) | best "
             "epoch | fit s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.data} | {r.n_components} | {r.seed} | {r.autoencoder_mse:.4f} | {r.pca_mse:.4f} | "
                     f"{r.autoencoder_mse / r.pca_mse:.2f} | {r.epochs_run} ({r.max_epochs}) | {r.best_epoch} | "
                     f"{r.fit_seconds:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aelab.bench.defaults", description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", default=list(DATASETS), help="datasets (default: %(default)s)")
    parser.add_argument("--n-components", nargs="+", type=int, default=[2], help="code sizes (default: 2)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="random_state of each fit (default: 0)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the train/test split (default: 0)")
    parser.add_argument("--device", default="cpu", help="device of the fits (default: cpu)")
    args = parser.parse_args(argv)
    rows = [compare_with_pca(data, k, seed, args.split_seed, args.device)
            for data in args.data for k in args.n_components for seed in args.seeds]
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
