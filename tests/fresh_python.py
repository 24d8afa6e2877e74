"""Code run in a fresh interpreter of the test session's Python, from the repository's root:
for what a process sets up for itself (its memory, its pages), which a test must not set in the
test session's own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The console script run as `nis --help`, for code after it to read what it set up.
AFTER_NIS_HELP = """
import sys
from nis_pipeline import console
sys.argv = ['nis', '--help']
try:
    console.main()
except SystemExit:
    pass
"""


def fresh_python(code: str, env: dict[str, str] | None = None) -> str:
    """What ``code`` prints, run with ``python -c`` in ``env`` (the session's own by default)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=os.environ.copy() if env is None else env,
    ).stdout
