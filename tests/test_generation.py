"""Valid generation: the internal-coordinate decoder, the PolymerGenerator's sampler, the R_g-conditional VAE."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import helpers
from helpers import generation
from helpers.generation import (
    PolymerGenerator,
    aggregated_posterior_sample,
    fit_generation,
    generate,
    generation_metrics,
    wasserstein_1d,
)
from helpers.layers import BOND_LENGTH, chain
from helpers.measures import internal_coordinates
from helpers.models import rg_condition


@pytest.fixture(scope="module")
def trained(small_split):
    """A small PolymerGenerator trained for a few epochs, with its fitted sampler (tests must not change it)."""
    train, test = small_split
    torch.manual_seed(0)
    model = PolymerGenerator(hidden_dim=32, n_hidden=2)
    history = helpers.train_vae(model, train, test, epochs=8, seed=0, progress=False)
    fit_generation(model, train)
    return model, history


@pytest.fixture(scope="module")
def conditional(small_split):
    train, _ = small_split
    torch.manual_seed(0)
    model = PolymerGenerator(hidden_dim=32, n_hidden=2, condition=rg_condition(train))
    helpers.train_vae(model, train, epochs=3, seed=0, progress=False)
    fit_generation(model, train)
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


def test_the_internal_decoder_keeps_every_bond_at_rest_length_and_the_chain_centred():
    torch.manual_seed(0)
    model = helpers.PolymerVAE(hidden_dim=16, n_hidden=1, decoder="internal")
    x = model.decode(torch.randn(50, 2) * 3).detach().numpy().reshape(50, 12, 2)
    np.testing.assert_allclose(helpers.bond_lengths(x), BOND_LENGTH, rtol=1e-4)
    np.testing.assert_allclose(x.mean(1), 0.0, atol=1e-5)
    assert model.config["decoder"] == "internal" and "sampler_codes" not in model.state_dict()
    generator = PolymerGenerator(hidden_dim=16, n_hidden=1)
    assert generator.config == model.config and {"sampler_codes", "bond_noise"} < set(generator.state_dict())


def test_train_vae_trains_the_internal_decoder(trained):
    _, history = trained
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.test_recon[-1] < history.test_recon[0]


def test_generate_draws_seeded_conformations_with_fluctuating_bonds(trained):
    model, _ = trained
    x = model.generate(300, seed=1)
    assert x.shape == (300, 12, 2) and x.dtype == np.float64 and np.isfinite(x).all()
    np.testing.assert_array_equal(x, model.generate(300, seed=1))
    assert not np.allclose(x, model.generate(300, seed=2))
    bonds = helpers.bond_lengths(model.generate(300, seed=1, relax=False))
    assert bonds.std() == pytest.approx(float(model.bond_noise[0]), rel=0.1)
    assert 0.5 < helpers.bond_lengths(x).std() / bonds.std() < 2  # relaxing at kT keeps bonds fluctuating
    mean = model.generate(300, seed=1, noise=False, relax=False)
    np.testing.assert_allclose(helpers.bond_lengths(mean), BOND_LENGTH, rtol=1e-4)
    prior = model.generate(300, seed=1, latent="prior", noise=False, relax=False)
    assert prior.shape == (300, 12, 2) and not np.allclose(prior, mean)


def test_fit_generation_measures_the_datas_bond_length_spread(trained, small_split):
    model = copy.deepcopy(trained[0])
    fitted = fit_generation(model, small_split[0])
    data_std = helpers.bond_lengths(helpers.unflatten(small_split[0])).std()
    assert fitted["length_std"] == pytest.approx(data_std, rel=0.05)  # the decoder's bonds are all BOND_LENGTH
    assert float(model.bond_noise[0]) == pytest.approx(fitted["length_std"])


@pytest.mark.parametrize("angle_std", [0.0, 0.1, 0.3])
def test_the_fitted_angle_noise_is_the_spread_of_generated_bond_directions(trained, small_split, angle_std):
    model = copy.deepcopy(trained[0])
    fit_generation(model, small_split[0], angle_std=angle_std)
    mean = model.generate(2000, seed=4, noise=False, relax=False)
    noisy = model.generate(2000, seed=4, relax=False)  # the same z (drawn first), then p_theta(x|z)'s noise
    turn = internal_coordinates(noisy)[1] - internal_coordinates(mean)[1]
    turn = np.remainder(turn + np.pi, 2 * np.pi) - np.pi
    assert turn.std() == pytest.approx(angle_std, abs=0.005) and abs(turn.mean()) < 0.005


def test_aggregated_posterior_sample_has_the_mixtures_moments():
    mu = torch.tensor([[-2.0, 0.0], [2.0, 0.0]])
    sigma = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    z = aggregated_posterior_sample(mu, sigma, 20_000, torch.Generator().manual_seed(0))
    assert z.mean(0).abs().max() < 0.05
    assert z[:, 0].var() == pytest.approx(4 + 0.25, rel=0.05)  # between-component + within
    assert z[:, 1].var() == pytest.approx(0.25, rel=0.05)


def test_conditional_model_sees_rg_and_generates_at_a_target(conditional, small_split):
    cond = conditional.config["condition"]
    assert cond == rg_condition(small_split[0])
    x = torch.tensor(small_split[0][:5])
    c = conditional.condition_of(x)
    rg = helpers.radius_of_gyration(x)
    torch.testing.assert_close(c[:, 0], (rg - cond["mean"]) / cond["std"])
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


def test_shipped_generators_load_and_draw_mostly_valid_polymers(default_paths):
    """The figures of the valid-generation notebook and benchmarks/RESULTS.md, with a margin."""
    data = helpers.unflatten(helpers.preprocess(default_paths))
    model, metadata = helpers.load_pretrained("valid_polymer")
    assert isinstance(model, PolymerGenerator) and model.config["condition"] is None
    assert metadata["recipe"] == generation.RECIPE
    x = model.generate(4000, seed=0)  # the benchmark's draws: the final recipe, relaxed
    assert x.shape == (4000, 12, 2)
    m = generation_metrics(x, data)
    assert m["valid"] > 0.95 and m["low_energy"] > 0.95 and m["w1_bond"] < 0.01 and m["w1_rg"] < 0.05
    unrelaxed = generation_metrics(model.generate(4000, seed=0, relax=False), data)
    assert unrelaxed["valid"] < m["valid"] - 0.05 and unrelaxed["low_energy"] < m["low_energy"] - 0.05
    conditional, _ = helpers.load_pretrained("conditional_polymer")
    cond = conditional.config["condition"]
    assert cond["min"] < 1.6 < 3.0 < cond["max"]
    for seed, target in enumerate((1.6, 2.5)):
        x = conditional.generate(500, seed=seed, rg=target, noise=False)
        hit = helpers.validity(x, data).valid & (np.abs(helpers.radius_of_gyration(x) - target) <= 0.15)
        assert hit.mean() > 0.8, (target, hit.mean())


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
        model.generate(3, latent="uniform")
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
    with pytest.raises(ValueError, match="no fitted sampler"):
        PolymerGenerator(hidden_dim=8, n_hidden=1).generate(3)
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
def test_fit_generation_refuses_a_model_without_a_sampler(tiny_model, small_split, decoder):
    with pytest.raises(ValueError, match="fit_generation needs a PolymerGenerator"):
        fit_generation(tiny_model(decoder=decoder), small_split[0])


def test_a_saved_generator_loads_as_a_generator_and_draws_the_same_polymers(trained, tiny_model, tmp_path):
    model, _ = trained
    loaded, _ = helpers.load_checkpoint(helpers.save_checkpoint(model, tmp_path / "generator.pt"))
    assert isinstance(loaded, PolymerGenerator)
    np.testing.assert_array_equal(loaded.generate(50, seed=3), model.generate(50, seed=3))
    plain, _ = helpers.load_checkpoint(helpers.save_checkpoint(tiny_model(decoder="internal"), tmp_path / "plain.pt"))
    assert type(plain) is helpers.PolymerVAE and plain.config["decoder"] == "internal"
