"""Every kind of autoencoder side by side: test reconstruction MSE, k-means accuracy of the code, train time.

    python -m aelab.bench.kinds --data fashion-mnist --latent 2 32 --epochs 10 --out runs/kinds

Writes ``kinds.json`` and prints one table per latent size, with PCA of as many components as a row, plus
the denoising comparison (Gaussian noise sigma = 0.5, clipped to [0, 1]: PSNR of the noisy input, of the
vanilla autoencoder's and of the denoising autoencoder's reconstruction) and the mean Jacobian norm of each
encoder on the test data.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from aelab.data import load_dataset, split_dataset
from aelab.estimators import Autoencoder
from aelab.io import atomic_write_json
from aelab.logs import command_line_logging
from aelab.metrics import psnr, reconstruction_mse
from aelab.parts.kinds import KINDS, kind
from aelab.runs import code_metrics, scale_split

logger = logging.getLogger(__name__)


def _subset(X, y, n, seed):
    if n is None or n >= len(X):
        return X, y
    index = np.random.default_rng(seed).choice(len(X), n, replace=False)
    return X[index], (None if y is None else y[index])


def compare_kinds(data: str, latents, epochs: int, kinds, n_train: int | None, n_test: int | None, seed: int,
                  hidden=(512, 256), device: str = "auto") -> dict:
    """Fit each kind at each latent size and measure it on the test part; returns the rows and the PSNRs."""
    from sklearn.decomposition import PCA

    dataset = load_dataset(data)
    split = split_dataset(dataset, test_size=0.2, random_state=seed)
    _, X_train, X_test = scale_split(dataset, split)
    X_train, _ = _subset(X_train, split.y_train, n_train, seed)
    X_test, y_test = _subset(X_test, split.y_test, n_test, seed)
    rng = np.random.default_rng(seed)
    noisy = np.clip(X_test + 0.5 * rng.standard_normal(X_test.shape), 0, 1).astype(X_test.dtype)
    result = {"data": data, "n_train": len(X_train), "n_test": len(X_test), "epochs": epochs, "rows": [],
              "denoising": {}}
    for latent in latents:
        started = time.perf_counter()
        pca = PCA(n_components=latent, random_state=seed).fit(X_train)
        seconds = time.perf_counter() - started
        code = pca.transform(X_test)
        result["rows"].append({"latent": latent, "method": "pca",
                               "reconstruction_mse": reconstruction_mse(X_test, pca.inverse_transform(code)),
                               **code_metrics(X_test, code, y_test, seed), "fit_seconds": seconds})
        for name in kinds:
            ae = Autoencoder(**kind(name, hidden=hidden, n_components=latent, epochs=epochs, learning_rate=1e-3,
                                    random_state=seed, device=device))
            if ae.encoder.needs_image_shape:
                ae.set_params(encoder__sample_shape=tuple(dataset.sample_shape))
            if ae.latent.has_elbo:
                ae.set_params(loss="bce")
            started = time.perf_counter()
            ae.fit(X_train)
            seconds = time.perf_counter() - started
            code = ae.transform(X_test)
            row = {"latent": latent, "method": name,
                   "reconstruction_mse": reconstruction_mse(X_test, ae.reconstruct(X_test)),
                   **code_metrics(X_test, code, y_test, seed), "fit_seconds": seconds,
                   "jacobian_norm": float(ae.jacobian_norm(X_test[:1000]).mean())}
            if ae.has_elbo:
                row["elbo"] = float(ae.elbo(X_test, random_state=seed).mean())
            if name in ("vanilla", "denoising"):
                result["denoising"].setdefault(str(latent), {"noisy_input": psnr(X_test, noisy)})[name] = psnr(
                    X_test, ae.denoise(noisy))
            result["rows"].append(row)
            accuracy = row.get("kmeans_accuracy")
            logger.info("latent %d, %s: test MSE %.4f, k-means ACC %s, %.1f s", latent, name, row["reconstruction_mse"],
                        "-" if accuracy is None else f"{accuracy:.3f}", seconds)
    return result


def format_table(rows) -> str:
    columns = ["latent", "method", "reconstruction_mse", "kmeans_accuracy", "fit_seconds", "jacobian_norm", "elbo"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c)
            cells.append("-" if v is None else f"{v:.4f}" if isinstance(v, float) and abs(v) < 10 else
                         f"{v:.1f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--latent", type=int, nargs="+", default=[2, 32])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--n-train", type=int, default=None, help="random subset of the training part")
    parser.add_argument("--n-test", type=int, default=None, help="random subset of the test part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=None, help="folder for kinds.json")
    args = parser.parse_args(argv)
    with command_line_logging():
        result = compare_kinds(args.data, args.latent, args.epochs, args.kinds, args.n_train, args.n_test,
                               args.seed, device=args.device)
    print(format_table(result["rows"]))
    for latent, values in result["denoising"].items():
        print(f"denoising PSNR (dB), latent {latent}: " + ", ".join(f"{k} {v:.2f}" for k, v in values.items()))
    if args.out:
        atomic_write_json(Path(args.out) / "kinds.json", result)


if __name__ == "__main__":
    main()
