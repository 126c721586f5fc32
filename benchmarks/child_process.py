"""Run a benchmark script again in a fresh process (under Xvfb when a viewer needs a screen)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any


def run_child(script: str, argv: list[str], display: bool = True, what: str = "") -> dict[str, Any]:
    """``python script *argv`` in a fresh process; its last stdout line is a JSON object, returned.

    With ``display`` and no screen, the child runs under ``xvfb-run`` with the Qt binding the tests use.
    """
    command = [sys.executable, script, *argv]
    if display and not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        command = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", *command]
    env = {**os.environ, "QT_API": os.environ.get("QT_API", "pyqt6")}
    env.pop("QT_QPA_PLATFORM", None)
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{what or ' '.join(argv[:2])} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
