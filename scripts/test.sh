#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite: ruff, mypy, the strict docs build, pytest (GUI tests
# under Xvfb via pytest-xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x .uv-bootstrap/bin/uv ] && export PATH="$PWD/.uv-bootstrap/bin:$PATH"
unset QT_QPA_PLATFORM
export QT_API=pyqt6
echo "== ruff"
uv run --frozen ruff check src tests benchmarks examples
echo "== mypy"
uv run --frozen mypy
echo "== docs (mkdocs --strict)"
bash scripts/docs.sh --quiet
echo "== pytest"
uv run --frozen pytest "$@"
