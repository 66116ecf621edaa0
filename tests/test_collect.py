"""Collect and seed: what a submission folder becomes before any student code runs
(autograder.submission, autograder.seeds, autograder.text)."""
import hashlib
import os
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import course, seeds, submission, text

ASSIGNMENT = course.assignment()
NOTEBOOK = f"{ASSIGNMENT.notebooks[0]}.ipynb"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty submitted/ tree in a scratch course root."""
    monkeypatch.setattr(course, "SUBMITTED", tmp_path / "submitted")

    def make(student):
        path = tmp_path / "submitted" / student / ASSIGNMENT.id
        path.mkdir(parents=True)
        return path
    return make


def test_seeds_are_stable_for_one_notebook_and_change_with_the_notebook_the_student_and_the_secret():
    secret, other_secret = b"a" * 64, b"b" * 64
    digest = hashlib.sha256(b"notebook one").hexdigest()
    first = seeds.submission_seeds(ASSIGNMENT, "alice", digest, secret)
    assert set(first) == set(ASSIGNMENT.auto_parts)
    assert first == seeds.submission_seeds(ASSIGNMENT, "alice", digest, secret)
    assert len(set(first.values())) == len(first), "every part gets its own seed"
    for changed in (seeds.submission_seeds(ASSIGNMENT, "alice", hashlib.sha256(b"notebook two").hexdigest(), secret),
                    seeds.submission_seeds(ASSIGNMENT, "bob", digest, secret),
                    seeds.submission_seeds(ASSIGNMENT, "alice", digest, other_secret)):
        assert all(changed[p] != first[p] for p in first)


def test_the_course_secret_is_created_once_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "grading-key"
    secret = seeds.course_secret(path)
    assert len(secret) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert seeds.course_secret(path) == secret
    assert seeds.course_secret(tmp_path / "other") != secret


def test_only_the_notebook_is_collected_and_other_files_are_noted(folder):
    path = folder("ann")
    (path / NOTEBOOK).write_bytes(b'{"cells": []}')
    (path / "random.py").write_text("raise SystemExit")
    (path / "autograder").mkdir()
    found = submission.collect("ann", ASSIGNMENT)
    assert found.problem == "" and found.notebook == b'{"cells": []}'
    assert any("2 other file(s)" in note for note in found.notes)
    assert found.digest == hashlib.sha256(b'{"cells": []}').hexdigest()


def test_a_single_notebook_under_another_name_is_graded_and_noted(folder):
    path = folder("ann")
    (path / "Normalization (1).ipynb").write_bytes(b"{}")
    found = submission.collect("ann", ASSIGNMENT)
    assert found.notebook == b"{}" and "please keep the released name" in found.notes[0]


@pytest.mark.parametrize("setup, reason", [
    (lambda p: None, "is missing (found no notebook)"),
    (lambda p: (p / NOTEBOOK).write_bytes(b"  \n"), "is an empty file"),
    (lambda p: [(p / name).write_bytes(b"{}") for name in ("a.ipynb", "b.ipynb")], "found a.ipynb, b.ipynb"),
    (lambda p: os.symlink("/etc/passwd", p / NOTEBOOK), "is missing"),
    (lambda p: os.mkfifo(p / NOTEBOOK), "is missing"),
])
def test_folders_without_one_readable_notebook_are_refused_with_a_reason(folder, setup, reason):
    setup(folder("ann"))
    found = submission.collect("ann", ASSIGNMENT)
    assert found.notebook is None and reason in found.problem


def test_a_notebook_above_the_size_limit_is_refused(folder, monkeypatch):
    monkeypatch.setattr(submission, "MAX_NOTEBOOK_BYTES", 100)
    (folder("ann") / NOTEBOOK).write_bytes(b"x" * 101)
    assert "MB are graded" in submission.collect("ann", ASSIGNMENT).problem


@pytest.mark.parametrize("content, expected", [
    ("2026-12-10 10:00:00 UTC", "2026-12-10T10:00:00"),
    ("2026-12-10T10:00:00.5+01:00", "2026-12-10T09:00:00.500000"),
])
def test_a_readable_timestamp_is_normalised(folder, content, expected):
    path = folder("ann")
    (path / NOTEBOOK).write_bytes(b"{}")
    (path / "timestamp.txt").write_text(content + "\n")
    found = submission.collect("ann", ASSIGNMENT)
    assert found.timestamp == expected and not found.flags


@pytest.mark.parametrize("make", [
    lambda p: (p / "timestamp.txt").write_text("not a date"),
    lambda p: (p / "timestamp.txt").write_bytes(b"\xff\xfe\x00garbage"),
    lambda p: (p / "timestamp.txt").write_text("2026-13-45 99:99:99"),
    lambda p: (p / "timestamp.txt").write_text("=cmd|' /C calc'!A0"),
    lambda p: os.symlink("/etc/hostname", p / "timestamp.txt"),
    lambda p: os.mkfifo(p / "timestamp.txt"),
])
def test_a_timestamp_that_does_not_parse_is_reported_not_trusted(folder, make):
    path = folder("ann")
    (path / NOTEBOOK).write_bytes(b"{}")
    make(path)
    found = submission.collect("ann", ASSIGNMENT)
    assert found.timestamp is None and found.problem == ""
    assert len(found.flags) == 1 and "timestamp.txt" in found.flags[0]
    assert text.one_line(found.flags[0]) == found.flags[0]


@pytest.mark.parametrize("name, accepted", [
    ("ada", True), ("=1+2", True), ("@SUM(1+1)", True), ("Zoë Ünal", True), ("o'brien", True),
    ("[ab]", False), ("a*", False), ("<img src=x onerror=alert(1)>", False), ('";alert(1);"', False),
    ("a&amp;b", False), ("back`tick", False), ("back\\slash", False), ("x>y", False),
    ("%3Csvg onload=alert(1)%3E", False), ("%22;alert(1)%2F%2F", False), ("a#b", False),
    ("x\ny", False), ("tab\there", False), (" padded", False),
    ("\u202eevil", False), ("x" * 129, False),
])
def test_odd_but_legal_folder_names_are_students_and_the_rest_are_refused_with_a_reason(name, accepted):
    assert (submission.student_id_problem(name) == "") == accepted


def test_discover_lists_students_and_refused_folders(folder):
    for name in ("bob", "ada", "[ab]", ".hidden"):
        folder(name)
    students, refused = submission.discover(ASSIGNMENT)
    assert students == ["ada", "bob"] and list(refused) == ["[ab]"]


@pytest.mark.parametrize("raw", [
    "\x1b[31mred\x1b[0m", "bell\x07", "line\nbreak", "nul\x00", "lone \udc80 surrogate", "rtl \u202e override",
    "zero\u200bwidth", "\x1b]0;title\x07osc",
])
def test_plain_text_has_no_control_characters_escapes_or_surrogates(raw):
    line = text.one_line(raw)
    assert "\x1b" not in line and "\n" not in line and line.encode("utf-8")
    assert all(ch.isprintable() or ch == " " for ch in line)


def _shown_one_by_one(raw, keep_newlines):
    """The rule clean() applies to each character, written out character by character."""
    out = []
    for char in raw:
        if char == "\n" and keep_newlines:
            out.append(char)
        elif 0xD800 <= ord(char) <= 0xDFFF:
            out.append("\ufffd")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(" ")
        else:
            out.append(char)
    shown = "".join(out)
    return shown if keep_newlines else " ".join(shown.split())


@settings(max_examples=300, deadline=None)
@given(raw=st.lists(st.one_of(st.characters(exclude_characters="\x1b\t\r"),
                              st.sampled_from(["\ud800", "\udc80", "\udfff", "\n", "\u2028", "\x85", "\ue000"])),
                    max_size=60).map("".join),
       keep_newlines=st.booleans())
def test_text_shows_each_character_by_the_same_rule(raw, keep_newlines):
    assert text.clean(raw, limit=10_000, keep_newlines=keep_newlines) == _shown_one_by_one(raw, keep_newlines)


def test_text_is_bounded_and_multi_line_messages_keep_their_lines():
    assert len(text.clean("x" * 10_000, 100)) == 100
    assert text.clean("a\nb") == "a\nb"
    assert text.short_repr("y" * 10**7, 50).startswith("'yyy") and len(text.short_repr("y" * 10**7, 50)) <= 50


@pytest.mark.parametrize("cell, expected", [
    ("=1+2", "'=1+2"), ("+cmd", "'+cmd"), ("@SUM(1)", "'@SUM(1)"), ("-x", "'-x"), ("\tx", "'\tx"),
    ("-1.5", "-1.5"), ("10.0", "10.0"), ("ann", "ann"), ("", ""),
])
def test_spreadsheet_formulas_are_neutralised_and_numbers_kept(cell, expected):
    assert text.spreadsheet_cell(cell) == expected
