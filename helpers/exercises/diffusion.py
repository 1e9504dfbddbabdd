"""Self-checks of notebook 09, the diffusion model.

    from helpers.exercises import diffusion as exercises
    exercises.check_add_noise(add_noise)        # 9.1: a draw of q(x_t | x_0)
    exercises.check_ddim_step(ddim_step)        # 9.2: one step of the deterministic sampler
    exercises.check_guided_noise(guided_noise)  # 9.3: classifier-free guidance

Each check calls your function on tensors, noise levels and guidance weights that the notebook
never shows (torch float64, several shapes; levels as numbers, as the notebook passes them, or
a column of one level per chain), computes the expected result itself and compares. When a
wrong result matches a known mistake (a variance used as a standard deviation, the two noise
levels swapped, the other guidance convention ...), the hint names it. An answer that changes
its inputs in place, or returns something other than a torch tensor (a numpy array, say), is
told so.
"""

from __future__ import annotations

import numpy as np
import torch

from ._verdict import as_array, exercise_check

_HALF_POWER = "a square root written as x**1/2 is (x**1) / 2: write x**0.5 (or torch.sqrt of a tensor)"


def _cases(n_args: int, seed: int):
    """Inputs the notebook never uses: (description, torch float64 tensors), as the notebook's are tensors."""
    rng = np.random.default_rng(seed)
    for shape in [(5, 21), (3, 7), (1, 21)]:
        yield f"tensors of shape {shape}", [torch.tensor(rng.normal(size=shape) * (1 + k)) for k in range(n_args)]


_ERROR_HINTS = {  # words of an error a plausible answer raises -> what to change
    "only one element tensors": "math.sqrt and float() take one number, but a level can be a column with one "
    "level per chain; compute with ** 0.5 or torch.sqrt",
    "must be Tensor, not": "torch.sqrt takes tensors only, and a level can be a plain number; ** 0.5 works on both",
    "must match the size": "the shapes do not broadcast: keep each level as it is given (a number, or a column "
    "(chains, 1) that scales each chain's row), without flattening or transposing it",
}


def _call(function, *args):
    """function(*args) on copies of the tensor arguments: (result as numpy, None), or (None, a hint) if
    it changed one of them, returned something other than a torch tensor, or raised one of the errors
    of ``_ERROR_HINTS``."""
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    try:
        out = function(*copies)
    except (ValueError, TypeError, RuntimeError) as error:
        for words, hint in _ERROR_HINTS.items():
            if words in str(error):
                return None, f"your function raised {type(error).__name__} ({error}): {hint}"
        raise
    for original, copy in zip(args, copies):
        if isinstance(original, torch.Tensor) and not torch.equal(original, copy):
            return None, (
                "your function changed one of its inputs in place (+=, *=, or a method ending in _): "
                "compute a new tensor instead, the sampler still needs its inputs"
            )
    if out is None:
        return None, "your function returned None (a missing return?): return the result, a torch tensor"
    if not isinstance(out, torch.Tensor):
        name = type(out).__name__
        what = {"ndarray": "a numpy array"}.get(name, f"{'an' if name[0] in 'aeiou' else 'a'} {name}")
        return None, (
            f"your function returned {what}, not a torch tensor: given tensors, return a tensor (the "
            "notebook's later code works with tensors); compute with tensor operations such as x ** 0.5 or "
            "torch.sqrt, without numpy"
        )
    return as_array(out), None


def _not_yet(where: str, out, expected, mistake, hints: dict, name: str, generic: str):
    """The verdict on a wrong result: the hint for a recognised mistake, else the wrong shape, else ``generic``."""
    if mistake:
        return False, f"{where}: {hints[mistake]}"
    if out.shape != expected.shape:
        return False, f"{where} {name} should have shape {expected.shape}, got {out.shape}"
    return False, f"{where} {generic}"


def _same(out, value, atol=1e-6) -> bool:
    """Whether the result ``out`` equals ``value``, shape included."""
    return out.shape == np.shape(value) and np.allclose(out, value, atol=atol)


def _first_match(out, candidates: dict, atol=1e-6):
    """The name of the first candidate result that ``out`` equals, or None."""
    return next((name for name, value in candidates.items() if _same(out, value, atol)), None)


# ----------------------------------------------------------------------------- Exercise 9.1


