"""Faults a user can cause around files: a read-only or full disk, a folder in the way, a damaged JSON file,
Ctrl-C while the command starts. Each ends in one line on stderr, exit code 2 (130 for Ctrl-C), and nothing
half-written; a run that did train keeps its checkpoint and says so.

The file system's refusals are injected (os.open and os.mkdir raise as the kernel would) so that the tests run
anywhere; where mounting is allowed, the same cases also run on a real read-only or tiny tmpfs.
"""

import builtins
import errno
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aelab import load
from aelab.cli import main
from aelab.training.checkpoints import load_checkpoint
from tests.conftest import left_in

TRAIN = ["train", "--hidden", "8", "--latent", "2", "--epochs", "2", "--batch-size", "32", "--quiet",
         "--device", "cpu"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "d.csv"
    np.savetxt(path, np.random.default_rng(0).random((120, 6)), delimiter=",", fmt="%.5f")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main([*TRAIN, "--data", str(data), "--out", str(out)]) == 0
    return out


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.splitlines()
    lines = [line for line in lines if not line.startswith("aelab: still improving at the last epoch")]
    assert len(lines) == 1 and lines[0].startswith("aelab: error: "), lines
    err = lines[0] + "\n"
    assert "Traceback" not in err
    return err.strip()


def refuse(monkeypatch, code: int, inside: Path, when=lambda path: True) -> None:
    """Make creating files and folders at or under ``inside`` (os.open, open for writing, os.mkdir) fail with
    OSError ``code``, as a read-only or full file system does; ``when(path)`` narrows it to some paths."""
    real_open, real_mkdir, real_builtin_open = os.open, os.mkdir, builtins.open
    inside = inside.absolute()

    def refused(path) -> bool:
        path = Path(os.fsdecode(path)).absolute()
        return (path == inside or inside in path.parents) and when(path)

    def fake_open(path, flags, mode=0o777, *, dir_fd=None):
        if flags & os.O_CREAT and refused(path):
            raise OSError(code, os.strerror(code), os.fsdecode(path))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    def fake_mkdir(path, mode=0o777, *, dir_fd=None):
        if refused(path):
            raise OSError(code, os.strerror(code), os.fsdecode(path))
        return real_mkdir(path, mode, dir_fd=dir_fd)

    def fake_builtin_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and set(mode) & set("wax+") and refused(file):
            raise OSError(code, os.strerror(code), os.fsdecode(file))
        return real_builtin_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(builtins, "open", fake_builtin_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


@pytest.fixture
def tmpfs(tmp_path):
    """``tmpfs(options)`` mounts a tmpfs with ``options`` and returns its folder; skips where mounting is not
    allowed (not root, or a container without the capability)."""
    mounted = []

    def mount(options: str) -> Path:
        folder = tmp_path / f"mount{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)


# ---------------------------------------------------------------------------------------- read-only places
def test_train_into_a_read_only_place(tmp_path, data, capsys, monkeypatch):
    place = tmp_path / "ro"
    place.mkdir()
    refuse(monkeypatch, errno.EROFS, place)
    assert main([*TRAIN, "--data", str(data), "--out", str(place / "run")]) == 2
    assert one_error_line(capsys) == (f"aelab: error: cannot write run folder {place / 'run'}: Read-only file "
                                      "system; pass an --out on a writable file system")
    assert left_in(place) == [] and left_in(tmp_path) == ["ro"]


def test_train_into_the_read_only_folder_itself(tmp_path, data, capsys, monkeypatch):
    place = tmp_path / "ro"
    place.mkdir()
    refuse(monkeypatch, errno.EROFS, place)  # its parent is writable: the lock file beside it is taken
    assert main([*TRAIN, "--data", str(data), "--out", str(place)]) == 2
    assert f"cannot write run folder {place}: Read-only file system" in one_error_line(capsys)
    assert left_in(place) == [] and left_in(tmp_path) == ["ro"]  # the lock beside it is released


def test_encode_into_a_read_only_place(tmp_path, run, capsys, monkeypatch):
    place = tmp_path / "ro"
    place.mkdir()
    refuse(monkeypatch, errno.EROFS, place)
    data = tmp_path / "d.npy"
    np.save(data, np.random.default_rng(1).random((30, 6)).astype(np.float32))
    for out in (place / "z.npy", place / "z.csv"):  # .npy data is streamed; .csv written in one piece
        assert main(["encode", "--run", str(run), "--data", str(data), "--out", str(out)]) == 2
        assert one_error_line(capsys) == (f"aelab: error: cannot write codes {out}: Read-only file system; pass "
                                          "an --out on a writable file system")
    assert main(["score", "--run", str(run), "--data", str(data), "--skip-bad-rows", "--out",
                 str(place / "s.npy")]) == 2
    assert "cannot write reconstruction errors" in one_error_line(capsys)
    assert left_in(place) == []


def test_a_real_read_only_mount(tmp_path, data, run, capsys, tmpfs):
    place = tmpfs("ro,size=64k")
    assert main([*TRAIN, "--data", str(data), "--out", str(place / "run")]) == 2
    assert f"cannot write run folder {place / 'run'}: Read-only file system" in one_error_line(capsys)
    assert main([*TRAIN, "--data", str(data), "--out", str(place)]) == 2
    assert f"cannot write run folder {place}: Read-only file system" in one_error_line(capsys)
    assert main(["encode", "--run", str(run), "--data", str(data), "--out", str(place / "z.csv")]) == 2
    assert f"cannot write codes {place / 'z.csv'}: Read-only file system" in one_error_line(capsys)
    assert left_in(place) == [] and left_in(tmp_path) == [place.name]


# -------------------------------------------------------------------------------------------- full disks
def test_a_full_disk_while_writing_the_run_keeps_the_checkpoint_and_names_it(tmp_path, data, capsys,
                                                                             monkeypatch):
    out = tmp_path / "run"
    refuse(monkeypatch, errno.ENOSPC, tmp_path, when=lambda path: ".run.partial-" in str(path))
    assert main([*TRAIN, "--data", str(data), "--out", str(out)]) == 2
    assert one_error_line(capsys) == (
        f"aelab: error: cannot write run folder {out}: No space left on device; the checkpoint of the training is "
        f"kept in {out / 'checkpoint'}; make room, then finish the run with: aelab train --resume {out}")
    assert left_in(tmp_path) == ["run"] and left_in(out) == ["checkpoint"]  # no staging folder, no held lock
    assert load_checkpoint(out / "checkpoint").finished
    monkeypatch.undo()
    assert main(["train", "--resume", str(out)]) == 0
    assert load(out).named_steps["autoencoder"].n_epochs_ == 2 and (out / "report.html").is_file()


def test_a_full_disk_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, data, capsys, monkeypatch):
    out = tmp_path / "run"
    writes = []

    def second_checkpoint(path: Path) -> bool:  # the JSON of epoch 2, after its tensors were written
        if path.name.startswith(".checkpoint.json."):
            writes.append(path)
        return len(writes) >= 2

    refuse(monkeypatch, errno.ENOSPC, out / "checkpoint", when=second_checkpoint)
    assert main([*TRAIN, "--data", str(data), "--out", str(out)]) == 2
    assert one_error_line(capsys).endswith(f"No space left on device; the checkpoint of the training is kept in "
                                           f"{out / 'checkpoint'}; make room, then finish the run with: aelab "
                                           f"train --resume {out}")
    names = left_in(out / "checkpoint")
    assert len(names) == 3 and names[0].startswith("checkpoint-1-0-") and names[1:] == ["checkpoint.json",
                                                                                         "job.json"]
    assert load_checkpoint(out / "checkpoint").epoch == 1
    assert left_in(out) == ["checkpoint"]


def test_a_full_disk_before_the_first_checkpoint_leaves_nothing(tmp_path, data, capsys, monkeypatch):
    out = tmp_path / "run"
    refuse(monkeypatch, errno.ENOSPC, out / "checkpoint", when=lambda path: path.name.startswith(".checkpoint-"))
    assert main([*TRAIN, "--data", str(data), "--out", str(out)]) == 2
    assert one_error_line(capsys) == (f"aelab: error: cannot write run folder {out}: No space left on device; "
                                      "free some space or pass an --out on another disk")
    assert left_in(tmp_path) == []


def test_a_full_disk_while_writing_codes(tmp_path, run, capsys, monkeypatch):
    data = tmp_path / "d.csv"
    np.savetxt(data, np.random.default_rng(1).random((30, 6)), delimiter=",")
    refuse(monkeypatch, errno.ENOSPC, tmp_path, when=lambda path: path.name.startswith(".z."))
    assert main(["encode", "--run", str(run), "--data", str(data), "--out", str(tmp_path / "z.npy")]) == 2
    assert one_error_line(capsys) == (f"aelab: error: cannot write codes {tmp_path / 'z.npy'}: No space left on "
                                      "device; free some space or pass an --out on another disk")
    assert left_in(tmp_path) == ["d.csv"]


def test_a_full_disk_while_writing_the_detect_report_leaves_neither_file(tmp_path, capsys, monkeypatch):
    normal = tmp_path / "normal.csv"
    np.savetxt(normal, np.random.default_rng(0).random((60, 4)), delimiter=",", fmt="%.5f")
    refuse(monkeypatch, errno.ENOSPC, tmp_path, when=lambda path: path.name.startswith(".scores.html."))
    argv = ["detect", "--data", str(normal), "--score", str(normal), "--out", str(tmp_path / "scores.csv"),
            "--hidden", "4", "--latent", "2", "--epochs", "1", "--device", "cpu"]
    assert main(argv) == 2
    err = capsys.readouterr().err  # the progress of the training and scoring, then the error
    assert "Traceback" not in err and err.splitlines()[-1] == (
        f"aelab: error: cannot write scores and report {tmp_path / 'scores.csv'}: No space left on device; free some "
        "space or pass an --out on another disk")
    assert left_in(tmp_path) == ["normal.csv"]


def test_a_real_full_disk_while_streaming_codes_is_an_error_not_a_crash(tmp_path, run, tmpfs):
    # the .npy output is a memory map: without its blocks reserved first, a full tmpfs ends the process (SIGBUS)
    place = tmpfs("size=64k")
    data = tmp_path / "d.npy"
    np.save(data, np.random.default_rng(1).random((20_000, 6)).astype(np.float32))  # codes: 160 kB
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "aelab", "encode", "--run", str(run), "--data", str(data),
                           "--out", str(place / "z.npy")], env=environment, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"aelab: error: cannot write codes {place / 'z.npy'}: No space left on device; free some "
                           "space or pass an --out on another disk\n")
    assert left_in(place) == []


