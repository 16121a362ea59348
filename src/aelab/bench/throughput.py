"""Training throughput of the dense autoencoder against the machine's arithmetic bound, measured together.

The bound is what the matrix multiplications of one training step cost on this machine at the same shapes:
for every linear layer the forward product, the weight gradient and (except for the first layer, whose input
needs no gradient) the input gradient, timed back to back with torch.mm. Samples per second of real training
divided by that bound is the share of the time spent on arithmetic that cannot be avoided.
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

HIDDEN = (512, 256)
LATENT = 32


@dataclass
class ThroughputRow:
    batch_size: int
    samples_per_second: float
    bound_samples_per_second: float
    matmul_gflops: float
    ratio_to_bound: float


def layer_shapes(n_features: int, hidden=HIDDEN, latent: int = LATENT) -> list[tuple[int, int]]:
    widths = [n_features, *hidden, latent, *reversed(hidden), n_features]
    return list(zip(widths[:-1], widths[1:], strict=True))


def flops_per_sample(shapes: list[tuple[int, int]]) -> float:
    """Multiply-add FLOPs of the GEMMs one training step runs per sample (forward, weight and input grads)."""
    total = 0
    for i, (n_in, n_out) in enumerate(shapes):
        products = 3 if i > 0 else 2
        total += 2 * n_in * n_out * products
    return float(total)


def _gemm_workload(shapes: list[tuple[int, int]], batch_size: int) -> list:
    """The products one training step runs, laid out as autograd runs them (weights stored (out, in))."""
    generator = torch.Generator().manual_seed(0)
    work = []
    for i, (n_in, n_out) in enumerate(shapes):
        x = torch.rand(batch_size, n_in, generator=generator)
        weight = torch.rand(n_out, n_in, generator=generator)
        bias = torch.rand(n_out, generator=generator)
        grad = torch.rand(batch_size, n_out, generator=generator)
        work.append(lambda x=x, w=weight, b=bias: torch.addmm(b, x, w.t()))   # forward
        work.append(lambda x=x, g=grad: g.t().mm(x))                          # weight gradient
        if i > 0:
            work.append(lambda g=grad, w=weight: g.mm(w))                     # input gradient
    return work


def matmul_seconds(work: list, duration: float) -> tuple[float, int]:
    """Total time and number of back-to-back passes over the step's products for about ``duration`` s."""
    for product in work:  # warm-up
        product()
    passes, start = 0, time.perf_counter()
    while True:
        for product in work:
            product()
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= duration:
            return elapsed, passes


def training_epoch_seconds(X: np.ndarray, batch_size: int, epochs: int) -> list[float]:
    """Wall time of each epoch of ``Autoencoder.fit`` (no validation split, no early stopping)."""
    from aelab import Autoencoder

    ae = Autoencoder(hidden=HIDDEN, latent_dim=LATENT, epochs=epochs, batch_size=batch_size,
                     validation_fraction=0.0, patience=None, random_state=0, device="cpu").fit(X)
    return ae.epoch_seconds_


def measure(X: np.ndarray, batch_size: int, rounds: int, epochs: int) -> ThroughputRow:
    """Sustained throughput of training and of its products alone, measured in alternation.

    A shared machine's speed drifts by tens of percent within seconds; alternating the two measurements
    over several rounds and comparing their sustained (not best-case) rates keeps the ratio about the code.
    """
    shapes = layer_shapes(X.shape[1])
    work = _gemm_workload(shapes, batch_size)
    gemm_time, gemm_passes, train_time, train_epochs = 0.0, 0, 0.0, 0
    for _ in range(rounds):
        elapsed, passes = matmul_seconds(work, duration=1.5)
        gemm_time, gemm_passes = gemm_time + elapsed, gemm_passes + passes
        seconds = training_epoch_seconds(X, batch_size, epochs)
        train_time, train_epochs = train_time + sum(seconds), train_epochs + len(seconds)
    bound = batch_size * gemm_passes / gemm_time
    measured = len(X) * train_epochs / train_time
    gflops = flops_per_sample(shapes) * bound / 1e9
    return ThroughputRow(batch_size, measured, bound, gflops, measured / bound)


def load_training_data(name: str) -> np.ndarray:
    from aelab.data import load_dataset, split_dataset
    from aelab.runs import scale_split

    dataset = load_dataset(name)
    split = split_dataset(dataset)
    return scale_split(dataset, split)[1]


def run(data: str, batch_sizes: list[int], rounds: int, epochs: int) -> dict:
    X = load_training_data(data)
    training_epoch_seconds(X[:4096], 256, 1)  # warm-up: first-call kernel set-up is not what we measure
    rows = [measure(X, batch_size, rounds, epochs) for batch_size in batch_sizes]
    return {
        "data": data,
        "n_samples": len(X),
        "model": "-".join(str(w) for w in [X.shape[1], *HIDDEN, LATENT, *reversed(HIDDEN), X.shape[1]]),
        "flops_per_sample": flops_per_sample(layer_shapes(X.shape[1])),
        "rounds": rounds,
        "epochs_per_round": epochs,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "rows": [asdict(r) for r in rows],
    }


def format_report(result: dict) -> str:
    lines = [
        f"dense autoencoder {result['model']} on {result['data']} ({result['n_samples']} samples), "
        f"{result['rounds']} rounds of {result['epochs_per_round']} epoch(s); torch {result['torch']}, "
        f"{result['threads']} threads",
        f"GEMM FLOPs per sample per training step: {result['flops_per_sample'] / 1e6:.2f} M",
        "",
        f"{'batch':>6}  {'train samples/s':>15}  {'bound samples/s':>15}  {'GEMM GFLOP/s':>12}  {'ratio':>6}",
    ]
    for r in result["rows"]:
        lines.append(f"{r['batch_size']:>6}  {r['samples_per_second']:>15,.0f}  {r['bound_samples_per_second']:>15,.0f}"
                     f"  {r['matmul_gflops']:>12.1f}  {r['ratio_to_bound']:>6.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aelab.bench.throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--batch-sizes", default="256,1024")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of bound and training measurement")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs per round")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    result = run(args.data, [int(b) for b in args.batch_sizes.split(",")], args.rounds, args.epochs)
    print(format_report(result))
    if args.json:
        from aelab.persistence import atomic_write_json

        atomic_write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
