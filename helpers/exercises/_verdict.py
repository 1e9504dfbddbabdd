"""The wrapper every exercise check uses: (ok, hint) in, one printed verdict out, never an exception."""

from __future__ import annotations

import functools

from ..selfcheck import verdict


def exercise_check(judge):
    """Turn ``judge(answer, ...) -> (ok, hint)`` into a self-check that prints a verdict and returns a bool.

    A student's answer that raises inside the judge (a function with a bug, the wrong type)
    gets "not yet" with the error in words, instead of a traceback that stops "Run All".
    """

    @functools.wraps(judge)
    def check(*args, **kwargs) -> bool:
        try:
            ok, hint = judge(*args, **kwargs)
        except (Exception, SystemExit) as error:  # noqa: BLE001 - a student's code may raise anything (even exit)
            ok, hint = False, f"running your answer raised {type(error).__name__}: {error}"
        return verdict(ok, hint)

    return check