@exercise_check
def check_add_noise(add_noise):
    """Exercise 9.1: ``add_noise(x0, eps, abar_t)`` returns the draw x_t of q(x_t | x_0) for the noise eps.

    Tested at noise levels abar_t the notebook does not use (near 1, near 0, in between; a number
    and a column of one level per chain) on tensors of several shapes. Recognised mistakes:
    abar_t and 1 - abar_t without square roots (variances used as scales), the noise not scaled, the
    signal not scaled, the two factors swapped, the noise subtracted, the noise left out, square
    roots written as **1/2 (which halves). A result
    that is not a torch tensor (numpy, say) is refused: the notebook goes on with tensors.
    """
    if not callable(add_noise):
        return False, "`add_noise` should be a function: def add_noise(x0, eps, abar_t): ... return x_t"
    for what, (x0, eps) in _cases(2, seed=91):
        n = x0.shape[0]
        levels = [0.999, 0.37, 0.004, np.linspace(0.05, 0.95, n)[:, None]]
        for a in levels:
            out, changed = _call(add_noise, x0, eps, a if np.isscalar(a) else torch.tensor(a))
            if changed:
                return False, changed
            x, e = as_array(x0), as_array(eps)
            expected = np.sqrt(a) * x + np.sqrt(1 - a) * e
            if out.shape == expected.shape and np.allclose(out, expected, atol=1e-6):
                continue
            level = "one level per chain" if not np.isscalar(a) else f"abar_t = {a}"
            mistake = _first_match(out, {
                "variances": a * x + (1 - a) * e,
                "noise unscaled": np.sqrt(a) * x + e,
                "signal unscaled": x + np.sqrt(1 - a) * e,
                "swapped": np.sqrt(1 - a) * x + np.sqrt(a) * e,
                "minus": np.sqrt(a) * x - np.sqrt(1 - a) * e,
                "no noise": np.sqrt(a) * x,
                "half power": (a * x + (1 - a) * e) / 2,
                "input back": x,
            })  # fmt: skip
            hints = {
                "variances": "you scaled by abar_t and 1 - abar_t: those are the variances; the scales are their square roots",
                "noise unscaled": "the noise must be scaled by sqrt(1 - abar_t), or x_t keeps growing in size with t",
                "signal unscaled": "the signal must shrink by sqrt(abar_t): only then is the variance of x_t preserved",
                "swapped": "the factors are swapped: abar_t is the share of the signal that survives (1 at t = 0)",
                "minus": "the noise is added, not subtracted (for a symmetric eps both are draws, but the "
                "network is trained to predict the eps that was added)",
                "no noise": "the noise term is missing: x_t is the shrunk signal plus the scaled noise eps",
                "half power": _HALF_POWER,
                "input back": "x_t is x0 unchanged: add the scaled noise",
            }
            return _not_yet(
                f"for {what} at {level}", out, expected, mistake, hints, "x_t",
                "x_t differs from the draw of q(x_t | x_0): the signal keeps a share abar_t of its variance, "
                "the noise makes up the rest",
            )  # fmt: skip
    return True, ""


# ----------------------------------------------------------------------------- Exercise 9.2


def _ddim_reference(x, e, a, a_prev):
    x0 = (x - np.sqrt(1 - a) * e) / np.sqrt(a)
    return np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev) * e, x0


def _clipped_x0(out, x0, e, a_prev, atol=1e-6):
    """(lo, hi) if ``out`` is the step with x0_hat clipped to [lo, hi] and that clipping changed
    x0_hat here (some of it lies outside the range); else None."""
    if out.shape != x0.shape:
        return None
    implied = (out - np.sqrt(1 - a_prev) * e) / np.sqrt(a_prev)  # the x0_hat that the answer re-noised
    lo, hi = float(implied.min()), float(implied.max())
    clipped = np.clip(x0, lo, hi)
    changed = not np.allclose(clipped, x0, atol=atol)
    return (lo, hi) if changed and _same(out, np.sqrt(a_prev) * clipped + np.sqrt(1 - a_prev) * e, atol) else None


