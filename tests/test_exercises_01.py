"""Notebook 1's exercise checks: the answers they accept, the misconceptions they reject, and
no reference answer in the student edition."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from exercise_tables import assert_table, student_edition_test

import helpers
from helpers.exercises import generation_problem as exercises

INSTRUCTOR = Path(__file__).resolve().parent.parent / "notebooks" / "01_generation_problem.ipynb"
STUDENT = Path(__file__).resolve().parent.parent / "student" / "01_generation_problem.ipynb"


def test_crossing_length():
    def exact_loop(a, e):
        L = 1
        while a**L <= 10**e:
            L += 1
        return L

    def log_then_exact(a, e):
        L = math.floor(e / math.log10(a))
        while a**L <= 10**e:
            L += 1
        return L

    def reaches(a, e):  # >= instead of >
        L = 1
        while a**L < 10**e:
            L += 1
        return L

    def last_that_does_not_exceed(a, e):  # the loop overshoots, then steps back
        L = 0
        while a**L <= 10**e:
            L += 1
        return L - 1

    def digit_count(a, e):  # "more digits than 10**e" means >= 10**e
        L = 1
        while len(str(a**L)) <= e:
            L += 1
        return L

    def float_threshold(a, e):  # 10.0**e is a float, not exactly 10**e
        L = 1
        while a**L <= 10.0**e:
            L += 1
        return L

    def numpy_integers(a, e):  # int64 overflows long before 20**62
        L = np.arange(1, 400)
        return int(L[np.power(a, L) > 10**e][0])

    assert_table(
        exercises.check_crossing_length,
        accept={
            "estimate with logarithms, made exact with integers": log_then_exact,
            "exact integers only": exact_loop,
            "floor + 1 (exact for these cases)": lambda a, e: math.floor(e / math.log10(a)) + 1,
            "whole float": lambda a, e: float(exact_loop(a, e)),
            "numpy integer result": lambda a, e: np.int64(exact_loop(a, e)),
            "int() + 1": lambda a, e: int(e / math.log10(a)) + 1,
        },
        reject={
            "placeholder": (lambda a, e: None, "None"),
            "not a function (the old answer, a number)": (62, "function"),
            "rounded down (61)": (lambda a, e: math.floor(e / math.log10(a)), "rounded down"),
            "rounded to nearest": (lambda a, e: round(e / math.log10(a)), None),
            "ceil of the logarithms, no exact check": (lambda a, e: math.ceil(e / math.log10(a)), "equals"),
            ">= instead of >": (reaches, "equals"),
            "natural logarithm": (lambda a, e: math.ceil(e / math.log(a)), "natural"),
            "multiplied": (lambda a, e: math.ceil(e * math.log10(a)), "multiplied"),
            "unrounded ratio": (lambda a, e: e / math.log10(a), "whole"),
            "hard-coded 62": (lambda a, e: 62, "every alphabet"),
            "numpy integers overflow": (numpy_integers, "64 bits"),
            "digits instead of length": (lambda a, e: len(str(a**e)), None),
            "returns a string": (lambda a, e: str(exact_loop(a, e)), "not a number"),
            # found by trying the student edition
            "loop, then one step back": (last_that_does_not_exceed, "rounded down"),
            "more digits than 10**e": (digit_count, "equals"),
            "float threshold 10.0**e": (float_threshold, "equals"),
            "np.ceil": (lambda a, e: np.ceil(e / np.log10(a)), "equals"),
            "math.log(10**e, a), ceil": (lambda a, e: math.ceil(math.log(10**e, a)), "equals"),
            "ceil + 1, to be safe": (lambda a, e: math.ceil(e / math.log10(a)) + 1, None),
        },
    )


def test_constant_error():
    train, _ = helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)
    assert_table(
        exercises.check_constant_error,
        accept={
            "mean over everything": lambda x, c: float(((x - c) ** 2).mean()),
            "np.mean, numpy scalar": lambda x, c: np.mean((x - c) ** 2),
            "per frame, divided by 24": lambda x, c: ((x - c) ** 2).sum(axis=1).mean() / 24,
            "the identity: variance plus offset": lambda x, c: (
                x.var(axis=0).mean() + ((x.mean(axis=0) - c) ** 2).mean()
            ),
            "torch": lambda x, c: ((torch.as_tensor(x) - torch.as_tensor(c)) ** 2).mean(),
            "absolute value squared": lambda x, c: np.mean(np.abs(x - c) ** 2),
            "Frobenius norm squared over the size": lambda x, c: np.linalg.norm(x - c) ** 2 / x.size,
        },
        reject={
            "placeholder": (lambda x, c: None, "None"),
            "a number, not a function": (1.3, "function"),
            "summed per frame": (lambda x, c: ((x - c) ** 2).sum(axis=1).mean(), "summed over the 24"),
            "per bead": (lambda x, c: ((x - c) ** 2).reshape(len(x), 12, 2).sum(-1).mean(), "per bead"),
            "root mean square": (lambda x, c: np.sqrt(((x - c) ** 2).mean()), "root"),
            "mean distance": (lambda x, c: np.linalg.norm(x - c, axis=1).mean(), "distance"),
            "absolute error": (lambda x, c: np.abs(x - c).mean(), "absolute"),
            "total": (lambda x, c: ((x - c) ** 2).sum(), "sum over all"),
            "variance of residuals": (lambda x, c: (x - c).var(), "variance subtracts"),
            "variance only": (lambda x, c: x.var(axis=0).mean(), "does not depend on c"),
            "offset only": (lambda x, c: ((x.mean(axis=0) - c) ** 2).mean(), "spread"),
            "uses train, not x": (lambda x, c: float(((train - c) ** 2).mean()), "argument x"),
            "per coordinate, not averaged": (lambda x, c: ((x - c) ** 2).mean(axis=0), "not one number"),
            "per frame array": (lambda x, c: ((x - c) ** 2).mean(axis=1), "not one number"),
            # found by trying the student edition
            "per coordinate, then summed": (lambda x, c: ((x - c) ** 2).mean(axis=0).sum(), "summed over the 24"),
            "square of the mean residual": (lambda x, c: np.mean(x - c) ** 2, None),
            "divided by 24 twice": (lambda x, c: ((x - c) ** 2).mean() / 24, None),
            "times 24": (lambda x, c: ((x - c) ** 2).mean() * 24, "summed over the 24"),
            "the frames' own mean instead of c": (
                lambda x, c: ((x - x.mean(axis=0)) ** 2).mean(),
                "does not depend on c",
            ),
            "variance plus variance of c": (lambda x, c: x.var(axis=0).mean() + np.var(c), None),
        },
    )


REFERENCE_EXPRESSIONS = {
    "1.1": [
        "math.floor(exponent / math.log10(alphabet_size))",
        "math.ceil(80 / math.log10(20))",
        "alphabet_size**L <= 10**exponent",
    ],
    "1.2": ["((x - c) ** 2).mean()", "((train - c) ** 2).mean()"],
}


test_no_reference_answer_in_the_student_edition = student_edition_test(
    INSTRUCTOR, STUDENT, [e for expressions in REFERENCE_EXPRESSIONS.values() for e in expressions]
)
