"""Two fits at once on one machine: the training seconds of each, alone and two at once, with the cores shared
(aelab.training.threads, the default) and with every fit on a fixed number of threads (the behaviour without
sharing).

    python -m aelab.bench.concurrency [--threads 2] [--repeats 1]

Three settings, each trained in a child process: S (8x8 digits, dense 64-32-2, batch 32, 120 epochs), M (the
5,000 mnist5k digits, dense 400-200-100-50-2, batch 64, 15 epochs) and L (mnist5k, 512-256-32, batch 256, 25
epochs). A child trains the three one after another and prints the training seconds of each (the sum of the
epochs' seconds, validation excluded); "two at once" starts two children together.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys

logger = logging.getLogger(__name__)

#: data, hidden widths, code size, batch size, epochs
SETTINGS = {"S": ("digits", (64, 32), 2, 32, 120), "M": ("mnist5k", (400, 200, 100, 50), 2, 64, 15),
            "L": ("mnist5k", (512, 256), 32, 256, 25)}


def _child() -> None:
    import numpy as np

    from aelab import Autoencoder
    from aelab.data import load_dataset
    from aelab.parts import Dense

    seconds = {}
    for name, (data, hidden, latent, batch, epochs) in SETTINGS.items():
        X = load_dataset(data).X.astype(np.float32)
        X = X / X.max()
        ae = Autoencoder(encoder=Dense(hidden=hidden), n_components=latent, batch_size=batch, epochs=epochs,
                         patience=None, random_state=0, device="cpu", verbose=0).fit(X)
        seconds[name] = round(sum(ae.epoch_seconds_), 2)
    print(json.dumps(seconds))


def _start(shared: bool, threads: int) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if not shared:
        env["OMP_NUM_THREADS"] = str(threads)  # a fixed thread count: no sharing
    return subprocess.Popen([sys.executable, "-m", "aelab.bench.concurrency", "--child"], env=env,
                            stdout=subprocess.PIPE, text=True)


def _seconds(processes: list[subprocess.Popen]) -> list[dict[str, float]]:
    results = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"a training child failed with exit code {process.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aelab.bench.concurrency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="the threads of a fit without sharing (default: 2)")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of each measurement (default: 1)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child()
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rows = []
    for _ in range(args.repeats):
        for shared in (False, True):
            mode = "shared cores" if shared else f"fixed {args.threads} threads"
            alone = _seconds([_start(shared, args.threads)])
            together = _seconds([_start(shared, args.threads), _start(shared, args.threads)])
            for name in SETTINGS:
                row = {"mode": mode, "setting": name, "alone": alone[0][name],
                       "two at once": [t[name] for t in together]}
                row["slowdown"] = round(max(row["two at once"]) / row["alone"], 2)
                logger.info("%s", json.dumps(row))
                rows.append(row)
    print("| mode | setting | alone, s | two at once, s | slowdown |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['mode']} | {row['setting']} | {row['alone']:.2f} | "
              f"{' / '.join(f'{t:.2f}' for t in row['two at once'])} | {row['slowdown']:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
