#!/usr/bin/env bash
# Build the documentation site (MkDocs + Material, API reference from the docstrings) into site/.
# --strict: any warning (broken link, missing page, bad docstring reference) fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .uv-bootstrap/bin/uv ] && export PATH="$PWD/.uv-bootstrap/bin:$PATH"
NO_MKDOCS_2_WARNING=1 uv run --frozen mkdocs build --strict --site-dir site "$@"
