"""Self-checks of notebook 7, property optimisation in latent space.

    from helpers.exercises import property_optimization as exercises
    exercises.check_extend(extend)    # 7.1: an objective that is lowest for the most extended chain
    exercises.check_packing(packed)   # 7.2: twelve beads of diameter 1, packed as tightly as you can

Exercise 7.1's check calls your objective on frames of the held-out set (which the notebook
never shows), shifted and turned, in batches of several sizes, and differentiates through it,
because ``optimize_latent`` follows its gradient. Exercise 7.2's check measures your
arrangement itself: overlaps, and how far its R_g is from the most compact arrangement known.
When a wrong answer looks like a known mistake (the centre of mass left in, another size
measure, the sign, a gradient cut by numpy), the hint names it.

The notebook's text after each exercise uses this module's own reference results and shows
yours beside them. An answer that calls or copies those references is turned down: the
exercises ask for your own objective and your own arrangement.
"""

from __future__ import annotations

import contextlib
import functools
import io

import numpy as np
import torch

from ..data import load_paths, preprocess, train_test_split
from ..measures import end_to_end_distance, radius_of_gyration, validity
from ..optimization import optimize_latent
from ._verdict import exercise_check


def _turn(angle: float) -> np.ndarray:
    """2x2 matrix of an anticlockwise turn by ``angle`` radians."""
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def _rank_correlation(a, b) -> float:
    """Spearman's rank correlation of two 1-D arrays."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


# ----------------------------------------------------------------------------- Exercise 7.1


class _ReferenceCalled(Exception):
    """Raised when an answer under check calls the module's own reference objective."""


_checking = False  # True while check_extend calls an answer


def _extend_reference(x):
    """The reference objective of Exercise 7.1: (batch, 24) decoded coordinates -> (batch,)."""
    if _checking:
        raise _ReferenceCalled
    return -radius_of_gyration(x)


def optimize_extension(model, starts, **constraints):
    """``optimize_latent`` with the reference objective of Exercise 7.1, for the notebook's comparison."""
    return optimize_latent(model, _extend_reference, starts, **constraints)


_DATA_MAX_RG = 3.6  # the chains below are more extended than any frame of the data (R_g up to 3.54)


def _beyond_the_data() -> np.ndarray:
    """Two centred chains more extended than the data: straight with bonds 1.15 (R_g 3.97), zigzag with bonds 1.3."""
    straight = np.stack([np.arange(12) * 1.15, np.zeros(12)], 1)
    zigzag = np.stack([np.arange(12) * 1.25, 0.36 * (np.arange(12) % 2)], 1)
    chains = np.stack([straight, zigzag])
    return (chains - chains.mean(1, keepdims=True)).reshape(2, -1)


@functools.lru_cache(maxsize=1)
def _held_out_frames() -> np.ndarray:
    """40 held-out frames spread over the range of R_g and two chains beyond it: (42, 24) float32, centred."""
    test = train_test_split(preprocess(load_paths()), seed=42)[1]
    order = np.argsort(radius_of_gyration(test))
    frames = test[order[np.linspace(0, len(order) - 1, 40).astype(int)]]
    return np.concatenate([frames, _beyond_the_data()]).astype(np.float32)


def _moved(frames: np.ndarray, seed: int) -> np.ndarray:
    """Every frame turned about its centre by its own angle and shifted by its own vector."""
    rng = np.random.default_rng(seed)
    r = frames.reshape(len(frames), -1, 2).astype(np.float64)
    centre = r.mean(1, keepdims=True)
    out = np.stack([(c - m) @ _turn(a).T + m for c, m, a in zip(r, centre, rng.uniform(0.3, 6.0, len(r)))])
    out = out + rng.uniform(-6.0, 6.0, (len(r), 1, 2))
    return out.reshape(len(frames), -1).astype(np.float32)


class _AnswerFailed(Exception):
    """The answer raised on a batch: carries the hint."""


