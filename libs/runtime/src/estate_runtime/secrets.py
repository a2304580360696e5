"""Secrets a development stack makes for itself when none is configured."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def file_secret(path: Path) -> str:
    """The secret kept in ``path``, made (48 random bytes, URL-safe, mode 600) on first use.

    Several processes of one service may start together: each writes a draft and the first to link it
    into place wins, so every process reads the same secret."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        draft.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        draft.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_text(encoding="utf-8").strip()
