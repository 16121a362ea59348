"""One writer per output folder: concurrent runs are refused, a dead run's lock is taken over."""

import os
import subprocess
import sys

import pytest

from aelab import locks
from aelab.cli import main
from aelab.locks import acquire, folder_lock, lock_path, release

# aelab.locks alone, loaded from its file: importing the package (and torch) would only slow the test down
HOLD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("locks", sys.argv[2])
locks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(locks)
with locks.folder_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes stdin
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path/out until the test ends."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "out"), locks.__file__],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "locked\n"
    yield process
    process.stdin.close()
    process.wait()


def test_the_lock_file_holds_the_pid_and_is_removed_on_release(tmp_path):
    with folder_lock(tmp_path / "out") as path:
        assert path == tmp_path / ".out.lock"
        assert path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(ValueError, match=f"is being written by process {os.getpid()}"):
            acquire(tmp_path / "out")
    assert not path.exists()


def test_a_living_holder_refuses_a_second_writer_until_it_ends(tmp_path, holder):
    with pytest.raises(ValueError, match=rf"out is being written by process {holder.pid} \(lock file .*\.out\.lock\); "
                       "wait for that run to finish or pass another --out"):
        acquire(tmp_path / "out")
    holder.stdin.close()
    holder.wait()
    release(acquire(tmp_path / "out"))


def test_a_dead_holder_s_lock_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock_path(tmp_path / "out").write_text(dead.stdout)
    path = acquire(tmp_path / "out")
    assert path.read_text() == f"{os.getpid()}\n"
    release(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_cli_refuses_a_folder_another_run_is_writing(tmp_path, holder, capsys):
    argv = ["train", "--data", "digits", "--hidden", "8", "--latent", "2", "--epochs", "1", "--quiet",
            "--device", "cpu", "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"is being written by process {holder.pid}" in err
    assert not (tmp_path / "out").exists()


def test_a_plain_train_into_a_run_in_the_making_names_its_writer_not_an_interrupted_run(tmp_path, holder, capsys):
    # what a run being written looks like from outside: its checkpoint folder and job, no model yet
    (tmp_path / "out" / "checkpoint").mkdir(parents=True)
    (tmp_path / "out" / "checkpoint" / "job.json").write_text("{}")
    argv = ["train", "--data", "digits", "--hidden", "8", "--latent", "2", "--epochs", "1", "--quiet",
            "--device", "cpu", "--out", str(tmp_path / "out")]
    for extra in ([], ["--force"]):
        assert main([*argv, *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"out is being written by process {holder.pid} (lock file " in err, err
        assert "interrupted" not in err
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["checkpoint", "job.json"]
    assert (tmp_path / "out" / "checkpoint" / "job.json").read_text() == "{}"