def _call(extend, frames: np.ndarray, *, grad: bool = False):
    """The student's values on ``frames`` (a float32 tensor that requires grad), and that tensor."""
    global _checking
    x = torch.tensor(frames, requires_grad=grad)
    _checking = True
    try:
        return extend(x), x
    except _ReferenceCalled:
        raise
    except Exception as error:  # noqa: BLE001 - explained to the student instead
        raise _AnswerFailed(
            f"it raised {type(error).__name__} ({error}) on a batch of {len(frames)} conformations: don't "
            "hard-code the batch size (use len(x) or x.reshape(len(x), 12, 2)), and don't change x in place "
            "(x -= ... breaks the gradient): build new tensors"
        ) from error
    finally:
        _checking = False


def _shape_problem(values, n: int) -> str | None:
    """What is wrong with ``values`` as one differentiable number per conformation of a batch of n."""
    if not isinstance(values, torch.Tensor):
        return (
            f"it returns {type(values).__name__}, not a torch tensor: optimize_latent follows the gradient of "
            "what you return through the decoder, so compute with torch (numpy, float() and .item() cut it)"
        )
    if values.ndim == 0 and n > 1:
        return (
            f"for a batch of {n} conformations it returns one number (a sum or mean over the batch?): "
            "return one value per conformation, shape (batch,)"
        )
    if tuple(values.shape) not in ((n,), () if n == 1 else (n,)):  # optimize_latent takes a 0-d value for one start
        return (
            f"for a batch of shape ({n}, 24) return one value per conformation, shape ({n},); got {tuple(values.shape)}"
        )
    if not torch.isfinite(values).all():
        return f"it returns NaN or infinity for some of {n} ordinary conformations"
    return None


@exercise_check
def check_extend(extend):
    """Exercise 7.1: ``extend(x)`` maps decoded coordinates x, a tensor (batch, 24), to one value
    per conformation (batch,), lower for a more extended chain, through a gradient.

    Called on 40 held-out frames (which the notebook never shows) spread over the range of R_g
    and two chains more extended than any in the data, in batches of 1, 7 and 42, and on the
    same chains each turned and shifted by its own amount. A correct objective ranks the
    frames exactly against R_g, does not change when a chain is moved, and its gradient points
    against the gradient of R_g. Recognised mistakes: +R_g (the sign: optimize_latent minimises), the RMS distance from the
    origin or -|x| (no centre of mass subtracted, section 2's bug), the centre of mass of the
    batch instead of each chain, x and y treated separately (changes when turned), the
    end-to-end distance or another size measure, a target (R_g - 3.5)² that stops rewarding size
    beyond the data, x and y paired wrongly, one number for the batch, numpy arrays and a
    gradient cut by numpy, ``.detach()`` or ``torch.no_grad()`` (then optimize_latent cannot
    move z), a batch size hard-coded, x changed in place, and calling this module's reference.
    """
    try:
        return _check_extend(extend)
    except _ReferenceCalled:
        return False, (
            "your function calls the course's reference objective (exercises._extend_reference, via "
            "exercises.optimize_extension or directly): write your own"
        )
    except _AnswerFailed as failed:
        return False, str(failed)


