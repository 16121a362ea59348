"""The ``aelab`` command line: parse arguments, call the library, print. User errors exit 2 in one line."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aelab.extras import MissingExtra

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C

logger = logging.getLogger("aelab.cli")


class UsageError(ValueError):
    """A command-line argument that makes no sense."""


class OutputError(ValueError):
    """An output the file system refused (read-only, full, a folder in the way): the path, the cause, what to do."""


#: What to do when the file system refuses to write an output, by OSError number. Only these are a user's
#: fault to report in one line; any other OSError is raised as it is.
_WHAT_TO_DO = {getattr(errno, name): advice for name, advice in (
    ("EROFS", "pass an --out on a writable file system"),
    ("ENOSPC", "free some space or pass an --out on another disk"),
    ("EDQUOT", "free some space or pass an --out on another disk"),
    ("EFBIG", "pass an --out on a file system that holds larger files"),
    ("EACCES", "pass an --out you may write to"),
    ("EPERM", "pass an --out you may write to"),
    ("EISDIR", "a folder is in the way; pass another --out"),
    ("ENOTDIR", "a part of the path is a file, not a folder; pass another --out"),
    ("ENAMETOOLONG", "pass a shorter --out"),
) if hasattr(errno, name)}


@contextlib.contextmanager
def _writing(what: str, path: str | os.PathLike, kept: Callable[[], str | None] = lambda: None) -> Iterator[None]:
    """Within the block, an OSError of the file system (``_WHAT_TO_DO``) becomes an OutputError naming ``what``
    and ``path``; ``kept()``, called then, says what was kept and how to go on (None: the advice above)."""
    try:
        yield
    except OSError as e:
        if e.errno not in _WHAT_TO_DO:
            raise
        raise OutputError(f"cannot write {what} {path}: {e.strerror}; {kept() or _WHAT_TO_DO[e.errno]}") from None


def _refuse_folder(option: str, path: str | os.PathLike | None) -> None:
    if path is not None and Path(path).is_dir():
        raise UsageError(f"{option} {path} is a folder; pass the path of a file to write")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, written as it is typed (``512,256``), unless it has none
    (None, or an unset flag) or the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        default = action.default
        if (default is None or default is False or default is argparse.SUPPRESS or "%(default)" in action.help
                or not action.option_strings):
            return action.help
        return f"{action.help} (default: {_typed(default)})"


def _typed(value) -> str:
    """A default as it would be typed on the command line (``%`` escaped for argparse's formatting)."""
    text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    return text.replace("%", "%%")


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line, no usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _int_list(text: str) -> tuple[int, ...]:
    text = text.strip()
    if text.lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer widths such as 512,256, got {text!r}"
                                         ) from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be positive, got {text!r}")
    return sizes


def _k_value(text: str) -> int | None:
    if text.strip().lower() == "auto":
        return None
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of clusters or 'auto', got {text!r}") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"the number of clusters must be positive, got {k}")
    return k


def _k_range(text: str) -> tuple[int, int]:
    try:
        first, last = (int(part) for part in text.split(".."))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a range of k such as 2..15, got {text!r}") from None
    if not 2 <= first <= last:
        raise argparse.ArgumentTypeError(f"the range of k must start at 2 or more and not end before it starts, "
                                         f"got {text!r}")
    return first, last


_DATA_HELP = "built-in name (see 'aelab datasets') or a .npy/.npz/.csv/.parquet file or image folder"


def _add_data_options(parser: argparse.ArgumentParser, data: bool = True, required: bool = False,
                      default: str | None = "mnist5k", data_help: str = _DATA_HELP, split: bool = False,
                      subset: bool = False, skip_bad_rows: bool = False) -> None:
    """The options of ``aelab.data.DataOptions`` that a command takes (``_data_options`` reads them back):
    ``--data`` (unless ``data`` is False), ``--data-dir`` and ``--label-column`` always; ``--test-size``,
    ``--subset`` and ``--skip-bad-rows`` where the command uses them."""
    if data:
        parser.add_argument("--data", required=required, default=None if required else default, help=data_help)
    parser.add_argument("--data-dir", default=None,
                        help="directory of IDX files for fashion-mnist / mnist (default: $AELAB_DATA_DIR, then the "
                        "system's copy)")
    parser.add_argument("--label-column", default=None,
                        help="CSV/Parquet column holding the labels (default: a column named label, labels, y, "
                        "target or class, if any)")
    if split:
        parser.add_argument("--test-size", type=float, default=0.2, help="test fraction for data without a split")
    if subset:
        parser.add_argument("--subset", type=int, default=None,
                            help="use a fixed random subset of this many samples (the official split is kept)")
    if skip_bad_rows:
        parser.add_argument("--skip-bad-rows", action="store_true",
                            help="drop rows with NaN, infinite, missing or non-numeric values or the wrong number of "
                            "fields, and say how many (default: stop and name them)")


def _data_options(args, name: str | None = None):
    """The ``aelab.data.DataOptions`` of the options ``_add_data_options`` added; ``name`` replaces --data."""
    from aelab.data import DataOptions

    defaults = DataOptions()
    return DataOptions(name=args.data if name is None else name, data_dir=args.data_dir,
                       label_column=args.label_column, test_size=getattr(args, "test_size", defaults.test_size),
                       subset=getattr(args, "subset", defaults.subset),
                       skip_bad_rows=getattr(args, "skip_bad_rows", defaults.skip_bad_rows))


