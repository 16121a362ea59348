"""What a user sees of a fit and of a job: the Progress callback's lines, the stages, and the logging set-up of
aelab.logs (the command line's, and the one ``verbose=1`` falls back to in a script that configures none)."""

import logging
import re
import subprocess
import sys

import numpy as np
import pytest

from aelab import Autoencoder
from aelab.logs import command_line_logging, duration, plural, recording, stage
from aelab.training import EarlyStopping

EPOCH = re.compile(r"epoch (\d+)/(\d+): loss [\d.]+, validation loss [\d.]+, [\d,]+ samples/s(, [\d.]+ s left)?")


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).random((120, 6)).astype(np.float32)


def _fit(X, **params):
    settings = {"n_components": 2, "epochs": 3, "batch_size": 32, "random_state": 0, "device": "cpu", **params}
    return Autoencoder(**settings).fit(X)


def _messages(caplog, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "aelab.training.callbacks" and r.levelno == level]


def test_plural_and_duration_read_as_a_person_writes_them():
    assert [plural(1, "epoch"), plural(0, "epoch"), plural(1500, "sample"), plural(2, "batch", "batches")] == [
        "1 epoch", "0 epochs", "1,500 samples", "2 batches"]
    assert [duration(0.04), duration(9.94), duration(9.96), duration(59.4), duration(60), duration(3599),
            duration(3600 * 26 + 60 * 7 + 3)] == ["0.0 s", "9.9 s", "10 s", "59 s", "1 min 00 s", "59 min 59 s",
                                                  "26 h 07 min"]


def test_verbose_1_logs_one_info_line_per_epoch_and_one_at_the_end(X, caplog):
    with caplog.at_level(logging.DEBUG, logger="aelab"):
        model = _fit(X, verbose=1)
    lines = _messages(caplog, logging.INFO)
    assert [EPOCH.fullmatch(line).group(1, 2) for line in lines[:3]] == [("1", "3"), ("2", "3"), ("3", "3")]
    assert lines[0].endswith(" left") and not lines[2].endswith(" left")
    assert re.fullmatch(rf"trained 3 epochs in [\d.]+ s, best epoch {model.best_epoch_}", lines[3])
    assert _messages(caplog, logging.DEBUG) == []


def test_verbose_0_logs_the_epochs_at_debug_only(X, caplog):
    with caplog.at_level(logging.DEBUG, logger="aelab"):
        _fit(X, verbose=0)
    assert _messages(caplog, logging.INFO) == []
    assert [EPOCH.fullmatch(line) is not None for line in _messages(caplog, logging.DEBUG)] == [True] * 3 + [False]


def test_an_early_stop_says_after_which_epoch(X, caplog):
    with caplog.at_level(logging.INFO, logger="aelab"):
        _fit(X, verbose=1, epochs=5, callbacks=[EarlyStopping(patience=0)])
    lines = _messages(caplog, logging.INFO)
    assert len(lines) == 2 and not lines[0].endswith(" left")  # nothing is left once training stops
    assert re.fullmatch(r"stopped early after epoch 1 of 5 in [\d.]+ s, best epoch 1", lines[1])


def test_a_stage_logs_its_start_and_its_time():
    with recording() as log, stage(logging.getLogger("aelab.tests"), "fitting PCA") as fitting:
        pass
    assert [line.split(": ", 1)[1] for line in log.lines] == ["fitting PCA ...",
                                                               f"fitting PCA took {duration(fitting.seconds)}"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO aelab.tests", log.lines[0].split(": ", 1)[0])


def test_the_command_line_shows_progress_bare_and_warnings_after_aelab_and_quiet_only_warnings(capsys):
    logger = logging.getLogger("aelab.tests")
    level = logging.getLogger("aelab").level
    for quiet in (False, True):
        with command_line_logging(quiet=quiet), recording() as log:
            logger.debug("details")
            logger.info("epoch 1/3")
            logger.warning("skipped 1 bad row")
        assert capsys.readouterr().err == ("" if quiet else "epoch 1/3\n") + "aelab: skipped 1 bad row\n"
        assert [line.split(": ", 1)[1] for line in log.text().splitlines()] == ["details", "epoch 1/3",
                                                                               "skipped 1 bad row"]
    assert logging.getLogger("aelab").handlers == [] and logging.getLogger("aelab").level == level


def test_without_any_logging_configured_verbose_1_shows_its_lines_on_stderr_and_verbose_0_nothing(
        X, capsys, monkeypatch):
    monkeypatch.setattr(logging.root, "handlers", [])  # as in a script: pytest's own capture handlers gone
    _fit(X, verbose=0)
    assert capsys.readouterr().err == ""
    _fit(X, verbose=1)
    lines = capsys.readouterr().err.splitlines()
    assert [EPOCH.fullmatch(line).group(1) for line in lines[:3]] == ["1", "2", "3"]
    assert lines[3].startswith("trained 3 epochs in ")
    assert all(line.startswith("still improving at the last epoch: train longer (epoch 3 of 3") for line in lines[4:])
    assert len(lines) <= 5
    assert logging.getLogger("aelab").handlers == [] and logging.getLogger("aelab").level == logging.NOTSET


SCRIPT = """
import logging, sys
import numpy as np
from aelab import Autoencoder
X = np.random.default_rng(0).random((100, 5)).astype(np.float32)
Autoencoder(n_components=2, epochs=2, random_state=0, device="cpu", verbose=0).fit(X)
print("verbose=1", file=sys.stderr, flush=True)
Autoencoder(n_components=2, epochs=2, random_state=0, device="cpu", verbose=1).fit(X)
print(logging.getLogger().handlers, logging.getLogger("aelab").handlers, logging.getLogger("aelab").level)
"""


@pytest.mark.slow
def test_a_script_that_configures_no_logging_sees_verbose_1_and_nothing_of_verbose_0():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    quiet, shown = done.stderr.split("verbose=1\n")
    assert quiet == ""
    lines = shown.splitlines()
    assert [EPOCH.fullmatch(line).group(1) for line in lines[:2]] == ["1", "2"]
    assert lines[2].startswith("trained 2 epochs in ") and len(lines) <= 4
    assert all(line.startswith("still improving at the last epoch: train longer (epoch 2 of 2") for line in lines[3:])
    assert done.stdout == "[] [] 0\n"  # the library configured nothing that outlives the fit