@exercise_check
def check_ddim_step(ddim_step):
    """Exercise 9.2: ``ddim_step(x_t, eps, abar_t, abar_prev)`` returns the deterministic step to x_prev.

    The predicted clean chain x0_hat (the forward jump solved for x_0), re-noised to the level
    abar_prev with the same predicted noise. Tested on tensors and noise levels (numbers) the
    notebook never shows, including the last step (abar_prev = 1). Recognised mistakes:
    returning x0_hat (jumping to the end), the noise level of t kept for the step to t_prev, x0_hat with the
    variance 1 - abar_t instead of its square root, x0_hat not divided by sqrt(abar_t), the
    noise term left out (the DDPM mean without its noise), eps subtracted at the end, the two levels
    swapped, square roots written as **1/2 (which halves), x0_hat clipped to a range (the first case's x0_hat reaches beyond +-5, so any clipping shows). A result
    that is not a torch tensor (numpy, say) is refused: the notebook goes on with tensors.
    """
    if not callable(ddim_step):
        return False, "`ddim_step` should be a function: def ddim_step(x_t, eps, abar_t, abar_prev): ... return x_prev"
    for what, (x, e) in _cases(2, seed=92):
        for a, a_prev in [(0.3, 0.45), (0.02, 0.1), (0.97, 0.99), (0.6, 1.0)]:
            out, changed = _call(ddim_step, x, e, a, a_prev)
            if changed:
                return False, changed
            xn, en = as_array(x), as_array(e)
            expected, x0 = _ddim_reference(xn, en, a, a_prev)
            if out.shape == expected.shape and np.allclose(out, expected, atol=1e-6):
                continue
            mistake = _first_match(out, {
                "x0": x0,
                "same level": np.sqrt(a) * x0 + np.sqrt(1 - a) * en,
                "variance": np.sqrt(a_prev) * (xn - (1 - a) * en) / np.sqrt(a) + np.sqrt(1 - a_prev) * en,
                "not divided": np.sqrt(a_prev) * (xn - np.sqrt(1 - a) * en) + np.sqrt(1 - a_prev) * en,
                "no noise": np.sqrt(a_prev) * x0,
                "minus": np.sqrt(a_prev) * x0 - np.sqrt(1 - a_prev) * en,
                "levels swapped": _ddim_reference(xn, en, a_prev, a)[0],
                "half power": (a_prev / 2) * (xn - (1 - a) / 2 * en) / (a / 2) + (1 - a_prev) / 2 * en,
                "half power, divisor unbracketed": (a_prev / 2) * (xn - (1 - a) / 2 * en) / a / 2 + (1 - a_prev) / 2 * en,
            })  # fmt: skip
            clipped = _clipped_x0(out, x0, en, a_prev) if mistake is None else None
            hints = {
                "x0": "you returned x0_hat, the end of the whole path: one step goes only to abar_prev, "
                "re-adding the predicted noise at that level",
                "same level": "x_prev equals x_t, so the step went nowhere: x0_hat comes from x_t with abar_t, "
                "and the way back out uses abar_prev (one level used for both cancels out)",
                "variance": "x0_hat subtracts sqrt(1 - abar_t) eps (a scale, not the variance 1 - abar_t)",
                "not divided": "x0_hat must undo the signal's shrinking by sqrt(abar_t) as well as remove the noise",
                "no noise": "the predicted noise must come back, scaled by sqrt(1 - abar_prev)",
                "minus": "the noise returns with the sign it had in the forward process (it was added)",
                "levels swapped": "the two levels are swapped: x0_hat comes from x_t at abar_t, the step ends at abar_prev",
                "half power": _HALF_POWER,
                "half power, divisor unbracketed": _HALF_POWER,
            }
            if clipped:
                mistake = "clipped"
                hints[mistake] = (
                    f"x0_hat was clipped (to {clipped[0]:.3g} ... {clipped[1]:.3g} here): helpers.diffusion's "
                    "sampler does that to keep its chains in range, but the exercise asks for the plain step; "
                    "leave x0_hat as it is"
                )
            return _not_yet(
                f"for {what} (abar_t {a}, abar_prev {a_prev})", out, expected, mistake, hints, "x_prev",
                "x_prev differs from the DDIM step: first the clean chain that x_t and eps imply, then the "
                "forward jump to abar_prev with the same eps",
            )  # fmt: skip
    return True, ""


# ----------------------------------------------------------------------------- Exercise 9.3


