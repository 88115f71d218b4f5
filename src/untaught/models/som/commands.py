"""``untaught som``: train a self-organising map on a dataset through the engine and draw its pictures;
``untaught som-pictures RUN``: draw them for a trained run."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path


def _report_and_draw(model, data, folder: Path) -> None:
    from ...viz.som import save_som_pictures

    for split in ("val", "test"):
        x = getattr(data, split).x
        print(
            f"{split}: quantisation error {model.quantisation_error(x):.4f}, "
            f"topographic error {model.topographic_error(x):.4f} over {len(x)} examples"
        )
    for path in save_som_pictures(model, data.train.x, folder):
        print(f"wrote {path}")


def cmd_som(args: argparse.Namespace) -> int:
    import torch

    from ...training import prepare, train
    from ...training.engine import _is_main_process
    from .som import SOM, SOMConfig, decay_steps_for

    data = prepare(args.data, binarize=args.binarize, levels=args.levels)
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(SOMConfig) if f.name not in ("shape", "levels")}
    if values["decay_steps"] is None:  # decay over the run (the batch rule converges in its last pass)
        values["decay_steps"] = decay_steps_for(args.epochs, len(data.train) // args.batch_size, values["mode"])
    torch.manual_seed(args.seed)
    model = SOM(SOMConfig(shape=data.shape, levels=data.levels, **values))
    run = train(
        model, data, out=args.out, binarize=args.binarize, levels=args.levels, epochs=args.epochs,
        batch_size=args.batch_size, seed=args.seed, threads=args.threads, devices=args.devices,
        strategy=args.strategy, accelerator=args.accelerator, progress=args.progress, select="last", samples=0,
    )  # fmt: skip
    if not _is_main_process():
        return 0
    m = run.metrics
    print(f"run folder: {run.path}")
    print(f"trained {m['epochs']} epochs ({m['steps']} updates) in {m['fit_seconds']:.1f} s")
    _report_and_draw(run.model, data, run.path)
    return 0


def cmd_som_pictures(args: argparse.Namespace) -> int:
    from ...io import load_run
    from ...training import run_data
    from .som import SOM

    folder, model = load_run(args.run, lambda m: isinstance(m, SOM), "som-pictures draws SOMs")
    data = run_data(folder)
    _report_and_draw(model, data, Path(args.output or folder))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    from ...cli import add_config_options
    from .som import SOMConfig

    p = sub.add_parser(
        "som",
        help="train a self-organising map and draw its U-matrix, hit map, component planes, prototypes",
        description="Train a SOM on --data through the engine (run folder, checkpoints, resume with "
        "`untaught train --resume`), print quantisation and topographic errors, draw the pictures.",
    )
    p.add_argument("--data", default="digits", help="dataset name (see `untaught datasets`); default: digits")
    p.add_argument("--binarize", choices=["static", "dynamic"])
    p.add_argument("--levels", type=int)
    p.add_argument("--epochs", type=int, default=10, help="passes over the training set (default 10)")
    p.add_argument("--batch-size", type=int, default=256, help="examples per update (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int)
    p.add_argument("--devices", type=int, default=1)
    p.add_argument("--strategy", default="auto")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--out", help="run folder (default runs/som-DATA-TIME)")
    add_config_options(p, SOMConfig)
    p.set_defaults(func=cmd_som, decay_steps=None)

    p = sub.add_parser("som-pictures", help="quality measures and pictures of a trained SOM run")
    p.add_argument("run", help="run folder of a trained SOM")
    p.add_argument("-o", "--output", help="folder for the pictures (default: the run folder)")
    p.set_defaults(func=cmd_som_pictures)
