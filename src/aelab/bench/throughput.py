"""Training throughput against the machine's arithmetic bound and against a plain PyTorch loop, measured together.

    python -m aelab.bench.throughput                # make bench: both models, batch 128, 256 and 1024
    python -m aelab.bench.throughput --quick        # tiny sizes, seconds: checks that everything runs

For the dense 784-512-256-32 autoencoder and a convolutional one (kernel 4, stride 2, filters 32 and 64, no
dense layer, code 32), at each batch size, three rates in samples per second, measured in alternation
over several rounds so that all three see the same machine:

- ours: ``Autoencoder.fit`` (no validation split, no early stopping), from its per-epoch times;
- plain loop: the same network and loss trained by the loop of the PyTorch tutorials, a DataLoader over a
  TensorDataset (shuffle=True), ``torch.optim.Adam``;
- bound: the products alone at the same shapes. Dense: for every linear layer the forward product, the weight
  gradient and (except for the first layer, whose input needs no gradient) the input gradient, timed back to
  back with torch.mm. Conv: each layer (convolution, transposed convolution, linear) forward and backward
  alone at its own input shape, which is the same set of products.

Printed as ratios (ours / bound, ours / plain loop); also the encode rate (``transform``), the process's peak
resident memory, and a streaming check: a 2 GB float32 .npy made in a temporary folder is trained on from a
subprocess (``Autoencoder.fit(StreamingSource)``), whose peak resident memory and samples/s are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

HIDDEN = (512, 256)
LATENT = 32
CONV = {"filters": (32, 64), "kernel_size": 4, "stride": 2}
#: The encoder part of each model: its class name and parameters (aelab.parts).
MODELS = {"dense": ("Dense", {"hidden": HIDDEN}), "conv": ("Conv", CONV)}
BATCH_SIZES = (128, 256, 1024)
STREAM_BYTES = 2 * 10**9


@dataclass
class ThroughputRow:
    """One model at one batch size: the three training rates, in samples per second, and their ratios."""

    batch_size: int
    samples_per_second: float
    plain_samples_per_second: float
    bound_samples_per_second: float
    bound_gflops: float
    ratio_to_bound: float
    ratio_to_plain: float


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


def _autoencoder(model: str, batch_size: int, epochs: int, device: str):
    from aelab import Autoencoder
    from aelab.parts import PARTS

    part, params = MODELS[model]
    return Autoencoder(encoder=PARTS[part](**params), n_components=LATENT, epochs=epochs, batch_size=batch_size,
                       validation_fraction=0.0, patience=None, random_state=0, device=device)


def _network(model: str, n_features: int, device: str):
    """The network ``Autoencoder`` builds for ``model`` (sigmoid output), on ``device``."""
    from aelab.training import resolve_device

    ae = _autoencoder(model, 256, 1, device)
    shape = (1, *[int(round(n_features ** 0.5))] * 2) if ae.encoder.needs_image_shape else None
    return ae.build_network(n_features, "sigmoid", seed=0, sample_shape=shape).to(resolve_device(device))


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_epoch_seconds(X: np.ndarray, batch_size: int, epochs: int, model: str = "dense",
                           device: str = "cpu") -> list[float]:
    """Wall time of each epoch of ``Autoencoder.fit`` (no validation split, no early stopping)."""
    return _autoencoder(model, batch_size, epochs, device).fit(X).epoch_seconds_


def plain_loop_epoch_seconds(X: np.ndarray, batch_size: int, epochs: int, model: str = "dense",
                             device: str = "cpu") -> list[float]:
    """Wall time of each epoch of the textbook loop: DataLoader(TensorDataset, shuffle=True), Adam, same net."""
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset

    network = _network(model, X.shape[1], device)
    target = next(network.parameters()).device
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))),
                        batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))
    seconds = []
    network.train()
    for _ in range(epochs):
        started = time.perf_counter()
        for (x,) in loader:
            x = x.to(target, non_blocking=True)
            optimizer.zero_grad()
            _, logits = network(x)
            loss = F.mse_loss(torch.sigmoid(logits), x)
            loss.backward()
            optimizer.step()
        _synchronize(target)
        seconds.append(time.perf_counter() - started)
    return seconds


def _leaf_layers(network, n_features: int, device: torch.device) -> list[tuple[torch.nn.Module, tuple]]:
    """The network's linear and (transposed) convolution layers in forward order, with their input shapes."""
    found = []
    kinds = (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    hooks = [m.register_forward_hook(lambda m, args, out: found.append((m, tuple(args[0].shape[1:]))))
             for m in network.modules() if isinstance(m, kinds)]
    with torch.no_grad():
        network.decode(network.encode(torch.zeros(1, n_features, device=device)))
    for hook in hooks:
        hook.remove()
    return found


def layer_flops_per_sample(layers: list[tuple[torch.nn.Module, tuple]]) -> float:
    """FLOPs of one training step per sample: each layer forward, weight gradient and (but the first) input
    gradient, each 2 x its multiply-adds."""
    total = 0.0
    for i, (layer, shape) in enumerate(layers):
        if isinstance(layer, torch.nn.Linear):
            macs = layer.in_features * layer.out_features
        else:
            out = layer(torch.zeros(1, *shape, device=layer.weight.device))
            k = layer.weight.shape[2] * layer.weight.shape[3]
            if isinstance(layer, torch.nn.Conv2d):
                macs = out[0].numel() * layer.in_channels * k
            else:
                macs = int(np.prod(shape)) * layer.out_channels * k
        total += 2 * macs * (3 if i > 0 else 2)
    return float(total)


def _layer_workload(layers: list[tuple[torch.nn.Module, tuple]], batch_size: int) -> list:
    """Each layer's forward and backward alone, at its input shape: the products of one training step."""
    generator = torch.Generator().manual_seed(0)
    work = []
    for i, (layer, shape) in enumerate(layers):
        device = layer.weight.device
        x = torch.rand(batch_size, *shape, generator=generator).to(device).requires_grad_(i > 0)
        grad = torch.rand_like(layer(x)).detach()
        work.append(lambda layer=layer, x=x, grad=grad: layer(x).backward(grad))
    return work


def matmul_seconds(work: list, duration: float, device: torch.device | None = None) -> tuple[float, int]:
    """Total time and number of back-to-back passes over the step's products for about ``duration`` s."""
    for product in work:  # warm-up
        product()
    device = device or torch.device("cpu")
    _synchronize(device)
    passes, start = 0, time.perf_counter()
    while True:
        for product in work:
            product()
        passes += 1
        _synchronize(device)
        elapsed = time.perf_counter() - start
        if elapsed >= duration:
            return elapsed, passes


def _bound_workload(model: str, X: np.ndarray, batch_size: int, device: str):
    from aelab.training import resolve_device

    if model == "dense" and resolve_device(device).type == "cpu":
        shapes = layer_shapes(X.shape[1])
        return _gemm_workload(shapes, batch_size), flops_per_sample(shapes)
    network = _network(model, X.shape[1], device)
    layers = _leaf_layers(network, X.shape[1], next(network.parameters()).device)
    return _layer_workload(layers, batch_size), layer_flops_per_sample(layers)


def measure(X: np.ndarray, batch_size: int, rounds: int, epochs: int, model: str = "dense", device: str = "cpu",
            bound_seconds: float = 1.5) -> ThroughputRow:
    """Sustained throughput of our training, of the plain loop and of the products alone, in alternation.

    A shared machine's speed drifts by tens of percent within seconds; alternating the measurements over
    several rounds and comparing their sustained (not best-case) rates keeps the ratios about the code.
    """
    from aelab.training import resolve_device

    work, flops = _bound_workload(model, X, batch_size, device)
    target = resolve_device(device)
    gemm_time, gemm_passes, train_time, plain_time, n_epochs = 0.0, 0, 0.0, 0.0, 0
    for _ in range(rounds):
        elapsed, passes = matmul_seconds(work, bound_seconds, target)
        gemm_time, gemm_passes = gemm_time + elapsed, gemm_passes + passes
        train_time += sum(training_epoch_seconds(X, batch_size, epochs, model, device))
        plain_time += sum(plain_loop_epoch_seconds(X, batch_size, epochs, model, device))
        n_epochs += epochs
    bound = batch_size * gemm_passes / gemm_time
    ours = len(X) * n_epochs / train_time
    plain = len(X) * n_epochs / plain_time
    return ThroughputRow(batch_size, ours, plain, bound, flops * bound / 1e9, ours / bound, ours / plain)


def encode_samples_per_second(X: np.ndarray, model: str, device: str, repeats: int = 3) -> float:
    """Rate of ``transform`` (inference mode, large batches) of a model trained one epoch."""
    ae = _autoencoder(model, 256, 1, device).fit(X)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    ae.transform(X32[:1024])  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        ae.transform(X32)
    return len(X) * repeats / (time.perf_counter() - started)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB.

    On Linux the high-water mark of this program's own memory (VmHWM): ``ru_maxrss`` would also count the
    memory of the parent a subprocess was forked from, before it started this program.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def load_training_data(name: str, n_samples: int | None = None) -> np.ndarray:
    from aelab.data import load_dataset, split_dataset
    from aelab.runs import scale_split

    if name == "random":  # for --quick: no file needed
        return np.random.default_rng(0).random((256, 784), dtype=np.float32)
    dataset = load_dataset(name)
    split = split_dataset(dataset)
    return scale_split(dataset, split)[1][:n_samples]


# ------------------------------------------------------------------------------- streaming check
def make_stream_file(path: str, n_bytes: int, n_features: int = 784, chunk_rows: int = 65536) -> int:
    """A float32 .npy of about ``n_bytes`` of values in [0, 1], written chunk by chunk; returns its rows."""
    n_rows = max(n_bytes // (4 * n_features), 64)
    rng = np.random.default_rng(0)
    # plain writes, not a memory map: the written pages would count in this process's resident memory
    with open(path, "wb") as f:
        np.lib.format.write_array_header_2_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                                                 "fortran_order": False, "shape": (n_rows, n_features)})
        for start in range(0, n_rows, chunk_rows):
            stop = min(start + chunk_rows, n_rows)
            f.write(rng.random((stop - start, n_features), dtype=np.float32).tobytes())
    return n_rows


