"""The ``untaught`` command. Heavy modules (Lightning, model families) are imported on demand."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MODEL_FIELDS_FROM_DATA = ("shape", "levels")

# Modules that add subcommands (embed, probe, inpaint, compress, ...): each defines
# ``add_commands(sub)`` and imports its heavy dependencies inside the command functions.
COMMAND_MODULES: tuple[str, ...] = (
    "untaught.codes",
    "untaught.inpaint",
    "untaught.models.boltzmann.commands",
    "untaught.models.som.commands",
    "untaught.models.sparse_coding.commands",
    "untaught.models.flows.commands",
    "untaught.leaderboard",
    "untaught.audit",
    "untaught.models.autoregressive.commands",
    "untaught.models.latent.commands",
    "untaught.models.compression.files",
    "untaught.models.compression.commands",
)


def tuple_of(kind: type) -> Any:
    """An argparse type for comma-separated values of ``kind`` (int, float or str), e.g. 500,500."""
    what = {int: "integers such as 500,500", float: "numbers such as 0.25,0.5"}.get(kind, "values")

    def parse(text: str) -> tuple:
        try:
            return tuple(kind(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {what}; got {text!r}") from None

    return parse


def add_config_options(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """One ``--option`` per field of a config dataclass (ints, floats, strings, flags, int tuples)."""
    hints = typing.get_type_hints(config_cls)
    group = parser.add_argument_group(f"{config_cls.__name__} options")
    for field in dataclasses.fields(config_cls):
        if field.name in MODEL_FIELDS_FROM_DATA:
            continue
        flag = "--" + field.name.replace("_", "-")
        hint, default = hints[field.name], field.default
        help_text = f"default: {default}"
        if hint is bool:
            group.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=default)
        elif typing.get_origin(hint) is typing.Literal:
            group.add_argument(flag, dest=field.name, choices=typing.get_args(hint), default=default, help=help_text)
        elif typing.get_origin(hint) is tuple:
            default_text = ",".join(map(str, default))
            group.add_argument(
                flag,
                dest=field.name,
                type=tuple_of(typing.get_args(hint)[0]),
                default=default,
                help=f"comma-separated, default: {default_text}",
            )
        else:
            kind = next((t for t in (int, float, str) if hint is t or t in typing.get_args(hint)), str)
            group.add_argument(flag, dest=field.name, type=kind, default=default, help=help_text)


# -- commands ---------------------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    from .registry import get_model_class, model_names

    rows = [(name, get_model_class(name)) for name in model_names()]
    print(f"{'model':<16} {'capabilities':<36} description")
    for name, cls in rows:
        caps = ", ".join(cls.capabilities())
        print(f"{name:<16} {caps:<36} {cls.description}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import dataset_names, get_info

    print(f"{'dataset':<18} {'shape':<12} {'levels':>6} {'train':>7} {'val':>7} {'test':>7}  offline  description")
    for name in dataset_names():
        info = get_info(name)
        shape = "x".join(map(str, info.shape))
        offline = "yes" if info.offline(None) else "no"
        s = info.sizes
        levels = info.levels or "cont."
        print(
            f"{name:<18} {shape:<12} {levels:>6} {s['train']:>7} {s['val']:>7} {s['test']:>7}  "
            f"{offline:<7}  {info.description}"
        )
    return 0


def _train_options(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields given on the command line (data options are passed separately)."""
    from .training import TrainConfig

    options = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(TrainConfig)}
    # --init-from, not --init: a model may have an option of that name (the SOM's initialisation)
    options["init"] = args.init_from
    return {k: v for k, v in options.items() if k not in ("data", "binarize", "levels")}


def cmd_train(args: argparse.Namespace) -> int:
    from .training import prepare, resume, train
    from .training.engine import _is_main_process

    if args.resume:
        run = resume(
            args.resume, epochs=args.epochs, max_time=args.max_time, progress=args.progress, threads=args.threads
        )
    else:
        import torch

        from .registry import get_model_class

        cls = get_model_class(args.model)
        from .data.patches import patch_data_name

        data = prepare(patch_data_name(args.data, args.patch, args.images), binarize=args.binarize, levels=args.levels)
        out = args.out
        if out is None and args.images:  # the data name holds the folder's path: not a folder name
            folder, stamp = Path(args.images).resolve().name, time.strftime("%Y%m%d-%H%M%S")
            out = str(Path("runs") / f"{args.model}-{folder}-patches-{args.patch or 8}-{stamp}")
        values = {
            f.name: getattr(args, f.name)
            for f in dataclasses.fields(cls.Config)
            if f.name not in MODEL_FIELDS_FROM_DATA
        }
        torch.manual_seed(args.seed)
        model = cls(cls.Config(shape=data.shape, levels=data.levels, **values))
        run = train(model, data, out=out, binarize=args.binarize, levels=args.levels, **_train_options(args))
    if _is_main_process():
        _report(run.path, run.metrics)
    return 0


