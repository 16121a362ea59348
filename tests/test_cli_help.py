"""Every option of every command says what it does and, where it has one, its default; help needs no torch."""

import argparse
import subprocess
import sys

import pytest

from aelab.cli import _typed, build_parser, main


def _commands():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_option_has_help_and_shows_its_default(command):
    parser = _commands()[command]
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help.strip(), f"aelab {command} {action.option_strings} has no help"
        if action.option_strings and action.default not in (None, False):
            assert f"(default: {_typed(action.default)})" in text, f"aelab {command} {action.dest}"


def test_train_help_shows_the_defaults_as_typed(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 512,256)" in text
    assert "--epochs EPOCHS passes over the training data (default: enough for about 3,000 gradient steps" in text
    assert "--activation {relu,leaky-relu,elu,selu,gelu,silu,tanh,sigmoid}" in text


def test_help_imports_neither_torch_nor_scikit_learn():
    code = ("import sys\nfrom aelab.cli import main\n"
            "for argv in (['--help'], ['train', '--help'], ['detect', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted(m for m in ('torch', 'sklearn', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
