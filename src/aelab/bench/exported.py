"""Exported models against the Pipeline they come from: parity, file sizes and encode throughput.

    python -m aelab.bench.exported --data mnist5k runs/vanilla runs/conv runs/variational

For each run folder and format (ONNX in onnxruntime, TorchScript in torch): the largest absolute difference
between the exported encoder's codes and ``aelab.load(run).transform`` on the raw data, and between the
exported decoder's output and ``inverse_transform`` of those codes (in the data's units; also relative to the
data's largest absolute value); the files' sizes. Then encode throughput in rows per second on the whole data,
the best of ``--repeats`` passes: ``transform``, the ONNX encoder in onnxruntime and the TorchScript encoder,
each with ``--threads`` threads (torch.set_num_threads, onnxruntime's intra-op threads). The machine's load
average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from aelab.bench.study import markdown_table
from aelab.data import load_dataset
from aelab.export import FORMATS, export_model
from aelab.io import read_json
from aelab.pipeline import load_run


def _halves(folder: Path, threads: int) -> dict[str, tuple]:
    """``format -> (encode, decode)`` over the exported files in ``folder/<format>``."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    sessions = {part: onnxruntime.InferenceSession(str(folder / "onnx" / f"{part}.onnx"), options,
                                                   providers=["CPUExecutionProvider"])
                for part in ("encoder", "decoder")}
    scripts = {part: torch.jit.load(str(folder / "torchscript" / f"{part}.pt")) for part in ("encoder", "decoder")}

    def scripted(part):
        def run(values):
            with torch.inference_mode():
                return scripts[part](torch.from_numpy(values)).numpy()
        return run

    return {"onnx": (lambda X: sessions["encoder"].run(None, {"data": X})[0],
                     lambda Z: sessions["decoder"].run(None, {"code": Z})[0]),
            "torchscript": (scripted("encoder"), scripted("decoder"))}


def _best_rate(function, X: np.ndarray, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(X)
        seconds.append(time.perf_counter() - started)
    return len(X) / min(seconds)


def measure(run: Path, X: np.ndarray, threads: int, repeats: int) -> tuple[list[dict], dict]:
    """The parity rows (one per format) and the throughput row of the run folder ``run`` on raw data ``X``."""
    model = load_run(run, device="cpu")
    kind = read_json(run / "config.json", "train the run again")["job"]["kind"]
    codes = model.transform(X)
    reconstruction = model.inverse_transform(codes)
    scale = float(np.abs(X).max())
    parity = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        records = {f: export_model(model, folder / f, format=f) for f in FORMATS}
        halves = _halves(folder, threads)
        for format in FORMATS:
            encode, decode = halves[format]
            decoded = np.abs(decode(codes) - reconstruction).max()
            parity.append({"run": run.name, "kind": kind, "format": format,
                           "encoder_bytes": records[format]["encoder"]["bytes"],
                           "decoder_bytes": records[format]["decoder"]["bytes"],
                           "code_max_abs_diff": f"{np.abs(encode(X) - codes).max():.2e}",
                           "reconstruction_max_abs_diff": f"{decoded:.2e}",
                           "reconstruction_max_rel_diff": f"{decoded / scale:.2e}"})
        speed = {"run": run.name, "kind": kind, "rows": len(X), "threads": threads,
                 **{f"{name}_rows_per_s": round(_best_rate(function, X, repeats))
                    for name, function in (("transform", model.transform), ("onnxruntime", halves["onnx"][0]),
                                           ("torchscript", halves["torchscript"][0]))}}
    return parity, speed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m aelab.bench.exported", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders written by 'aelab train'")
    parser.add_argument("--data", required=True, help="the raw data to encode (as aelab encode reads it)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    X = load_dataset(args.data).X.astype(np.float32)
    print(f"load average before: {os.getloadavg()}")
    results = [measure(run, X, args.threads, args.repeats) for run in args.runs]
    print(markdown_table([row for parity, _ in results for row in parity]))
    print()
    print(markdown_table([speed for _, speed in results]))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
