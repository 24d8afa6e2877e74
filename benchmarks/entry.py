"""How a benchmark starts `nis` from a given checkout: as the console script enters it.

The installed ``nis`` script imports the editable install's code, so a benchmark comparing
checkouts runs ``python -c ENTRY``, the checkout first on ``sys.path``. ``nis_pipeline.console``
sets up the process before the command line module is imported (ordinary pages, the Ctrl-C guard);
older checkouts have only ``nis_pipeline.cli``, the oldest not even its ``main``.
"""

from __future__ import annotations


def entry(checkout: str) -> str:
    """Python source that runs the ``nis`` command line of ``checkout`` with ``sys.argv``."""
    return (
        f"import sys; sys.path.insert(0, {checkout!r})\n"
        "try:\n"
        "    from nis_pipeline.console import main\n"
        "except ImportError:\n"
        "    from nis_pipeline import cli\n"
        "    main = getattr(cli, 'main', cli.app)\n"
        "main()\n"
    )
