"""One leaderboard: every finished run under a directory, one table per dataset.

``untaught leaderboard [DIR ...] [--data D]`` reads each run folder's ``config.json`` and
``metrics.json`` (and the evaluations ``untaught eval`` recorded there, such as an IWAE bound with
k = 5000), and prints a table per dataset, best test NLL first: model, family, test NLL in nats and
bits/dim, its kind, parameters, training time and budget, date and command. It writes each table
as Markdown and CSV and draws bits/dim against training time as a PNG.

A dataset here is the data a model was scored on: the name together with its binarisation or level
reduction, since NLLs over different discrete spaces cannot be compared. A lower bound on the
log-likelihood (ELBO, IWAE) is an upper bound on the NLL and is shown as ``≤ value``; an estimate
(AIS) as ``≈ value``; exact values bare. No cell of a bound is ever printed unmarked.
"""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CSV_COLUMNS = (
    "rank",
    "model",
    "family",
    "dataset",
    "test_nll_nats",
    "stderr_nats",
    "bits_per_dim",
    "nll_kind",
    "method",
    "parameters",
    "fit_seconds",
    "budget",
    "date",
    "command",
    "run",
)
MARK = {"exact": "", "lower bound": "≤ ", "estimate": "≈ "}
LEGEND = (
    "`≤ x`: the model gives a lower bound on log p(x) (ELBO / IWAE), so its true NLL is at most x; "
    "`≈ x`: an estimate (AIS); bare numbers are exact."
)


@dataclass(frozen=True)
class Entry:
    """One finished run's test result and what it cost."""

    folder: Path
    model: str
    family: str
    dataset: str  # name plus its binarisation / levels, e.g. "fashion-mnist (dynamic binarisation)"
    nats: float
    stderr: float
    bpd: float
    kind: str  # exact / lower bound / estimate
    method: str  # how the number was computed if not at the end of training, e.g. "IWAE k=5000"
    parameters: int | None
    seconds: float | None
    budget: str
    date: str
    command: str


def dataset_label(train: dict[str, Any]) -> str:
    """The data a run was scored on: name plus binarisation or level reduction."""
    name = train.get("data", "?")
    if train.get("binarize"):
        return f"{name} ({train['binarize']} binarisation)"
    if train.get("levels"):
        return f"{name} ({train['levels']} levels)"
    return name


def family_of(model: str) -> str:
    """The model's family: the package under ``untaught.models`` that holds it."""
    from .registry import _MODELS

    target = _MODELS.get(model, "")
    parts = target.split(":")[0].split(".")
    return parts[2] if len(parts) > 3 and parts[1] == "models" else "?"


def model_label(config: dict[str, Any]) -> str:
    """The model's registry name, with its variant (:meth:`~untaught.models.base.Model.variant`) if it has one."""
    from .registry import _MODELS, get_model_class

    name = config.get("model", "?")
    variant = get_model_class(name).variant(config.get("model_config", {})) if name in _MODELS else ""
    return f"{name} ({variant})" if variant else name


def budget_of(train: dict[str, Any], metrics: dict[str, Any]) -> str:
    """The budget the run was given (epochs, minutes) and the epochs it ran."""
    given = []
    if train.get("epochs"):
        given.append(f"{train['epochs']} epochs")
    if train.get("max_time"):
        given.append(f"{train['max_time']:g} min")
    ran = metrics.get("epochs")
    text = " / ".join(given) or "20 epochs (default)"
    return f"{text}, ran {ran}" if ran is not None else text


class NotOnLeaderboard(ValueError):
    """A run folder that cannot be ranked (unfinished, or without a test NLL)."""


def read_entry(folder: str | Path) -> Entry:
    """The leaderboard entry of one run folder; :class:`NotOnLeaderboard` says why there is none."""
    from .io import CONFIG, METRICS, read_json

    folder = Path(folder)
    config = read_json(folder / CONFIG)
    if not (folder / METRICS).is_file():
        raise NotOnLeaderboard(f"{folder}: no {METRICS} (training has not finished; resume it to finish)")
    metrics = read_json(folder / METRICS)
    train = config.get("train", {})
    candidates = []
    if "test_nll_nats" in metrics:
        candidates.append((metrics, "test", ""))
    for record in metrics.get("evaluations", []):
        # only evaluations of the whole test set stand next to the others (not those of a subset)
        whole = record.get("n") == metrics.get("test_n") or "test_n" not in metrics
        if record.get("split") == "test" and whole:
            candidates.append((record, "", record.get("method", "eval")))
    if not candidates:
        raise NotOnLeaderboard(
            f"{folder}: no test NLL in {METRICS} ({config.get('model', '?')} has no density: "
            f"keys {sorted(k for k in metrics if k.startswith('test'))})"
        )

    def field(record: dict[str, Any], prefix: str, name: str) -> Any:
        return record[f"{prefix}_{name}" if prefix else name]

    # an exact value if there is one; then the AIS evaluation of most temperatures (an AIS log Z is
    # biased low, so the figure of a cheaper AIS is not a tighter bound, only a worse estimate);
    # among other bounds, the tightest (lowest NLL)
    def rank(c: tuple[dict[str, Any], str, str]) -> tuple[int, float]:
        record, prefix, method = c
        if field(record, prefix, "nll_kind") == "exact":
            return (0, field(record, prefix, "nll_nats"))
        if method.startswith("ais_betas="):
            return (1, -float(method.removeprefix("ais_betas=")))
        return (2, field(record, prefix, "nll_nats"))

    record, prefix, method = min(candidates, key=rank)
    kind = field(record, prefix, "nll_kind")
    if kind not in MARK:
        raise NotOnLeaderboard(f"{folder}: unknown NLL kind {kind!r}; expected one of {sorted(MARK)}")
    return Entry(
        folder=folder,
        model=model_label(config),
        family=family_of(config.get("model", "")),
        dataset=dataset_label(train),
        nats=float(field(record, prefix, "nll_nats")),
        stderr=float(field(record, prefix, "nll_stderr_nats")),
        bpd=float(field(record, prefix, "bpd")),
        kind=kind,
        method=method,
        parameters=metrics.get("parameters"),
        seconds=metrics.get("fit_seconds"),
        budget=budget_of(train, metrics),
        date=str(config.get("created", ""))[:16].replace("T", " "),
        command=config.get("command", ""),
    )