def _report(folder: Path, metrics: dict[str, Any]) -> None:
    from .evaluation import describe_metrics

    print(f"run folder: {folder}")
    for line in describe_metrics(metrics):
        print(line)


def _model_to_evaluate(run: str, args: argparse.Namespace):
    """A run's folder and model, with the evaluation options of ``args`` (--ensemble, --iwae-k)
    applied; the options given, as a dict."""
    from .io import load_model, run_folder

    folder = run_folder(run)
    model = load_model(folder)
    # evaluation options are config fields a model declares (--ensemble: MADE, --iwae-k: VAEs, DRAW)
    given = {name: getattr(args, name) for name in EVAL_OPTIONS if getattr(args, name) is not None}
    for name in given:
        if name not in {f.name for f in dataclasses.fields(model.config)}:
            raise ValueError(f"--{name.replace('_', '-')} applies to {EVAL_OPTIONS[name]}; {model.name} has no {name}")
    if given:
        model.config = dataclasses.replace(model.config, **given)  # the config checks the values
    if "log_prob" not in model.capabilities():
        raise ValueError(f"{model.name} has no log_prob: there is no NLL to evaluate")
    return folder, model, given


def cmd_eval(args: argparse.Namespace) -> int:
    import torch

    from .evaluation import NLL, evaluate_nll, record_evaluation
    from .training import run_data

    folder, model, given = _model_to_evaluate(args.run, args)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    data = run_data(folder)
    started = time.perf_counter()
    result: NLL = evaluate_nll(model, getattr(data, args.split), batch_size=args.batch_size)
    seconds = time.perf_counter() - started
    print(f"{model.name} on {data.name} ({args.split}): {result} [{seconds:.1f} s]")
    record_evaluation(folder, result, args.split, " ".join(f"{k}={v}" for k, v in given.items()), seconds)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import math

    import torch

    from .data import Split
    from .evaluation import nll_values, paired_difference, summarize_nll
    from .io import CONFIG, read_json
    from .training import run_data

    runs = [_model_to_evaluate(run, args) for run in (args.run_a, args.run_b)]
    trained_on = [
        {k: read_json(folder / CONFIG)["train"].get(k) for k in ("data", "binarize", "levels")} for folder, _, _ in runs
    ]
    if trained_on[0] != trained_on[1]:
        raise ValueError(
            f"{runs[0][0]} was trained on {trained_on[0]} and {runs[1][0]} on {trained_on[1]}: "
            "a paired comparison needs the same data"
        )
    split = getattr(run_data(runs[0][0]), args.split)
    if args.images is not None:
        if not 2 <= args.images <= len(split.x):
            raise ValueError(
                f"--images must be in [2, {len(split.x)}] (the {args.split} split's size); got {args.images}"
            )
        split = Split(split.x[: args.images], split.y[: args.images], split.levels)
    torch.set_num_threads(args.threads or torch.get_num_threads())
    dims = math.prod(split.x.shape[1:])
    values = []
    for folder, model, _ in runs:
        torch.manual_seed(args.seed)
        started = time.perf_counter()
        values.append(nll_values(model, split, batch_size=args.batch_size))
        summary = summarize_nll(values[-1], dims, model.log_prob_kind)
        print(f"{folder} ({model.name}): {summary} [{time.perf_counter() - started:.1f} s]")
    mean, stderr = paired_difference(*values)
    kinds = {model.log_prob_kind for _, model, _ in runs}
    note = "" if kinds == {"exact"} else " (a difference of the figures above, which are not all exact NLLs)"
    print(f"A - B: {mean:+.4f} ± {stderr:.4f} nats per example, paired over the same {len(split.x)} examples{note}")
    if abs(mean) > 2 * stderr:
        print(f"{'A' if mean < 0 else 'B'} is lower by more than 2 paired standard errors")
    else:
        print("within 2 paired standard errors: no difference shown")
    return 0


EVAL_OPTIONS = {"ensemble": "models with a mask ensemble", "iwae_k": "latent-variable models (an IWAE bound)"}


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from .io import load_model, run_folder
    from .viz import save_grid

    folder = run_folder(args.run)
    model = load_model(folder)
    if args.n < 1:
        raise ValueError(f"-n must be >= 1; got {args.n}")
    samples = model.sample(args.n, temperature=args.temperature, generator=torch.Generator().manual_seed(args.seed))
    out = Path(args.output) if args.output else folder / f"samples-{args.n}-seed{args.seed}.png"
    save_grid(samples, model.config.levels, out)
    print(f"wrote {args.n} samples to {out}")
    return 0


