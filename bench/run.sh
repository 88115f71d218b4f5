#!/usr/bin/env bash
# Run a measured command the way BENCHMARKS.md figures are made:
#   - from a snapshot of the committed HEAD (a git worktree), so edits in progress cannot leak in;
#   - holding the machine-wide lock /tmp/untaught-cpu.lock, so that two measurements never share the
#     two cores (do not wrap it in another flock of that file: it would wait for itself).
# usage: bench/run.sh untaught train made --data digits ...     |   bench/run.sh python bench/x.py
# Relative paths in the command resolve against the repository root (run folders land in runs/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sha="$(git -C "$root" rev-parse --short HEAD)"
snap="/tmp/untaught-snapshot-$sha"
[ -d "$snap" ] || git -C "$root" worktree add --detach -q "$snap" "$sha"
cd "$root"
echo "bench/run.sh: commit $sha, waiting for /tmp/untaught-cpu.lock ..." >&2
exec flock /tmp/untaught-cpu.lock env PYTHONPATH="$snap/src:$snap" PATH="$root/.venv/bin:$PATH" "$@"
