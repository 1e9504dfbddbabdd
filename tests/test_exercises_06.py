"""Notebook 06's exercise checks (helpers.exercises.polymer_case_study): the answers each must
accept, the misconceptions each must reject (with a hint that names them), and no reference
answer in the student edition."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from exercise_tables import assert_table, reference_answer_tests

import helpers
from helpers.exercises import polymer_case_study as exercises

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "student" / "06_polymer_case_study.ipynb"
INSTRUCTOR = ROOT / "notebooks" / "06_polymer_case_study.ipynb"
NOTEBOOK_FRAME = helpers.load_paths()[2499]  # the notebook's `frame` (frames shown: np.linspace(0, 9999, 5))


def rotation(angle):
    """The notebook's `rotation`: anticlockwise by ``angle`` radians."""
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


# ----------------------------------------------------------------------------- 6.1


def _move_in_place(frame, degrees, shift):
    frame += np.asarray(shift)  # changes the caller's array
    return frame @ rotation(np.deg2rad(degrees)).T


def _move_with_complex_numbers(frame, degrees, shift):
    z = (frame[:, 0] + 1j * frame[:, 1]) * np.exp(1j * math.radians(degrees)) + complex(*shift)
    return np.stack([z.real, z.imag], axis=-1)


def _move_in_torch(frame, degrees, shift):
    r = torch.tensor(frame, requires_grad=True)
    a = torch.tensor(math.radians(degrees), dtype=torch.float64)
    turn = torch.stack([torch.stack([a.cos(), -a.sin()]), torch.stack([a.sin(), a.cos()])])
    return r @ turn.T + torch.tensor(shift, dtype=torch.float64)


def test_check_move():
    assert_table(
        exercises.check_move,
        accept={
            "turn about the origin, then shift": lambda f, d, s: f @ rotation(np.deg2rad(d)).T + np.asarray(s),
            "turn by radians(d), then add the shift": lambda f, d, s: f @ rotation(np.radians(d)).T + s,
            "R @ frame.T, transposed back": lambda f, d, s: (rotation(np.deg2rad(d)) @ f.T).T + np.array(s),
            "complex numbers": _move_with_complex_numbers,
            "torch, with gradients": _move_in_torch,
        },
        reject={
            "the placeholder": (lambda f, d, s: f.copy(), "unchanged"),
            "shift without the turn": (lambda f, d, s: f + np.asarray(s), "not turned"),
            "turn without the shift": (lambda f, d, s: f @ rotation(np.deg2rad(d)).T, "not shifted"),
            "shift first, then turn": (
                lambda f, d, s: (f + np.asarray(s)) @ rotation(np.deg2rad(d)).T,
                "shifted first",
            ),
            "clockwise (frame @ R)": (lambda f, d, s: f @ rotation(np.deg2rad(d)) + np.asarray(s), "opposite way"),
            "degrees given to cos/sin": (lambda f, d, s: f @ rotation(d).T + np.asarray(s), "radians"),
            "a mirror image": (lambda f, d, s: f * [1.0, -1.0] + np.asarray(s), "mirror"),
            "37 degrees hard-coded": (
                lambda f, d, s: f @ rotation(np.deg2rad(37)).T + np.asarray(s),
                "although `degrees`",
            ),
            "(5, -2) hard-coded": (lambda f, d, s: f @ rotation(np.deg2rad(d)).T + [5.0, -2.0], "although `shift`"),
            "shift components swapped": (
                lambda f, d, s: f @ rotation(np.deg2rad(d)).T + np.asarray(s)[::-1],
                "order and signs",
            ),
            "the notebook's frame instead of the argument": (
                lambda f, d, s: NOTEBOOK_FRAME @ rotation(np.deg2rad(d)).T + np.asarray(s),
                "argument `frame`",
            ),
            "changes the input in place": (_move_in_place, "in place"),
            "R @ frame.T, not transposed back": (lambda f, d, s: rotation(np.deg2rad(d)) @ f.T, "transposed"),
            "flattened": (lambda f, d, s: (f @ rotation(np.deg2rad(d)).T + np.asarray(s)).ravel(), "same shape"),
            "not a function": (NOTEBOOK_FRAME @ rotation(np.deg2rad(37)).T + [5.0, -2.0], "should be a function"),
            "a function that raises": (lambda f, d: f, "raised TypeError"),
            "returns a description, not a frame": (lambda f, d, s: "turned and shifted", "not numbers"),
            # found by trying the student edition as a student
            "turn about the frame's centre, not the origin": (
                lambda f, d, s: (f - f.mean(0)) @ rotation(np.radians(d)).T + f.mean(0) + s,
                "about its own centre",
            ),
            "the centre put at the shift": (
                lambda f, d, s: (f - f.mean(0)) @ rotation(np.deg2rad(d)).T + np.asarray(s),
                "does not put its centre",
            ),
            "a typo in the matrix": (_move_with_a_typo, "another shape"),
            "x updated before y is computed": (_move_with_updated_x, "another shape"),
            "degrees / 180 without pi": (lambda f, d, s: f @ rotation(d / 180).T + np.asarray(s), "11.8°"),
            "one number added to both coordinates": (
                lambda f, d, s: f @ rotation(np.deg2rad(d)).T + s[0],
                "(5.00, 5.00)",
            ),
            "the size of the angle only": (
                lambda f, d, s: f @ rotation(np.deg2rad(abs(d))).T + np.asarray(s),
                "opposite way",
            ),
            "turned about the shift": (
                lambda f, d, s: (f - np.asarray(s)) @ rotation(np.deg2rad(d)).T + np.asarray(s),
                "shifted by",
            ),
        },
    )