# -- parser -----------------------------------------------------------------------------------------
def build_parser(model_name: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="untaught", description="Deep unsupervised learning on PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("models", help="list the registered models and their capabilities").set_defaults(func=cmd_models)
    sub.add_parser("datasets", help="list datasets: shape, levels, sizes, offline").set_defaults(func=cmd_datasets)

    p = sub.add_parser(
        "train",
        help="train a model (or --resume a run)",
        description="Train MODEL on --data; `untaught train MODEL --help` lists MODEL's options.",
    )
    p.add_argument("model", nargs="?", help="registered model name (see `untaught models`)")
    p.add_argument("--data", default="digits", help="dataset name (see `untaught datasets`); default: digits")
    p.add_argument("--patch", type=int, help="patch size N of a patch dataset (--data bsds500-patches --patch 12)")
    p.add_argument("--images", metavar="FOLDER", help="train on N x N grey patches (--patch, default 8) of its images")
    p.add_argument("--binarize", choices=["static", "dynamic"], help="binarise the data (2 levels)")
    p.add_argument("--levels", type=int, help="reduce the data to this many levels")
    p.add_argument("--epochs", type=int, help="epochs for the whole run (default 20 without --max-time)")
    p.add_argument("--max-time", type=float, help="time budget of the whole run, in minutes")
    p.add_argument(
        "--epoch-images",
        type=int,
        help="an epoch is this many training images, a different random subset each time (default: the "
        "whole split); validation, --epochs, --patience and training phases count these epochs",
    )
    p.add_argument(
        "--val-images",
        type=int,
        help="validate on the first N images of the validation split only (default: all of it); the test "
        "evaluation always uses the whole test split",
    )
    p.add_argument("--batch-size", type=int, default=64, help="global batch size (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--grad-clip", type=float, help="clip the gradient norm to this value")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--devices", type=int, default=1, help="processes / GPUs (default 1)")
    p.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp (default auto)")
    p.add_argument("--accelerator", default="auto", help="cpu, gpu or auto (default)")
    p.add_argument("--threads", type=int, help="torch threads per process (default: cores / devices)")
    p.add_argument("--samples", type=int, default=64, help="samples drawn into samples.png (default 64)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    p.add_argument(
        "--select",
        choices=["best", "last"],
        default="best",
        help="keep the weights of the best validation epoch (default) or the last",
    )
    p.add_argument("--patience", type=int, help="stop after this many epochs without validation improvement")
    p.add_argument(
        "--lr-patience",
        type=int,
        help="multiply the learning rate by --lr-factor after this many epochs without validation improvement",
    )
    p.add_argument("--lr-factor", type=float, default=0.2, help="learning-rate cut of --lr-patience (default 0.2)")
    p.add_argument("--out", help="run folder (default runs/MODEL-DATA-TIME)")
    p.add_argument("--init-from", metavar="RUN", help="start from the weights of this run (same architecture)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder from its last checkpoint")
    if model_name:
        from .registry import get_model_class

        add_config_options(p, get_model_class(model_name).Config)
    p.set_defaults(func=cmd_train)

    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)

    p = sub.add_parser("eval", help="test NLL (nats) and bits/dim of a run")
    p.add_argument("run", help="run folder")
    p.add_argument("--split", choices=["train", "val", "test"], default="test")
    p.add_argument("--ensemble", type=int, help="masks to average (MADE)")
    p.add_argument("--iwae-k", type=int, help="importance samples of the IWAE bound (VAE, IWAE, DRAW), e.g. 5000")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("compare", help="paired NLL difference of two runs on the same examples")
    p.add_argument("run_a", help="run folder A")
    p.add_argument("run_b", help="run folder B (trained on the same data as A)")
    p.add_argument("--split", choices=["train", "val", "test"], default="test")
    p.add_argument("--images", type=int, help="only the first N examples of the split")
    p.add_argument("--ensemble", type=int, help="masks to average (MADE), for both runs")
    p.add_argument("--iwae-k", type=int, help="importance samples of the IWAE bound, for both runs")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--threads", type=int)
    p.add_argument("--seed", type=int, default=0, help="seed of each model's evaluation (IWAE samples)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("sample", help="draw samples from a run into a PNG grid")
    p.add_argument("run", help="run folder")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("-o", "--output", help="PNG path (default RUN/samples-N-seedS.png)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_sample)
    return parser


def _model_name(argv: Sequence[str]) -> str | None:
    """The MODEL of `untaught train MODEL ...`, if given and registered (so its options can be added)."""
    from .registry import model_names

    args = list(argv)
    if len(args) < 2 or args[0] != "train" or args[1].startswith("-"):
        return None
    if args[1] not in model_names():
        raise ValueError(f"unknown model {args[1]!r}; expected one of: {', '.join(model_names())}")
    return args[1]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(_model_name(argv))
        args = parser.parse_args(argv)
        if args.command == "train" and not args.resume and not args.model:
            parser.error("train needs a MODEL (see `untaught models`) or --resume RUN")
        if args.command == "train" and args.resume and args.model:
            parser.error("give either MODEL or --resume RUN, not both")
        return args.func(args)
    except (ValueError, TypeError, OSError, FloatingPointError, RuntimeError) as e:
        if os.environ.get("UNTAUGHT_DEBUG"):
            raise
        print(f"untaught: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
