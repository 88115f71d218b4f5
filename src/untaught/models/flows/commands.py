"""``untaught flow-pictures RUN``: pictures of a trained flow, written into the run folder.

* 2-D continuous data (toys): data with a grid, the data and the grid mapped to noise, the density
  heat map with its integral, and samples (``flow-2d.png``).
* 1-D data (CDF flow, or any flow of one variable): the histogram of z = f(x) against the target
  at initialisation and after training, and both densities against the test data (``flow-1d.png``).
* Images: samples at several temperatures, one row each (``temperatures.png``), and latent
  interpolations between pairs of test images, one pair per row (``interpolation.png``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def cmd_flow_pictures(args: argparse.Namespace) -> int:
    from ...io import CONFIG, load_run, read_json
    from ...training import run_data
    from .flow import Flow

    folder, model = load_run(args.run, lambda m: isinstance(m, Flow), "flow-pictures draws flows")
    if model.config.num_classes:
        raise ValueError("flow-pictures draws unconditional flows; this one is class-conditional")
    train = read_json(folder / CONFIG)["train"]
    data = run_data(folder)
    out = Path(args.output or folder)
    shape = tuple(model.config.shape)
    gen = torch.Generator().manual_seed(args.seed)
    if shape == (2,) and model.config.levels is None:
        from ...viz.flows import flow_2d_figure

        mass = flow_2d_figure(
            model, data.test.x, out / "flow-2d.png", title=f"{model.name} on {train['data']}", extent=args.extent
        )
        print(f"wrote {out / 'flow-2d.png'} (density integral over [-{args.extent}, {args.extent}]^2: {mass:.4f})")
        return 0
    if shape == (1,) and model.config.levels is None:
        from ...viz.flows import cdf_figure

        torch.manual_seed(train.get("seed", 0))  # as `untaught train` seeds it: the run's initial weights
        initial = type(model)(model.config).eval()
        cdf_figure(initial, model, data.test.x, out / "flow-1d.png", title=f"{model.name} on {train['data']}")
        print(f"wrote {out / 'flow-1d.png'}")
        return 0
    if len(shape) != 3 or model.config.levels is None:
        raise ValueError(f"flow-pictures draws 1-D or 2-D continuous data or images; this flow models shape {shape}")
    from ...viz import save_grid

    temps = args.temperatures
    with torch.no_grad():
        z = model.base_sample(args.n, 1.0, gen)
        rows = torch.cat([model.decode(t * z) for t in temps])
    path = save_grid(rows.cpu(), model.config.levels, out / "temperatures.png", nrow=args.n)
    print(f"wrote samples at temperatures {', '.join(map(str, temps))} (one row each, same noise) to {path}")
    x = data.test.x
    pairs = torch.randint(len(x), (args.pairs, 2), generator=gen)
    path_rows = torch.cat([model.interpolate(x[i], x[j], steps=args.n) for i, j in pairs.tolist()])
    path = save_grid(path_rows.cpu(), model.config.levels, out / "interpolation.png", nrow=args.n)
    print(f"wrote {args.pairs} latent interpolations between test images (ends: the images) to {path}")
    return 0


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0.5,0.7,1; got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"temperatures must be positive; got {text!r}")
    return values


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("flow-pictures", help="pictures of a trained flow (2-D maps, temperatures, interpolations)")
    p.add_argument("run", help="run folder of a flow")
    p.add_argument("-o", "--output", help="folder for the PNGs (default: the run folder)")
    p.add_argument("-n", type=int, default=10, help="samples per temperature / points per interpolation (default 10)")
    p.add_argument(
        "--temperatures", type=_floats, default=(0.0001, 0.5, 0.7, 0.85, 1.0), help="default 0.0001,0.5,0.7,0.85,1"
    )
    p.add_argument("--pairs", type=int, default=6, help="interpolated pairs of test images (default 6)")
    p.add_argument("--extent", type=float, default=3.0, help="half-width of the 2-D picture's square (default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_flow_pictures)