def _add_kind(parser: argparse.ArgumentParser, hidden: tuple[int, ...] | None = (512, 256),
              hidden_help: str = "") -> None:
    """--kind and --hidden: which autoencoder, and the widths of its dense encoder."""
    from aelab.names import KINDS

    parser.add_argument("--kind", default="vanilla", choices=KINDS,
                        help="the kind of autoencoder: " + ", ".join(KINDS))
    parser.add_argument("--hidden", type=_int_list, default=hidden,
                        help="encoder hidden widths of the dense kinds, e.g. 512,256 ('none' for no hidden layer)"
                        + hidden_help)


#: What --epochs means by default where the step budget sets the training length (Autoencoder(epochs=None)).
STEP_BUDGET_HELP = (" (default: enough for about 3,000 gradient steps, 10 to 500 epochs; early stopping usually "
                    "ends training before)")


def _add_training_options(parser: argparse.ArgumentParser, epochs: int | None, batch_size: int | None = 256,
                          learning_rate: float | None = 1e-3, epochs_help: str = "",
                          batch_size_help: str = "", patience: bool = True) -> None:
    """The autoencoder's training settings: --epochs, --batch-size, --lr and (where it stops early)
    --patience."""
    parser.add_argument("--epochs", type=int, default=epochs, help="passes over the training data" + epochs_help)
    parser.add_argument("--batch-size", type=int, default=batch_size,
                        help="samples per gradient step" + batch_size_help)
    parser.add_argument("--lr", type=float, default=learning_rate, help="learning rate of Adam")
    if patience:
        parser.add_argument("--patience", type=int, default=10,
                            help="stop when the validation loss has not improved for this many epochs")


def _add_seed_and_device(parser: argparse.ArgumentParser, seeded: str, device: str | None = "auto") -> None:
    parser.add_argument("--seed", type=int, default=0, help=f"random state of {seeded}")
    parser.add_argument("--device", default=device, help="auto (CUDA if there is one, else CPU), cpu, cuda, cuda:1 ...")


def _add_output_options(parser: argparse.ArgumentParser, what: str, required: bool = True,
                        out_help: str | None = None) -> None:
    """The output a command writes: --out, --force and --quiet."""
    parser.add_argument("--out", required=required, help=out_help or f"{what} to write")
    parser.add_argument("--force", action="store_true", help=f"replace an existing {what}")
    parser.add_argument("--quiet", action="store_true",
                        help="show only warnings and errors on standard error (log.txt in the output still "
                             "keeps every line)")


def _add_plotly_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plotly", default="inline", choices=("inline", "cdn"),
                        help="how report.html holds plotly.js: inline (it opens offline; about 4.8 MB more) or cdn "
                        "(a small file that loads plotly from its CDN)")


def _report_options(args):
    """How the command writes its report: ``--plotly`` and the command line."""
    from aelab.report import ReportOptions

    return ReportOptions(plotly=getattr(args, "plotly", "inline"), command=args.command_line)


def _add_refine_steps(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--refine-steps", type=int, default=None, metavar="N",
                        help="refine each code by N steps against the decoder, so that it decodes nearer its "
                        f"sample (0: the encoder's code; default: {default}); deterministic codes only")


def _add_augment(parser: argparse.ArgumentParser, default: str | None = "none", help: str | None = None) -> None:
    from aelab.names import AUGMENTATIONS

    parser.add_argument("--augment", default=default, choices=AUGMENTATIONS,
                        help=help or "move each training image by a random rotation (up to 10 degrees), shift (10%%) "
                        "and zoom (10%%); affine-flip also mirrors half of them (for clothes, not digits); "
                        "affine-small moves half as far (5 degrees, 5%%, 5%%)")


def _add_config(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--config", default=None, metavar="FILE",
                        help=f"the config.json of an earlier {what}: its settings become the defaults, and the "
                        "options given here override them")


def _add_train_parser(commands) -> None:
    from aelab.names import ACTIVATIONS, ON_DIVERGENCE

    train = commands.add_parser("train", help="train an autoencoder and write a run folder")
    _add_config(train, "run (RUN/config.json)")
    _add_data_options(train, split=True, subset=True, skip_bad_rows=True)
    _add_kind(train)
    train.add_argument("--latent", type=int, default=32, help="size of the code (n_components)")
    train.add_argument("--activation", default="relu", choices=ACTIVATIONS, help="activation of the hidden layers")
    train.add_argument("--loss", default="mse", choices=("mse", "bce"),
                       help="reconstruction loss: mean squared error, or binary cross-entropy (data in [0, 1])")
    _add_training_options(train, epochs=None, epochs_help=STEP_BUDGET_HELP)
    _add_seed_and_device(train, "split, weights, shuffling and methods")
    _add_output_options(train, "run folder", required=False)
    train.add_argument("--resume", default=None, metavar="RUN",
                       help="continue the interrupted run in the folder RUN from its last checkpoint")
    train.add_argument("--checkpoint-every", type=int, default=1, metavar="N",
                       help="save the training state to RUN/checkpoint every N epochs (0: only at the end and on "
                       "Ctrl-C)")
    train.add_argument("--on-divergence", default="stop", choices=ON_DIVERGENCE,
                       help="on a NaN/inf loss: stop, keeping the last good weights, or restore them and halve the "
                       "learning rate (at most 4 times)")
    train.add_argument("--stream", action="store_true",
                       help="stream a .npy/.parquet file by blocks instead of loading it (data larger than memory)")
    train.add_argument("--distributed", action="store_true",
                       help="data-parallel training over the processes torchrun started (on by itself under torchrun "
                       "with several processes); --batch-size is the global batch")
    train.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                       help="bf16: bfloat16 autocast in the training step (for CUDA)")
    train.add_argument("--compile", action="store_true", help="compile the training step with torch.compile")
    _add_augment(train)
    _add_refine_steps(train, "the kind's, 10 for umap, 0 for the others")
    _add_plotly_option(train)
    train.add_argument("--track", action="append", default=[], metavar="KIND:WHERE",
                       help="also record the run in tensorboard:DIR, mlflow:URI (e.g. mlflow:sqlite:///mlflow.db) or "
                       "csv:FILE; repeatable")


