"""The local issuer's key: made once, whoever asks first, and the same for every process."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from estate_runtime.auth import ensure_dev_key


def _public_pem(path: str) -> bytes:
    key = ensure_dev_key(Path(path))
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_processes_starting_together_all_get_the_one_key_that_was_kept(tmp_path: Path) -> None:
    path = tmp_path / "dev-jwt-key.pem"
    with ProcessPoolExecutor(max_workers=4) as pool:
        keys = set(pool.map(_public_pem, [str(path)] * 8))
    assert len(keys) == 1
    assert keys == {_public_pem(str(path))}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["dev-jwt-key.pem"]  # no drafts left behind