def _move_with_a_typo(frame, degrees, shift):
    a = np.deg2rad(degrees)
    return frame @ np.array([[np.cos(a), np.sin(a)], [np.sin(a), np.cos(a)]]).T + np.asarray(shift)


def _move_with_updated_x(frame, degrees, shift):
    a = np.deg2rad(degrees)
    x = frame[:, 0] * np.cos(a) - frame[:, 1] * np.sin(a)
    y = x * np.sin(a) + frame[:, 1] * np.cos(a)  # uses the new x
    return np.stack([x, y], axis=1) + np.asarray(shift)


# ----------------------------------------------------------------------------- 6.2


def _turns_arctan2(r):
    b = np.diff(r, axis=1)
    cross = b[:, :-1, 0] * b[:, 1:, 1] - b[:, :-1, 1] * b[:, 1:, 0]
    return np.abs(np.arctan2(cross, (b[:, :-1] * b[:, 1:]).sum(-1)))


def _cosines(r, clip=True):
    b = np.diff(r, axis=-2)
    n = np.linalg.norm(b, axis=-1)
    c = (b[..., :-1, :] * b[..., 1:, :]).sum(-1) / (n[..., :-1] * n[..., 1:])
    return np.clip(c, -1, 1) if clip else c


def _directions(r):
    b = np.diff(r, axis=1)
    return np.arctan2(b[..., 1], b[..., 0])


def _turns_from_directions(r):
    directions = _directions(r)
    return np.abs(np.angle(np.exp(1j * np.diff(directions, axis=-1))))


def _turns_in_torch(r):
    b = torch.diff(torch.as_tensor(r, dtype=torch.float32), dim=1)
    c = torch.nn.functional.cosine_similarity(b[:, :-1], b[:, 1:], dim=-1)
    return torch.arccos(c.clamp(-1, 1))


def _turns_unnormalised(r):
    b = np.diff(r, axis=1)
    return np.arccos(np.clip((b[:, :-1] * b[:, 1:]).sum(-1), -1, 1))


def _turns_signed(r):
    b = np.diff(r, axis=1)
    cross = b[:, :-1, 0] * b[:, 1:, 1] - b[:, :-1, 1] * b[:, 1:, 0]
    return np.arctan2(cross, (b[:, :-1] * b[:, 1:]).sum(-1))


def _turns_wrapping_around(r):
    b = np.roll(r, -1, axis=1) - r  # one bond per bead: the last joins the last bead to the first
    following = np.roll(b, -1, axis=1)
    cos = (b * following).sum(-1) / np.linalg.norm(b, axis=-1) / np.linalg.norm(following, axis=-1)
    return np.arccos(np.clip(cos, -1, 1))


def _arccos_unclipped(r):
    with np.errstate(invalid="ignore"):  # the student would see numpy's warning; the check must see the NaN
        return np.arccos(_cosines(r, clip=False))


def _cosines_between(b, k):
    """Cosines between bond k apart along axis 1 (or 0 for a (beads, ...) array)."""
    n = np.linalg.norm(b, axis=-1)
    return np.clip((b[:, :-k] * b[:, k:]).sum(-1) / (n[:, :-k] * n[:, k:]), -1, 1)