def _add_export_parser(commands) -> None:
    export = commands.add_parser("export", help="export a run's encoder and decoder, its scaling folded in, as ONNX "
                                 "or TorchScript files")
    export.add_argument("--run", required=True, help="run folder written by 'aelab train'")
    export.add_argument("--format", required=True, choices=("onnx", "torchscript"),
                        help="onnx (needs aelab[export]) or torchscript")
    export.add_argument("--opset", type=int, default=None, help="ONNX opset, 18 or more (default: the exporter's)")
    export.add_argument("--out", required=True, help="export folder to write")
    export.add_argument("--force", action="store_true", help="replace an existing export folder")


def _add_apply_parsers(commands) -> None:
    for name, what in (("encode", "the code of each sample"),
                       ("reconstruct", "the reconstruction of each sample, in the data's units"),
                       ("score", "the reconstruction error of each sample (higher: less like the training data)")):
        command = commands.add_parser(name, help=f"write {what} from a saved run to .npy, .csv or .parquet")
        command.add_argument("--run", required=True, help="run folder written by 'aelab train'")
        _add_data_options(command, required=True, skip_bad_rows=True)
        _add_output_options(command, "output file", out_help="output file: .npy, .csv or .parquet (CSV and Parquet "
                            "with named columns)")
        command.add_argument("--device", default=None,
                             help="auto, cpu, cuda, cuda:1 ... (default: the device the run was trained on, if "
                             "there is one)")


def _add_compare_parser(commands) -> None:
    from aelab.names import METHODS

    compare = commands.add_parser("compare", help="fit several methods on one split, measure them the same way "
                                  "and write a folder with figures and report.html")
    _add_data_options(compare, split=True, subset=True, skip_bad_rows=True)
    compare.add_argument("--methods", default=",".join(METHODS),
                         help=f"comma-separated methods to compare ({', '.join(METHODS)})")
    compare.add_argument("--latent", type=int, default=2, help="size of every code (n_components)")
    _add_kind(compare, hidden_help="; for ae")
    _add_training_options(compare, epochs=None, epochs_help=STEP_BUDGET_HELP)
    _add_augment(compare)
    _add_refine_steps(compare, "ae: the kind's; umap-ae: 10")
    _add_seed_and_device(compare, "split, weights, shuffling and methods")
    _add_output_options(compare, "comparison folder")
    _add_plotly_option(compare)


def _add_cluster_parser(commands) -> None:
    from aelab.names import CLUSTER_METHODS

    cluster = commands.add_parser("cluster", help="cluster the code of a pretrained autoencoder and write the "
                                  "assignments (CSV), figures and report.html")
    _add_data_options(cluster)
    cluster.add_argument("--method", default="n2d", choices=CLUSTER_METHODS,
                         help="kmeans or gmm of the code, n2d (UMAP then GMM), dec or idec (fine-tuned encoder)")
    cluster.add_argument("--k", type=_k_value, default=10, help="number of clusters, or 'auto': the highest "
                         "silhouette of a sweep over k (see --sweep)")
    cluster.add_argument("--sweep", type=_k_range, default=None,
                         help="range of k to sweep, e.g. 2..15 (implies --k auto; default range 2..15)")
    _add_kind(cluster, hidden=(500, 500, 2000))
    cluster.add_argument("--latent", type=int, default=10, help="size of the code (n_components)")
    _add_training_options(cluster, epochs=200, patience=False, epochs_help=" in pretraining")
    _add_augment(cluster)
    _add_seed_and_device(cluster, "the weights and the methods")
    _add_output_options(cluster, "folder")


def _add_bench_parser(commands) -> None:
    from aelab.bench import STUDIES, STUDY_METHODS

    bench = commands.add_parser("bench", help="run a reference study and write a results folder (results.md, "
                                "results.json, figures, report.html)")
    bench.add_argument("study", choices=tuple(STUDIES),
                       help="; ".join(f"{name}: {what}" for name, (_, _, what) in STUDIES.items()))
    _add_data_options(bench, default=None, data_help="built-in name (see 'aelab datasets') or a data file or image "
                      "folder (default: the study's own, mnist5k, or blobs for the blobs study)")
    bench.add_argument("--quick", action="store_true", help="a few epochs on a subset: a smoke test of the study")
    bench.add_argument("--epochs", type=int, default=None, help="passes over the training data (default: the "
                       "study's own)")
    bench.add_argument("--seeds", type=int, default=None,
                       help="repeat over seeds --seed, --seed + 1, ... (studies that repeat; default: the study's)")
    bench.add_argument("--methods", default=None,
                       help="comma-separated methods of the study to run (clustering only: "
                            + ", ".join(STUDY_METHODS["clustering"]) + "; default: all but umap-ae-n2d-input)")
    _add_augment(bench, default=None, help="image augmentation of the pretraining, see aelab train --augment "
                 "(clustering only; default: none)")
    _add_seed_and_device(bench, "split, weights and methods")
    _add_output_options(bench, "results folder")