_GUIDANCE_MISTAKES = {  # what each mistake makes of (eps_cond, eps_uncond, w)
    "interpolation": lambda c, u, w: w * c + (1 - w) * u,
    "swapped": lambda c, u, w: (1 + w) * u - w * c,
    "added": lambda c, u, w: c + w * u,
    "towards": lambda c, u, w: c - w * (c - u),
    "ignored": lambda c, u, w: c,
    "average": lambda c, u, w: (c + u) / 2,
}


def _line_factors(outputs: dict, c, u):
    """For each w, the k with outputs[w] = c + k (c - u), if every output lies on that line; else None."""
    d = c - u
    factors = {}
    for w, out in outputs.items():
        if out.shape != c.shape:
            return None
        k = float(np.sum((out - c) * d) / np.sum(d * d))
        if not np.allclose(out, c + k * d, atol=1e-6):
            return None
        factors[w] = k
    return factors


@exercise_check
def check_guided_noise(guided_noise):
    """Exercise 9.3: ``guided_noise(eps_cond, eps_uncond, w)``, classifier-free guidance with weight w.

    Tested with guidance weights 2, 0.5, 7.5 and 0 on tensors the notebook never shows. A mistake
    is named only when the answer gives what it gives at every one of these weights. Recognised
    mistakes: the other convention, eps_uncond + w (eps_cond - eps_uncond), in which w = 1 is the
    conditional model; a result that does not change with w; the two predictions swapped, the
    unconditional prediction added, the difference subtracted (towards eps_uncond), the weight
    ignored, the average of the two; and any other factor on the difference eps_cond - eps_uncond
    (such as w / 2). A result that is not a torch tensor (numpy, say) is refused.
    """
    if not callable(guided_noise):
        return False, "`guided_noise` should be a function: def guided_noise(eps_cond, eps_uncond, w): ..."
    weights = (2.0, 0.5, 7.5, 0.0)
    for what, (c, u) in _cases(2, seed=93):
        outputs = {}
        for w in weights:
            outputs[w], problem = _call(guided_noise, c, u, w)
            if problem:
                return False, problem
        cn, un = as_array(c), as_array(u)
        wrong = [w for w in weights if not _same(outputs[w], (1 + w) * cn - w * un)]
        if not wrong:
            continue
        mistake = next(
            (
                name
                for name, mistaken in _GUIDANCE_MISTAKES.items()
                if all(_same(outputs[v], mistaken(cn, un, v)) for v in weights)
            ),
            None,
        )
        w = wrong[0]
        hints = {
            "interpolation": "eps_uncond + w (eps_cond - eps_uncond) is the convention in which w = 1 is the "
            "conditional model (as in the diffusers library); here w = 0 is: go w times the difference "
            "beyond eps_cond",
            "swapped": "the two predictions are swapped: guidance moves towards the condition, (1 + w) eps_cond",
            "added": "guidance moves away from the unconditional prediction: it enters with a minus sign",
            "towards": "your result moves from eps_cond towards the unconditional prediction: guidance moves "
            "away from it, beyond eps_cond",
            "ignored": "the result ignores w: it is the conditional prediction alone (correct only for w = 0)",
            "average": "the average of the two predictions is not guidance",
        }
        constant = all(o.shape == outputs[0.0].shape and np.allclose(o, outputs[0.0]) for o in outputs.values())
        if constant and mistake not in ("ignored", "average"):
            return False, f"for {what} the result is the same for w = 0, 0.5, 2 and 7.5: it must change with w"
        factors = _line_factors(outputs, cn, un) if mistake is None else None
        if factors:
            k = factors[w]  # three significant digits, more where they would print it as w itself
            shown = next((f"{k:.{n}g}" for n in (3, 5, 7, 9) if f"{k:.{n}g}" != f"{w:.{n}g}"), repr(k))
            mistake = "factor"
            hints[mistake] = (
                f"the difference is scaled by the wrong factor: at w = {w:g} your result lies {shown} times "
                "(eps_cond - eps_uncond) from eps_cond; how far does guidance with weight w go?"
            )
        return _not_yet(
            f"for {what} with w = {w:g}", outputs[w], (1 + w) * cn - w * un, mistake, hints, "the result",
            "the result differs from guidance: start at the conditional prediction and go w times further "
            "in the direction from the unconditional one to it",
        )  # fmt: skip
    return True, ""
