"""Files snaprun writes for the user (goldens, cassettes): whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path


class WriteFailed(OSError):
    """A golden or cassette could not be written (disk full, read-only, a file in the way).

    ``path`` is the file that failed; nothing of the batch it belonged to was written."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(error.errno, f"{error.strerror or error}", str(path))
        self.path = path
        self.error = error


def write_atomically(path: Path, text: str) -> None:
    """Write a golden or a cassette: to a temporary file next to ``path``, then renamed over it.

    A crash or Ctrl-C at any point leaves either the old file or the new one, never a
    truncated mix; the temporary file is removed on failure. Its name is hidden and ends like
    syrupy's own write sidecars (``.<name>.<random>.tmp``), so syrupy never takes it for an
    unknown snapshot and deletes it while another xdist worker is writing.
    """
    write_together([(path, text)])


def write_together(files: Sequence[tuple[Path, str]]) -> None:
    """Write several files (a test's golden and its cassette) as one: every temporary file is
    written and synced first, then all are renamed at once.

    If any cannot be written (WriteFailed names it), none is renamed and every temporary file
    is removed, so the two never get out of step; a kill can only fall between two renames.
    """
    temporaries: list[tuple[str, Path]] = []
    try:
        for path, text in files:
            temporaries.append((_written_beside(path, text), path))
        for temporary, path in temporaries:
            try:
                os.replace(temporary, path)
            except OSError as error:
                raise WriteFailed(path, error) from error
    except BaseException:
        for temporary, _ in temporaries:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise


def _written_beside(path: Path, text: str) -> str:
    """A synced temporary file next to ``path`` holding ``text``; its name."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise WriteFailed(path, error) from error
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private; goldens and cassettes are shared project files.
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise WriteFailed(path, error) from error
        raise
    return temporary
