"""Files a development stack makes for itself once (its secrets, the local issuer's key), when several of
its processes may start at the same moment."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_once(path: Path, content: bytes) -> bytes:
    """``path``'s content, written (mode 600) as ``content`` only if it does not exist yet.

    Processes starting together each write a draft and the first to link it into place wins, so every
    process reads the same content, never a file another overwrote or half-wrote."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        draft.touch(mode=0o600)
        draft.write_bytes(content)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_bytes()


def file_secret(path: Path) -> str:
    """The secret kept in ``path``, made (48 random bytes, URL-safe) on first use."""
    return write_once(path, secrets.token_urlsafe(48).encode()).decode().strip()
