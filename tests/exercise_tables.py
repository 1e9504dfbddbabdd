"""Running an exercise check's table: the answers it must accept and the misconceptions it must reject.

Each tests/test_exercises_NN.py lists, per exercise, the intended answer and at least one
correct alternative (accepted), and at least four misconceptions a student would plausibly
write (rejected), each with a word its hint must contain where the check can recognise it.
"""

from __future__ import annotations

import contextlib
import io
import re

import nbformat
import pytest


def judge(check, answer) -> tuple[bool, str]:
    """Call a self-check on one answer; return its result and what it printed. A check must never raise."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ok = check(answer)
    assert isinstance(ok, bool), f"{check.__name__} returned {ok!r}, not a bool"
    return ok, out.getvalue()


def assert_table(check, *, accept: dict, reject: dict) -> None:
    """``accept``: name -> answer; ``reject``: name -> (answer, a word its hint must contain, or None)."""
    assert len(reject) >= 4, f"{check.__name__}: at least four misconceptions, got {len(reject)}"
    assert len(accept) >= 2, f"{check.__name__}: the intended answer and at least one correct alternative"
    for name, answer in accept.items():
        ok, printed = judge(check, answer)
        assert ok and "✓" in printed, f"{check.__name__} rejects {name}: {printed}"
    for name, (answer, word) in reject.items():
        ok, printed = judge(check, answer)
        assert not ok and "not yet" in printed, f"{check.__name__} accepts the misconception {name!r}"
        if word:
            assert word.lower() in printed.lower(), (
                f"{check.__name__}: the hint for {name!r} should say {word!r}: {printed}"
            )


def _squeezed(text: str) -> str:
    return "".join(text.split())  # spacing does not hide an answer


def solution_lines(instructor_path) -> list[str]:
    """The code lines of an instructor edition's solution cells that appear nowhere else in it.

    Docstrings, comments, ``def`` lines and the calls of the checks are left out: what remains is
    the answer itself, which the student edition must not show.
    """
    nb = nbformat.read(instructor_path, as_version=4)
    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    elsewhere = "\n".join(c.source for c in nb.cells if c not in solutions)  # shared code, e.g. `with torch.no_grad():`
    lines = []
    for cell in solutions:
        for line in cell.source.splitlines():
            line = line.split("#")[0].strip()
            if len(line) > 12 and line not in elsewhere and not re.match(r'(def |"""|exercises\.check_)', line):
                lines.append(line)
    return lines


def assert_not_in_student_edition(student_path, expression: str) -> None:
    """No cell of the student edition, hidden or not, contains ``expression`` (whitespace ignored)."""
    nb = nbformat.read(student_path, as_version=4)
    shown = [i for i, cell in enumerate(nb.cells) if _squeezed(expression) in _squeezed(cell.source)]
    assert not shown, f"the student edition shows a reference answer, {expression!r}, in cell(s) {shown}"


def student_edition_test(instructor_path, student_path, forbidden: list[str]):
    """A test that neither ``forbidden`` (answers in any form) nor any solution line appears in the
    student edition, one case each. Assign it to a ``test_...`` name in the notebook's test module."""

    @pytest.mark.parametrize("expression", forbidden + solution_lines(instructor_path))
    def test_no_reference_answer_in_the_student_edition(expression):
        assert_not_in_student_edition(student_path, expression)

    return test_no_reference_answer_in_the_student_edition


def reference_answer_tests(instructor_path, student_path, expressions: list[str]):
    """Two tests for a notebook: each of ``expressions`` is a solution's key expression, and
    neither they nor any solution line appear in the student edition (``student_edition_test``).
    Assign the returned pair to two ``test_...`` names in the notebook's test module."""

    def test_the_reference_expressions_are_the_solutions():
        solutions = "\n".join(solution_lines(instructor_path))
        for expression in expressions:
            assert expression in solutions, f"{expression!r} is no longer a solution's key expression"

    return test_the_reference_expressions_are_the_solutions, student_edition_test(
        instructor_path, student_path, expressions
    )