def _turns_atan2_swapped(r):
    b = np.diff(r, axis=1)
    cross = b[:, :-1, 0] * b[:, 1:, 1] - b[:, :-1, 1] * b[:, 1:, 0]
    return np.abs(np.arctan2((b[:, :-1] * b[:, 1:]).sum(-1), cross))


def _turns_in_torch_unclamped(r):
    b = torch.diff(torch.as_tensor(r, dtype=torch.float32), dim=1)
    return torch.acos((b[:, :-1] * b[:, 1:]).sum(-1) / b[:, :-1].norm(dim=-1) / b[:, 1:].norm(dim=-1))


def _turns_for_12_beads(r):
    return _turns_arctan2(np.asarray(r).reshape(-1, 12, 2))


def test_check_bend_angles():
    assert_table(
        exercises.check_bend_angles,
        accept={
            "arctan2 of cross and dot": _turns_arctan2,
            "arccos of the clipped cosine": lambda r: np.arccos(_cosines(r)),
            "differences of bond directions, wrapped": _turns_from_directions,
            "torch, float32, clamped": _turns_in_torch,
        },
        reject={
            "the placeholder": (lambda r: np.zeros((len(r), r.shape[1] - 2)), "all zeros"),
            "degrees": (lambda r: np.degrees(_turns_arctan2(r)), "degrees"),
            "the angle at the bead": (lambda r: np.pi - _turns_arctan2(r), "angle at the bead"),
            "the cosine": (_cosines, "cosine"),
            "signed turns": (_turns_signed, "signed"),
            "unwrapped direction differences": (lambda r: np.abs(np.diff(_directions(r), axis=-1)), "wrapped"),
            "bonds not normalised": (_turns_unnormalised, "bond lengths"),
            "cosine not clipped": (_arccos_unclipped, "clip"),
            "the chain wrapped around (np.roll)": (_turns_wrapping_around, "np.roll"),
            "flattened": (lambda r: _turns_arctan2(r).ravel(), "one row per chain"),
            "averaged over beads": (lambda r: _turns_arctan2(r).mean(axis=1), "averaged"),
            "12 beads hard-coded": (_turns_for_12_beads, "shape"),
            "positions instead of bonds": (
                lambda r: np.arccos(
                    np.clip(
                        (r[:, :-2] * r[:, 2:]).sum(-1)
                        / np.linalg.norm(r[:, :-2], axis=-1)
                        / np.linalg.norm(r[:, 2:], axis=-1),
                        -1,
                        1,
                    )
                ),
                "not the positions",
            ),
            "not a function": (np.zeros((1, 10)), "should be a function"),
            # found by trying the student edition as a student
            "bonds two apart": (lambda r: np.arccos(_cosines_between(np.diff(r, axis=1), 2)), "shape"),
            "np.gradient for the bonds": (
                lambda r: np.arccos(_cosines_between(np.gradient(r, axis=1), 1)),
                "one per bond",
            ),
            "arctan2(dot, cross)": (_turns_atan2_swapped, "differ"),
            "bond directions, not turns": (lambda r: np.abs(_directions(r)), "one per bond"),
            "torch acos without clamp": (_turns_in_torch_unclamped, "clip"),
            "1 - cos": (lambda r: 1 - _cosines(r), "differ"),
            "one frame only (diff along axis 0)": (
                lambda r: np.arccos(_cosines_between(np.diff(r, axis=0), 1)),
                "shape",
            ),
            "half the turn": (lambda r: _turns_arctan2(r) / 2, "differ"),
        },
    )


# ----------------------------------------------------------------------------- 6.3

SHIPPED = helpers.load_pretrained()[0].eval()
TEST = helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)[1]


def _ends(frames, key=helpers.radius_of_gyration):
    values = key(frames)
    return [int(np.argmin(values)), int(np.argmax(values))]


def _rg(frames):
    return helpers.radius_of_gyration(frames)


def _codes_indexed_by_values(model, frames):
    rg = np.sort(_rg(frames))
    return model.encode(torch.as_tensor(frames[[int(rg[0]), int(rg[-1])]]))[0]


def _codes_by_reconstruction(model, frames):
    with torch.no_grad():
        mu = model.encode(torch.as_tensor(frames))[0]
        rg = _rg(model.decode(mu).numpy())
    return mu[_ends(frames, lambda _: rg)]