# --------------------------------------------------------------------------------------- a folder in the way
def test_out_an_existing_folder(tmp_path, run, capsys):
    for name in ("x.npy", "x.csv", "x.html"):
        (tmp_path / name).mkdir()
    data = tmp_path / "d.npy"
    np.save(data, np.random.default_rng(1).random((30, 6)).astype(np.float32))
    for command in ("encode", "reconstruct", "score"):
        for out in ("x.npy", "x.csv"):
            assert main([command, "--run", str(run), "--data", str(data), "--out", str(tmp_path / out)]) == 2
            assert one_error_line(capsys) == (f"aelab: error: --out {tmp_path / out} is a folder; pass the path of "
                                              "a file to write")
    assert main(["detect", "--data", str(data), "--score", str(data), "--out", str(tmp_path / "x.csv")]) == 2
    assert "is a folder" in one_error_line(capsys)
    assert main(["detect", "--data", str(data), "--score", str(data), "--out", str(tmp_path / "s.csv"),
                 "--report", str(tmp_path / "x.html")]) == 2
    assert one_error_line(capsys) == (f"aelab: error: --report {tmp_path / 'x.html'} is a folder; pass the path "
                                      "of a file to write")
    assert left_in(tmp_path) == ["d.npy", "x.csv", "x.html", "x.npy"]
    assert all(left_in(tmp_path / name) == [] for name in ("x.npy", "x.csv", "x.html"))


