"""Valid generation: the internal-coordinate likelihood, the learned prior, the baseline, the metrics, the shipped models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import helpers
from helpers import generation
from helpers.generation import (
    PolymerGenerator,
    fit_prior,
    generate,
    generation_metrics,
    nearest_rmsd,
    wasserstein_1d,
    worm_like_chain,
)
from helpers.layers import chain
from helpers.likelihood import CONTACT_SCALE, ChainLikelihood, sample_von_mises, wrap_angle
from helpers.measures import internal_coordinates
from helpers.mixture import fit_mixture, mixture_log_prob, mixture_sample
from helpers.models import rg_condition


@pytest.fixture(scope="module")
def trained(small_split):
    """A small PolymerGenerator trained for a few epochs, with its learned prior (tests must not change it)."""
    train, test = small_split
    torch.manual_seed(0)
    model = PolymerGenerator(hidden_dim=32, n_hidden=2)
    history = helpers.train_vae(model, train, test, epochs=8, beta=1.0, free_bits=0.5, seed=0, progress=False)
    fit_prior(model, train)
    return model, history


@pytest.fixture(scope="module")
def conditional(small_split):
    train, _ = small_split
    torch.manual_seed(0)
    model = PolymerGenerator(hidden_dim=32, n_hidden=2, condition=rg_condition(train))
    helpers.train_vae(model, train, epochs=2, beta=1.0, seed=0, progress=False)
    fit_prior(model, train)
    return model


def test_internal_coordinates_rebuild_the_centred_chain(small_paths):
    frames = helpers.center_com(small_paths[:20])
    lengths, angles = internal_coordinates(frames)
    assert lengths.shape == angles.shape == (20, 11)
    directions = torch.stack([torch.cos(torch.tensor(angles)), torch.sin(torch.tensor(angles))], -1)
    rebuilt = chain(torch.tensor(lengths), directions).numpy()
    np.testing.assert_allclose(rebuilt, frames, atol=1e-9)
    t_lengths, _ = internal_coordinates(torch.tensor(frames))
    np.testing.assert_allclose(t_lengths.numpy(), lengths)


# ----------------------------------------------------------------------------- the likelihood


@pytest.fixture(scope="module")
def likelihood():
    torch.manual_seed(0)
    model = ChainLikelihood(3, (16,), 12)
    with torch.no_grad():
        model.contact.copy_(torch.linspace(-0.4, 0.0, len(model.contact)))  # a wall: u from -4 to 0 nats
    return model


def test_log_prob_is_the_sum_of_the_terms_used_while_growing_the_chain(likelihood):
    h = torch.randn(6, 3)
    with torch.no_grad():
        x = likelihood.sample(h, torch.Generator().manual_seed(0)).float()
    lengths, theta = internal_coordinates(x)
    heading = torch.cat([torch.zeros(6, 1), theta[:, :-1]], 1)
    total = torch.zeros(6)
    for i in range(11):  # the sequential path of sample(), one bond at a time
        out = likelihood.net(torch.cat([h, likelihood._context(x, i, heading[:, i])], -1))
        log_bins = torch.log_softmax(likelihood._turn_logits(out, x, i, heading[:, i], lengths[:, i]), -1)
        k = likelihood._bin_of(wrap_angle(theta[:, i] - heading[:, i]))
        m, s = 1.0 + 0.1 * out[:, 0], torch.nn.functional.softplus(out[:, 1] - 2.3) + 1e-3
        total += log_bins.gather(-1, k[:, None])[:, 0] - math.log(2 * math.pi / likelihood.bins)
        total += -0.5 * ((lengths[:, i] - m) / s) ** 2 - torch.log(s) - 0.5 * math.log(2 * math.pi)
    torch.testing.assert_close(likelihood.log_prob(x, h), total, rtol=1e-4, atol=1e-4)


def test_draws_follow_the_turn_probabilities(likelihood):
    h = torch.randn(1, 3).expand(20_000, 3)
    with torch.no_grad():
        x = likelihood.sample(h, torch.Generator().manual_seed(1))
    first = internal_coordinates(x)[1][:, 0]  # the first bond's direction = its turn from the x axis
    freq = torch.bincount(likelihood._bin_of(first.float()), minlength=likelihood.bins) / len(first)
    out = likelihood.net(torch.cat([h[:1], likelihood._context(x[:1].float(), 0, torch.zeros(1))], -1))
    p = torch.softmax(likelihood._turn_logits(out, x[:1].float(), 0, torch.zeros(1), torch.ones(1)), -1)[0]
    assert (freq - p).abs().max() < 0.01


def test_samples_are_seeded_centred_and_the_mean_chain_is_differentiable(likelihood):
    h = torch.randn(5, 3, requires_grad=True)
    with torch.no_grad():
        a = likelihood.sample(h, torch.Generator().manual_seed(2))
        assert torch.equal(a, likelihood.sample(h, torch.Generator().manual_seed(2)))
    assert a.shape == (5, 12, 2) and torch.allclose(a.mean(1), torch.zeros(5, 2), atol=1e-5)
    mean = likelihood(h)
    assert mean.shape == (5, 24)
    mean.pow(2).sum().backward()
    assert h.grad.abs().sum() > 0  # optimize_latent can descend through it


def test_the_contact_term_is_piecewise_linear_and_zero_beyond_its_last_knot(likelihood):
    u = likelihood.contact_term(torch.tensor([0.1, 0.5, 0.525, 2.5, 2.6, 9.0]))
    values = CONTACT_SCALE * likelihood.contact.detach()
    torch.testing.assert_close(u[:2], values[[0, 0]])
    torch.testing.assert_close(u[2], (values[0] + values[1]) / 2)
    assert u[3:].abs().max() < 1e-6


def test_sample_von_mises_has_the_right_mean_resultant_length():
    gen = torch.Generator().manual_seed(0)
    for kappa in (0.5, 2.0, 20.0):
        phi = sample_von_mises(torch.full((40_000,), 1.0), torch.full((40_000,), kappa), gen)
        expected = float(torch.special.i1e(torch.tensor(kappa)) / torch.special.i0e(torch.tensor(kappa)))
        assert float(torch.cos(phi - 1.0).mean()) == pytest.approx(expected, abs=0.01)
        assert abs(float(torch.sin(phi - 1.0).mean())) < 0.01


# ----------------------------------------------------------------------------- training and drawing


def test_train_vae_trains_the_likelihood_and_reports_the_true_kl(trained, small_split):
    model, history = trained
    assert history.train_recon[-1] < history.train_recon[0] - 1  # nats per frame
    _, recon, kl = helpers.evaluate(model, small_split[1], beta=1.0)
    assert np.isfinite(recon) and kl > 0
    with pytest.raises(ValueError, match="reduction must be 'sum'"):
        helpers.evaluate(model, small_split[1], reduction="mean")


def test_free_bits_is_for_the_internal_likelihood_only(tiny_model, small_split):
    with pytest.raises(ValueError, match="free_bits is for the internal-coordinate likelihood"):
        helpers.train_vae(tiny_model(), small_split[0], epochs=1, free_bits=1.0, progress=False)
    with pytest.raises(ValueError, match="free_bits must be a finite number >= 0"):
        helpers.train_vae(tiny_model(decoder="internal"), small_split[0], epochs=1, free_bits=-1.0, progress=False)


def test_generate_returns_the_models_own_seeded_draws_by_default(trained):
    model, _ = trained
    x = model.generate(300, seed=1)
    assert x.shape == (300, 12, 2) and x.dtype == np.float64 and np.isfinite(x).all()
    np.testing.assert_array_equal(x, model.generate(300, seed=1, relax=False))  # relax=False is the default
    assert not np.allclose(x, model.generate(300, seed=2))
    relaxed = model.generate(300, seed=1, relax=True)
    assert relaxed.shape == x.shape and not np.allclose(relaxed, x)  # physics after the model: a separate step
    mean = model.generate(300, seed=1, noise=False)
    z = mixture_sample(
        300, model.prior_weights, model.prior_means, model.prior_scale_tril, torch.Generator().manual_seed(1)
    )
    np.testing.assert_allclose(
        mean.reshape(300, -1), helpers.decode_conformations(model, z).reshape(300, -1), atol=1e-5
    )
    standard = model.generate(300, seed=1, latent="standard", noise=False)
    assert standard.shape == (300, 12, 2) and not np.allclose(standard, mean)


def test_fit_prior_stores_a_normalised_mixture_of_the_codes(trained, small_split):
    model, _ = trained
    k = generation.PRIOR_COMPONENTS
    assert model.prior_weights.shape == (k,) and float(model.prior_weights.sum()) == pytest.approx(1.0)
    assert model.prior_means.shape == (k, 2) and model.prior_scale_tril.shape == (k, 2, 2)
    mu, _ = generation.encode_all(model, small_split[0])
    z = mixture_sample(
        20_000, model.prior_weights, model.prior_means, model.prior_scale_tril, torch.Generator().manual_seed(0)
    )
    np.testing.assert_allclose(z.mean(0), mu.mean(0).double(), atol=0.25 * float(mu.std()))  # codes drawn from q


def test_fit_mixture_recovers_two_separated_gaussians_and_log_prob_matches_torch():
    gen = torch.Generator().manual_seed(0)
    z = torch.cat(
        [
            torch.randn(3000, 2, generator=gen) * 0.3 + torch.tensor([-3.0, 0.0]),
            torch.randn(1000, 2, generator=gen) * torch.tensor([1.0, 0.2]) + torch.tensor([3.0, 1.0]),
        ]
    )
    weights, means, scale_tril = fit_mixture(z, 2, seed=0)
    order = torch.argsort(means[:, 0])
    np.testing.assert_allclose(weights[order], [0.75, 0.25], atol=0.02)
    np.testing.assert_allclose(means[order], [[-3.0, 0.0], [3.0, 1.0]], atol=0.05)
    cov = scale_tril @ scale_tril.transpose(-1, -2)
    np.testing.assert_allclose(torch.diagonal(cov[order], dim1=-2, dim2=-1), [[0.09, 0.09], [1.0, 0.04]], rtol=0.1)
    one = torch.distributions.MultivariateNormal(means[:1], scale_tril=scale_tril[:1])
    np.testing.assert_allclose(
        mixture_log_prob(z[:5], torch.ones(1, dtype=torch.float64), means[:1], scale_tril[:1]),
        one.log_prob(z[:5].double()),
        rtol=1e-10,
    )
    draws = mixture_sample(20_000, weights, means, scale_tril, torch.Generator().manual_seed(1))
    assert float((draws[:, 0] < 0).double().mean()) == pytest.approx(0.75, abs=0.015)


def test_mixture_refuses_bad_input():
    with pytest.raises(ValueError, match="cannot fit 5 components to 3 codes"):
        fit_mixture(torch.randn(3, 2), 5)
    with pytest.raises(ValueError, match="k must be >= 1"):
        fit_mixture(torch.randn(30, 2), 0)
    with pytest.raises(ValueError, match="codes"):
        fit_mixture(torch.randn(30), 2)
    with pytest.raises(ValueError, match="n must be >= 1"):
        mixture_sample(0, torch.ones(1), torch.zeros(1, 2), torch.eye(2)[None])


def test_the_worm_like_chain_has_the_force_fields_bonds_and_bends():
    x = worm_like_chain(4000, seed=0)
    assert x.shape == (4000, 12, 2) and np.allclose(x.mean(1), 0.0)
    np.testing.assert_array_equal(x, worm_like_chain(4000, seed=0))
    bonds = helpers.bond_lengths(x)
    assert bonds.mean() == pytest.approx(1.0, abs=0.005) and bonds.std() == pytest.approx(0.1, abs=0.005)
    _, theta = internal_coordinates(x)
    turn = np.remainder(np.diff(theta, axis=1) + np.pi, 2 * np.pi) - np.pi
    kappa = torch.tensor(2.0)
    assert np.cos(turn).mean() == pytest.approx(float(torch.special.i1e(kappa) / torch.special.i0e(kappa)), abs=0.01)


def test_nearest_rmsd_aligns_rotations_but_not_mirror_images(small_paths):
    frames = helpers.center_com(small_paths[:50])
    c, s = np.cos(1.0), np.sin(1.0)
    turned = frames[:10] @ np.array([[c, -s], [s, c]]).T + 3.0
    np.testing.assert_allclose(nearest_rmsd(turned, frames), 0.0, atol=1e-6)
    mirrored = frames[:10] * np.array([1.0, -1.0])
    shifted_one = frames[:1].copy()
    shifted_one[0, 0] += [0.0, 1.2]  # one of 12 beads moved by 1.2: RMSD 1.2 / sqrt(12) before re-centring
    assert nearest_rmsd(mirrored, frames[10:]).min() > 0.05
    assert 0.2 < nearest_rmsd(shifted_one, frames[:1])[0] < 1.2 / np.sqrt(12) + 1e-9
    with pytest.raises(ValueError, match="same beads"):
        nearest_rmsd(frames[:, :10], frames)


def test_conditional_model_sees_rg_and_generates_at_a_target(conditional, small_split):
    cond = conditional.config["condition"]
    assert cond == rg_condition(small_split[0])
    x = torch.tensor(small_split[0][:5])
    torch.testing.assert_close(
        conditional.condition_of(x)[:, 0], (helpers.radius_of_gyration(x) - cond["mean"]) / cond["std"]
    )
    target = 0.5 * (cond["min"] + cond["max"])
    assert conditional.generate(10, seed=0, rg=target).shape == (10, 12, 2)
    assert conditional.generate(3, seed=0, rg=[target, target, cond["max"]]).shape == (3, 12, 2)
    mse = helpers.reconstruction_error(conditional, small_split[1])  # decodes with c(x)
    with torch.no_grad():
        xt = torch.tensor(small_split[1])
        expected = float(
            ((conditional.decode(conditional.encode(xt)[0], conditional.condition_of(xt)) - xt) ** 2).mean()
        )
    assert np.isfinite(mse) and mse == pytest.approx(expected, rel=1e-6)


def test_wasserstein_1d_on_known_cases():
    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    assert wasserstein_1d(a, a) == 0.0
    assert wasserstein_1d(a, a + 0.3) == pytest.approx(0.3)
    assert wasserstein_1d([0.0, 1.0], [0.0, 0.0, 1.0, 1.0, 1.0, 1.0]) == pytest.approx(1 / 6)


def test_generation_metrics_of_data_against_itself(small_paths):
    m = generation_metrics(small_paths[:200], small_paths)
    assert m["valid"] > 0.9 and m["low_energy"] > 0.95
    assert m["w1_rg"] < 0.1 and m["w1_end_to_end"] < 0.3 and m["w1_bond"] < 0.01  # 200 correlated frames
    squashed = generation_metrics(small_paths[:200] * 0.7, small_paths)
    assert squashed["valid"] < 0.1 and squashed["w1_bond"] > 0.25


def test_shipped_generators_draw_valid_polymers_by_themselves(default_paths):
    """The goals of the valid-generation notebook (benchmarks/RESULTS.md), with a margin, on one seed."""
    flat = helpers.preprocess(default_paths)
    data = helpers.unflatten(flat)
    model, metadata = helpers.load_pretrained("valid_polymer")
    assert isinstance(model, PolymerGenerator) and model.config["condition"] is None
    assert metadata["recipe"] == generation.RECIPE
    x = model.generate(4000, seed=0)  # the model's own draws: no relaxation
    m = generation_metrics(x, data)
    assert m["valid"] > 0.88 and m["low_energy"] > 0.88 and m["w1_bond"] < 0.01 and m["w1_rg"] < 0.05
    train = helpers.unflatten(helpers.train_test_split(flat, seed=42)[0])
    assert np.median(nearest_rmsd(x[:500], train)) > 0.25  # not copies of training frames
    conditional, _ = helpers.load_pretrained("conditional_polymer")
    cond = conditional.config["condition"]
    assert cond["min"] < 1.6 < 3.0 < cond["max"]
    for seed, target in enumerate((1.6, 2.5)):
        x = conditional.generate(500, seed=seed, rg=target)
        hit = helpers.validity(x, data).valid & (np.abs(helpers.radius_of_gyration(x) - target) <= 0.15)
        assert hit.mean() > 0.65, (target, hit.mean())  # 74.5% and 92.3% over 1,000 draws (RESULTS.md)


# ----------------------------------------------------------------------------- bad input


def test_generate_refuses_bad_input(trained, conditional, tiny_model):
    model, _ = trained
    cond = conditional.config["condition"]
    with pytest.raises(ValueError, match="n must be >= 1"):
        model.generate(0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        model.generate(-5, seed=0)
    with pytest.raises(TypeError, match="n must be an integer"):
        model.generate(2.5)
    with pytest.raises(ValueError, match="unknown latent"):
        model.generate(3, latent="prior")
    with pytest.raises(ValueError, match="rg is only for a conditional model"):
        model.generate(3, rg=2.0)
    with pytest.raises(ValueError, match="needs a target rg"):
        conditional.generate(3)
    for outside in (cond["min"] - 0.01, cond["max"] + 0.5, 0.0):
        with pytest.raises(ValueError, match="outside the training data's range"):
            conditional.generate(3, seed=0, rg=outside)
    with pytest.raises(ValueError, match="one finite number or 3"):
        conditional.generate(3, rg=[2.0, 2.0])
    with pytest.raises(ValueError, match="one finite number"):
        conditional.generate(3, rg=float("nan"))
    with pytest.raises(ValueError, match="needs a PolymerGenerator .* Cartesian PolymerVAE draws with model.sample"):
        generate(tiny_model(), 3)
    with pytest.raises(ValueError, match="needs a PolymerGenerator .* 'internal' decoder"):
        generate(tiny_model(decoder="internal"), 3)
    with pytest.raises(ValueError, match="no learned prior: call fit_prior"):
        PolymerGenerator(hidden_dim=8, n_hidden=1).generate(3)
    assert PolymerGenerator(hidden_dim=8, n_hidden=1).generate(3, latent="standard").shape == (3, 12, 2)
    with pytest.raises(ValueError, match="needs a target"):
        conditional.sample(3)
    with pytest.raises(ValueError, match="conditioned on R_g: decode\\(z, c\\) needs c \\(batch, 1\\)"):
        conditional.decode(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="has no condition"):
        model.decode(torch.zeros(2, 2), torch.zeros(2, 1))


def test_a_polymer_generator_decodes_internal_coordinates_only():
    with pytest.raises(ValueError, match="decoder must be 'internal', got 'cartesian'"):
        PolymerGenerator(decoder="cartesian")


@pytest.mark.parametrize("decoder", ["cartesian", "internal"])
def test_fit_prior_refuses_a_model_without_a_prior(tiny_model, small_split, decoder):
    with pytest.raises(ValueError, match="fit_prior needs a PolymerGenerator"):
        fit_prior(tiny_model(decoder=decoder), small_split[0])


def test_fit_prior_refuses_too_few_frames_and_another_number_of_components(trained, small_split):
    model = PolymerGenerator(hidden_dim=8, n_hidden=1)
    with pytest.raises(ValueError, match="stores 16 prior components"):
        fit_prior(model, small_split[0], components=4)
    with pytest.raises(ValueError, match="train"):
        fit_prior(model, small_split[0][:5])


def test_a_saved_generator_loads_as_a_generator_and_draws_the_same_polymers(trained, tiny_model, tmp_path):
    model, _ = trained
    loaded, _ = helpers.load_checkpoint(helpers.save_checkpoint(model, tmp_path / "generator.pt"))
    assert isinstance(loaded, PolymerGenerator)
    np.testing.assert_array_equal(loaded.generate(50, seed=3), model.generate(50, seed=3))
    plain, _ = helpers.load_checkpoint(helpers.save_checkpoint(tiny_model(decoder="internal"), tmp_path / "plain.pt"))
    assert type(plain) is helpers.PolymerVAE and plain.config["decoder"] == "internal"
