"""One writer per output folder: concurrent runs are refused, a dead run's lock does not block the next one."""

import errno
import json
import os
import socket
import subprocess
import sys

import pytest

from aelab.cli import main
from aelab.locks import acquire, folder_lock, other_writer, release, writer_path
from tests.conftest import left_in

# aelab.locks imports no torch: the process starts quickly
HOLD = """
import sys
from aelab.locks import folder_lock
with folder_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes stdin
"""
ENVIRONMENT = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path/out until the test ends."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "out")], env=ENVIRONMENT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "locked\n"
    yield process
    process.stdin.close()
    process.wait()


def test_the_writer_file_names_this_process_and_goes_on_release(tmp_path):
    with folder_lock(tmp_path / "out") as lock:
        assert lock.is_locked and lock.lock_file == str(tmp_path / ".out.lock")
        assert json.loads(writer_path(tmp_path / "out").read_text()) == {"pid": os.getpid(),
                                                                          "host": socket.gethostname()}
        with pytest.raises(ValueError, match=f"is being written by process {os.getpid()}"):
            acquire(tmp_path / "out")
        assert other_writer(tmp_path / "out") is None  # this process is not another writer
    assert not writer_path(tmp_path / "out").exists()
    assert left_in(tmp_path) == []  # at most the empty lock file, free again


def test_a_living_holder_refuses_a_second_writer_until_it_ends(tmp_path, holder):
    with pytest.raises(ValueError, match=rf"out is being written by process {holder.pid} \(lock file .*\.out\.lock\); "
                       "wait for that run to finish or pass another --out$"):
        acquire(tmp_path / "out")
    assert other_writer(tmp_path / "out") == f"process {holder.pid}"
    holder.stdin.close()
    holder.wait()
    assert other_writer(tmp_path / "out") is None
    release(tmp_path / "out", acquire(tmp_path / "out"))


def test_a_holder_on_another_host_is_named_with_its_host(tmp_path, holder):
    writer_path(tmp_path / "out").write_text('{"pid": 4321, "host": "elsewhere"}')
    with pytest.raises(ValueError, match="out is being written by process 4321 on host elsewhere "):
        acquire(tmp_path / "out")
    writer_path(tmp_path / "out").unlink()  # a holder whose writer file is not written yet
    with pytest.raises(ValueError, match="out is being written by another process "):
        acquire(tmp_path / "out")


def test_a_killed_holder_s_lock_does_not_block_the_next_run(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "out")], env=ENVIRONMENT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "locked\n"
    process.kill()  # SIGKILL: no release, its writer file stays
    process.wait()
    assert json.loads(writer_path(tmp_path / "out").read_text())["pid"] == process.pid
    assert other_writer(tmp_path / "out") is None
    lock = acquire(tmp_path / "out")
    assert json.loads(writer_path(tmp_path / "out").read_text())["pid"] == os.getpid()
    release(tmp_path / "out", lock)
    assert left_in(tmp_path) == []


def test_a_lock_is_refused_where_the_lock_file_cannot_be_created(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(OSError, match="Read-only file system"):
        acquire(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


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