def stream_child(path: str, batch_size: int, epochs: int, device: str) -> dict:
    """Train the dense model from ``path`` by streaming (run in its own process, so that its RSS is its own)."""
    from aelab.data.streaming import StreamingSource

    source = StreamingSource(path)
    ae = _autoencoder("dense", batch_size, epochs, device)
    started = time.perf_counter()
    ae.fit(source)
    total = time.perf_counter() - started
    rate = len(source) * epochs / sum(ae.epoch_seconds_)
    return {"n_rows": len(source), "epochs": epochs, "samples_per_second": rate, "fit_seconds": total,
            "peak_rss_mb": peak_rss_mb()}


def stream_check(n_bytes: int, batch_size: int, epochs: int, device: str) -> dict:
    """Make a float32 .npy of ``n_bytes`` in a temporary folder, train from it in a subprocess, delete it."""
    with tempfile.TemporaryDirectory(prefix="aelab-stream-") as folder:
        path = os.path.join(folder, "stream.npy")
        make_stream_file(path, n_bytes)
        size = os.path.getsize(path)
        command = [sys.executable, "-m", "aelab.bench.throughput", "--stream-child", path, "--batch-sizes",
                   str(batch_size), "--epochs", str(epochs), "--device", device]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the streaming subprocess failed: {done.stderr.strip()[-2000:]}")
    return {"file_bytes": size, "batch_size": batch_size, **json.loads(done.stdout.strip().splitlines()[-1])}


