"""Self-checks of notebook 1, the generation problem.

    check_crossing_length   Exercise 1.1: the shortest chain length whose number of sequences
                            exceeds a power of ten, as a function of the alphabet and the power
    check_constant_error    Exercise 1.2: the mean squared error per coordinate of a decoder that
                            always answers with one fixed conformation c

Each check calls the student's function on inputs the notebook never uses (other alphabets and
powers of ten; other frames, other constants, other numbers of frames), compares it with its own
reference, and names the misconception when the wrong answer looks like a known one.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from .. import data
from ._verdict import exercise_check

# ---------------------------------------------------------------- Exercise 1.1

# (alphabet size, power of ten): proteins, DNA, bits, a 21-letter alphabet, and alphabets whose
# powers hit a power of ten exactly (100**40 == 10**80), where "exceeds" and "reaches" differ.
CROSSING_CASES = ((20, 80), (4, 80), (2, 81), (21, 100), (100, 80), (1000, 81), (10, 9))


def _crossing(alphabet_size: int, exponent: int) -> int:
    """The reference: the smallest L with alphabet_size**L > 10**exponent, in exact integers."""
    L = 0
    while alphabet_size**L <= 10**exponent:
        L += 1
    return L


def _whole(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer()


@exercise_check
def check_crossing_length(crossing_length):
    """Exercise 1.1: ``crossing_length(alphabet_size, exponent)`` returns the shortest chain length
    L for which alphabet_size**L exceeds 10**exponent.

    Tried on seven (alphabet, power) pairs, including 100 and 1000 letters, where a power of the
    alphabet can equal the power of ten exactly. Recognises: rounding down (the last L that does
    not exceed), rounding to the nearest integer, a power equal to 10**exponent counted as
    exceeding it (floating-point logarithms, or ``>=`` instead of ``>``), the natural logarithm instead of log10, multiplying instead of
    dividing, returning the unrounded ratio, one hard-coded number, and numpy's 64-bit integers
    overflowing.
    """
    if not callable(crossing_length):
        return False, (
            "write a function crossing_length(alphabet_size, exponent) that returns an integer; "
            "the check calls it for several alphabets and powers of ten"
        )
    answers = {}
    for a, e in CROSSING_CASES:
        try:
            answers[a, e] = crossing_length(a, e)
        except OverflowError:
            return False, (
                "an integer overflowed: numpy's integers have 64 bits (at most about 9e18); "
                "Python's own integers are exact at any size, e.g. 20**62 or 10**80"
            )
        except Exception as error:  # noqa: BLE001 - a student's code may raise anything
            numpy_used = {"np", "numpy"} & set(getattr(getattr(crossing_length, "__code__", None), "co_names", ()))
            return False, (
                f"crossing_length({a}, {e}) raised {type(error).__name__}: {error}"
                + (
                    "; numpy's integers have 64 bits and silently wrap around past about 9e18, so "
                    "20**62 goes wrong: Python's own integers are exact at any size"
                    if numpy_used
                    else ""
                )
            )
    if all(value is None for value in answers.values()):
        return False, "crossing_length still returns None: compute the length"
    wrong = {case: value for case, value in answers.items() if not (_whole(value) and value == _crossing(*case))}
    if not wrong:
        return True, ""
    (a, e), got = next(iter(wrong.items()))
    want = _crossing(a, e)
    if not isinstance(got, numbers.Real) or isinstance(got, bool):
        return False, f"crossing_length({a}, {e}) returned {got!r}, not a number"
    if len({float(v) for v in answers.values() if isinstance(v, numbers.Real)}) == 1:
        return False, (
            f"your function gives {got} for every alphabet and power of ten: it must compute the "
            f"length from its arguments (for 4 letters and 10**80 it is {_crossing(4, 80)})"
        )
    if not _whole(got):
        return False, (
            f"crossing_length({a}, {e}) = {got}: a chain length is a whole number; which whole L is "
            f"the first with {a}**L > 10**{e}?"
        )
    ratio = e / math.log10(a)
    if got == want - 1 and got == math.floor(ratio) and a**got < 10**e:
        return False, (
            f"crossing_length({a}, {e}) = {got}, but {a}**{got} < 10**{e}: rounded down, this is the "
            f"last length that does not exceed; you want the first one that does"
        )
    if got == want - 1 and a**got == 10**e:
        return False, (
            f"crossing_length({a}, {e}) = {got}, but {a}**{got} equals 10**{e}, it does not exceed it: "
            f"the logarithms cannot tell 'equal' from 'exceeds' (nor can '>='). "
            f"Confirm with Python's exact integers: {a}**L > 10**{e}"
        )
    if got == math.ceil(e / math.log(a)):
        return False, (
            f"crossing_length({a}, {e}) = {got}: that divides by the natural logarithm ln({a}); "
            f"10**{e} is a power of ten, so compare with log10"
        )
    if got == math.ceil(e * math.log10(a)) or got == math.floor(e * math.log10(a)):
        return False, (
            f"crossing_length({a}, {e}) = {got}: you multiplied by log10({a}); solve {a}**L > 10**{e} for L "
            f"(take log10 of both sides) and see what happens to log10({a})"
        )
    return False, (
        f"crossing_length({a}, {e}) = {got}, expected {want}: the first whole L with {a}**L > 10**{e}; "
        f"test your result with Python's exact integers"
    )


# ---------------------------------------------------------------- Exercise 1.2


@functools.lru_cache(maxsize=1)
def _held_out_frames() -> np.ndarray:
    """The course's 1,000 held-out frames (centred, aligned, float32): frames the notebook never fits."""
    _, test = data.train_test_split(data.preprocess(data.load_paths()), seed=42)
    return test


