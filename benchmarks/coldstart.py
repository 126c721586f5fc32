"""Cold starts as an install has them: the project and its packages compiled to bytecode first.

Machines that set ``PYTHONDONTWRITEBYTECODE`` would otherwise compile every module on each
fresh-process import, which no installed plugin pays.
"""

from __future__ import annotations

import compileall
import sysconfig
from pathlib import Path


def compile_installed() -> None:
    """Write the bytecode of ``src`` and of the installed packages (quick once it exists)."""
    source = Path(__file__).resolve().parents[1] / "src"
    for folder in (source, Path(sysconfig.get_paths()["purelib"])):
        compileall.compile_dir(folder, quiet=2, workers=1)
