"""One autoencoder of the ``variants`` study under changed settings: what moves its clustering accuracy.

    python -m aelab.bench.variants_probe --data mnist5k --kind vanilla --latent 32 --n-train 1000 --steps 1250
    python -m aelab.bench.variants_probe --data mnist5k --kind vanilla --latent 32 --learning-rate 3e-4 --seed 1
    python -m aelab.bench.variants_probe --data mnist5k --kind variational-batch --latent 32 --beta 0.01
    python -m aelab.bench.variants_probe --data mnist5k --kind vanilla --latent 32 --augment affine

Trains the study's convolutional autoencoder of one kind and code size (``aelab.bench.variants``) on a random
subset of the training part for about ``--steps`` Adam steps (the epochs are rounded from it), with the
learning rate and batch size given (and optionally another beta for the variational kinds, or the training
images randomly moved by ``--augment affine``, see aelab.parts.augmentations), and prints one line: k-means and
Gaussian-mixture ACC (%) of the codes of the test part, as the study measures them, and of the codes of the
test and training parts together. The
study's own setting is 40 epochs of batch 128 on the whole training part (``--steps 1250``; on mnist5k's
4,000 training digits that is 1,280 optimizer steps, as each epoch ends with a shorter batch).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from aelab.bench.study import StudySettings, load_study_data
from aelab.bench.variants import CONV, KINDS, conv_autoencoder
from aelab.data import DataOptions
from aelab.metrics import clustering_accuracy, gmm_labels, kmeans_labels
from aelab.parts.augmentations import AUGMENT_CHOICES, image_augmentation


def probe(data: str, kind: str = "vanilla", latent: int = 32, n_train: int | None = None, steps: int = 1250,
          learning_rate: float = 1e-3, batch_size: int = CONV["batch_size"], seed: int = 0,
          device: str = "cpu", beta: float | None = None, augment: str = "none") -> dict:
    """Fit one autoencoder of the study with these settings and measure its codes; returns a record."""
    split = load_study_data(StudySettings(data=DataOptions(data), random_state=seed), n_train=n_train)
    n = len(split.X_train)
    epochs = max(1, round(steps * batch_size / n))
    ae = conv_autoencoder(kind, latent, epochs, seed, device).set_params(learning_rate=learning_rate,
                                                                         batch_size=batch_size,
                                                                         augmentation=image_augmentation(
                                                                             split.dataset, augment))
    if beta is not None:
        ae.set_params(latent__beta=beta)
    started = time.perf_counter()
    ae.fit(split.X_train)
    seconds = time.perf_counter() - started
    y_all = np.concatenate([split.y_test, split.y_train])
    k = len(np.unique(y_all))
    record = {"data": data, "kind": kind, "latent": latent, "n_train": n, "epochs": epochs,
              "steps": epochs * -(-n // batch_size), "learning_rate": learning_rate, "batch_size": batch_size,
              "beta": ae.get_params().get("latent__beta"), "augment": augment, "seed": seed,
              "fit_seconds": round(seconds, 1)}
    codes = {"test": (ae.transform(split.X_test), split.y_test),
             "all": (np.vstack([ae.transform(split.X_test), ae.transform(split.X_train)]), y_all)}
    for part, (code, y) in codes.items():
        for method, labels in (("kmeans", kmeans_labels), ("gmm", gmm_labels)):
            accuracy = clustering_accuracy(y, labels(code, k, random_state=seed))
            record[f"{part}_{method}_accuracy_%"] = round(100 * accuracy, 1)
    return record


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist5k")
    parser.add_argument("--kind", default="vanilla", choices=list(KINDS))
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--n-train", type=_positive_int, default=None, help="random subset of the training part")
    parser.add_argument("--steps", type=_positive_int, default=1250, help="about this many Adam steps")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=_positive_int, default=CONV["batch_size"])
    parser.add_argument("--beta", type=float, default=None, help="weight of the KL term (default: the study's)")
    parser.add_argument("--augment", default="none", choices=tuple(AUGMENT_CHOICES),
                        help="move each training image by a random affine map (aelab.parts.augmentations)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    try:
        record = probe(args.data, args.kind, args.latent, args.n_train, args.steps, args.learning_rate,
                       args.batch_size, args.seed, args.device, beta=args.beta, augment=args.augment)
    except ValueError as e:
        parser.exit(2, f"error: {e}\n")
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