# ------------------------------------------------------------------------------------- the run
def run(data: str, batch_sizes: list[int], rounds: int, epochs: int, models=("dense", "conv"), device: str = "cpu",
        bound_seconds: float = 1.5, stream_bytes: int = STREAM_BYTES, stream_epochs: int = 1,
        n_samples: int | None = None) -> dict:
    from aelab.training import resolve_device

    X = load_training_data(data, n_samples)
    training_epoch_seconds(X[:1024], 256, 1, "dense", device)  # first-call kernel set-up is not what we measure
    results = []
    for model in models:
        rows = [measure(X, b, rounds, epochs, model, device, bound_seconds) for b in batch_sizes]
        shape = (f"{X.shape[1]}-{'-'.join(map(str, HIDDEN))}-{LATENT}" if model == "dense"
                 else f"conv {'-'.join(map(str, CONV['filters']))} (kernel 4, stride 2) to {LATENT}")
        results.append({"model": model, "shape": shape,
                        "flops_per_sample": _bound_workload(model, X, batch_sizes[0], device)[1],
                        "rows": [asdict(r) for r in rows],
                        "encode_samples_per_second": encode_samples_per_second(X, model, device)})
    resolved = resolve_device(device)
    return {
        "data": data,
        "n_samples": len(X),
        "rounds": rounds,
        "epochs_per_round": epochs,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(resolved) if resolved.type == "cuda" else "cpu",
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "models": results,
        "peak_rss_mb": peak_rss_mb(),
        "stream": stream_check(stream_bytes, 1024, stream_epochs, device) if stream_bytes else None,
    }


