#!/usr/bin/env bash
# Bootstrap a fresh Debian/Ubuntu machine (Python >= 3.11): GL + Xvfb packages (and headless Chromium
# for the report test) when root, uv, the venv from uv.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv ca-certificates xvfb xauth
  libgl1 libegl1 libgl1-mesa-dri libglib2.0-0 libdbus-1-3 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0 libxcb-xkb1
  libxcb-xinerama0 curl chromium
)
missing=()
if command -v dpkg-query >/dev/null; then
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages (install them as root): ${missing[*]}" >&2
  fi
fi

if ! command -v uv >/dev/null; then
  if [ ! -x .uv-bootstrap/bin/uv ]; then
    echo "setup: installing uv into .uv-bootstrap/"
    python3 -m venv .uv-bootstrap
    .uv-bootstrap/bin/pip install -q uv
  fi
  export PATH="$PWD/.uv-bootstrap/bin:$PATH"
fi
uv sync --frozen --python python3 -q