def _check_extend(extend):
    """check_extend without the handling of a failing answer."""
    if extend is _extend_reference or extend is optimize_extension:
        raise _ReferenceCalled
    if not callable(extend):
        return (
            False,
            "set `extend` to a function of decoded coordinates, e.g. def extend(x): ... (batch, 24) -> (batch,)",
        )
    frames = _held_out_frames()
    for n in (1, 7, len(frames)):
        values, _ = _call(extend, frames[:: max(1, 40 // n)][:n])
        problem = _shape_problem(values, n)
        if problem:
            return False, problem
    values, x = _call(extend, frames, grad=True)
    if not values.requires_grad:
        return False, (
            "no gradient reaches the coordinates from your value (computed with numpy, .detach(), "
            "torch.no_grad() or torch.tensor(...) of a result?): optimize_latent would leave z where it starts"
        )
    (gradient,) = torch.autograd.grad(values.sum(), x, allow_unused=True)
    if gradient is None or not torch.any(gradient != 0):
        return False, (
            "the gradient of your value with respect to the coordinates is zero (a numpy detour, or a new "
            "tensor built from the result?): optimize_latent would leave z where it starts"
        )
    mine = values.detach().double().numpy()
    moved = _call(extend, _moved(frames, seed=7))[0]
    moved = moved.detach().double().numpy() if isinstance(moved, torch.Tensor) else np.asarray(moved)
    scale = max(np.abs(mine).max(), 1e-12)
    if np.abs(moved - mine).max() > 1e-3 * scale:
        r = frames.reshape(len(frames), -1, 2)
        shifted = frames.reshape(len(frames), -1, 2) + np.array([5.0, -3.0], dtype=np.float32)
        turned = (r @ _turn(1.0).T.astype(np.float32)).reshape(len(frames), -1)
        after_shift = _call(extend, shifted.reshape(len(frames), -1))[0].detach().double().numpy()
        after_turn = _call(extend, turned)[0].detach().double().numpy()
        if np.abs(after_shift - mine).max() > 1e-3 * scale:
            return False, (
                "your value changes when a chain is shifted by (5, -3), but its size does not: subtract each "
                "chain's own centre of mass (the mean over its beads) first, as in section 2 (the RMS distance "
                "from the origin mixes size with position; and x, y come in pairs: x.reshape(len(x), 12, 2))"
            )
        if np.abs(after_turn - mine).max() > 1e-3 * scale:
            return False, (
                "your value changes when a chain is turned, but its size does not: combine x and y per bead "
                "(|r_i - r_com|² = dx² + dy²) before averaging, rather than treating the coordinates separately"
            )
        return False, (
            "your value changes when each chain of a batch is moved by its own amount: does the centre of "
            "mass average over the batch (axis 0) instead of over each chain's beads?"
        )
    rg = radius_of_gyration(frames.astype(np.float64))
    lower, higher = np.nonzero(rg[:, None] < rg[None, :] - 0.01)  # pairs: frame `lower` is more compact
    wrong = mine[lower] <= mine[higher]
    if wrong.any():
        if _rank_correlation(mine, rg) > 0.95:
            return False, (
                "the more compact a chain, the lower your value: optimize_latent minimises, so this objective "
                "makes chains compact; flip the sign"
            )
        if not wrong[rg[higher] < _DATA_MAX_RG].any():
            return False, (
                "right for chains like the data's, but chains more extended than any in the data (R_g "
                f"{rg[-2]:.1f} and {rg[-1]:.1f}) score higher than some less extended ones: is it a target "
                "(R_g - target)²? Lower must mean more extended for every chain"
            )
        if _rank_correlation(mine, -end_to_end_distance(frames.astype(np.float64))) > 0.95:
            return False, (
                "your value ranks chains by the distance between their ends, not by R_g: a chain can have its "
                "ends far apart and still be folded in the middle"
            )
        k = int(np.argmax(wrong))
        return False, (
            f"not a decreasing function of R_g: a held-out chain with R_g {rg[lower[k]]:.2f} scores "
            f"{mine[lower[k]]:.3g}, one with R_g {rg[higher[k]]:.2f} scores {mine[higher[k]]:.3g} (it should be lower)"
        )
    reference = torch.tensor(frames, requires_grad=True)
    (towards,) = torch.autograd.grad(radius_of_gyration(reference).sum(), reference)
    g, t = gradient.double(), towards.double()
    cosine = (g * t).sum(-1) / (g.norm(dim=-1) * t.norm(dim=-1)).clamp_min(1e-30)
    if cosine.max() > -0.99:
        return False, (
            "it ranks these chains right, but its gradient does not point against that of R_g, so "
            "optimize_latent would change the chain in other ways too: is it a function of R_g alone?"
        )
    return True, ""


def compare_extend(extend, model, starts, constraints: dict) -> None:
    """Run your objective of Exercise 7.1 with the prior and the penalties, and print its result."""
    with contextlib.redirect_stdout(io.StringIO()):
        solved = check_extend(extend)
    if not solved:
        print(f"  {'yours':18s} (Exercise 7.1 not solved yet)")
        return
    run = optimize_latent(model, extend, starts, **constraints)
    report = validity(run.conformation, constraints["reference"])
    rg = radius_of_gyration(run.conformation)
    best = f"{rg[report.valid].max():.2f}" if report.valid.any() else "none"
    print(f"  {'yours, prior+pen.':18s} {report.valid.sum():3d}/{len(starts)} valid; largest valid R_g {best}")


# ----------------------------------------------------------------------------- Exercise 7.2

# The most compact valid chain found by moving the 12 beads directly (no decoder) under the
# validity limits of the course data (bonds 0.69 to 1.32, other beads at least 0.93 apart):
# a penalty search by a reviewer of the notebook, rounded to 3 decimals. R_g 1.084 bead
# diameters; bonds 0.70 to 0.82, closest non-bonded pair 0.94. No proof that nothing is lower.
_COMPACT_VALID_CHAIN = [
    [1.166, -0.142], [1.18, 0.599], [0.422, 0.543], [0.207, 1.297], [-0.46, 1.075], [-0.962, 0.499],
    [-0.383, 0.061], [0.184, -0.399], [0.647, -0.932], [-0.094, -1.292], [-0.679, -0.884], [-1.228, -0.424],
]  # fmt: skip

# The reference packing's bead spacing: 1 plus a marker far below any rounding a student would
# do, so that the check recognises the reference (moved, reordered or converted) in an answer.
_REFERENCE_SPACING = 1 + 2e-5


def densest_packing() -> np.ndarray:
    """The most compact arrangement of 12 disks of diameter 1 we know, as a chain (12, 2), centred.

    Shown in the notebook after Exercise 7.2; the check turns it down as an answer. A local
    search from perturbed copies finds nothing lower. Ordered so that consecutive beads touch.
    """
    h = np.sqrt(3) / 2
    rows = [(-0.5, h), (0.5, h), (1.5, h), (2, 0), (1, 0), (0, 0), (-1, 0)]
    rows += [(-0.5, -h), (0.5, -h), (1.5, -h), (1, -2 * h), (0, -2 * h)]
    r = np.array(rows) * _REFERENCE_SPACING
    return r - r.mean(0)


def _is_the_reference(r: np.ndarray) -> bool:
    """True when ``r`` is densest_packing() moved, turned, mirrored or reordered (its distances)."""
    d = np.sort(np.linalg.norm(r[:, None] - r[None], axis=-1)[np.triu_indices(12, k=1)])
    p = densest_packing()
    ref = np.sort(np.linalg.norm(p[:, None] - p[None], axis=-1)[np.triu_indices(12, k=1)])
    return bool(np.abs(d - ref).max() < 5e-6)  # float32 copies too; a lattice of spacing 1 differs by 2e-5


def compact_valid_chain() -> np.ndarray:
    """The most compact chain we found that passes the course's validity check: (12, 2), R_g 1.11."""
    return np.array(_COMPACT_VALID_CHAIN)


def _as_beads(packed) -> tuple[np.ndarray | None, str]:
    """``packed`` as a (beads, 2) float array, or None and what is wrong with it."""
    if callable(packed):
        return None, "set `packed` to the coordinates themselves, an array (12, 2), not a function"
    if isinstance(packed, torch.Tensor):
        packed = packed.detach().cpu().double().numpy()
    try:
        r = np.asarray(packed, dtype=float)
    except (TypeError, ValueError):
        return None, "set `packed` to an array of 12 (x, y) positions, shape (12, 2)"
    r = r.squeeze() if r.ndim > 2 or (r.ndim == 2 and r.shape[0] == 1) else r
    if r.ndim == 1 and r.size % 2 == 0 and r.size >= 4:
        r = r.reshape(-1, 2)
    if r.ndim == 2 and r.shape[0] == 2 and r.shape[1] != 2:
        return None, f"shape {r.shape}: one row per bead, (12, 2); transpose it (.T)"
    if r.ndim != 2 or r.shape[1] != 2:
        return None, f"set `packed` to 12 (x, y) positions, shape (12, 2); got shape {r.shape}"
    if len(r) != 12:
        return None, f"{len(r)} beads: the chain has twelve"
    if not np.isfinite(r).all():
        return None, "some positions are NaN or infinite"
    return r, ""


_TOLERANCE = 1.05  # within 5% of the densest packing's R_g


@exercise_check
def check_packing(packed):
    """Exercise 7.2: ``packed`` holds 12 positions (12, 2) of beads of diameter 1, no two closer
    than 1 (centre to centre), with an R_g within 5% of the most compact arrangement known (1.258).

    Any arrangement meeting both is accepted, turned or shifted, as numpy, torch, a list or a
    flat (24,) vector. Recognised mistakes: overlapping beads (lattice spacing under 1, sqrt(3)/2
    rounded too far, a copy of a decoded or real frame, whose closest contacts are 0.93 or
    less), a bead counted twice, spacing 2 (the diameter taken as 2), gaps between beads (a
    square grid, a lattice spread out), a ring or a line, the wrong number of beads, positions
    transposed (2, 12), a guessed number instead of positions, the notebook's own packing.
    """
    if packed is None:
        return False, "set `packed` to the (12, 2) positions of your twelve beads"
    if np.ndim(packed) == 0 and not callable(packed) and not isinstance(packed, str):
        return False, (
            "that is one number; the exercise asks for the arrangement itself: 12 (x, y) positions, "
            "shape (12, 2), whose R_g the check measures"
        )
    r, problem = _as_beads(packed)
    if r is None:
        return False, problem
    if _is_the_reference(r):
        return False, (
            "that is the course's own packing (exercises.densest_packing(), shown after the exercise): "
            "arrange the twelve beads yourself"
        )
    d = np.linalg.norm(r[:, None] - r[None], axis=-1)
    i, j = np.triu_indices(12, k=1)
    closest = d[i, j].min()
    k = int(np.argmin(d[i, j]))
    if closest < 1e-6:
        return False, f"beads {i[k]} and {j[k]} sit at the same place (a bead counted twice?)"
    if closest < 1 - 1e-3:
        rounded = " (sqrt(3)/2 rounded? keep np.sqrt(3) / 2 unrounded)" if closest > 0.99 else ""
        return False, (
            f"beads {i[k]} and {j[k]} are {closest:.3f} apart{rounded}: beads of diameter 1 overlap when "
            "their centres are closer than 1 (the data's closest contacts, 0.93, overlap slightly too)"
        )
    rg = float(radius_of_gyration(r))
    best = float(radius_of_gyration(densest_packing()))
    if rg <= _TOLERANCE * best:
        return True, ""
    touching = int(np.sum(d[i, j] < 1 + 1e-3))
    if closest > 1.9:
        return False, (
            f"no two beads are closer than {closest:.2f}: a bead of diameter 1 has radius 1/2, so "
            "neighbours touch when their centres are 1 apart"
        )
    if rg > 1.8:
        return False, f"R_g {rg:.2f}: far from compact (a line, a ring, a long row?); fill the middle"
    if touching == 0:
        return False, (
            f"R_g {rg:.2f}, and no two beads touch (closest {closest:.2f} apart): close the gaps, "
            "neighbours touch when their centres are 1 apart"
        )
    if touching <= 17:
        return False, (
            f"R_g {rg:.2f}, only {touching} pairs touch: your arrangement leaves gaps"
            + (" (a square grid?)" if touching == 17 else "")
            + ". In the densest packing of disks (triangular, hexagonal) every inner bead touches six others"
        )
    return False, (
        f"R_g {rg:.2f}: more compact arrangements of twelve beads exist (the best known is more than 5% "
        "lower); keep the beads touching and round the cluster off"
    )


def describe_packing(packed) -> str:
    """Your arrangement of Exercise 7.2 in a few words (its R_g and closest beads), for the printout after it."""
    if packed is None or np.ndim(packed) == 0:
        return "not set yet (Exercise 7.2)"
    try:
        r, _ = _as_beads(packed)
    except Exception:  # noqa: BLE001 - whatever the student set, this only describes it
        r = None
    if r is None:
        return "not an arrangement of 12 beads yet (see Exercise 7.2's self-check)"
    closest = np.linalg.norm(r[:, None] - r[None], axis=-1)[np.triu_indices(12, k=1)].min()
    return f"R_g {float(radius_of_gyration(r)):.2f}, closest beads {closest:.2f} apart"
