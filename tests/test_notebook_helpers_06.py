"""Plot helpers written for the case study (notebook 06) and used by notebook 07:
``plots.polymer_grid`` (with ``measures.why_invalid``) and ``plots.latent_atlas``."""

from __future__ import annotations

import matplotlib
from matplotlib.collections import EllipseCollection

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import helpers  # noqa: E402
from helpers import plots  # noqa: E402
from helpers.measures import ValidityReport, why_invalid  # noqa: E402


@pytest.fixture(scope="module")
def train():
    return helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)[0][:2000]


@pytest.fixture(scope="module")
def reference(train):
    return helpers.ValidityReference.from_data(train)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _lines(ax):
    """The chains drawn on ``ax`` (lines with more than one point)."""
    return [line for line in ax.get_lines() if len(line.get_xdata()) > 1]


def test_why_invalid_names_the_failing_measure(train, reference):
    frame = train[0].reshape(12, 2).astype(float)
    assert helpers.validity(frame, reference).valid and why_invalid(helpers.validity(frame, reference), reference) == ""
    squeezed = frame * 0.5  # bonds halved
    assert why_invalid(helpers.validity(squeezed, reference), reference).startswith("bond 0.")
    stretched = frame * 2.0  # bonds doubled, contacts wider
    assert why_invalid(helpers.validity(stretched, reference), reference).startswith("bond ")
    folded = frame.copy()
    folded[5] = folded[0] + [0.05, 0.0]  # bead 6 on top of bead 1; bonds 5-6 and 6-7 get long
    reason = why_invalid(helpers.validity(folded, reference), reference)
    assert reason.startswith(("bond", "contact")) and reason != ""


def test_why_invalid_shows_the_limit_with_enough_digits_to_tell_them_apart(reference):
    report = ValidityReport(
        np.float64(reference.bond_min - 0.002), np.float64(1.0), np.float64(1.5), False, True, False, reference
    )
    value, sign, limit = why_invalid(report, reference).removeprefix("bond ").split()
    assert sign == "<" and value != limit and float(value) < float(limit)
    assert len(limit.split(".")[1]) in (2, 3) and abs(float(limit) - reference.bond_min) < 0.006


def test_draw_polymer_without_beads_draws_a_line_that_move_polymer_moves():
    fig, ax = plt.subplots()
    coords = np.column_stack([np.arange(12.0), np.zeros(12)])
    artists = plots.draw_polymer(ax, coords, color="C1", beads=False)
    assert len(artists) == 2 and not any(isinstance(c, EllipseCollection) for c in ax.collections)
    plots.move_polymer(artists, coords + 1.0, color="C2")
    assert np.allclose(artists[0].get_xdata(), np.arange(12.0) + 1) and artists[0].get_color() == "C2"
    assert np.allclose(artists[1].get_ydata(), [1.0])


def test_polymer_grid_marks_invalid_polymers_red_with_the_reason(train, reference):
    good = train[:2].reshape(2, 12, 2)
    bad = good[:1] * 0.5
    fig = plots.polymer_grid(np.concatenate([good, bad]), ["a", "b", "c"], reference=reference, ncols=2)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3 and len(fig.axes) == 4  # a 2 x 2 grid, the fourth panel hidden
    colours = [matplotlib.colors.to_hex(_lines(ax)[0].get_color()) for ax in axes]
    assert colours == [matplotlib.colors.to_hex("C0")] * 2 + [matplotlib.colors.to_hex("C3")]
    assert [ax.get_title() for ax in axes[:2]] == ["a", "b"]
    assert axes[2].get_title().startswith("c ✗ bond 0.")
    assert axes[0].get_xlim() == axes[2].get_xlim()  # shared, fixed axes
    assert "bead diam." in axes[0].get_ylabel()


def test_polymer_grid_rims_the_beads_of_overlapping_pairs(train, reference):
    frame = train[0].reshape(12, 2).astype(float)
    folded = frame.copy()
    folded[7] = folded[2] + [0.42, 0.0]  # beads 3 and 8 at a contact of 0.42: they overlap
    fig = plots.polymer_grid(np.stack([frame, folded]), reference=reference)
    rims = [
        [c for c in ax.collections if isinstance(c, EllipseCollection) and np.all(c.get_facecolor() == 0)]
        for ax in fig.axes
    ]
    assert rims[0] == [] and len(rims[1]) == 1
    rimmed = {tuple(xy) for xy in np.asarray(rims[1][0].get_offsets())}
    assert {tuple(folded[2]), tuple(folded[7])} <= rimmed  # both beads of the pair (and any other too close)
    assert "black rim" in fig.get_supxlabel()


def test_polymer_grid_draws_behind_and_labels_rows(train):
    r = torch.as_tensor(train[:4])  # torch and flat input
    fig = plots.polymer_grid(r, behind=train[4:8], row_labels=["top", "bottom"], ncols=2)
    ax = fig.axes[0]
    assert len(_lines(ax)) == 2  # the grey one behind, then the polymer
    assert matplotlib.colors.to_hex(_lines(ax)[0].get_color()) == matplotlib.colors.to_hex("0.65")
    assert fig.axes[0].get_ylabel().startswith("top") and fig.axes[2].get_ylabel().startswith("bottom")
    lim = fig.axes[0].get_xlim()[1]
    assert lim >= np.abs(train[:8]).max()  # everything fits


def test_polymer_grid_rejects_mismatched_input(train):
    with pytest.raises(ValueError, match="titles"):
        plots.polymer_grid(train[:3], ["a"])
    with pytest.raises(ValueError, match="behind"):
        plots.polymer_grid(train[:3], behind=train[:2])
    with pytest.raises(ValueError, match="row labels"):
        plots.polymer_grid(train[:3], ncols=3, row_labels=["a", "b"])


def test_latent_atlas_shows_codes_validity_and_polymers(train, reference):
    model, _ = helpers.load_pretrained()
    codes = np.random.default_rng(0).normal(size=(50, 2))
    fig = plots.latent_atlas(model, reference, codes=codes, extent=(-2, 2, -2, 2), n=3)
    ax = fig.axes[0]
    chains = _lines(ax)  # the bonds of each polymer
    assert len(chains) == 9  # one decoded polymer per grid point
    beads = [c for c in ax.collections if isinstance(c, EllipseCollection) and len(c.get_offsets()) == 12]
    assert len(beads) == 9  # and its beads, as circles
    z = np.array([(a, b) for b in np.linspace(-2, 2, 3) for a in np.linspace(-2, 2, 3)])
    ok = helpers.validity(helpers.decode_conformations(model, z), reference).valid
    assert 0 < ok.sum() < 9  # this square holds both kinds
    colours = [matplotlib.colors.to_hex(c.get_color()) for c in chains]
    assert colours == [matplotlib.colors.to_hex("C0" if v else "C3") for v in ok]
    scatters = [c for c in ax.collections if np.shape(c.get_offsets()) == codes.shape]
    assert any(np.allclose(c.get_offsets(), codes) for c in scatters), "the codes are drawn"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "training codes" in labels and any(t.startswith("decodes invalid") for t in labels)
    assert ax.get_xlabel() == "$z_1$" and ax.get_ylabel() == "$z_2$"
    with pytest.raises(ValueError, match="codes"):
        plots.latent_atlas(model, reference, codes=np.zeros(5), n=2)
    with pytest.raises(ValueError, match="2-D latent"):
        plots.latent_atlas(helpers.PolymerVAE(hidden_dim=8, n_hidden=1, latent_dim=3), reference, n=2)
