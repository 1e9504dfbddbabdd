"""Running an exercise check's table: the answers it must accept and the misconceptions it must reject.

Each tests/test_exercises_NN.py lists, per exercise, the intended answer and at least one
correct alternative (accepted), and at least four misconceptions a student would plausibly
write (rejected), each with a word its hint must contain where the check can recognise it.
"""

from __future__ import annotations

import contextlib
import io


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
