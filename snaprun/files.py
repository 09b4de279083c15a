"""Files snaprun writes for the user (goldens, cassettes): whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Write a golden or a cassette: to a temporary file next to ``path``, then renamed over it.

    A crash or Ctrl-C at any point leaves either the old file or the new one, never a
    truncated mix; the temporary file is removed on failure. Its name is hidden and ends like
    syrupy's own write sidecars (``.<name>.<random>.tmp``), so syrupy never takes it for an
    unknown snapshot and deletes it while another xdist worker is writing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private; goldens and cassettes are shared project files.
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
