"""Secrets written whole or not at all, one way for the whole kit (binhchon_kit.private_files): keys, passwords,
the broker's CA, properties files."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from binhchon_kit.private_files import write_once, write_over


def test_write_once_keeps_what_is_there_and_one_of_many_racing_writers_wins(tmp_path: Path):
    target = tmp_path / "sub" / "key.pem"
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda n: write_once(target, f"key {n}".encode()), range(16)))
    assert made.count(True) == 1
    content = target.read_bytes()
    assert content.startswith(b"key ") and not write_once(target, b"another")
    assert target.read_bytes() == content
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["key.pem"]  # nothing left aside


def test_write_over_replaces_with_the_mode_asked(tmp_path: Path):
    target = tmp_path / "ca.crt"
    write_over(target, b"one", 0o644)
    write_over(target, b"two", 0o644)
    assert target.read_bytes() == b"two" and stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_crash_while_writing_leaves_no_cut_file_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "admin.password"

    def dies(fd: int) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "fsync", dies)
    with pytest.raises(OSError):
        write_once(target, b"secret")
    with pytest.raises(OSError):
        write_over(target, b"secret")
    assert not target.exists()  # a later run makes it whole
    monkeypatch.undo()
    assert write_once(target, b"secret") and target.read_bytes() == b"secret"
