"""Latent-space property optimization: mechanics on a tiny model, science on the pretrained one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import helpers
from helpers.optimization import (
    bond_violation,
    contact_violation,
    fit_property_predictor,
    optimize_latent,
    target_rg,
    window_penalty,
)

# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return helpers.PolymerVAE(hidden_dim=16, n_hidden=1).eval()


@pytest.fixture(scope="module")
def pretrained():
    """The shipped model, its training split and the validity reference derived from it."""
    model, _ = helpers.load_pretrained()
    train, _ = helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)
    return model.eval(), train, helpers.ValidityReference.from_data(train)


@pytest.fixture(scope="module")
def starts():
    """32 seeded starting points drawn from the prior N(0, I), optimized as one batch."""
    return torch.randn(32, 2, generator=torch.Generator().manual_seed(0))


CONSTRAINED = dict(prior_weight=0.1, bond_penalty=100.0, contact_penalty=100.0)


def straight_chain(bond=1.0, beads=12):
    return np.stack([np.arange(beads) * bond, np.zeros(beads)], -1)


# ----------------------------------------------------------------------------- mechanics


def test_shapes_single_and_batched(tiny_model):
    one = optimize_latent(tiny_model, helpers.radius_of_gyration, np.zeros(2), steps=5)
    assert one.path.shape == (6, 2)
    assert one.objective.shape == one.loss.shape == (6,)
    assert one.conformation.shape == (12, 2)
    assert np.array_equal(one.z, one.path[-1])
    assert np.array_equal(one.path[0], [0.0, 0.0])  # the path starts at z0

    many = optimize_latent(tiny_model, helpers.radius_of_gyration, torch.ones(3, 2), steps=5)
    assert many.path.shape == (6, 3, 2)
    assert many.objective.shape == (6, 3)
    assert many.conformation.shape == (3, 12, 2)


def test_history_matches_the_path(tiny_model):
    result = optimize_latent(tiny_model, helpers.radius_of_gyration, [0.3, -0.2], steps=10)
    with torch.no_grad():
        decoded = tiny_model.decode(torch.tensor(result.path, dtype=torch.float32))
    np.testing.assert_allclose(result.objective, helpers.radius_of_gyration(decoded).numpy(), rtol=1e-5)
    np.testing.assert_allclose(result.conformation, decoded[-1].numpy().reshape(12, 2), rtol=1e-5)
    # without prior or penalties the loss is the objective
    np.testing.assert_allclose(result.loss, result.objective)


def test_batched_starts_follow_their_single_paths(tiny_model, starts):
    batch = optimize_latent(tiny_model, helpers.radius_of_gyration, starts[:3], steps=30, prior_weight=0.5)
    for k in range(3):
        single = optimize_latent(tiny_model, helpers.radius_of_gyration, starts[k], steps=30, prior_weight=0.5)
        np.testing.assert_allclose(batch.path[:, k], single.path, atol=1e-5)


def test_deterministic(tiny_model, starts):
    a = optimize_latent(tiny_model, helpers.radius_of_gyration, starts, steps=20, prior_weight=0.1)
    b = optimize_latent(tiny_model, helpers.radius_of_gyration, starts, steps=20, prior_weight=0.1)
    assert np.array_equal(a.path, b.path)


def test_prior_alone_pulls_z_to_the_origin(tiny_model):
    def nothing(x):
        return x.sum(-1) * 0.0

    result = optimize_latent(tiny_model, nothing, [2.0, -1.5], steps=100, lr=0.1, prior_weight=1.0)
    start, end = np.linalg.norm(result.path[0]), np.linalg.norm(result.z)
    assert end < 0.1 * start
    np.testing.assert_allclose(result.loss, 0.5 * (result.path**2).sum(-1), rtol=1e-5)


def test_model_is_left_untouched(tiny_model):
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    optimize_latent(tiny_model, helpers.radius_of_gyration, [0.5, 0.5], steps=5)
    for k, v in tiny_model.state_dict().items():
        assert torch.equal(v, before[k])
    assert all(p.grad is None for p in tiny_model.parameters())


def test_threads_restored(tiny_model):
    before = torch.get_num_threads()
    optimize_latent(tiny_model, helpers.radius_of_gyration, [0.5, 0.5], steps=2)
    assert torch.get_num_threads() == before


def test_penalties_vanish_inside_the_limits_and_grow_outside():
    ref = helpers.ValidityReference(bond_min=0.8, bond_max=1.2, contact_min=0.9)
    good = torch.tensor(straight_chain(1.0), dtype=torch.float64)[None]
    assert float(bond_violation(good, ref)) == 0.0
    assert float(contact_violation(good, ref)) == 0.0

    short = torch.tensor(straight_chain(0.5), dtype=torch.float64)[None]
    # 11 bonds, each 0.8 + 0.02 - 0.5 = 0.32 too short
    assert float(bond_violation(short, ref)) == pytest.approx(11 * 0.32**2)
    long = torch.tensor(straight_chain(1.5), dtype=torch.float64)[None]
    assert float(bond_violation(long, ref)) == pytest.approx(11 * (1.5 - 1.18) ** 2)
    # beads i and i+2 of the short chain are 1.0 apart: above 0.9 + 0.02, so no contact penalty
    assert float(contact_violation(short, ref)) == 0.0
    folded = good.clone()
    folded[0, 2] = folded[0, 0] + torch.tensor([0.3, 0.0], dtype=torch.float64)  # bead 2 on top of bead 0
    assert float(contact_violation(folded, ref)) == pytest.approx((0.92 - 0.3) ** 2)
    assert float(contact_violation(folded, ref, margin=0.0)) == pytest.approx((0.9 - 0.3) ** 2)


def test_target_rg_objective():
    chain = torch.tensor(straight_chain(1.0), dtype=torch.float64)[None]
    rg = float(helpers.radius_of_gyration(chain))
    assert float(target_rg(rg)(chain)) == pytest.approx(0.0, abs=1e-12)
    assert float(target_rg(rg + 0.5)(chain)) == pytest.approx(0.25)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(z0=np.zeros(3)), ValueError, r"z0 must have shape"),
        (dict(z0=np.zeros((2, 2, 2))), ValueError, r"z0 must have shape"),
        (dict(z0=[np.nan, 0.0]), ValueError, r"NaN"),
        (dict(z0="origin"), TypeError, r"z0 must be"),
        (dict(steps=0), ValueError, r"steps must be >= 1"),
        (dict(steps=2.5), TypeError, r"steps must be an integer"),
        (dict(lr=-0.1), ValueError, r"lr must be"),
        (dict(prior_weight=-1.0), ValueError, r"prior_weight must be"),
        (dict(bond_penalty=10.0), ValueError, r"need reference"),
        (dict(contact_penalty=10.0), ValueError, r"need reference"),
        (dict(objective="rg"), TypeError, r"objective must be a function"),
        (dict(objective=lambda x: x), ValueError, r"one value per conformation"),
        (dict(objective=lambda x: x.sum(-1).detach().numpy()), TypeError, r"must return a torch tensor"),
        (dict(model=lambda z: z), TypeError, r"model must be a trained PolymerVAE"),
    ],
)
def test_bad_input(tiny_model, kwargs, error, match):
    args = dict(model=tiny_model, objective=helpers.radius_of_gyration, z0=np.zeros(2), steps=3)
    args.update(kwargs)
    model, objective, z0 = args.pop("model"), args.pop("objective"), args.pop("z0")
    with pytest.raises(error, match=match):
        optimize_latent(model, objective, z0, **args)


def test_objective_returning_nan_is_reported(tiny_model):
    with pytest.raises(FloatingPointError, match="NaN"):
        optimize_latent(tiny_model, lambda x: x.sum(-1) * float("nan"), np.zeros(2), steps=3)


def test_target_rg_rejects_nonsense():
    with pytest.raises(ValueError, match="target must be"):
        target_rg(-1.0)
    with pytest.raises(TypeError, match="target must be a number"):
        target_rg("2")


# ----------------------------------------------------------------------------- science


def test_unconstrained_minimization_lowers_rg(pretrained, starts):
    model, train, _ = pretrained
    result = optimize_latent(model, helpers.radius_of_gyration, starts)
    start_rg, end_rg = result.objective[0], result.objective[-1]
    assert np.all(end_rg <= start_rg + 1e-6)
    assert np.mean(start_rg - end_rg) > 0.3
    # the data's R_g spans about 1.35 to 3.5 σ, mean 2.1: every run ends in its compact tail,
    # and the typical run beyond its most compact 1%
    rg_train = helpers.radius_of_gyration(train)
    assert np.all(end_rg < np.quantile(rg_train, 0.15)), np.round(np.sort(end_rg), 2)
    assert np.median(end_rg) < np.quantile(rg_train, 0.01)


def test_unconstrained_optimum_is_invalid_constrained_is_valid(pretrained, starts):
    model, train, ref = pretrained
    free = optimize_latent(model, helpers.radius_of_gyration, starts)
    free_report = helpers.validity(free.conformation, ref)
    # unconstrained runs collapse: bonds far shorter than the data's, beads overlapping
    assert free_report.fraction_valid <= 0.2, str(free_report)
    most_compact = np.argmin(free.objective[-1])
    assert not free_report.valid[most_compact]
    assert free_report.bond_min[most_compact] < 0.8 * ref.bond_min
    assert np.median(free_report.bond_min) < 0.8 * ref.bond_min

    held = optimize_latent(model, helpers.radius_of_gyration, starts, reference=ref, **CONSTRAINED)
    report = helpers.validity(held.conformation, ref)
    assert report.fraction_valid >= 0.5, str(report)  # some starts stall behind invalid ridges
    best = np.argmin(np.where(report.valid, held.objective[-1], np.inf))
    assert report.valid[best]
    # valid, but not more compact than the most compact training frame
    assert held.objective[-1, best] > helpers.radius_of_gyration(train).min()


def test_target_search_hits_the_target(pretrained, starts):
    model, _, ref = pretrained
    for target in (2.0, 2.9):  # the data's mean and its most extended ~7%
        result = optimize_latent(model, target_rg(target), starts, reference=ref, **CONSTRAINED)
        rg = helpers.radius_of_gyration(result.conformation)
        report = helpers.validity(result.conformation, ref)
        hits = report.valid & (np.abs(rg - target) < 0.05)
        assert hits.sum() >= 2, f"target {target}: R_g {np.round(rg, 2)}, valid {report.valid}"
        # without the penalties the search reaches the target too, but not validly every time
        free = optimize_latent(model, target_rg(target), starts)
        assert np.median(np.abs(helpers.radius_of_gyration(free.conformation) - target)) < 0.05


# ----------------------------------------------------------------------------- the plots notebook 6 uses


def test_validity_map_reports_the_valid_fraction_of_its_grid(pretrained):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers import plots
    from helpers.models import validity_grid

    model, _, ref = pretrained
    fig, ax = plt.subplots()
    fraction = plots.validity_map(ax, model, ref, extent=(-2, 2, -1, 1), n=21)
    g1, g2 = np.linspace(-2, 2, 21), np.linspace(-1, 1, 21)
    grid = np.stack(np.meshgrid(g1, g2), -1).reshape(-1, 2)
    with torch.no_grad():
        expected = helpers.validity(model.decode(torch.tensor(grid, dtype=torch.float32)), ref).fraction_valid
    assert fraction == pytest.approx(expected)
    assert 0 < fraction < 1  # the pretrained model's plane holds both
    assert ax.get_xlim() == (-2, 2)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2)  # several axes: one decoded grid, drawn in each
    assert plots.validity_map(axes, model, ref, extent=(-2, 2, -1, 1), n=21) == pytest.approx(expected)
    assert all(len(a.collections) > 0 and a.get_xlabel() == "$z_1$" for a in axes)
    grid = validity_grid(model, ref, extent=(-2, 2, -1, 1), n=21)  # decoded once, drawn again later
    assert plots.validity_map(axes[0], grid=grid) == pytest.approx(expected)
    assert grid[2].shape == (21, 21) and grid[2].dtype == bool
    with pytest.raises(ValueError, match="grid"):
        plots.validity_map(axes[0])
    plt.close(fig)


def test_support_check_draws_each_candidate(pretrained):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers import plots

    _, train, ref = pretrained
    fig = plots.support_check(train[:500], train[:2], labels=["a", "b"], reference=ref)
    ax_bonds, ax_contacts = fig.axes
    assert len(ax_contacts.lines) == 2  # one vertical line per candidate
    assert len(ax_bonds.lines) == 2  # one row of bond ticks per candidate
    np.testing.assert_allclose(np.sort(ax_bonds.lines[0].get_xdata()), np.sort(helpers.bond_lengths(train[0])))
    with pytest.raises(ValueError, match="labels"):
        plots.support_check(train[:500], train[:2], labels=["only one"])
    plt.close("all")


# ----------------------------------------------------------------------------- design under bounds


def test_window_penalty_is_zero_inside_and_quadratic_outside():
    values = torch.tensor([1.0, 4.0, 4.5, 5.0, 7.0])
    np.testing.assert_allclose(window_penalty(values, 4.0, 5.0).numpy(), [9.0, 0.0, 0.0, 0.0, 4.0])
    with pytest.raises(ValueError, match="low < high"):
        window_penalty(values, 5.0, 4.0)
    with pytest.raises(TypeError, match="finite"):
        window_penalty(values, float("nan"), 4.0)


def test_property_predictor_learns_rg_and_end_to_end_distance(pretrained):
    _, train, _ = pretrained
    props = np.stack([helpers.radius_of_gyration(train), helpers.end_to_end_distance(train)], -1)
    predictor = fit_property_predictor(train[:2000], props[:2000], steps=200)
    held_out = torch.as_tensor(train[2000:3000])
    with torch.no_grad():
        predicted = predictor(held_out).numpy()
    assert predicted.shape == (1000, 2)
    error = np.abs(predicted - props[2000:3000]).mean(0)
    spread = props.std(0)
    assert np.all(error < 0.2 * spread)  # far better than predicting the mean
    # deterministic, leaves the global random state alone, and passes gradients to its input
    state = torch.get_rng_state()
    again = fit_property_predictor(train[:2000], props[:2000], steps=200)
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(again(held_out).detach().numpy(), predicted)
    x = held_out[:3].clone().requires_grad_(True)
    predictor(x)[:, 0].sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_property_predictor_rejects_bad_input():
    x = np.zeros((10, 12, 2))
    with pytest.raises(ValueError, match="shape"):
        fit_property_predictor(x, np.zeros(9))
    with pytest.raises(ValueError, match="finite"):
        fit_property_predictor(x, np.full(10, np.nan))
    with pytest.raises(TypeError, match="seed"):
        fit_property_predictor(x, np.zeros(10), seed=1.5)