def collect(roots: list[str | Path]) -> tuple[list[Entry], list[str]]:
    """Every run folder (a directory with config.json) under ``roots``: entries, and why others were left out."""
    from .io import CONFIG

    entries, skipped = [], []
    for root in map(Path, roots):
        if not root.is_dir():
            raise FileNotFoundError(f"leaderboard: {str(root)!r} is not a directory of run folders")
        folders = sorted({p.parent for p in root.rglob(CONFIG) if "checkpoints" not in p.parts})
        for folder in folders:
            try:
                entries.append(read_entry(folder))
            except NotOnLeaderboard as e:
                skipped.append(str(e))
            except (ValueError, FileNotFoundError) as e:
                skipped.append(f"{folder}: unreadable ({e})")
    return entries, skipped


def by_dataset(entries: list[Entry]) -> dict[str, list[Entry]]:
    """Entries grouped per dataset, each group best (lowest test NLL) first."""
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(e.dataset, []).append(e)
    return {k: sorted(v, key=lambda e: (e.nats, e.model)) for k, v in sorted(groups.items())}


def _check_one_dataset(entries: list[Entry]) -> None:
    datasets = sorted({e.dataset for e in entries})
    if len(datasets) > 1:
        raise ValueError(f"one table holds one dataset; these entries mix {datasets}")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def rows(entries: list[Entry]) -> list[dict[str, str]]:
    """Display rows of one dataset's table (best first); bounds and estimates carry their mark."""
    _check_one_dataset(entries)
    out = []
    for i, e in enumerate(sorted(entries, key=lambda e: (e.nats, e.model)), 1):
        mark = MARK[e.kind]
        out.append(
            {
                "#": str(i),
                "model": e.model,
                "family": e.family,
                "test NLL (nats)": f"{mark}{e.nats:.2f} ± {e.stderr:.2f}",
                "bits/dim": f"{mark}{e.bpd:.4f}",
                "kind": f"{e.kind} ({e.method})" if e.method else e.kind,
                "parameters": f"{e.parameters:,}" if e.parameters is not None else "?",
                "training time": _duration(e.seconds),
                "budget": e.budget,
                "date": e.date,
                "command": e.command,
            }
        )
    return out