def _codes_with_no_grad(model, frames):
    rg = helpers.radius_of_gyration(frames)
    with torch.no_grad():
        return model.encode(torch.as_tensor(frames[[np.argmin(rg), np.argmax(rg)]]))[0]


def _codes_with_grad(model, frames):
    return torch.cat([model.encode(torch.as_tensor(frames[i : i + 1]))[0] for i in _ends(frames)])


def _codes_float64(model, frames):
    return _codes_with_no_grad(model, frames).numpy().astype(np.float64)


def _codes_as_list(model, frames):
    return [model.encode(torch.as_tensor(frames[i]))[0] for i in _ends(frames)]


def _encode(model, frames, which=0):
    return model.encode(torch.as_tensor(frames[_ends(frames)]))[which]


def _sampled(model, frames):
    mu, sigma = _encode(model, frames, 0), _encode(model, frames, 1)
    return mu + sigma * torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))


def test_check_end_codes():
    assert_table(
        exercises.check_end_codes,
        accept={
            "batch of the two frames, under no_grad": _codes_with_no_grad,
            "slices, without no_grad (requires grad)": _codes_with_grad,
            "numpy float64": _codes_float64,
            "a list of two 1-D codes": _codes_as_list,
            "torch.stack of 1-D codes": lambda m, f: torch.stack(_codes_as_list(m, f)),
            "mu from model(x)": lambda m, f: m(torch.as_tensor(f[_ends(f)]))[1],
            "|x| as the size (= sqrt(12) R_g for centred frames)": (
                lambda m, f: m.encode(torch.as_tensor(f[_ends(f, lambda x: np.linalg.norm(x, axis=1))]))[0]
            ),
        },
        reject={
            "the placeholder": (lambda m, f: torch.zeros(2, 2), "placeholder"),
            "ends swapped": (lambda m, f: _encode(m, f)[[1, 0]], "swapped"),
            "sigma instead of mu": (lambda m, f: _encode(m, f, 1), "sigma"),
            "a sample z ~ q": (_sampled, "sample"),
            "the notebook's model": (lambda m, f: _encode(SHIPPED, f), "another model"),
            "the notebook's test set": (lambda m, f: _encode(m, TEST), "`test` set"),
            "by end-to-end distance": (
                lambda m, f: m.encode(torch.as_tensor(f[_ends(f, helpers.end_to_end_distance)]))[0],
                "end-to-end",
            ),
            "the most compact twice": (lambda m, f: _encode(m, f)[[0, 0]], "one frame"),
            "torch.cat of 1-D codes": (lambda m, f: torch.cat(_codes_as_list(m, f)), "batch axis"),
            "decoded frames, not codes": (lambda m, f: m.decode(_encode(m, f)), "not their codes"),
            "indices from the notebook's rg_test": (lambda m, f: m.encode(torch.as_tensor(f[_ends(TEST)]))[0], None),
            "not a function": (torch.zeros(2, 2), "should be a function"),
            # found by trying the student edition as a student
            "reconstructions from model(x)": (lambda m, f: m(torch.as_tensor(f[_ends(f)]))[0], "not their codes"),
            "the sorted R_g values as indices": (_codes_indexed_by_values, "your rows encode"),
            "the two most compact": (
                lambda m, f: m.encode(torch.as_tensor(f[np.argsort(_rg(f))[:2]]))[0],
                "your rows encode",
            ),
            "R_g of the reconstructions": (_codes_by_reconstruction, "your rows encode"),
            "log sigma^2": (lambda m, f: torch.log(_encode(m, f, 1) ** 2), "differ"),
            "the first and the last frame": (lambda m, f: m.encode(torch.as_tensor(f[[0, -1]]))[0], "your rows encode"),
        },
    )


# ----------------------------------------------------------------------------- no answers in the student edition

REFERENCE_EXPRESSIONS = [
    "rotation(np.deg2rad(degrees)).T",  # 6.1
    "np.abs(np.arctan2(cross",  # 6.2
    "frames[[np.argmin(rg), np.argmax(rg)]]",  # 6.3
]


test_the_reference_expressions_are_the_solutions, test_no_reference_answer_in_the_student_edition = (
    reference_answer_tests(INSTRUCTOR, STUDENT, REFERENCE_EXPRESSIONS)
)