# ------------------------------------------------------------------------------------ damaged JSON files
NESTED = "[" * 100_000 + "]" * 100_000
HUGE_INT = '{"format": ' + "7" * 5000 + "}"


@pytest.mark.parametrize("text", [NESTED, HUGE_INT], ids=["nested", "huge-int"])
def test_a_damaged_model_json(tmp_path, run, capsys, text):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "model.json").write_text(text)
    with pytest.raises(ValueError, match=f"^{re.escape(str(copy / 'model.json'))} (nests|holds a number too long)"
                       ".*; the model folder is damaged$"):
        load(copy)
    assert main(["encode", "--run", str(copy), "--data", "digits", "--out", str(tmp_path / "z.npy")]) == 2
    assert f"aelab: error: {copy / 'model.json'} " in one_error_line(capsys)
    assert not (tmp_path / "z.npy").exists()


@pytest.mark.parametrize("text", [NESTED, HUGE_INT], ids=["nested", "huge-int"])
@pytest.mark.parametrize("name", ["checkpoint.json", "job.json"])
def test_a_damaged_checkpoint_or_job_json(tmp_path, run, capsys, text, name):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    for finished in ("model.json", "model.safetensors"):  # an interrupted run, to resume
        (copy / finished).unlink()
    (copy / "checkpoint" / name).write_text(text)
    if name == "checkpoint.json":
        with pytest.raises(ValueError, match=f"^{re.escape(str(copy / 'checkpoint' / name))} "):
            load_checkpoint(copy / "checkpoint")
    before = left_in(copy / "checkpoint")
    assert main(["train", "--resume", str(copy), "--quiet"]) == 2
    assert one_error_line(capsys).startswith(f"aelab: error: {copy / 'checkpoint' / name} ")
    assert left_in(copy / "checkpoint") == before  # nothing is removed from a run that did train