def markdown(dataset: str, entries: list[Entry]) -> str:
    """One dataset's table as Markdown, with the legend of the marks."""
    table = rows(entries)
    header = list(table[0])
    lines = [f"### {dataset}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in table:
        cells = [f"`{r[h]}`" if h == "command" and r[h] else r[h] for h in header]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join([*lines, "", LEGEND, ""])


def csv_text(entries: list[Entry]) -> str:
    """One dataset's table as CSV: raw numbers, with the kind in its own column next to each value."""
    _check_one_dataset(entries)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for i, e in enumerate(sorted(entries, key=lambda e: (e.nats, e.model)), 1):
        writer.writerow(
            [
                i,
                e.model,
                e.family,
                e.dataset,
                f"{e.nats:.6f}",
                f"{e.stderr:.6f}",
                f"{e.bpd:.6f}",
                e.kind,
                e.method,
                e.parameters if e.parameters is not None else "",
                f"{e.seconds:.3f}" if e.seconds is not None else "",
                e.budget,
                e.date,
                e.command,
                str(e.folder),
            ]
        )
    return buffer.getvalue()


def read_csv(path: str | Path) -> list[Entry]:
    """The entries of a table written by :func:`csv_text` (numbers as rounded there)."""
    with Path(path).open(newline="") as f:
        return [
            Entry(
                folder=Path(row["run"]),
                model=row["model"],
                family=row["family"],
                dataset=row["dataset"],
                nats=float(row["test_nll_nats"]),
                stderr=float(row["stderr_nats"]),
                bpd=float(row["bits_per_dim"]),
                kind=row["nll_kind"],
                method=row["method"],
                parameters=int(row["parameters"]) if row["parameters"] else None,
                seconds=float(row["fit_seconds"]) if row["fit_seconds"] else None,
                budget=row["budget"],
                date=row["date"],
                command=row["command"],
            )
            for row in csv.DictReader(f)
        ]


def plot(dataset: str, entries: list[Entry]) -> bytes:
    """PNG of bits/dim against training time (log scale); hollow markers for bounds and estimates."""
    _check_one_dataset(entries)
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    families = sorted({e.family for e in entries})
    colours = {f: plt.get_cmap("tab10")(i % 10) for i, f in enumerate(families)}
    for kind, face in (("exact", "full"), ("lower bound", "none"), ("estimate", "none")):
        chosen = [e for e in entries if e.kind == kind and e.seconds]
        for e in chosen:
            style = {"marker": "o" if kind != "estimate" else "s", "markersize": 7}
            ax.plot(
                [e.seconds],
                [e.bpd],
                linestyle="none",
                color=colours[e.family],
                markerfacecolor=colours[e.family] if face == "full" else "none",
                **style,
            )
            shift = 4 - 10 * (
                sum(1 for o in entries if o.seconds and abs(o.bpd - e.bpd) < 0.01 and o.nats < e.nats) % 3
            )
            ax.annotate(
                MARK[kind] + e.model, (e.seconds, e.bpd), textcoords="offset points", xytext=(6, shift), fontsize=8
            )
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # minor labels collide on short ranges
    ax.set_xlabel("training time (s, log scale)")
    ax.set_ylabel("test bits/dim")
    ax.set_title(f"{dataset}: filled = exact NLL, hollow = bound (≤) or estimate (≈)", fontsize=9)
    handles = [plt.Line2D([], [], marker="o", linestyle="none", color=colours[f], label=f) for f in families]
    ax.legend(handles=handles, fontsize=8, title="family", title_fontsize=8)
    ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def slug(dataset: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in dataset).strip("-").replace("--", "-")


def render(entries: list[Entry], out: Path, *, with_plot: bool = True) -> dict[Path, bytes]:
    """Every dataset's ``leaderboard-DATA.{md,csv,png}`` under ``out``, rendered (nothing is written)."""
    files: dict[Path, bytes] = {}
    for dataset, group in by_dataset(entries).items():
        stem = out / f"leaderboard-{slug(dataset)}"
        files[stem.with_suffix(".md")] = markdown(dataset, group).encode()
        files[stem.with_suffix(".csv")] = csv_text(group).encode()
        if with_plot:
            files[stem.with_suffix(".png")] = plot(dataset, group)
    return files


def write(files: dict[Path, bytes]) -> None:
    """Print the Markdown tables of :func:`render`'s files, then write every file through a
    temporary file and a rename (never half-written)."""
    from .io import atomic_write_bytes

    print("\n".join(data.decode() for path, data in files.items() if path.suffix == ".md"))
    for path, data in files.items():
        atomic_write_bytes(path, data)


# -- the command ------------------------------------------------------------------------------------
def cmd_leaderboard(args: argparse.Namespace) -> int:
    import sys

    if args.data is not None and "," in args.data:
        raise ValueError(f"--data takes one dataset (one table per dataset); got {args.data!r}")
    entries, skipped = collect(args.dirs or ["runs"])
    if args.data is not None:
        entries = [e for e in entries if e.dataset == args.data or e.dataset.split(" (")[0] == args.data]
    if not entries:
        where = ", ".join(args.dirs or ["runs"])
        detail = f" for --data {args.data!r}" if args.data else ""
        reasons = "".join(f"\n  {line}" for line in skipped[:10])
        raise ValueError(
            f"no finished run with a test NLL under {where}{detail}; left out:{reasons or ' nothing found'}"
        )
    # everything is rendered before anything is written: nothing half-written
    out = Path(args.out) if args.out else Path((args.dirs or ["runs"])[0])
    files = render(entries, out, with_plot=not args.no_plot)
    write(files)
    print(f"wrote {len(files)} file(s) to {out}: " + ", ".join(sorted(p.name for p in files)))
    if skipped:
        print(f"left out {len(skipped)} run folder(s):", file=sys.stderr)
        for line in skipped:
            print(f"  {line}", file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "leaderboard",
        help="one table per dataset of every finished run: test NLL, bits/dim, kind, cost (Markdown, CSV, PNG)",
    )
    p.add_argument("dirs", nargs="*", metavar="DIR", help="directories holding run folders (default: runs)")
    p.add_argument("--data", help="only this dataset, e.g. digits or 'fashion-mnist (dynamic binarisation)'")
    p.add_argument("--out", help="where to write leaderboard-DATA.{md,csv,png} (default: the first DIR)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.set_defaults(func=cmd_leaderboard)