def _add_detect_parser(commands) -> None:
    from aelab.names import DEFAULT_SCORER, SCORERS

    detect = commands.add_parser("detect", help="train an anomaly detector on normal data, score new data and "
                                 "write a CSV of index, score, flag, rank and an HTML report")
    _add_data_options(detect, required=True, data_help="the normal data to train on: built-in name, data file or "
                      "image folder")
    detect.add_argument("--score", required=True, help="the data to score, with the training data's columns")
    _add_output_options(detect, "CSV and report", out_help="the CSV to write (index, score, flag, rank)")
    detect.add_argument("--report", default=None, help="the HTML report to write (default: --out with .html)")
    detect.add_argument("--scorer", default=DEFAULT_SCORER, choices=("auto", *(s for s in SCORERS if s != "ocsvm")),
                        help="how to score: auto (smooth-mse for images, else mse), reconstruction error (mse, "
                        "smooth-mse: the residual image blurred first, bce), the code's isolation-forest, lof or "
                        "gmm, the variational ELBO (elbo) or combined (mse and gmm, standardized, averaged)")
    detect.add_argument("--contamination", type=float, default=0.1,
                        help="expected fraction of anomalies: the training score quantile below which rows are flagged")
    _add_kind(detect)
    detect.add_argument("--latent", type=int, default=None,
                        help="size of the code, n_components (default: 16, or the number of features if fewer)")
    _add_training_options(detect, epochs=None, batch_size=32, epochs_help=" (default: about 2,000 steps)")
    _add_seed_and_device(detect, "weights, shuffling and scorer")


def _add_datasets_parser(commands) -> None:
    datasets = commands.add_parser("datasets", help="list the built-in datasets, their sizes and where they are "
                                   "read from")
    datasets.add_argument("--data-dir", default=None,
                          help="directory of IDX files for fashion-mnist / mnist (default: $AELAB_DATA_DIR, then "
                          "the system's copy)")


