"""Exercise self-checks and the notebooks' checks of their own prose.

Two kinds of check appear in the notebooks, in cells whose source is collapsed:

``verdict(ok, hint)``
    The answer to a student's exercise: prints "✓ correct" or "✗ not yet: <hint>" and returns
    ``ok``. It never raises, so "Run All" goes on with an unsolved exercise.

``claim(ok, says, measured)``
    A sentence of the text that depends on a computed number ("the four square layers hold
    95% of the parameters"). When a student changes a seed, an epoch count or beta, a claim may
    stop holding: the notebook then prints one line, "the text says ...; with your settings ...",
    and carries on. The test suite sets ``POLYMER_VAE_STRICT=1``, and there a claim that does
    not hold raises ``AssertionError``: a wrong result fails CI.

The exercise checks themselves live in ``helpers.exercises`` (one module per notebook); their
misconception tables are run by tests/test_exercises_NN.py.
"""

from __future__ import annotations

import os

STRICT_VARIABLE = "POLYMER_VAE_STRICT"


def strict() -> bool:
    """True when claims must hold (the test suite sets POLYMER_VAE_STRICT=1)."""
    return os.environ.get(STRICT_VARIABLE, "") == "1"


def verdict(ok: bool, hint: str) -> bool:
    """Print the outcome of an exercise's self-check; return ``ok`` as a plain bool."""
    ok = bool(ok)
    print("✓ correct" if ok else f"✗ not yet: {hint}")
    return ok


def claim(ok: bool, says: str, measured: str) -> bool:
    """Check one claim of the text against what the notebook just computed.

    ``says`` is the claim in words, ``measured`` the numbers behind it as computed now.
    Returns ``ok``; prints one line when it fails, or raises AssertionError in strict mode.
    """
    ok = bool(ok)
    if not ok:
        message = f"the text says {says}; with your settings: {measured}"
        if strict():
            raise AssertionError(message)
        print(f"ⓘ {message}")
    return ok
