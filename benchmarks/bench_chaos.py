"""Chaos: ``run submit test-app CMU-1-Small-Region.svs --download`` through a fault-injecting proxy.

20 runs with 20 % of all requests faulted (503 before or after the handler, a reset mid-body, a
truncated body), seeded. Goal: 20/20 completed, 0 orphan runs, 0 duplicate runs, 0 corrupt files,
no ``.part`` left. The baseline is a run of the same scenario without faults, measured in the same
process, to show what the retries cost in time. ``--runs``, ``--rate``, ``--seed``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from chaos import ChaosReport, run_chaos  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NAPARI_AIGNOSTICS_SHARED", REPO.parent / "shared"))
SLIDE = SHARED / "test_data" / "wsi" / "CMU-1-Small-Region.svs"


def _line(name: str, report: ChaosReport) -> str:
    faults = ", ".join(f"{k} {v}" for k, v in sorted(report.faults.items())) or "none"
    return (
        f"{name}: {report.completed}/{report.runs} runs completed, {report.files_verified} files "
        f"verified, {report.corrupt} corrupt, {report.partial_files} .part left, "
        f"{report.orphans} orphans, {report.duplicates} duplicates; {report.requests} requests, "
        f"faults: {faults}; {report.reconnects} reconnect notices; {report.seconds:.0f} s "
        f"({report.seconds / max(1, report.runs):.1f} s/run)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--baseline-runs", type=int, default=3)
    args = parser.parse_args()
    if not SLIDE.is_file():
        print(f"SKIP: {SLIDE.name} not available (set NAPARI_AIGNOSTICS_SHARED)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:  # warm-up: imports and first-use costs
        run_chaos(SLIDE, Path(tmp) / "warm", runs=1, rate=0.0, seed=0, interval=0.5)
    with tempfile.TemporaryDirectory() as tmp:
        base = run_chaos(SLIDE, Path(tmp) / "base", runs=args.baseline_runs, rate=0.0,
                         seed=args.seed, interval=0.5)
    with tempfile.TemporaryDirectory() as tmp:
        chaos = run_chaos(SLIDE, Path(tmp) / "chaos", runs=args.runs, rate=args.rate,
                          seed=args.seed, interval=0.5)
    print(_line("baseline (0 % faults)", base))
    print(_line(f"chaos ({args.rate:.0%} faults, seed {args.seed})", chaos))
    for failure in chaos.failures:
        print(f"  failed: {failure}")
    met = (
        chaos.completed == chaos.runs
        and chaos.orphans == 0
        and chaos.duplicates == 0
        and chaos.corrupt == 0
        and chaos.partial_files == 0
    )
    per_run = (chaos.seconds / chaos.runs) / (base.seconds / base.runs)
    print(
        f"goal 20/20 completed, 0 orphans, 0 duplicates, 0 corrupt: {'MET' if met else 'MISS'}; "
        f"time per run {per_run:.2f}x the fault-free baseline"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