def build_parser(defaults: dict[str, dict[str, Any]] | None = None) -> argparse.ArgumentParser:
    """The ``aelab`` parser: one sub-command per job, each with the shared options its job takes;
    ``defaults`` replaces the defaults of a command's options (command -> option dest -> value).

    It imports only ``aelab.names`` and ``aelab.bench`` (no torch, no scikit-learn), so that ``aelab --help``
    answers at once."""
    from aelab import __version__

    parser = _Parser(prog="aelab", description="Autoencoder lab: train, encode and compare autoencoders.")
    parser.add_argument("--version", action="version", version=f"aelab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train_parser(commands)
    _add_apply_parsers(commands)
    _add_compare_parser(commands)
    _add_cluster_parser(commands)
    _add_bench_parser(commands)
    _add_detect_parser(commands)
    _add_export_parser(commands)
    _add_datasets_parser(commands)
    for command, values in (defaults or {}).items():
        commands.choices[command].set_defaults(**values)
    return parser


#: How a job's field in config.json is spelled on the command line, where the two differ.
_OPTION_OF_FIELD = {"n_components": "latent", "learning_rate": "lr", "random_state": "seed", "name": "data"}
#: Fields of a job that record how it showed its progress, not what it computed.
_NOT_SETTINGS = ("verbose",)


def _config_defaults(path: str, command: str) -> dict[str, Any]:
    """The option defaults of ``command`` that the ``job`` of the config.json at ``path`` sets; a UsageError
    in one line when the file cannot be read or names a setting the command does not take."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) else "it is not JSON"
        raise UsageError(f"--config {path}: cannot read it ({reason}); pass the config.json of a run") from None
    job = record.get("job") if isinstance(record, dict) else None
    if not isinstance(job, dict) or not isinstance(job.get("data", {}), dict):
        raise UsageError(f"--config {path} holds no job settings; pass the config.json of a run of 'aelab {command}'")
    options = vars(build_parser().parse_args([command]))
    values = {}
    for field, value in [*job.get("data", {}).items(), *((k, v) for k, v in job.items() if k != "data")]:
        if field in _NOT_SETTINGS:
            continue
        dest = _OPTION_OF_FIELD.get(field, field)
        if dest not in options or dest in ("config", "out", "resume", "force", "quiet"):
            raise UsageError(f"--config {path}: unknown setting {field!r}; 'aelab {command}' takes no such option, so "
                             "pass a config.json written by it")
        values[dest] = tuple(value) if isinstance(value, list) else value
    return values


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """The arguments; with ``--config FILE`` the file's settings are the defaults the options override."""
    args = build_parser().parse_args(argv)
    if getattr(args, "config", None) is not None:
        args = build_parser({args.command: _config_defaults(args.config, args.command)}).parse_args(argv)
    return args


def _format_table(rows: list[dict], columns: list[str]) -> str:
    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
        return str(value)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _failed_after_training(error: BaseException, out: Path, checkpoint: Path) -> int | None:
    """Say that a run whose training finished failed later and that ``--resume`` finishes it (only the
    measuring and writing are done again); the exit code, or None to let an unexpected error's traceback
    follow the message."""
    resume = f"the trained model is kept in {checkpoint}; continue the run with: aelab train --resume {out}"
    if isinstance(error, KeyboardInterrupt):
        print(f"aelab: interrupted after training; {resume}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(error, OSError) and error.errno in _WHAT_TO_DO:
        return None  # the file system's refusal: _writing names the path, the checkpoint and the resume
    if isinstance(error, (ValueError, TypeError, OSError, FloatingPointError, MemoryError)):
        print(f"aelab: error: {error}; {resume}", file=sys.stderr)
        return EXIT_USAGE
    print(f"aelab: {resume}", file=sys.stderr)
    return None


def _changed_options(args, command: str, *required: str) -> list[str]:
    """The options of ``command`` that ``args`` sets to something other than their defaults, as ``--name``;
    ``required`` are stand-in values for the command's required options."""
    defaults = vars(build_parser().parse_args([command, *required]))
    return [f"--{name.replace('_', '-')}" for name, value in vars(args).items()
            if name in defaults and value != defaults[name]]


def _refuse_ignored_train_options(args) -> None:
    """Options that would do nothing in this combination are refused rather than silently ignored."""
    changed = _changed_options(args, "train")
    if args.resume is not None:
        ignored = [o for o in changed if o not in ("--resume", "--out", "--quiet", "--track")]
        if ignored:
            raise UsageError(f"--resume continues a run with the settings it was started with, so {', '.join(ignored)} "
                             "would do nothing; leave them out (or start a new run with --out and --force)")
        return
    _refuse_ignored_kind_options(args, changed)


def _refuse_ignored_kind_options(args, changed: list[str]) -> None:
    """--hidden (and --activation) where ``args.kind`` fixes them would do nothing: refused in one line."""
    from aelab.parts.kinds import kind

    encoder = kind(args.kind)["encoder"].get_params()
    if "--hidden" in changed and kind(args.kind, hidden=args.hidden)["encoder"].get_params() == encoder:
        raise UsageError(f"--hidden sets the widths of dense layers, but --kind {args.kind} uses convolutions "
                         f"({', '.join(map(str, encoder.get('filters', ())))} filters) and takes no --hidden; "
                         "leave out --hidden, or use a dense kind such as vanilla")
    activation = getattr(args, "activation", None)
    if ("--activation" in changed and activation != encoder.get("activation")
            and kind(args.kind, activation=activation)["encoder"].get_params() == encoder):
        raise UsageError(f"--kind {args.kind} uses its own activation ({encoder.get('activation')}), so --activation "
                         f"{activation} would do nothing; leave out --activation")


def _count(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: ``1 epoch``, ``20 epochs``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _new_train_job(args, writer: bool):
    """The run folder and the TrainJob of a new run, from the options; the folder is checked first."""
    from aelab.runs import TrainJob, check_output_folder
    from aelab.training.distributed import started_by_torchrun

    if args.out is None:
        raise UsageError("pass --out RUN, the run folder to write (or --resume RUN to continue a run)")
    if args.checkpoint_every < 0:
        raise UsageError(f"--checkpoint-every must be >= 0, got {args.checkpoint_every}")
    _refuse_ignored_train_options(args)
    if args.stream and args.skip_bad_rows:
        raise UsageError("--skip-bad-rows needs the data in memory and does not work with --stream; remove the "
                         "bad rows from the file, or train without --stream")
    data = _data_options(args)
    data.check()
    # the other ranks would see rank 0's run in the making and refuse it
    out = check_output_folder(args.out, args.force) if writer else Path(args.out)
    job = TrainJob(
        data=data, kind=args.kind, hidden=args.hidden, n_components=args.latent,
        activation=args.activation, loss=args.loss, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.lr, patience=args.patience, random_state=args.seed, device=args.device,
        verbose=0 if args.quiet else 1, precision=args.precision, compile=args.compile, stream=args.stream,
        distributed=args.distributed or started_by_torchrun(), checkpoint_every=args.checkpoint_every,
        on_divergence=args.on_divergence, augment=args.augment, refine_steps=args.refine_steps,
    )
    return out, job


def _trackers(specs: list[str], out: Path, writer: bool) -> list:
    """The trackers of the --track options, opened (on the process that writes the run); a file or folder of
    theirs may not lie in the run folder, which is replaced as a whole when the run is written."""
    from aelab.training.tracking import make_tracker

    trackers = [make_tracker(spec) for spec in specs]
    for spec, tracker in zip(specs, trackers, strict=True):
        where = getattr(tracker, "path", None) or getattr(tracker, "log_dir", None)
        if where is not None and Path(out).absolute() in (Path(where).absolute(), *Path(where).absolute().parents):
            raise UsageError(f"--track {spec} lies in the run folder {out}, which is replaced when the run is written; "
                             "pass a place outside it")
    for tracker in trackers if writer else ():
        tracker.open()
    return trackers


def _train_and_write(job, out: Path, checkpoint: Path, resume: bool, trackers: list, report, log):
    """Train ``job`` and write its run folder, with ``log`` (aelab.logs.RunLog) as its log.txt, then give
    ``trackers`` its final metrics and folder; the outcome,
    or None on a rank other than 0 (it only helps to train)."""
    from dataclasses import replace

    from aelab.runs import clipped_message, run_training, write_run
    from aelab.training.distributed import distributed_session

    if job.distributed:
        with distributed_session(job.device) as context:
            outcome = run_training(job if context.is_main else replace(job, verbose=0), distributed=context,
                                   checkpoint=checkpoint, resume=resume, callbacks=trackers)
        if outcome is None:
            return None
    else:
        outcome = run_training(job, checkpoint=checkpoint, resume=resume, callbacks=trackers)
    if outcome.skipped_rows:
        from aelab.data.dataset import skipped_message

        logger.warning(skipped_message(outcome.dataset.name, outcome.skipped_rows))
    if clipped_message(outcome) is not None:
        logger.warning(clipped_message(outcome))
    write_run(outcome, out, force=True, checkpoint=checkpoint, report=report, log=log)
    for tracker in trackers:
        tracker.log_run(out, outcome.metrics)
    return outcome


def _print_train_summary(outcome, job, out: Path) -> None:
    from aelab.runs import summary_rows

    shape = "-".join(str(s) for s in (outcome.dataset.n_features, *job.hidden, job.n_components))
    encoder_params = outcome.estimator.encoder.get_params()
    if "filters" in encoder_params:
        shape = f"conv {'-'.join(map(str, encoder_params['filters']))} to {job.n_components}"
    print(f"{outcome.dataset.name}: {outcome.split.description['n_train']} train / "
          f"{outcome.split.description['n_test']} test samples; {job.kind} autoencoder {shape} "
          f"({_count(outcome.estimator.n_epochs_, 'epoch')}, best {outcome.estimator.best_epoch_})")
    print(_format_table(summary_rows(outcome.metrics),
                        ["method", "reconstruction_mse", "kmeans_accuracy", "silhouette", "fit_seconds"]))
    print(f"run folder: {out}")


def _train(args) -> int:
    from dataclasses import asdict, replace

    from aelab.io import json_safe
    from aelab.locks import folder_lock
    from aelab.logs import recording
    from aelab.runs import check_output_folder, discard_checkpoint, resume_job, start_checkpoint
    from aelab.training.checkpoints import has_checkpoint, training_finished
    from aelab.training.faults import TrainingInterrupted

    writer = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 alone owns the folder
    if args.resume is not None:
        if args.out is not None and Path(args.out).absolute() != Path(args.resume).absolute():
            raise UsageError("--resume continues a run in its own folder; leave out --out")
        _refuse_ignored_train_options(args)
        out, job = Path(args.resume), None
    else:
        out, job = _new_train_job(args, writer)
    checkpoint = out / "checkpoint"
    trackers = _trackers(args.track, out, writer)

    def kept() -> str | None:  # after a file system error: what a rerun can go on from
        if not has_checkpoint(checkpoint):
            return None
        return (f"the checkpoint of the training is kept in {checkpoint}; make room, then finish the run with: "
                f"aelab train --resume {out}")

    with _writing("run folder", out, kept), folder_lock(out) if writer else contextlib.nullcontext():
        created = not out.exists()
        if job is None:
            job, checkpoint = resume_job(out)
            job = replace(job, verbose=0 if args.quiet else 1)
        elif writer:
            check_output_folder(out, args.force)  # again, now that this process holds the folder
            checkpoint = start_checkpoint(out, job)
        # a run stopped before its first checkpoint starts again; a new run never reads an old checkpoint
        resume = args.resume is not None and has_checkpoint(checkpoint)
        for tracker in trackers:  # they record the job's settings with the training's
            tracker.params = json_safe(asdict(job))
        try:
            with recording() as log:
                outcome = _train_and_write(job, out, checkpoint, resume, trackers, _report_options(args), log)
        except TrainingInterrupted as e:
            print(f"aelab: {e}; continue the run with: aelab train --resume {out}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BaseException as e:
            if writer:
                discard_checkpoint(out, checkpoint, created)
                if training_finished(checkpoint):
                    code = _failed_after_training(e, out, checkpoint)
                    if code is not None:
                        return code
            raise
    if outcome is not None:  # ranks other than 0 only help to train
        _print_train_summary(outcome, job, out)
    return 0


def _compare(args) -> int:
    from aelab.compare import TABLE_METRICS, CompareJob, parse_methods, run_comparison, write_comparison
    from aelab.locks import folder_lock
    from aelab.logs import recording
    from aelab.runs import check_output_folder

    data = _data_options(args)
    data.check()
    methods = parse_methods(args.methods)
    changed = _changed_options(args, "compare", "--out", args.out)
    if "ae" not in methods and "umap-ae" not in methods:
        autoencoder_options = ("--kind", "--hidden", "--epochs", "--batch-size", "--lr", "--patience", "--augment",
                               "--refine-steps")
        ignored = [o for o in changed if o in autoencoder_options]
        if ignored:
            raise UsageError(f"{', '.join(ignored)} set(s) the autoencoder's training, but --methods "
                             f"{args.methods} has no ae; leave them out or add ae to --methods")
    _refuse_ignored_kind_options(args, changed)
    check_output_folder(args.out, args.force)
    job = CompareJob(
        data=data, methods=methods, n_components=args.latent, kind=args.kind, hidden=args.hidden,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, patience=args.patience,
        random_state=args.seed, device=args.device, augment=args.augment, refine_steps=args.refine_steps,
        verbose=0 if args.quiet else 1,
    )
    with _writing("comparison folder", args.out), folder_lock(args.out), recording() as log:
        check_output_folder(args.out, args.force)
        outcome = run_comparison(job)
        if outcome.skipped_rows:
            from aelab.data.dataset import skipped_message

            logger.warning(skipped_message(outcome.dataset.name, outcome.skipped_rows))
        out = write_comparison(outcome, args.out, force=args.force, report=_report_options(args), log=log)
    split = outcome.split.description
    print(f"{outcome.dataset.name}: {split['n_train']} train / {split['n_test']} test samples; "
          f"{args.latent}-D codes; metrics on the test split")
    rows = [{"metric": metric, **{name: r.metrics.get(metric) for name, r in outcome.results.items()}}
            for metric in TABLE_METRICS]
    print(_format_table(rows, ["metric", *outcome.results]))
    print(f"comparison folder: {out} (report.html)")
    return 0


def _cluster(args) -> int:
    from aelab.cluster_runs import ClusterJob, run_clustering, write_clustering
    from aelab.logs import recording
    from aelab.runs import check_output_folder

    changed = _changed_options(args, "cluster", "--out", args.out)
    _refuse_ignored_kind_options(args, changed)
    if args.sweep is not None and args.k is not None and "--k" in changed:
        raise UsageError(f"--sweep chooses k (the highest silhouette over {args.sweep[0]}..{args.sweep[1]}), so --k "
                         f"{args.k} would do nothing; leave out --k, or --sweep to use k = {args.k}")
    check_output_folder(args.out, args.force)
    job = ClusterJob(data=_data_options(args), method=args.method,
                     k=None if args.sweep is not None else args.k, sweep=args.sweep, kind=args.kind,
                     hidden=args.hidden, n_components=args.latent, epochs=args.epochs, batch_size=args.batch_size,
                     learning_rate=args.lr, random_state=args.seed, device=args.device,
                     verbose=0 if args.quiet else 1, augment=args.augment)
    with recording() as log:
        outcome = run_clustering(job)
        with _writing("cluster folder", args.out):
            out = write_clustering(outcome, args.out, force=args.force, report=_report_options(args), log=log)
    metrics = outcome.metrics
    print(f"{outcome.dataset.name}: {_count(metrics['n_samples'], 'sample')}, {args.method}, k = {metrics['k']}")
    if outcome.sweep is not None:
        print(_format_table(outcome.sweep.rows(), ["k", "silhouette", "bic"]))
    columns = [c for c in ("accuracy", "nmi", "ari") if c in metrics] + ["pretrain_seconds", "cluster_seconds"]
    print(_format_table([metrics], columns))
    print(f"cluster folder: {out} (assignments.csv, report.html)")
    return 0


def _study_methods(study: str, text: str | None) -> tuple[str, ...] | None:
    """The methods ``--methods`` names for ``study`` (None: all of them), each checked against the study's."""
    from aelab.bench import STUDY_METHODS

    if text is None:
        return None
    if study not in STUDY_METHODS:
        raise UsageError(f"the {study} study runs all its methods and takes no --methods; --methods is for "
                         f"{', '.join(STUDY_METHODS)}")
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in STUDY_METHODS[study]]
    if unknown or not names:
        raise UsageError(f"--methods {text!r}: " + (f"unknown method {unknown[0]!r}" if unknown else "no method")
                         + f"; choose among {', '.join(STUDY_METHODS[study])}")
    return names


def _bench(args) -> int:
    from aelab.bench import AUGMENTING_STUDIES, REPEATING_STUDIES, STUDIES, study_module
    from aelab.bench.study import StudySettings, markdown_table, write_study
    from aelab.locks import folder_lock
    from aelab.logs import recording
    from aelab.runs import check_output_folder

    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs must be >= 1, got {args.epochs}")
    if args.seeds is not None and args.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {args.seeds}")
    if args.augment is not None and args.study not in AUGMENTING_STUDIES:
        raise UsageError(f"the {args.study} study trains as its reference study did and takes no --augment; "
                         f"--augment is for {', '.join(AUGMENTING_STUDIES)}")
    if args.seeds is not None and args.study not in REPEATING_STUDIES:
        raise UsageError(f"the {args.study} study runs once and takes no --seeds; --seeds is for "
                         f"{', '.join(REPEATING_STUDIES)}")
    methods = _study_methods(args.study, args.methods)
    check_output_folder(args.out, args.force)
    settings = StudySettings(data=_data_options(args, name=args.data or STUDIES[args.study][1]), seeds=args.seeds,
                             quick=args.quick, epochs=args.epochs, random_state=args.seed, device=args.device,
                             augment=args.augment, methods=methods)
    with _writing("results folder", args.out), folder_lock(args.out), recording() as log:
        check_output_folder(args.out, args.force)
        result = study_module(args.study).run(settings)
        out = write_study(result, args.out, force=args.force, command=args.command_line, log=log)
    print(result.title)
    for caption, rows in result.tables.items():
        print(f"\n{caption}\n{markdown_table(rows)}")
    for note in result.notes:
        print(f"- {note}")
    print(f"results folder: {out} (results.md, results.json, report.html)")
    return 0


_APPLIED = {"encode": "codes", "reconstruct": "reconstructions", "score": "reconstruction errors"}


def _column_names(what: str) -> Callable[[int], list[str]]:
    """The header of a CSV or Parquet output of encode (``ae0``, ``ae1`` ...), reconstruct (``x0``, ``x1`` ...,
    the input's features) or score (``reconstruction_error``)."""
    if what == "score":
        return lambda n: ["reconstruction_error"]
    prefix = "ae" if what == "encode" else "x"
    return lambda n: [f"{prefix}{i}" for i in range(n)]


def _apply_function(model, what: str):
    """``rows in the data's units -> result`` for encode, reconstruct or score, by the run's Pipeline."""
    if what == "encode":
        return model.transform
    if what == "reconstruct":
        return lambda rows: model.inverse_transform(model.transform(rows))
    return lambda rows: -model.score_samples(rows)[:, None]


def _check_features(name: str, n_features: int, model) -> None:
    if n_features != model.n_features_in_:
        raise ValueError(f"{name} has {n_features} features but the run's model was trained "
                         f"on {model.n_features_in_}; pass data with the same columns as in training")


def _apply_run(args, what: str) -> int:
    from aelab.data.dataset import skipped_message
    from aelab.data.streaming import OUTPUT_SUFFIXES, STREAM_SUFFIXES, StreamingSource, write_rows, write_streamed
    from aelab.pipeline import load_run

    out = Path(args.out)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"--out {out} must end in {', '.join(OUTPUT_SUFFIXES)}")
    _refuse_folder("--out", out)
    if out.exists() and not args.force:
        raise UsageError(f"--out {out} already exists; pass --force to replace it, or another --out")
    model = load_run(args.run, device=args.device)
    function = _apply_function(model, what)
    data = _data_options(args)
    path = Path(data.name)
    if path.suffix.lower() in STREAM_SUFFIXES and path.is_file() and not data.skip_bad_rows:
        # files that may be larger than memory are read and written a chunk at a time
        data.check()
        source = StreamingSource(path, label_column=data.label_column)
        _check_features(str(path), source.n_features, model)
        with _writing(_APPLIED[what], out):
            shape = write_streamed(source, function, out, _column_names(what))
    else:
        dataset, skipped = data.load()
        if len(skipped):
            logger.warning("%s; the output has one row per kept row", skipped_message(dataset.name, skipped))
        _check_features(dataset.name, dataset.n_features, model)
        result = function(dataset.X)
        with _writing(_APPLIED[what], out):
            shape = write_rows(iter([result]), len(result), out, _column_names(what))
    print(f"wrote {shape[0]} x {shape[1]} {_APPLIED[what]} to {out}")
    return 0


def _detect(args) -> int:
    from aelab.detect import DetectJob, run_detection, summary, write_detection
    from aelab.logs import recording

    if Path(args.out).suffix.lower() != ".csv":
        raise UsageError(f"--out {args.out} must end in .csv")
    _refuse_folder("--out", args.out)
    _refuse_folder("--report", args.report)
    _refuse_ignored_kind_options(args, _changed_options(args, "detect", "--data", args.data, "--score", args.score,
                                                        "--out", args.out))
    job = DetectJob(data=_data_options(args), score=args.score, out=args.out, report=args.report,
                    scorer=args.scorer, contamination=args.contamination, kind=args.kind, hidden=args.hidden,
                    n_components=args.latent, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                    patience=args.patience, random_state=args.seed, device=args.device,
                    verbose=0 if args.quiet else 1, force=args.force)
    with recording() as log:
        outcome = run_detection(job)
        with _writing("scores and report", args.out):
            out, report = write_detection(outcome, _report_options(args), log=log)
    numbers = summary(outcome)
    print(f"scored {_count(numbers['n'], 'row')} with {numbers['scorer']}: {numbers['flagged']} flagged as anomalies "
          f"(threshold {numbers['threshold']:.6g})")
    print(f"scores: {out}; report: {report}")
    return 0


def _export(args) -> int:
    from aelab.export import export_model
    from aelab.runs import check_output_folder

    check_output_folder(args.out, args.force)
    with _writing("export folder", args.out):
        record = export_model(args.run, args.out, format=args.format, opset=args.opset, force=args.force)
    files = ", ".join(f"{record[part]['file']} ({record[part]['bytes']:,} bytes)" for part in ("encoder", "decoder"))
    notes = [args.format] + ([f"opset {record['opset']}"] if record["opset"] is not None else [])
    notes.append("the scaling folded in" if record["scaling_folded_in"] else "a model folder: no scaling")
    print(f"exported {files} and export.json to {args.out} ({', '.join(notes)})")
    return 0


def _datasets(args) -> int:
    from aelab.data.builtin import list_builtin

    for row in list_builtin(args.data_dir):
        where = row["where"] or ("not found: pass --data-dir or set AELAB_DATA_DIR to a folder of its IDX files"
                                 if row["name"] in ("mnist", "fashion-mnist") else "not installed")
        print(f"{row['name']:<14} {row['size']}: {row['description']}\n{'':<14} {where}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``aelab`` console script."""
    try:  # the commands import torch: Ctrl-C from here on is one line too
        args = _parse(argv)
        args.command_line = "aelab " + shlex.join(sys.argv[1:] if argv is None else argv)
        handler = {"train": _train, "encode": lambda a: _apply_run(a, "encode"),
                   "reconstruct": lambda a: _apply_run(a, "reconstruct"), "score": lambda a: _apply_run(a, "score"),
                   "datasets": _datasets, "compare": _compare, "cluster": _cluster,
                   "bench": _bench, "detect": _detect, "export": _export}[args.command]
        from aelab.logs import command_line_logging

        # under torchrun the other ranks only help to train: rank 0 alone reports
        quiet = getattr(args, "quiet", False) or os.environ.get("RANK", "0") != "0"
        with command_line_logging(quiet=quiet):
            return handler(args)
    except (ValueError, FileExistsError, FloatingPointError, MemoryError, MissingExtra) as e:
        print(f"aelab: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # a file system refusal outside the outputs above (a data file, a model folder)
        if e.errno not in _WHAT_TO_DO or e.filename is None:
            raise
        print(f"aelab: error: {e.filename}: {e.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("aelab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