def format_report(result: dict) -> str:
    lines = [
        f"{result['data']} ({result['n_samples']} samples), {result['rounds']} rounds of "
        f"{result['epochs_per_round']} epoch(s) each for ours and the plain loop; torch {result['torch']}, "
        f"{result['threads']} threads, device {result['device']}",
    ]
    for m in result["models"]:
        lines += [
            "",
            f"{m['model']} autoencoder {m['shape']}: {m['flops_per_sample'] / 1e6:.2f} MFLOP per sample per "
            f"training step; encode {m['encode_samples_per_second']:,.0f} samples/s",
            f"{'batch':>6}  {'ours/s':>10}  {'plain/s':>10}  {'bound/s':>10}  {'GFLOP/s':>8}  "
            f"{'ours/bound':>10}  {'ours/plain':>10}",
        ]
        for r in m["rows"]:
            lines.append(f"{r['batch_size']:>6}  {r['samples_per_second']:>10,.0f}  "
                         f"{r['plain_samples_per_second']:>10,.0f}  {r['bound_samples_per_second']:>10,.0f}  "
                         f"{r['bound_gflops']:>8.1f}  {r['ratio_to_bound']:>10.2f}  {r['ratio_to_plain']:>10.2f}")
    lines += ["", f"peak resident memory of this process: {result['peak_rss_mb']:,.0f} MB"]
    stream = result.get("stream")
    if stream:
        lines.append(f"streaming: {stream['file_bytes'] / 1e9:.2f} GB float32 .npy ({stream['n_rows']:,} rows), "
                     f"batch {stream['batch_size']}, {stream['epochs']} epoch(s): {stream['samples_per_second']:,.0f} "
                     f"samples/s, peak resident memory {stream['peak_rss_mb']:,.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aelab.bench.throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="fashion-mnist")
    parser.add_argument("--n-samples", type=int, default=None, help="use the first N training rows (default: all)")
    parser.add_argument("--batch-sizes", default=",".join(map(str, BATCH_SIZES)))
    parser.add_argument("--models", default="dense,conv")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the three measurements")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs per round, ours and plain loop each")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto ...")
    parser.add_argument("--stream-gb", type=float, default=STREAM_BYTES / 1e9,
                        help="size of the streaming check's file in GB (0: no streaming check)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (256 random rows, batch 128, one round, an 8 MB stream file): checks it runs")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    parser.add_argument("--stream-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.stream_child:
        print(json.dumps(stream_child(args.stream_child, batch_sizes[0], args.epochs, args.device)))
        return 0
    models = tuple(m for m in args.models.split(",") if m)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    if args.quick:
        result = run("random", [128], rounds=1, epochs=1, models=models, device=args.device, bound_seconds=0.05,
                     stream_bytes=8 * 10**6)
    else:
        result = run(args.data, batch_sizes, args.rounds, args.epochs, models, args.device,
                     stream_bytes=int(args.stream_gb * 1e9), n_samples=args.n_samples)
    print(format_report(result))
    if args.json:
        from aelab.io import atomic_write_json

        atomic_write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
