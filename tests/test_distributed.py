import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from aelab.cli import main
from aelab.training.distributed import DistributedContext
from tests.conftest import left_in

# digits: 1,438 training rows, 143 of them for validation; 1,295 rows in batches of 64 leave a last batch of
# 15, which the two processes share unevenly (8 and 7 rows)
TRAIN = ["train", "--data", "digits", "--hidden", "32", "--latent", "2", "--epochs", "3", "--batch-size", "64",
         "--quiet", "--device", "cpu"]
TOLERANCE = 1e-5  # float summation order differs between one process and two; after 3 epochs of Adam


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shard_takes_every_world_size_th_row_and_weighs_by_its_share():
    rank1 = DistributedContext(rank=1, world_size=2, local_rank=1, device=torch.device("cpu"), backend="gloo")
    rows, weight = rank1.shard(torch.arange(5))
    assert rows.tolist() == [1, 3] and weight == pytest.approx(2 * 2 / 5)
    rank0 = DistributedContext(rank=0, world_size=2, local_rank=0, device=torch.device("cpu"), backend="gloo")
    rows, weight = rank0.shard(torch.arange(5))
    assert rows.tolist() == [0, 2, 4] and weight == pytest.approx(2 * 3 / 5)
    # a batch smaller than the world: the rank without rows computes on one row with weight 0
    rows, weight = rank1.shard(torch.arange(1))
    assert rows.tolist() == [0] and weight == 0.0


def test_distributed_outside_torchrun_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert main([*TRAIN, "--distributed", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs the environment torchrun sets" in err and "torchrun" in err
    assert not (tmp_path / "run").exists()


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    single, parallel = tmp_path / "single", tmp_path / "parallel"
    assert main([*TRAIN, "--out", str(single)]) == 0

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(src), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
               str(_free_port()), "-m", "aelab", *TRAIN, "--distributed", "--out", str(parallel)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    # rank 0 alone printed and wrote: one summary, one folder, no staging folder left behind
    assert done.stdout.count("run folder:") == 1
    assert left_in(tmp_path) == ["parallel", "single"]
    a, b = load_file(str(single / "model.safetensors")), load_file(str(parallel / "model.safetensors"))
    assert set(a) == set(b)
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=TOLERANCE, err_msg=name)
    # the weights moved (this compares trained models, not two initialisations) and the losses agree
    history = json.loads((parallel / "metrics.json").read_text())["history"]
    reference = json.loads((single / "metrics.json").read_text())["history"]
    assert history["train_loss"][-1] < 0.7 * history["train_loss"][0]
    np.testing.assert_allclose(history["train_loss"], reference["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(history["validation_loss"], reference["validation_loss"], rtol=1e-5)


def test_a_helper_rank_leaves_the_folder_rank_0_is_writing_alone(tmp_path, monkeypatch):
    """Rank 0 may already have started the run folder (its checkpoint's job file, no model yet) when rank 1
    reaches the folder check: rank 1 must not take it for an interrupted run, nor touch it."""
    import contextlib

    from aelab.runs import CHECKPOINT_FOLDER, JOB_FILE

    out = tmp_path / "run"
    (out / CHECKPOINT_FOLDER).mkdir(parents=True)
    (out / CHECKPOINT_FOLDER / JOB_FILE).write_text("{}")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    helper = DistributedContext(rank=1, world_size=2, local_rank=1, device=torch.device("cpu"), backend="gloo")
    calls = []

    def fake_training(job, **kwargs):
        calls.append(kwargs)  # a helper rank's run_training returns None: it only helps to train

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr("aelab.training.distributed.distributed_session", lambda device: contextlib.nullcontext(helper))
    monkeypatch.setattr("aelab.runs.run_training", fake_training)
    assert main([*TRAIN, "--distributed", "--out", str(out)]) == 0
    assert len(calls) == 1 and calls[0]["checkpoint"] == out / CHECKPOINT_FOLDER
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


class _OddStepsSkipTheSecondLayer:
    """A loss whose training steps 1, 3, 5, ... leave the second layer unused (as the phases of an
    alternating latent cycle leave a Gaussian code's log-variance layer)."""

    def __init__(self):
        self.step = 0

    def __call__(self, network, x):
        if network.training:
            self.step += 1
        hidden = network[0](x)
        if network.training and self.step % 2 == 1:
            return (hidden - x).square().mean()
        return (network[1](hidden) - x).square().mean()


def _train_two_layers(distributed=None, seed=0):
    from aelab.training import TrainingSettings, train_network

    torch.manual_seed(seed)  # the ranks start from different weights: rank 0's are given to all
    network = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4))
    X = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
    settings = TrainingSettings(epochs=2, batch_size=16, learning_rate=0.01)
    train_network(network, _OddStepsSkipTheSecondLayer(), X, None, settings, torch.Generator().manual_seed(2),
                  distributed=distributed)
    return network


def _thread_count() -> int:
    return len(os.listdir("/proc/self/task"))  # Linux, as CI; the threads of this process


def _rank(rank, folder, port):
    from safetensors.torch import save_file

    from aelab.training.distributed import distributed_session

    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    before = _thread_count()
    with distributed_session("cpu") as context:
        network = _train_two_layers(context, seed=rank)
        save_file(network.state_dict(), f"{folder}/rank{rank}.safetensors")
    with open(f"{folder}/threads{rank}.json", "w") as file:
        json.dump({"before": before, "after": _thread_count()}, file)


def test_two_processes_skip_a_parameter_unused_by_a_step_as_one_process_does(tmp_path):
    from safetensors.torch import load_file

    torch.multiprocessing.spawn(_rank, args=(str(tmp_path), _free_port()), nprocs=2)
    single = _train_two_layers().state_dict()
    ranks = [load_file(str(tmp_path / f"rank{rank}.safetensors")) for rank in (0, 1)]
    # leaving the session stopped the group's worker threads (left running, one of them could abort the
    # process at exit while it released a collective's tensor)
    for rank in (0, 1):
        threads = json.loads((tmp_path / f"threads{rank}.json").read_text())
        assert threads["after"] == threads["before"], threads
    for name, tensor in single.items():
        assert torch.equal(ranks[0][name], ranks[1][name]), name
        torch.testing.assert_close(ranks[0][name], tensor, rtol=0, atol=1e-6)
