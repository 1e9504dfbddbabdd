"""What every exercise check shares: the wrapper that turns (ok, hint) into one printed verdict and
never an exception, a silent run of a check, and a student's result as numbers."""

from __future__ import annotations

import contextlib
import functools
import io

import numpy as np
import torch

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


def accepted(check, answer) -> bool:
    """Whether ``check`` accepts ``answer``, without printing its verdict (the text then shows your numbers too)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return bool(check(answer))


def as_array(value) -> np.ndarray:
    """A result as a float64 numpy array: array, list, number or tensor (also one that requires grad)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=float)
