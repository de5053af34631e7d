"""Secrets written to files whole or not at all (keys, passwords, certificates): written aside under a name of this
process's own, flushed to disk, created with their final mode (never wider for a moment), then put in place in
one step. A crash leaves at most the aside file, never an empty or cut secret that a later run would keep.

- ``write_once``: the file is made unless it exists, and then kept (a key replaced would undo what it sealed or
  signed). Of processes making it at once (``make up`` starts four services together), the first link wins and
  the others keep its content.
- ``write_over``: the file is replaced (a certificate issued again, a properties file rewritten).
"""

from __future__ import annotations

import os
from pathlib import Path


def _aside(path: Path, data: bytes, mode: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return aside


def write_once(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """``path`` made holding ``data`` unless it exists (kept as it is); True if this call made it."""
    if path.exists():
        return False
    aside = _aside(path, data, mode)
    try:
        os.link(aside, path)
        return True
    except FileExistsError:
        return False  # another process made it first: its content is the one
    finally:
        aside.unlink()


def write_over(path: Path, data: bytes, mode: int = 0o600) -> None:
    """``path`` replaced by ``data``, whole."""
    _aside(path, data, mode).replace(path)
