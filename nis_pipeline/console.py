"""The ``nis`` console script's entry: the command line module is imported here, inside a guard.

Ctrl-C in the first tenth of a second (while typer and the command line module are imported,
before ``nis_pipeline.cli.main`` can install its handlers) printed a traceback of the imports
and ended the process by the signal. Nothing has been read or written by then.
"""

from __future__ import annotations

import sys


def main() -> None:
    from nis_pipeline.reused_memory import keep_freed_memory
    from nis_pipeline.small_pages import leave_out_huge_pages

    leave_out_huge_pages()  # first, so that every page the command and its API touch is small
    keep_freed_memory()  # before any thread starts and before Arrow is loaded
    try:
        from nis_pipeline.cli import main as run_command_line
    except KeyboardInterrupt:
        print("stopped: nis was interrupted (Ctrl-C) before it began", file=sys.stderr)
        raise SystemExit(130) from None
    run_command_line()
