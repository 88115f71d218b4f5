"""Add run folders to the committed leaderboard tables in bench/leaderboard/.

The runs behind the committed tables (``bench/leaderboard/leaderboard-*.csv``) are not kept on this
machine, so ``untaught leaderboard runs`` alone would drop them. This reads every committed CSV
back into leaderboard entries, adds the entries of the given run folders (an entry of the same run
folder is replaced), and rewrites each affected dataset's Markdown, CSV and PNG with the
leaderboard's own renderer, so the rows look exactly as ``untaught leaderboard`` prints them
(every file rendered first, then written through a temporary file and a rename).

    python bench/leaderboard_add.py runs/issue13-vae-digits runs/issue13-iaf-vae-digits
"""

from __future__ import annotations

import argparse
from pathlib import Path

from untaught.leaderboard import read_csv, read_entry, render, write

TABLES = Path(__file__).parent / "leaderboard"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", help="finished run folders to add (none: re-render every committed table)")
    p.add_argument("--tables", default=str(TABLES), help="folder of the committed tables (default bench/leaderboard)")
    args = p.parse_args()
    tables = Path(args.tables)
    new = [read_entry(run) for run in args.runs]
    replaced = {e.folder.as_posix() for e in new}
    committed = [e for path in sorted(tables.glob("leaderboard-*.csv")) for e in read_csv(path)]
    entries = [e for e in committed if e.folder.as_posix() not in replaced] + new
    datasets = {e.dataset for e in new or committed}
    write(render([e for e in entries if e.dataset in datasets], tables))


if __name__ == "__main__":
    main()
