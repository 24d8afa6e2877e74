"""Where a submission may be written, and what to say when the machine refuses to write it.

- Nothing is written through a symbolic link: the output folder, an LA folder, a census folder
  and a lock file that are links are refused (a link can point a council's children's data at a
  shared or public folder, and a lock that is a link is not the lock other runs take).
- A write the operating system refuses (a full disk, a read-only folder, a quota) ends with one
  line naming the census folder and the reason in plain words ("no space left on the device"),
  never a library's exception at a line of its code.
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from schemas.errors import PipelineError, UserInputError

F = TypeVar("F", bound=Callable[..., Any])

_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied (the folder is read-only or another user's)",
    errno.EPERM: "permission denied (the folder is read-only or another user's)",
    errno.ELOOP: "a symbolic link is in the way",
    errno.ENAMETOOLONG: "the path is too long",
    errno.EIO: "the disk reported an input/output error",
}


class OutputPathError(UserInputError):
    """An output path is a symbolic link (or otherwise not a folder this pipeline may write)."""


class WriteFailed(PipelineError):
    """The operating system refused a write; nothing half-written was left in place."""


def check_not_symlink(path: Path, what: str) -> None:
    if path.is_symlink():
        raise OutputPathError(
            f"{what} {path} is a symbolic link: give the real folder (nothing is written through "
            "a link)"
        )


def check_output_root(out_root: Path) -> None:
    """The output folder a command was given is a real folder, or not there yet: never a
    symbolic link (nothing is written, read for removal or logged through one) nor a file."""
    check_not_symlink(Path(out_root), "the output folder")
    if Path(out_root).exists() and not Path(out_root).is_dir():
        raise OutputPathError(f"the output folder {out_root} is a file, not a folder")


def check_output_folders(out_root: Path, la_dir: Path, census_dir: Path) -> None:
    """The folders a run writes in, where they exist, are real folders."""
    check_not_symlink(Path(out_root), "the output folder")
    check_not_symlink(la_dir, "the LA folder")
    check_not_symlink(census_dir, "the census folder")
    for path, what in ((Path(out_root), "the output folder"), (la_dir, "the LA folder")):
        if path.exists() and not path.is_dir():
            raise OutputPathError(f"{what} {path} is a file, not a folder")


def open_lock(path: Path) -> int:
    """Open (creating) a lock file, never through a symbolic link."""
    check_not_symlink(path, "the lock file")
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputPathError(f"the lock file {path} is a symbolic link") from None
        raise


def reason(exc: OSError) -> str:
    """The operating system's refusal in plain words (no path, no library detail)."""
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    return (exc.strerror or type(exc).__name__).lower()


def explain_os_errors(where: Callable[..., Path]) -> Callable[[F], F]:
    """Turn an OSError escaping the decorated writer into :class:`WriteFailed` naming the folder
    ``where(*args, **kwargs)`` (a FileExistsError the writer raises on purpose, with no errno,
    passes unchanged)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except OSError as exc:
                if exc.errno is None:
                    raise
                raise WriteFailed(f"cannot write {where(*args, **kwargs)}: {reason(exc)}") from None

        return wrapper  # type: ignore[return-value]

    return decorate
