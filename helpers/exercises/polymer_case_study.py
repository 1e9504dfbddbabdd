"""Self-checks of notebook 06, the polymer case study.

    from helpers.exercises import polymer_case_study as exercises
    exercises.check_move(move)                # 6.1: turn a frame, then shift it
    exercises.check_bend_angles(bend_angles)  # 6.2: how much the chain turns at each inner bead
    exercises.check_end_codes(end_codes)      # 6.3: codes of the most compact and most extended frame

Each check calls your function on frames, angles, shifts, chain lengths and models that the
notebook never shows, computes the expected result itself and compares. When a wrong result
matches a known mistake (degrees taken as radians, a clockwise turn, a sample instead of the
encoder's mean, ...), the hint names it.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..checkpoints import load_pretrained
from ..data import load_paths, preprocess, train_test_split
from ..measures import end_to_end_distance, radius_of_gyration
from ..models import PolymerVAE
from ._verdict import as_array, exercise_check


class NotNumbers(ValueError):
    """The student's function returned something that is not an array of numbers."""


def _as_array(value) -> np.ndarray:
    """A result as a float64 numpy array, whatever it came as: array, list, tensor (also one
    that requires grad, i.e. computed without ``torch.no_grad()``), or a list of tensors."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value):
        return np.stack([as_array(v) for v in value])
    try:
        return as_array(value)
    except (TypeError, ValueError) as error:
        raise NotNumbers(f"returned a {type(value).__name__}, not numbers in an array ({error})") from None


def _went_wrong(call: str, error: Exception) -> str:
    """What a failed call of the student's function did, in words: it raised, or returned no numbers."""
    return f"{call} {error}" if isinstance(error, NotNumbers) else f"{call} raised {type(error).__name__}: {error}"