# --------------------------------------------------------------------------------------- Ctrl-C at start-up
def test_ctrl_c_while_loading_the_data(tmp_path, data, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("aelab.data.options.load_dataset", interrupted)  # the job loads through DataOptions
    assert main([*TRAIN, "--data", str(data), "--out", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err == "aelab: interrupted\n"
    assert left_in(tmp_path) == []


def test_ctrl_c_while_the_command_imports_torch(tmp_path, data):
    # -X importtime reports each module as it is imported: numpy is first imported under main(), by torch
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    # many epochs: a child that reached the end before the signal (a slow reader on a busy machine) would exit 0
    train = [*TRAIN[:TRAIN.index("--epochs") + 1], "3000", *TRAIN[TRAIN.index("--epochs") + 2:]]
    # the child gets Ctrl-C's default disposition: under a runner started in the background (`make test &`) SIGINT
    # is inherited as ignored, and Python then installs no KeyboardInterrupt for it
    process = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "aelab", *train, "--data", str(data),
                                "--out", str(tmp_path / "run")], env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in process.stderr:
        seen.append(line)
        if re.search(r"\|\s+numpy", line):
            process.send_signal(signal.SIGINT)
            break
    rest = process.stderr.read()
    process.wait()
    assert any("numpy" in line for line in seen), "".join(seen)
    messages = [line for line in (*seen, *rest.splitlines(keepends=True)) if not line.startswith("import time:")]
    assert process.returncode == 130 and messages == ["aelab: interrupted\n"], "".join(messages)
    assert left_in(tmp_path) == []
