"""Notebook 07's exercise checks (helpers.exercises.property_optimization): the answers each must
accept, the misconceptions each must reject (with a hint that names them), and no reference
answer in the student edition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from exercise_tables import assert_not_in_student_edition, assert_table, reference_answer_tests

import helpers
from helpers.exercises import property_optimization as exercises
from helpers.optimization import target_rg

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "student" / "07_property_optimization.ipynb"
INSTRUCTOR = ROOT / "notebooks" / "07_property_optimization.ipynb"


# ----------------------------------------------------------------------------- 7.1


def _beads(x):
    return x.reshape(len(x), -1, 2)


def _rg_by_hand(x):
    r = _beads(x)
    return ((r - r.mean(1, keepdim=True)) ** 2).sum(-1).mean(-1).sqrt()


def _through_numpy(x):
    return torch.as_tensor(-helpers.radius_of_gyration(x.detach().numpy()))


def _through_numpy_with_grad(x):
    return torch.tensor(-helpers.radius_of_gyration(x.detach().numpy()), requires_grad=True)


def _no_grad(x):
    with torch.no_grad():
        return -helpers.radius_of_gyration(x)


def _batch_centre(x):
    r = _beads(x)
    return -((r - r.mean((0, 1), keepdim=True)) ** 2).sum(-1).mean(-1).sqrt()


def _std_per_axis(x):
    return -_beads(x).std(1).sum(-1)


def _max_distance(x):
    return -helpers.pairwise_distances(x).flatten(1).max(1).values


def _rg_fixed_batch(x):
    r = x.reshape(7, 12, 2)
    return -((r - r.mean(1, keepdim=True)) ** 2).sum(-1).mean(-1).sqrt()


def _mean_pair_distance(x):
    return -helpers.pairwise_distances(x).flatten(1).mean(1)


def _rg_batch_256(x):
    r = x.reshape(256, 12, 2)
    return -((r - r.mean(1, keepdim=True)) ** 2).sum(-1).mean(-1).sqrt()


def _in_place(x):
    x -= x.mean(1, keepdim=True)
    return -helpers.radius_of_gyration(x)


def _wraps_the_reference(x):
    return 2 * exercises._extend_reference(x) + 1


def test_check_extend():
    assert_table(
        exercises.check_extend,
        accept={
            "-R_g with the course's function": lambda x: -helpers.radius_of_gyration(x),
            "-R_g by hand": lambda x: -_rg_by_hand(x),
            "-R_g squared": lambda x: -(helpers.radius_of_gyration(x) ** 2),
            "1 / R_g": lambda x: 1 / helpers.radius_of_gyration(x),
            "-log R_g": lambda x: -torch.log(helpers.radius_of_gyration(x)),
            "minus the mean squared bead-bead distance (2 R_g^2)": (
                lambda x: -(helpers.pairwise_distances(x) ** 2).flatten(1).mean(1)
            ),
        },
        reject={
            "the placeholder": (None, "set `extend`"),
            "+R_g (the sign)": (helpers.radius_of_gyration, "flip the sign"),
            "uncentred RMS (section 2's bug)": (
                lambda x: -(_beads(x) ** 2).sum(-1).mean(-1).sqrt(),
                "centre of mass",
            ),
            "-x.norm() over the batch": (lambda x: -x.norm(), "one number"),
            "-x.norm(dim=1)": (lambda x: -x.norm(dim=1), "centre of mass"),
            "-end-to-end distance": (lambda x: -helpers.end_to_end_distance(x), "ends"),
            "through numpy": (_through_numpy, "no gradient"),
            "through numpy, new tensor with requires_grad": (_through_numpy_with_grad, "gradient"),
            "under torch.no_grad()": (_no_grad, "no gradient"),
            "returns a numpy array": (lambda x: -helpers.radius_of_gyration(x.detach().numpy()), "torch tensor"),
            "summed over the batch": (lambda x: -helpers.radius_of_gyration(x).sum(), "one number"),
            "averaged over the batch": (lambda x: -helpers.radius_of_gyration(x).mean(), "one number"),
            "shape (batch, 1)": (lambda x: -helpers.radius_of_gyration(x)[:, None], "shape"),
            "centre of mass of the batch": (_batch_centre, "batch"),
            "standard deviations of x and y added": (_std_per_axis, "turned"),
            "-torch.std over all 24 coordinates": (lambda x: -x.std(1), "centre of mass"),
            "largest bead-bead distance": (_max_distance, None),
            "the reference itself": (exercises._extend_reference, "reference objective"),
            "a lambda around the reference": (lambda x: exercises._extend_reference(x), "_extend_reference"),
            "a function that scales the reference": (_wraps_the_reference, "_extend_reference"),
            "the notebook's runner of the reference": (exercises.optimize_extension, "reference objective"),
            "not a function": (-3.1, "set `extend`"),
            # found by trying the student edition as a student
            "a batch size of 7 hard-coded": (_rg_fixed_batch, "len(x)"),
            "the notebook's 256 starts hard-coded": (_rg_batch_256, "len(x)"),
            "x centred in place (x -= ...)": (_in_place, "in place"),
            "R_g of -x (the sign put inside)": (lambda x: helpers.radius_of_gyration(-x), "flip the sign"),
            "-1 / R_g": (lambda x: -1 / helpers.radius_of_gyration(x), "flip the sign"),
            "the batch's largest R_g": (lambda x: -helpers.radius_of_gyration(x).max(), "one number"),
            "one mean over all 24 coordinates subtracted": (
                lambda x: -torch.sqrt((x**2).mean(1) - x.mean(1) ** 2),
                "centre of mass",
            ),
            "a Python float": (lambda x: -float(helpers.radius_of_gyration(x)[0]), "torch tensor"),
            "R_g of the detached input": (lambda x: -helpers.radius_of_gyration(x.detach()), "no gradient"),
            "-R_g plus a constant bond term (x.sum())": (lambda x: -helpers.radius_of_gyration(x) + x.sum(1), None),
            "mean bead-bead distance (not a function of R_g)": (_mean_pair_distance, None),
            "exp(R_g)": (lambda x: torch.exp(helpers.radius_of_gyration(x)), "flip the sign"),
            "a target search towards 3.5": (target_rg(3.5), "target"),
            "-(R_g - 3.5)^2": (lambda x: -((helpers.radius_of_gyration(x) - 3.5) ** 2), "flip the sign"),
            "x and y paired wrongly (reshape to (2, 12))": (
                lambda x: -helpers.radius_of_gyration(x.reshape(-1, 2, 12).transpose(1, 2)),
                "reshape",
            ),
            "-x.var(1)": (lambda x: -x.var(1), "centre of mass"),
            "detached at the end": (lambda x: -helpers.radius_of_gyration(x).detach(), "no gradient"),
            "x coordinates only": (
                lambda x: -(x[:, 0::2] - x[:, 0::2].mean(1, keepdim=True)).pow(2).mean(1).sqrt(),
                "turned",
            ),
            "R_g mixed with the end-to-end distance": (
                lambda x: -helpers.radius_of_gyration(x) - 0.1 * helpers.end_to_end_distance(x),
                None,
            ),
        },
    )


# ----------------------------------------------------------------------------- 7.2

H = np.sqrt(3) / 2


def _lattice(centre, n=12, spacing=1.0):
    """The n triangular-lattice sites (spacing 1) closest to ``centre``, scaled by ``spacing``."""
    sites = np.array([(i + 0.5 * j, j * H) for i in range(-5, 6) for j in range(-5, 6)])
    order = np.argsort(np.linalg.norm(sites - np.asarray(centre), axis=1), kind="stable")
    return sites[order[:n]] * spacing


HEXAGON_AND_FIVE_ON_ONE_SIDE = np.concatenate(
    [_lattice((0, 0), 7), [(1.5, H), (2, 0), (1.5, -H), (1, -2 * H), (0, -2 * H)]]
)
HEXAGON_AND_FIVE_AROUND = _lattice((0, 0))  # 7 and 5 of the 6 sites sqrt(3) from the centre


def _square_grid():
    return np.array([(i, j) for i in range(4) for j in range(3)], dtype=float)


def _ring():
    a = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    return 0.5 / np.sin(np.pi / 12) * np.stack([np.cos(a), np.sin(a)], 1)


def _turned(r, angle=0.7, shift=(3.0, -1.0)):
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return r @ turn.T + np.array(shift)


def _most_compact_training_frame():
    train = helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)[0]
    return train[np.argmin(helpers.radius_of_gyration(train))].reshape(12, 2)


def test_check_packing():
    best = _lattice((0.5, 0))
    assert abs(helpers.radius_of_gyration(best) - 1.2583) < 1e-3
    assert abs(helpers.radius_of_gyration(HEXAGON_AND_FIVE_AROUND) - 1.315) < 1e-3
    assert_table(
        exercises.check_packing,
        accept={
            "12 lattice sites around a bond's middle": best,
            "a hexagon of 7 and 5 on one side (the same)": HEXAGON_AND_FIVE_ON_ONE_SIDE,
            "a hexagon of 7 and 5 around it (R_g 1.315)": HEXAGON_AND_FIVE_AROUND,
            "turned and shifted": _turned(best),
            "torch tensor": torch.as_tensor(_turned(HEXAGON_AND_FIVE_AROUND, 2.0)),
            "a list of tuples": [tuple(p) for p in best],
            "flattened (24,)": best.ravel(),
            "12 sites around a triangle's centre": _lattice((0.5, H / 3)),
            "the sqrt(3)/2 rounded to 0.866": np.round(best, 3),
        },
        reject={
            "the placeholder": (None, "set `packed`"),
            "a square grid": (_square_grid(), "square grid"),
            "a straight line": (np.stack([np.arange(12.0), np.zeros(12)], 1), "line"),
            "a ring": (_ring(), "ring"),
            "lattice spacing 0.9": (_lattice((0.5, 0), spacing=0.9), "overlap"),
            "diameter taken as 2": (_lattice((0.5, 0), spacing=2.0), "radius 1/2"),
            "13 beads (hexagon of 7 and 6 more)": (_lattice((0, 0), 13), "twelve"),
            "11 beads": (_lattice((0.5, 0), 11), "twelve"),
            "transposed (2, 12)": (best.T, "transpose"),
            "a bead counted twice": (np.concatenate([best[:11], best[:1]]), "same place"),
            "the densest packing's R_g, a number": (1.26, "one number"),
            "the most compact training frame": (_most_compact_training_frame(), "overlap"),
            "a function": (exercises.densest_packing, "not a function"),
            "the notebook's own packing": (exercises.densest_packing(), "densest_packing"),
            "the notebook's packing, shifted and reversed": (
                exercises.densest_packing()[::-1] + 2.0,
                "densest_packing",
            ),
            "the notebook's packing, turned, as a list": (
                _turned(exercises.densest_packing()).tolist(),
                "densest_packing",
            ),
            "the notebook's packing in float32 torch": (
                torch.tensor(exercises.densest_packing(), dtype=torch.float32),
                "densest_packing",
            ),
            "the lattice spread by 6% (no beads touch)": (_lattice((0.5, 0), spacing=1.06), "close the gaps"),
            "positions in units of the radius (spacing 0.5)": (_lattice((0.5, 0), spacing=0.5), "overlap"),
            "the notebook's most compact valid chain": (exercises.compact_valid_chain(), "overlap"),
            "rows shifted by 1/2 but 1 apart": (
                np.array([(i + 0.5 * (j % 2), j) for j in range(3) for i in range(4)], dtype=float),
                "leaves gaps",
            ),
            "a hexagon of 7 and 5 beads 2 from its centre": (
                np.concatenate(
                    [_lattice((0, 0), 7), 2 * np.stack([np.cos(np.arange(5) * 1.2), np.sin(np.arange(5) * 1.2)], 1)]
                ),
                "leaves gaps",
            ),
            "sqrt(3)/2 rounded to 0.86": (np.array([(x, y / H * 0.86) for x, y in _lattice((0.5, 0))]), "rounded"),
            # found by trying the student edition as a student
            "two rows of six": (np.array([(i + 0.5 * j, j * H) for j in range(2) for i in range(6)]), None),
            "a hexagon of 7 and 5 in a row beside it": (
                np.concatenate([_lattice((0, 0), 7), [(2, 0), (3, 0), (4, 0), (5, 0), (6, 0)]]),
                None,
            ),
            "the densest packing scaled to diameter 0.93": (_lattice((0.5, 0), spacing=0.93), "overlap"),
            "a square grid with rows sqrt(3)/2 apart": (
                np.array([(i, j * H) for i in range(4) for j in range(3)]),
                "overlap",
            ),
            "random points": (np.random.default_rng(0).uniform(-1.5, 1.5, (12, 2)), "overlap"),
            "hexagon of 7 and a row of 3 and 2 above": (
                np.concatenate(
                    [_lattice((0, 0), 7), [(-1, 2 * H), (0, 2 * H), (1, 2 * H), (-0.5, 3 * H), (0.5, 3 * H)]]
                ),
                "more compact",
            ),
            "all at the origin": ([[0, 0]] * 12, "same place"),
            "a word": ("hexagonal", "shape (12, 2)"),
            "3 x 4 triangular block": (
                np.array([(i + 0.5 * (j % 2), j * H) for j in range(3) for i in range(4)]),
                None,
            ),
        },
    )


def test_the_references():
    chain = exercises.compact_valid_chain()
    train = helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)[0]
    reference = helpers.ValidityReference.from_data(train)
    assert helpers.validity(chain, reference).valid
    assert 1.08 < helpers.radius_of_gyration(chain) < 1.09
    packing = exercises.densest_packing()
    assert np.allclose(helpers.bond_lengths(packing), 1.0, atol=1e-4)  # 1 + 2e-5: the marker of the reference
    assert helpers.validity(packing, reference).valid
    assert helpers.pairwise_distances(packing)[np.triu_indices(12, 1)].min() > 1 - 1e-9


# ----------------------------------------------------------------------------- no answers in the student edition

REFERENCE_EXPRESSIONS = [
    "-helpers.radius_of_gyration(x)",  # 7.1
    "(0.5, H)",  # 7.2: the lattice rows of the densest packing
]


test_the_reference_expressions_are_the_solutions, test_no_reference_answer_in_the_student_edition = (
    reference_answer_tests(INSTRUCTOR, STUDENT, REFERENCE_EXPRESSIONS)
)


@pytest.mark.parametrize("name", ["extend_reference", "Exercise 7.1's answer"])
def test_the_reference_objective_is_not_named_in_the_student_edition(name):
    assert_not_in_student_edition(STUDENT, name)