def _turn(angle_deg: float) -> np.ndarray:
    """2x2 matrix of an anticlockwise turn by ``angle_deg`` degrees."""
    a = np.deg2rad(angle_deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def _angle_difference(a_deg: float, b_deg: float) -> float:
    """|a - b| in degrees, wrapped into [0, 180]."""
    return abs((a_deg - b_deg + 180.0) % 360.0 - 180.0)


@functools.lru_cache(maxsize=1)
def _paths() -> np.ndarray:
    return load_paths()


@functools.lru_cache(maxsize=1)
def _split() -> tuple[np.ndarray, np.ndarray]:
    return train_test_split(preprocess(_paths()), seed=42)


# ----------------------------------------------------------------------------- Exercise 6.1

# (frame index in the raw data, degrees, shift): frames and motions the notebook never uses
_MOVES = [(1234, 37.0, (5.0, -2.0)), (8765, -120.0, (0.5, 3.0)), (4321, 200.0, (-1.0, 0.0)), (17, 90.0, (2.0, 2.0))]


def _diagnose_move(frame, degrees, shift, out) -> str:
    """Name what ``out`` did to ``frame`` instead of turning it by ``degrees`` and shifting it by ``shift``."""
    center, shift = frame.mean(0), np.asarray(shift, dtype=float)
    if np.allclose(out, frame, atol=1e-4):
        return "returns the frame unchanged: turn it, then shift it"
    distances = np.linalg.norm(frame[:, None] - frame[None], axis=-1)
    if np.abs(np.linalg.norm(out[:, None] - out[None], axis=-1) - distances).max() > 1e-4:
        return (
            "the result has another shape than the frame it was given (distances between beads "
            "changed), but a turn and a shift move every bead alike. Does `move` use its argument "
            "`frame` (not the notebook's), and the rotation matrix `rotation(angle)`?"
        )
    h = (frame - center).T @ (out - out.mean(0))  # Kabsch: the best turn from frame to out
    u, _, vt = np.linalg.svd(h)
    fit = vt.T @ u.T
    if np.linalg.det(fit) < 0:
        return "that is a mirror image of the frame, not a turn: no rotation in the plane gives it"
    found = np.rad2deg(np.arctan2(fit[1, 0], fit[0, 0]))
    if _angle_difference(found, degrees) > 0.01:
        if _angle_difference(found, 0.0) < 0.01:
            return "the frame is not turned at all (only shifted?): turn it first, with `rotation(angle)`"
        if _angle_difference(found, -degrees) < 0.01:
            return (
                f"turned by {found:.0f}° instead of {degrees:g}°, the opposite way (clockwise): with one bead "
                "per row, `frame @ rotation(a)` applies the transposed matrix, the turn by -a"
            )
        if _angle_difference(found, np.rad2deg(degrees)) < 0.01:
            return (
                f"turned by {degrees:g} radians instead of {degrees:g} degrees: "
                "cos and sin take radians, convert with np.deg2rad"
            )
        if _angle_difference(found, 37.0) < 0.01:
            return f"turned by 37° although `degrees` is {degrees:g}: use the argument, not a fixed 37"
        return f"turned by {found:.1f}° instead of {degrees:g}° (anticlockwise)"
    turned_center = fit @ center
    moved_by = out.mean(0) - turned_center  # the shift, if the turn was about the origin
    if np.allclose(out.mean(0), fit @ (center + shift), atol=1e-4):
        return "shifted first, then turned: the turn then turns the shift too. Turn first, then add the shift"
    if np.allclose(moved_by, 0, atol=1e-4) or np.allclose(out.mean(0), center, atol=1e-4):
        return "turned correctly, but not shifted: add the shift after the turn"
    if np.allclose(out.mean(0), shift, atol=1e-4):
        return (
            f"the frame's centre ends at ({shift[0]:g}, {shift[1]:g}): `shift` moves the frame by that much, "
            "it does not put its centre there"
        )
    if np.allclose(moved_by, [5.0, -2.0], atol=1e-4):
        return f"shifted by (5, -2) although `shift` is ({shift[0]:g}, {shift[1]:g}): use the argument"
    return (
        f"turned correctly, but shifted by ({moved_by[0]:.2f}, {moved_by[1]:.2f}) instead of "
        f"({shift[0]:g}, {shift[1]:g}): check the shift's order and signs"
    )


@exercise_check
def check_move(move):
    """Exercise 6.1: ``move(frame, degrees, shift)`` turns a (beads, 2) frame anticlockwise by
    ``degrees`` and then shifts it by ``shift``.

    Tested on four frames of the data that the notebook does not show, with turns of 37°, -120°,
    200° and 90° and four shifts. Recognised mistakes: a turn about the frame's centre instead
    of the origin, no turn, no shift, shift before the turn, a clockwise turn, degrees passed to
    cos/sin as radians, a mirror image, hard-coded 37° or (5, -2), a result that is not a turn
    of the given frame (e.g. the notebook's `frame` used instead of the argument), the input
    changed in place, the frame returned flattened or transposed.
    """
    if not callable(move):
        return False, "`move` should be a function: def move(frame, degrees, shift): ... return the moved frame"
    for index, degrees, shift in _MOVES:
        frame = _paths()[index].copy()
        given = frame.copy()
        try:
            out = _as_array(move(given, degrees, shift))
        except Exception as error:  # noqa: BLE001 - the student's code may raise anything
            return False, _went_wrong(f"move(f, {degrees:g}, ({shift[0]:g}, {shift[1]:g}))", error)
        if not np.array_equal(given, frame):
            return False, (
                "your function changed the frame it was given (in place, e.g. `frame += shift`): "
                "build and return a new array"
            )
        if out.shape == frame.shape and not np.isfinite(out).all():
            return False, f"move(f, {degrees:g}, ({shift[0]:g}, {shift[1]:g})) has NaN or infinite coordinates"
        if out.shape != frame.shape:
            if out.shape == frame.shape[::-1]:
                return False, "the result is transposed, (2, beads): return one bead per row, (beads, 2)"
            return False, f"return a frame of the same shape as the input, {frame.shape}; got {out.shape}"
        turn, center = _turn(degrees), frame.mean(0)
        about_origin = frame @ turn.T + np.asarray(shift)
        about_center = (frame - center) @ turn.T + center + np.asarray(shift)
        if np.allclose(out, about_center, atol=1e-4) and not np.allclose(out, about_origin, atol=1e-4):
            return False, (
                "you turned the frame about its own centre; the task turns it about the origin (0, 0). "
                "Preprocessing would not notice the difference, but `move` should do what its docstring says"
            )
        if not np.allclose(out, about_origin, atol=1e-4):
            return False, (
                f"with another data frame f, move(f, {degrees:g}, ({shift[0]:g}, {shift[1]:g})): "
                + _diagnose_move(frame, degrees, shift, out)
            )
    return True, ""


# ----------------------------------------------------------------------------- Exercise 6.2


def _bend_reference(r: np.ndarray) -> np.ndarray:
    """The turn between consecutive bonds, in [0, pi]: (chains, beads, 2) -> (chains, beads - 2)."""
    b = np.diff(r, axis=-2)
    cross = b[..., :-1, 0] * b[..., 1:, 1] - b[..., :-1, 1] * b[..., 1:, 0]
    dot = (b[..., :-1, :] * b[..., 1:, :]).sum(-1)
    return np.abs(np.arctan2(cross, dot))


def _bend_cases() -> list[tuple[str, np.ndarray]]:
    """Inputs the notebook never passes: turned and shifted data frames, one frame, short chains
    with bonds of many lengths and sharp turns, and straight chains."""
    train, _ = _split()
    frames = train[[11, 222, 3333, 4444, 5555]].reshape(5, -1, 2).astype(float)
    moved = frames @ _turn(63.0).T + np.array([3.0, -7.0])
    rng = np.random.default_rng(6)
    turns = rng.uniform(-3.0, 3.0, (3, 6))  # sharp turns, both ways
    directions = np.cumsum(np.concatenate([rng.uniform(0, 2 * np.pi, (3, 1)), turns], axis=1), axis=1)
    bonds = rng.uniform(0.5, 2.0, (3, 7))[..., None] * np.stack([np.cos(directions), np.sin(directions)], -1)
    short = np.concatenate([np.zeros((3, 1, 2)), np.cumsum(bonds, axis=1)], axis=1)
    line = np.arange(12.0)[:, None]
    straight = np.stack([line * [np.cos(a), np.sin(a)] for a in (0.03, 2.0)])  # cos can round to 1 + 2e-16
    return [
        ("5 data frames, turned and shifted", moved),
        ("one data frame", frames[2:3] + 10.0),
        ("3 chains of 8 beads with bonds of many lengths and sharp turns", short),
        ("2 straight chains", straight),
    ]


def _diagnose_bend(what, r, expected, out) -> str:
    """Name the mistake behind ``out`` where ``expected`` is the turn at each inner bead of ``r``."""
    chains, turns = expected.shape
    if out.shape != expected.shape:
        if out.ndim == 2 and out.shape[0] == chains and out.shape[1] > turns:
            why = "one per bond?" if out.shape[1] == turns + 1 else "did np.roll wrap the chain around?"
            return (
                f"{out.shape[1]} angles per chain of {turns + 2} beads for {what}: a chain of B beads has "
                f"B - 1 bonds and B - 2 turns between them ({why})"
            )
        if out.size == expected.size:
            return f"for {what}: one row per chain, shape (chains, beads - 2) = {expected.shape}; got {out.shape}"
        if out.shape in ((turns,), (chains,), ()):
            return f"one angle per inner bead of every chain, shape {expected.shape} for {what}; yours is {out.shape} (averaged?)"
        return f"for {what} expected shape (chains, beads - 2) = {expected.shape}, got {out.shape}"
    if np.isnan(out).any():
        if "straight" in what:
            return (
                "NaN for a straight chain: rounding can make the cosine 1.0000000000000002, outside "
                "arccos's domain; clip it to [-1, 1] (np.clip)"
            )
        return f"NaN for {what}: is a division by zero or arccos of a value outside [-1, 1] in it?"
    if np.allclose(out, 0):
        return f"all zeros for {what} (the placeholder?): the chains do turn at their inner beads"
    b = np.diff(r, axis=-2)
    raw_dot = np.clip((b[..., :-1, :] * b[..., 1:, :]).sum(-1), -1, 1)

    def like(candidate):
        return np.allclose(out, candidate, atol=2e-3)

    if like(np.rad2deg(expected)):
        return "these are degrees: return radians (np.deg2rad, or leave out np.degrees)"
    if like(np.pi - expected):
        return (
            "that is the angle at the bead between the two bonds (pi for a straight chain); the turn "
            "is the angle between consecutive bond vectors b_i and b_i+1, 0 for a straight chain"
        )
    if like(np.cos(expected)):
        return "that is the cosine of the turn: return the angle itself"
    if (out < -1e-6).any() and np.allclose(np.abs(out), expected, atol=2e-3):
        return "signed turns (left negative): return the size of each turn, in [0, pi] (np.abs)"
    if (out > np.pi + 1e-6).any() or (out < -1e-6).any():
        wrapped = np.abs((out + np.pi) % (2 * np.pi) - np.pi)
        if np.allclose(wrapped, expected, atol=2e-3):
            return (
                "some values lie outside [0, pi]: a difference of two bond directions must be wrapped "
                "into [-pi, pi] before taking its size"
            )
        return f"some values lie outside [0, pi] for {what}: a turn's size is between 0 and pi"
    if like(np.arccos(raw_dot)):
        return (
            "right only where bonds have length 1: divide the dot product by both bond lengths "
            "before arccos (the data's bonds are near 1, these are not)"
        )
    error = float(np.abs(out - expected).max())
    return (
        f"for {what} your angles differ from the turns between consecutive bond vectors "
        f"b_i = r_i+1 - r_i by up to {error:.2f} rad"
    )


@exercise_check
def check_bend_angles(bend_angles):
    """Exercise 6.2: ``bend_angles(r)`` returns, for conformations r of shape (chains, beads, 2),
    the angle by which the chain turns at each inner bead: the angle between the bond vectors
    b_i = r_(i+1) - r_i and b_(i+1), in radians, 0 for a straight chain: shape (chains, beads - 2).

    Tested on data frames turned and shifted, a single frame, chains of 8 beads with bonds of
    many lengths and sharp turns, and straight chains, against the check's own reference. Any
    correct method is accepted, numpy or torch. Recognised mistakes: degrees, the angle at the bead (pi minus
    the turn), the cosine, signed turns, unwrapped direction differences, bonds not
    normalised, NaN from an unclipped cosine, wrong shapes (B - 1 angles, flattened, averaged).
    """
    if not callable(bend_angles):
        return False, "`bend_angles` should be a function: def bend_angles(r): ... return the turns"
    for what, r in _bend_cases():
        try:
            out = _as_array(bend_angles(r.copy()))
        except Exception as error:  # noqa: BLE001 - the student's code may raise anything
            return False, _went_wrong(f"bend_angles, for {what} of shape {r.shape},", error)
        expected = _bend_reference(r)
        if out.shape == expected.shape and not np.isnan(out).any() and np.allclose(out, expected, atol=2e-3):
            continue
        try:
            shifted = _as_array(bend_angles(r + np.array([7.0, -3.0])))
        except Exception:  # noqa: BLE001 - the student's code may raise anything
            shifted = out
        if (
            shifted.shape == out.shape
            and not np.isnan(out).any()
            and not np.isnan(shifted).any()
            and not np.allclose(shifted, out, atol=2e-3)
        ):
            return False, (
                f"for {what} your angles change when the chains are shifted, but a turn does not: "
                "use the bond vectors b_i = r_i+1 - r_i, not the positions r_i"
            )
        return False, _diagnose_bend(what, r, expected, out)
    return True, ""


def compare_turns(bend_angles, data, samples) -> tuple[float, float]:
    """For the text after Exercise 6.2: the mean turn per inner bead of ``data`` and of
    ``samples`` (flat (n, 24) or (n, beads, 2)), by the reference and by your ``bend_angles``.
    Prints both; returns the reference's two means."""
    chains = [np.asarray(x, dtype=float).reshape(len(x), -1, 2) for x in (data, samples)]
    reference = tuple(float(_bend_reference(r).mean()) for r in chains)
    try:
        yours = ", ".join(f"{float(np.mean(_as_array(bend_angles(r)))):.2f}" for r in chains)
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        yours = f"raised {type(error).__name__}"
    print(
        f"mean turn per inner bead: data (test) {reference[0]:.2f} rad, decoder means {reference[1]:.2f} rad "
        f"(with your bend_angles: {yours})"
    )
    return reference


# ----------------------------------------------------------------------------- Exercise 6.3


@functools.lru_cache(maxsize=1)
def _models() -> tuple[torch.nn.Module, torch.nn.Module]:
    """The shipped model, and a small untrained one (seeded; the global RNG is left alone)."""
    shipped = load_pretrained()[0].eval()
    with torch.random.fork_rng():
        torch.manual_seed(123)
        untrained = PolymerVAE(hidden_dim=32, n_hidden=1).eval()
    return shipped, untrained


def _end_cases():
    """(what, model, frames): frame sets and a model that the notebook does not use."""
    train, test = _split()
    shipped, untrained = _models()
    return [
        ("the shipped model and 500 training frames", shipped, train[1000:1500]),
        ("an untrained model and 300 training frames", untrained, train[:300]),
        ("the shipped model and 3 frames", shipped, test[[5, 50, 500]]),
    ]


@torch.no_grad()
def _codes(model, frames):
    mu, sigma = model.encode(torch.as_tensor(frames))
    return mu.double().numpy(), sigma.double().numpy()


def _diagnose_ends(what, model, frames, out) -> str:
    mu, sigma = _codes(model, frames)
    rg = radius_of_gyration(frames)
    ends = [int(np.argmin(rg)), int(np.argmax(rg))]
    expected = mu[ends]
    if out.shape != expected.shape:
        if out.shape == (2 * model.latent_dim,):
            return (
                "4 numbers in one row: torch.cat of two 1-D codes; keep a batch axis (frames[i:i + 1]) "
                "or use torch.stack, to get shape (2, 2)"
            )
        if out.ndim >= 2 and out.shape[0] == 2 and out[0].size == frames.shape[1]:
            return "these are two frames (24 numbers each), not their codes: encode them, model.encode(x)[0]"
        return f"expected shape (2, 2): two codes, compact first; got {out.shape}"

    def like(candidate, atol=1e-4):
        return np.allclose(out, candidate, atol=atol)

    if not out.any():
        return "all zeros (the placeholder?): return the encoder means of the two end frames"
    if like(expected[::-1]):
        return "the ends are swapped: the most compact frame (smallest R_g) first, then the most extended"
    if like(sigma[ends]) or like(sigma[ends][::-1]):
        return (
            "these are sigma, the encoder's standard deviations (encode(x)[1]); the code is the mean mu, encode(x)[0]"
        )
    shipped = _models()[0]
    if model is not shipped and like(_codes(shipped, frames)[0][ends]):
        return "these are the codes of another model: encode with the `model` passed to end_codes"
    _, test = _split()
    test_rg = radius_of_gyration(test)
    if like(_codes(model, test[[int(np.argmin(test_rg)), int(np.argmax(test_rg))]])[0]):
        return "these are the ends of the notebook's `test` set, not of the `frames` passed to end_codes"
    ee = end_to_end_distance(frames)
    if like(mu[[int(np.argmin(ee)), int(np.argmax(ee))]]):
        return "picked by end-to-end distance; most compact and most extended here mean smallest and largest R_g"
    if like(expected[[0, 0]]) or like(expected[[1, 1]]):
        return "both rows are the code of one frame: the first is the most compact, the second the most extended"
    rows = [int(np.argmin(np.abs(mu - row).sum(1))) for row in out]
    if np.allclose(out, mu[rows], atol=1e-4):
        return (
            f"with {what}: your rows encode frames with R_g {rg[rows[0]]:.2f} and {rg[rows[1]]:.2f}; "
            f"the most compact has R_g {rg[ends[0]]:.2f}, the most extended {rg[ends[1]]:.2f}"
        )
    if np.all(np.abs(out - expected) < 6 * sigma[ends] + 1e-4):
        return (
            "close but not equal: a sample z ~ q_phi(z|x) (model(x) or the reparameterization), "
            "not the encoder's mean mu = model.encode(x)[0]"
        )
    return (
        f"with {what}: your rows differ from the encoder means of the most compact and the most "
        f"extended frame by up to {np.abs(out - expected).max():.2f}"
    )


@exercise_check
def check_end_codes(end_codes):
    """Exercise 6.3: ``end_codes(model, frames)`` returns the encoder means mu_phi(x) of the most
    compact (smallest R_g) and the most extended (largest R_g) of ``frames`` (n, 24), in that
    order: shape (2, latent_dim).

    Tested with the shipped model on 500 training frames and on 3 frames, and with an untrained
    model. Numpy arrays, lists and tensors (float32 or float64, with or without gradients, i.e.
    computed with or without ``torch.no_grad()``) are accepted. Recognised mistakes: ends
    swapped, sigma instead of mu, a sample z ~ q instead of the mean, another model or the
    notebook's ``test`` set instead of the arguments, frames chosen by end-to-end distance, the
    same frame twice, decoded frames instead of codes, the two codes concatenated into one row.
    """
    if not callable(end_codes):
        return False, "`end_codes` should be a function: def end_codes(model, frames): ... return the two codes"
    for what, model, frames in _end_cases():
        try:
            out = _as_array(end_codes(model, frames.copy()))
        except Exception as error:  # noqa: BLE001 - the student's code may raise anything
            return False, _went_wrong(f"end_codes, with {what},", error)
        rg = radius_of_gyration(frames)
        expected = _codes(model, frames)[0][[int(np.argmin(rg)), int(np.argmax(rg))]]
        if out.shape == expected.shape and np.allclose(out, expected, atol=1e-4):
            continue
        return False, _diagnose_ends(what, model, frames, out)
    return True, ""
