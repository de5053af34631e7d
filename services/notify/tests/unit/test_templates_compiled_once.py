"""A mail template is compiled once, not per mail, and compiled again when an operator edits its file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from notify.adapters.templates import Templates


@pytest.mark.timeout(10)
def test_compiled_once_then_again_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "hello.txt"
    path.write_text("Subject: Chào {{ name }}\nKính gửi {{ name }},\n", encoding="utf-8")
    templates = Templates(tmp_path)
    assert templates.render("hello", {"name": "Lan"})[:2] == ("Chào Lan", "Kính gửi Lan,\n")
    first = templates.text("hello")
    assert templates.text("hello") is first  # kept: the second mail compiles nothing
    assert templates.render("hello", {"name": "Minh"})[:2] == ("Chào Minh", "Kính gửi Minh,\n")

    path.write_text("Subject: Thân gửi {{ name }}\nThưa {{ name }},\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))  # a later mtime, whatever the clock
    assert templates.render("hello", {"name": "Lan"})[:2] == ("Thân gửi Lan", "Thưa Lan,\n")
    assert templates.text("hello") is not first


@pytest.mark.timeout(10)
def test_a_template_without_a_subject_line_is_still_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("Kính gửi {{ name }}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="must start with 'Subject: '"):
        Templates(tmp_path).render("bad", {"name": "Lan"})
