"""What compare's umap-ae costs against umap-learn's UMAP on the same training rows: seconds and peak memory of
building the graph, of fitting umap-ae (graphs included) and of fitting UMAP.

    python -m aelab.bench.umap_cost [--data fashion-mnist] [--n-train N] [--seed 0] [--steps graph,umap-ae]
                                    [--epochs E] [--augment NAME]

The training split of the data (the official 60,000 images of Fashion-MNIST), scaled as ``aelab compare`` scales
it. Each step runs in its own child process, one after another, so that each peak resident memory (the child's
``ru_maxrss``) is its own: ``load`` (import and load only: the floor of every step), ``graph``
(``aelab.parts.neighbour_graph.fuzzy_neighbour_graph`` with 15 neighbours, the graph a umap-ae fit builds
twice: for its start, of the rows it trains on, then for its layout, of all of them),
``umap-ae`` (compare's umap-ae with the dense 784-400-200-100-50-2 encoder, ``--epochs`` and ``--augment`` as
compare's, on CPU: its start, the neighbour-graph autoencoder, timed apart, then the free layout and the network
that learns it, ``aelab.parts.FreeLayout``) and
``umap`` (compare's UMAP baseline: umap-learn, 2-D, 15 neighbours, seeded).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import time

from aelab.names import AUGMENTATIONS

logger = logging.getLogger(__name__)

STEPS = ("load", "graph", "umap-ae", "umap")
#: The network compare's autoencoders get in ``make demo`` and in docs/umap-ae.md.
HIDDEN = (400, 200, 100, 50)


def _training_rows(data: str, n_train: int | None, seed: int):
    """The data set and its scaled training rows (the first ``n_train`` of them, or all)."""
    from aelab.data import DataOptions
    from aelab.runs import scale_split

    options = DataOptions(data)
    dataset, _ = options.load(seed)
    split = options.split(dataset, seed)
    _, X_train, _ = scale_split(dataset, split)
    return dataset, (X_train[:n_train] if n_train else X_train)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(step: str, data: str, n_train: int | None, seed: int, epochs: int | None = None,
           augment: str = "none") -> dict:
    import numpy as np
    import torch

    dataset, X = _training_rows(data, n_train, seed)
    result = {"step": step, "rows": len(X), "floor_mib": round(_peak_mib(), 1)}
    started = time.perf_counter()
    if step == "graph":
        from aelab.parts.neighbour_graph import fuzzy_neighbour_graph

        graph = fuzzy_neighbour_graph(X, 15, random_state=seed)
        result["edges"] = len(graph.weights)
    elif step == "umap-ae":
        from aelab.compare import METHODS, CompareJob
        from aelab.data import DataOptions

        job = CompareJob(data=DataOptions(data), n_components=2, hidden=HIDDEN, epochs=epochs, random_state=seed,
                         device="cpu", augment=augment)
        ae = METHODS["umap-ae"].make(job, dataset)
        # the start compare's umap-ae fits first (a clone of it, on the same rows), fitted here to time it apart
        start = ae.penalties[0].start.fit(X)
        result.update(start_epochs=start.n_epochs_, start_seconds=round(time.perf_counter() - started, 1))
        ae.set_params(penalties__free_layout__start=start).fit(X)
        result.update(epochs=ae.n_epochs_, training_seconds=round(float(np.sum(ae.epoch_seconds_)), 1),
                      seconds_per_epoch=round(float(np.mean(ae.epoch_seconds_)), 1))
    elif step == "umap":
        from aelab.baselines import UMAPBaseline

        UMAPBaseline(n_components=2, random_state=seed).fit(X)
    result.update(seconds=round(time.perf_counter() - started, 1), peak_mib=round(_peak_mib(), 1),
                  torch_threads=torch.get_num_threads())
    return result


def run(data: str, n_train: int | None, seed: int, steps=STEPS, epochs: int | None = None,
        augment: str = "none") -> list[dict]:
    """Each of ``steps`` in a child process, one after another: its seconds and peak resident memory."""
    rows = []
    for step in steps:
        command = [sys.executable, "-m", "aelab.bench.umap_cost", "--child", step, "--data", data, "--seed", str(seed),
                   "--augment", augment]
        if n_train:
            command += ["--n-train", str(n_train)]
        if epochs:
            command += ["--epochs", str(epochs)]
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the {step} step failed with exit code {done.returncode}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        logger.info("%s", rows[-1])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aelab.bench.umap_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="fashion-mnist", help="built-in data set (default: fashion-mnist)")
    parser.add_argument("--n-train", type=int, default=None, help="first N training rows only (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="split, graph and weights seed (default: 0)")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated steps among {', '.join(STEPS)} (default: all)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="umap-ae's epochs (default: its step budget)")
    parser.add_argument("--augment", default="none", choices=AUGMENTATIONS,
                        help="umap-ae's augmentation, as compare's --augment (default: none)")
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.data, args.n_train, args.seed, args.epochs, args.augment)),
              flush=True)
        return 0
    steps = [step.strip() for step in args.steps.split(",") if step.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown or not steps:
        parser.error(f"--steps: unknown step(s) {', '.join(unknown) or '(none given)'}; choose among "
                     f"{', '.join(STEPS)}")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = run(args.data, args.n_train, args.seed, steps, args.epochs, args.augment)
    print("| step | rows | seconds | peak MiB | floor MiB | above floor MiB |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['step']} | {row['rows']} | {row['seconds']} | {row['peak_mib']} | {row['floor_mib']} | "
              f"{row['peak_mib'] - row['floor_mib']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
