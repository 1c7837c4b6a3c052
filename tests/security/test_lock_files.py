"""Hostile lock files (`sora run --locked`, `sora lock` readers) are LockFileErrors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sora_core.errors import LockFileError
from sora_core.pipeline.lock import read_lock


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "levels deep"),
        (b'{"format": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "levels deep"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b"[]", "not a sora lock file"),
        (b'{"format": "1"}', "format"),
    ],
)
def test_hostile_lock_files_are_lock_file_errors(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "seed.lock.json"
    path.write_bytes(content)
    with pytest.raises(LockFileError) as excinfo:
        read_lock(path)
    assert str(path) in excinfo.value.message and fragment in excinfo.value.message
