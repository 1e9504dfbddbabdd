"""The diffusion model of notebook 9: shapes, schedule, samplers, bound, training, checkpoints, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import helpers
from helpers import diffusion as D


@pytest.fixture(scope="module")
def frames():
    data = helpers.preprocess(helpers.load_paths())
    train, test = helpers.train_test_split(data, seed=42)
    return train[:512], test[:64]


@pytest.fixture(scope="module")
def tiny(frames):
    """A small conditional model after two epochs: enough to exercise every code path."""
    model, history = D.train_diffusion(frames[0], frames[1], epochs=2, width=32, blocks=1, steps=50, progress=False)
    return model, history


def test_shape_features_round_trip_to_the_aligned_frame(frames):
    x = helpers.unflatten(frames[0][:20])
    f = D.shape_features(x)
    assert f.shape == (20, 21) and f.dtype == torch.float64
    np.testing.assert_allclose(D.conformations(f), x, atol=1e-5)
    np.testing.assert_allclose(f[:, :11].numpy(), helpers.bond_lengths(x), rtol=1e-6)
    assert f[:, 11:].abs().max() <= math.pi


def test_cosine_schedule_reaches_noise_and_the_linear_one_does_not():
    abar = D.cosine_schedule(1000)
    assert abar.shape == (1000,) and abar[-1] < 1e-6 and 0.99 < abar[0] < 1 and bool((abar[1:] < abar[:-1]).all())
    # the walkthrough's schedule keeps 13% of the signal's variance at t = T
    assert abs(float(D.linear_schedule(200)[-1]) - 0.13) < 0.01


def test_time_embedding_is_bounded_and_distinguishes_steps():
    e = D.time_embedding(torch.arange(1, 1001), 64)
    assert e.shape == (1000, 64) and e.abs().max() <= 1
    assert torch.cdist(e[:-1], e[1:]).diagonal().min() > 0


def test_timesteps_descend_from_T_to_1_without_repeats(tiny):
    model, _ = tiny
    for steps in (1, 2, 7, 50):
        ts = D.timesteps(model, steps)
        assert len(ts) == steps and ts[0] == model.steps and ts[-1] == (1 if steps > 1 else model.steps)
        assert all(a > b for a, b in zip(ts, ts[1:]))
    assert D.timesteps(model, 50) == list(range(50, 0, -1))


@pytest.mark.parametrize("steps", [0, -3, 51])
def test_step_counts_outside_the_schedule_are_refused(tiny, steps):
    model, _ = tiny
    with pytest.raises(ValueError, match="between 1 and the schedule's 50"):
        model.generate(4, seed=0, steps=steps)


def test_a_fractional_step_count_is_refused(tiny):
    with pytest.raises(TypeError, match="steps must be an integer"):
        tiny[0].generate(4, seed=0, steps=10.5)


def test_guidance_targets_outside_the_data_are_refused(tiny):
    model, _ = tiny
    lo, hi = model.config["condition"]["min"], model.config["condition"]["max"]
    for rg in (lo - 0.1, hi + 0.5):
        with pytest.raises(ValueError, match="outside the training data's range"):
            model.generate(4, seed=0, steps=5, rg=rg, guidance=1.0)
    with pytest.raises(ValueError, match="guidance needs a target rg"):
        model.generate(4, seed=0, steps=5, guidance=1.0)
    unconditional, _ = D.train_diffusion(
        np.asarray(model.generate(8, seed=0, steps=3)), epochs=1, width=8, blocks=1, steps=10, conditional=False,
        progress=False,
    )  # fmt: skip
    with pytest.raises(ValueError, match="trained with an R_g condition"):
        unconditional.generate(4, seed=0, steps=3, rg=2.0)


def test_rg_likelihood_settings_are_checked(tiny):
    model, _ = tiny
    with pytest.raises(ValueError, match="rg_sigma needs a target rg"):
        model.generate(4, seed=0, steps=5, rg_sigma=0.05)
    for sigma in (0.0, -0.1):
        with pytest.raises(ValueError, match="rg_sigma"):
            model.generate(4, seed=0, steps=5, rg=2.0, rg_sigma=sigma)
    with pytest.raises(ValueError, match="discriminator_weight"):
        model.generate(4, seed=0, steps=5, discriminator_weight=-1.0)


@pytest.mark.parametrize("t", [1, 30])
def test_the_rg_likelihood_gradient_matches_finite_differences(tiny, t):
    """With eps and the variance held fixed, the gradient is that of -(R_g(x0_hat(x)) - target)^2 / (2 var)."""
    model, _ = tiny
    gen = torch.Generator().manual_seed(0)
    x, eps = (
        0.5 * torch.randn(3, model.dim, generator=gen).double(),
        0.3 * torch.randn(3, model.dim, generator=gen).double(),
    )
    a_t, target = model.abar[t - 1].double(), torch.tensor([1.6, 2.0, 3.0], dtype=torch.float64)
    assert ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).abs().max() < D.CLIP  # no clipping: a smooth function
    model.double()
    try:
        grad = D._rg_likelihood_gradient(model, x, eps, a_t, target, 0.05)

        def log_p(x):
            x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            return -((helpers.radius_of_gyration(D.chain_from_features(model.unstandardise(x0))) - target) ** 2)

        x_req = x.clone().requires_grad_(True)
        x0 = (x_req - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        g_rg = torch.autograd.grad(
            helpers.radius_of_gyration(D.chain_from_features(model.unstandardise(x0))).sum(), x_req
        )[0]
        var = 0.05**2 + (1 - a_t) * g_rg.pow(2).sum(-1)  # |grad_x0 R_g|^2 = abar_t |grad_x R_g|^2
        h = 1e-6
        for k in (0, 5, 15):
            step = torch.zeros_like(x)
            step[:, k] = h
            numeric = (log_p(x + step) - log_p(x - step)) / (2 * h) / (2 * var)
            np.testing.assert_allclose(grad[:, k].numpy(), numeric.numpy(), rtol=1e-5, atol=1e-8)
    finally:
        model.float()


def test_the_rg_likelihood_pulls_draws_to_their_target():
    model, _ = helpers.load_pretrained("diffusion_polymer")
    for target in (1.6, 3.0):
        loose = helpers.radius_of_gyration(model.generate(300, seed=0, rg=target, guidance=1.0))
        pulled = helpers.radius_of_gyration(model.generate(300, seed=0, rg=target, guidance=1.0, rg_sigma=0.05))
        assert np.mean(np.abs(pulled - target) <= 0.15) > np.mean(np.abs(loose - target) <= 0.15) + 0.05
        assert np.abs(np.median(pulled) - target) < 0.05


@pytest.mark.parametrize("sampler", D.SAMPLERS)
def test_samplers_are_seeded_and_return_aligned_chains(tiny, sampler):
    model, _ = tiny
    a = model.generate(16, seed=3, steps=10, sampler=sampler)
    b = model.generate(16, seed=3, steps=10, sampler=sampler)
    assert a.shape == (16, 12, 2) and np.array_equal(a, b) and np.isfinite(a).all()
    np.testing.assert_allclose(a.mean(1), 0, atol=1e-9)
    guided = model.generate(16, seed=3, steps=10, sampler=sampler, rg=2.0, guidance=1.0)
    assert guided.shape == (16, 12, 2) and np.isfinite(guided).all()


def test_ddim_is_deterministic_given_the_start_and_ddpm_is_not(tiny):
    model, _ = tiny
    _, path = D.sample_features(model, 8, seed=1, steps=10, sampler="ddim", trajectory=True)
    assert len(path) == 11 and all(p.shape == (8, 21) for p in path)
    x_ddpm = D.sample_features(model, 8, seed=1, steps=10, sampler="ddpm")
    x_ddpm2 = D.sample_features(model, 8, seed=2, steps=10, sampler="ddpm")
    assert not torch.equal(x_ddpm, x_ddpm2)


def test_variational_bound_is_finite_and_adds_up(tiny, frames):
    model, _ = tiny
    terms = D.variational_bound(model, frames[1][:16], n_t=4)
    assert set(terms) == {"prior", "diffusion", "decoder", "total"}
    torch.testing.assert_close(terms["total"], terms["prior"] + terms["diffusion"] + terms["decoder"])
    assert bool(torch.isfinite(terms["total"]).all()) and bool((terms["prior"] >= 0).all())
    nll = D.negative_log_likelihood(model, frames[1][:4], sigma_x=0.245, n_t=4)
    assert nll.shape == (4,) and bool(torch.isfinite(nll).all())


def test_log_volume_matches_finite_differences(frames):
    x = helpers.unflatten(frames[1][:3]).astype(np.float64)
    f = D.shape_features(x)
    h = 1e-6
    for i in range(3):
        cols = []
        for k in range(21):
            e = torch.zeros(21, dtype=torch.float64)
            e[k] = h
            plus = D.conformations((f[i] + e)[None]).reshape(-1)
            minus = D.conformations((f[i] - e)[None]).reshape(-1)
            cols.append((plus - minus) / (2 * h))
        jac = np.stack(cols, 1)
        expected = 0.5 * np.linalg.slogdet(jac.T @ jac)[1]
        assert abs(float(D.log_volume(x[i : i + 1])[0]) - expected) < 1e-4


def test_training_is_seeded_and_records_its_history(tiny, frames):
    model, history = tiny
    again, _ = D.train_diffusion(frames[0], frames[1], epochs=2, width=32, blocks=1, steps=50, progress=False)
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    assert len(history["train_loss"]) == 2 == len(history["test_loss"]) and not history["interrupted"]
    assert all(np.isfinite(history["train_loss"]))


def test_training_refuses_a_vae_and_bad_settings(frames):
    with pytest.raises(TypeError, match="needs a PolymerDiffusion"):
        D.train_diffusion(frames[0], model=helpers.PolymerVAE(), epochs=1)
    with pytest.raises(ValueError, match="ema"):
        D.train_diffusion(frames[0], epochs=1, ema=1.0)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        D.train_diffusion(frames[0], epochs=0)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        D.train_diffusion(frames[0], epochs=1, threads=0)


def test_training_runs_on_the_recipes_threads_and_restores_the_setting(frames, monkeypatch):
    """The recipe's fixed thread count (2) inside the loop, the caller's own setting afterwards."""
    seen = []
    forward = D.PolymerDiffusion.forward
    monkeypatch.setattr(
        D.PolymerDiffusion, "forward", lambda *a, **k: seen.append(torch.get_num_threads()) or forward(*a, **k)
    )
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        D.train_diffusion(frames[0][:64], epochs=1, width=8, blocks=1, steps=10, progress=False)
        assert set(seen) == {D.RECIPE["threads"]} == {2} and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_sampling_refuses_a_vae():
    with pytest.raises(TypeError, match="needs a PolymerDiffusion"):
        D.generate(helpers.PolymerVAE(), 4, seed=0)


def test_checkpoint_round_trip_and_other_kinds_refused(tmp_path, tiny):
    model, _ = tiny
    path = helpers.save_checkpoint(model, tmp_path / "d.pt", note="tiny")
    loaded, metadata = helpers.load_checkpoint(path)
    assert isinstance(loaded, D.PolymerDiffusion) and metadata == {"note": "tiny"}
    assert np.array_equal(loaded.generate(8, seed=0, steps=5), model.generate(8, seed=0, steps=5))
    with pytest.raises(ValueError, match="holds a PolymerDiffusion, but the model given is a PolymerVAE"):
        helpers.load_checkpoint(path, model=helpers.PolymerVAE())
    vae_path = helpers.save_checkpoint(helpers.PolymerVAE(), tmp_path / "vae.pt")
    with pytest.raises(ValueError, match="holds a PolymerVAE, but the model given is a PolymerDiffusion"):
        helpers.load_checkpoint(vae_path, model=model)


class _ExactGaussianDenoiser(D.PolymerDiffusion):
    """The best noise predictor for x_0 ~ N(0, I): E[eps | x_t] = sqrt(1 - abar_t) x_t."""

    def forward(self, x_t, t, c=None):
        return (1 - self.abar[t - 1].reshape(-1, 1)).sqrt() * x_t


def test_the_bound_lies_above_the_exact_negative_log_likelihood_of_gaussian_data():
    model = _ExactGaussianDenoiser(width=8, blocks=1)
    x0 = torch.randn(300, 21, generator=torch.Generator().manual_seed(0))
    terms = D._bound_terms(model, x0, 100, 0)
    exact = 0.5 * (x0.double() ** 2).sum(-1) + 21 * 0.5 * math.log(2 * math.pi)
    gap = float(terms["total"].mean() - exact.mean())
    # the reverse steps' variance beta~_t (exact for a single x_0) is smaller than the reverse
    # variance of Gaussian data (beta_t): the bound is loose by about half a nat per feature
    assert 0 < gap < 0.6 * 21, gap
