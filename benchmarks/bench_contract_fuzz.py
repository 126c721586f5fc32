"""A long schemathesis run with the published contract (the CI test runs a short one).

``uv run python benchmarks/bench_contract_fuzz.py [--max-examples N] [--seed S]``: every check,
coverage and fuzzing phases, against the real local platform with one finished run. Goal: 0
failures. Needs ``../shared/spec`` (or ``NAPARI_AIGNOSTICS_SHARED``).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import SPEC_PATH  # noqa: E402
from fuzz_helpers import fuzz, schemathesis_cli  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if schemathesis_cli() is None or not SPEC_PATH.is_file():
        print("SKIP: schemathesis or the published spec is not available")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        result = fuzz(Path(tmp), spec=SPEC_PATH, max_examples=args.max_examples,
                      seed=args.seed, timeout=3600)
    cases = re.search(r"(\d+) generated", result.output)
    found = re.search(r"(\d+) found (\d+) unique failures?", result.output)
    failures = int(found.group(2)) if found else (0 if result.returncode == 0 else -1)
    print(f"published contract, {args.max_examples} examples/operation, seed {args.seed}: "
          f"{cases.group(1) if cases else '?'} cases in {result.seconds:.0f} s")
    verdict = "ok" if failures == 0 else "MISS"
    print(f"failures: {failures} (goal 0) {verdict}")
    if failures:
        start = result.output.find("FAILURES")
        print(result.output[start : start + 8000])
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
