"""Files a census folder ``OUT/{la_code}/{census}/`` may hold beside the submission, which the
submission writer must keep: the research extracts (spec section 7).

Kept apart from both writers so that each can import it: the research writer names its file
here, and the submission writer carries these files over when it moves a new submission into
the folder.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

from exports.files import fsync_dir

# Every research file a census folder may hold: the current one and those kept aside.
_RESEARCH_NAME = re.compile(r"research_[A-Za-z0-9]+_\d{4}-\d{2}-\d{2}(\.replaced-\d+)?\.csv")


def research_file_name(la_code: str, census: date) -> str:
    return f"research_{la_code}_{census.isoformat()}.csv"


def is_research_file(name: str) -> bool:
    return _RESEARCH_NAME.fullmatch(name) is not None


def carry_research_files(old_folder: Path, new_folder: Path) -> list[Path]:
    """Move every research file of ``old_folder`` into ``new_folder`` (same names); returns
    their new paths. A run calls this after moving a new submission into place, so a research
    extract made for the census stays in the census folder."""
    if old_folder.is_symlink() or not old_folder.is_dir():
        return []
    moved: list[Path] = []
    for path in sorted(old_folder.iterdir()):
        if is_research_file(path.name) and path.is_file() and not path.is_symlink():
            target = new_folder / path.name
            if target.exists():  # never replace one with another
                continue
            os.rename(path, target)
            moved.append(target)
    if moved:
        fsync_dir(new_folder)
        fsync_dir(old_folder)
    return moved
