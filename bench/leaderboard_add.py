"""Add run folders to the committed leaderboard tables in bench/leaderboard/.

The runs behind the committed tables (``bench/leaderboard/leaderboard-*.csv``) are not kept on this
machine, so ``untaught leaderboard runs`` alone would drop them. This reads every committed CSV
back into leaderboard entries, adds the entries of the given run folders (an entry of the same run
folder is replaced), and rewrites each affected dataset's Markdown, CSV and PNG with the
leaderboard's own renderer, so the rows look exactly as ``untaught leaderboard`` prints them.

    python bench/leaderboard_add.py runs/issue13-vae-digits runs/issue13-iaf-vae-digits
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from untaught.leaderboard import Entry, by_dataset, csv_text, markdown, plot, read_entry, slug

TABLES = Path(__file__).parent / "leaderboard"


def committed_entries(folder: Path) -> list[Entry]:
    """Every row of every leaderboard CSV in ``folder``, as entries."""
    entries = []
    for path in sorted(folder.glob("leaderboard-*.csv")):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                entries.append(
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
                )
    return entries


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="finished run folders to add")
    p.add_argument("--tables", default=str(TABLES), help="folder of the committed tables (default bench/leaderboard)")
    args = p.parse_args()
    tables = Path(args.tables)
    new = [read_entry(run) for run in args.runs]
    replaced = {e.folder.as_posix() for e in new}
    entries = [e for e in committed_entries(tables) if e.folder.as_posix() not in replaced] + new
    for dataset, group in by_dataset(entries).items():
        if dataset not in {e.dataset for e in new}:
            continue
        stem = tables / f"leaderboard-{slug(dataset)}"
        stem.with_suffix(".md").write_text(markdown(dataset, group))
        stem.with_suffix(".csv").write_text(csv_text(group))
        stem.with_suffix(".png").write_bytes(plot(dataset, group))
        print(markdown(dataset, group))


if __name__ == "__main__":
    main()