def _constant_cases():
    """(x, c) pairs: held-out frames against a held-out frame, their mean, a shifted frame, zeros,
    and a few random frames against another random 'conformation'."""
    test = _held_out_frames()
    rng = np.random.default_rng(12)
    pick = rng.choice(len(test), size=300, replace=False)
    x = test[pick]
    odd = test[np.argmax(np.abs(test).max(1))]  # an extended held-out frame
    return [
        (x, odd),
        (x, x.mean(0)),
        (x[:7], odd + np.float32(0.5)),
        (x[:1], np.zeros(24, np.float32)),
        (rng.normal(size=(40, 24)).astype(np.float32), rng.normal(size=24).astype(np.float32)),
    ]


def _reference_error(x, c) -> float:
    return float(np.mean((np.asarray(x, np.float64) - np.asarray(c, np.float64)) ** 2))


# misconception -> (what it computes, the hint that names it); x is (n, 24), c is (24,)
_CONSTANT_MISTAKES = {
    "summed per frame": (
        lambda x, c: ((x - c) ** 2).sum(1).mean(),
        "that is the squared distance summed over the 24 coordinates (per frame); the loss of §5 "
        "is per coordinate: average over the coordinates too",
    ),
    "per bead": (
        lambda x, c: ((x - c) ** 2).reshape(len(x), 12, 2).sum(-1).mean(),
        "that is the squared distance per bead (x and y added); the loss is per coordinate",
    ),
    "total": (lambda x, c: ((x - c) ** 2).sum(), "that is a sum over all frames and coordinates; the loss is a mean"),
    "root mean square": (
        lambda x, c: np.sqrt(((x - c) ** 2).mean()),
        "that is the root of the mean squared error (an rms, in bead diam.); the loss is the mean "
        "squared error itself, in (bead diam.)²",
    ),
    "mean distance": (
        lambda x, c: np.linalg.norm(x - c, axis=1).mean(),
        "that is the mean Euclidean distance per frame; the loss is the mean squared error per coordinate",
    ),
    "mean absolute error": (
        lambda x, c: np.abs(x - c).mean(),
        "that is the mean absolute error; the loss squares the differences",
    ),
    "variance of the residuals": (
        lambda x, c: (x - c).var(),
        "a variance subtracts the mean of the residuals x - c, which is exactly the part "
        "that depends on c: square x - c itself",
    ),
    "only the offset": (
        lambda x, c: ((x.mean(0) - c) ** 2).mean(),
        "that is only the distance of c from the mean frame; the frames' own spread around their "
        "mean is missing: average (x - c)² over the frames",
    ),
    "variance only": (
        lambda x, c: x.var(0).mean(),
        "that is the variance of the data, the error of answering with the mean: it does not depend on c",
    ),
}


def _close(value, reference) -> bool:
    return abs(value - reference) <= 1e-4 * abs(reference) + 1e-6


@exercise_check
def check_constant_error(constant_error):
    """Exercise 1.2: ``constant_error(x, c)`` is the mean squared error per coordinate, in
    (bead diam.)², of answering with the one conformation c (24 numbers) for every frame of x (n, 24).

    Tried on held-out frames and random arrays, with several constants and numbers of frames
    (from 1 to 300). Recognises: summing over the 24 coordinates (per frame) or over x and y (per
    bead), a total instead of a mean, the root of the mean, the mean distance, the absolute error,
    the variance of the residuals, only the distance of c from the mean, only the variance (no c
    at all), and a function that ignores its argument x.
    """
    if not callable(constant_error):
        return False, "write a function constant_error(x, c) that returns one number"
    cases = _constant_cases()
    got = []
    for x, c in cases:
        value = constant_error(x.copy(), c.copy())
        if value is None:
            return False, "constant_error still returns None: compute the error"
        try:
            got.append(float(value))
        except (TypeError, ValueError):
            shape = getattr(value, "shape", None)
            return False, (
                f"constant_error returned {type(value).__name__}"
                f"{'' if shape is None else ' of shape ' + str(tuple(shape))}, not one number: "
                f"average over the frames and over the coordinates"
            )
    if all(_close(g, _reference_error(x, c)) for g, (x, c) in zip(got, cases)):
        return True, ""
    for mistake, hint in _CONSTANT_MISTAKES.values():
        if all(_close(g, float(mistake(x.astype(np.float64), c.astype(np.float64)))) for g, (x, c) in zip(got, cases)):
            return False, hint
    x, c = cases[0]
    if _close(got[0], got[1]):
        return False, "your function gives the same number for two different constants c: the error must depend on c"
    if _close(float(constant_error(x[:7].copy(), c.copy())), got[0]):
        return False, "your function gives the same number for other frames x: use its argument x, not `train`"
    return False, (
        f"for 300 held-out frames and one of them as c, your function gives {got[0]:.4g}, expected "
        f"{_reference_error(x, c):.4g}: compare your steps with the loss of §5 (what is squared, what is "
        f"averaged over)"
    )
