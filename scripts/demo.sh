#!/usr/bin/env bash
# Set up (if needed) and run the demo: napari with the sample slide and the Aignostics dock widget,
# backed by the embedded local platform. Without a display it runs unattended under Xvfb and saves
# a screenshot (demo-screenshot.png).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x .uv-bootstrap/bin/uv ] && export PATH="$PWD/.uv-bootstrap/bin:$PATH"
unset QT_QPA_PLATFORM
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "demo: no display found; running unattended under Xvfb, screenshot -> demo-screenshot.png"
  exec xvfb-run -a -s "-screen 0 1600x1000x24" uv run --frozen napari-aignostics demo --auto --screenshot demo-screenshot.png "$@"
fi
exec uv run --frozen napari-aignostics demo "$@"
