"""The VAE objective: reparameterisation, closed-form KL, reductions, ELBO and log p(x)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

import helpers

# ----------------------------------------------------------------------------- KL


def _random_gaussians(batch=64, latent=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    mu = 2 * torch.randn(batch, latent, generator=g, dtype=torch.float64)
    sigma = torch.exp(torch.randn(batch, latent, generator=g, dtype=torch.float64))
    return mu, sigma


def test_kl_matches_torch_distributions_with_sigma():
    mu, sigma = _random_gaussians()
    reference = kl_divergence(Independent(Normal(mu, sigma), 1), Independent(Normal(0.0, torch.ones_like(mu)), 1))
    kl = helpers.kl_divergence(mu, sigma)
    assert kl.shape == (64,)  # per example, summed over latent dimensions
    torch.testing.assert_close(kl, reference)


def test_kl_matches_torch_distributions_with_logvar():
    mu, sigma = _random_gaussians(seed=1)
    logvar = torch.log(sigma**2)
    reference = kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(helpers.kl_divergence(mu, logvar=logvar), reference)
    torch.testing.assert_close(helpers.kl_divergence(mu, sigma), helpers.kl_divergence(mu, logvar=logvar))


def test_kl_is_zero_only_at_the_prior():
    zeros, ones = torch.zeros(4, 2), torch.ones(4, 2)
    torch.testing.assert_close(helpers.kl_divergence(zeros, ones), torch.zeros(4))
    mu, sigma = _random_gaussians(seed=2)
    assert (helpers.kl_divergence(mu, sigma) > 0).all()


def test_kl_gradients_match_autograd_of_the_reference():
    mu, sigma = _random_gaussians(batch=5, seed=3)
    mu.requires_grad_(True)
    sigma.requires_grad_(True)
    helpers.kl_divergence(mu, sigma).sum().backward()
    # d/dmu = mu, d/dsigma = sigma - 1 / sigma
    torch.testing.assert_close(mu.grad, mu.detach())
    torch.testing.assert_close(sigma.grad, sigma.detach() - 1 / sigma.detach())


# ----------------------------------------------------------------------------- reparameterisation


def test_reparameterized_samples_have_the_right_moments():
    mu = torch.tensor([1.0, -2.0, 0.0])
    sigma = torch.tensor([0.5, 2.0, 1e-3])
    z = helpers.reparameterize(
        mu.expand(200_000, 3), sigma.expand(200_000, 3), generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(z.mean(0), mu, atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), sigma, atol=0.01, rtol=0.01)
    # independent coordinates
    corr = torch.corrcoef(z.T)
    assert corr[0, 1].abs() < 0.01


def test_reparameterized_samples_carry_gradients_to_mu_and_sigma():
    mu = torch.tensor([[0.5, -1.0]], requires_grad=True)
    sigma = torch.tensor([[2.0, 0.1]], requires_grad=True)
    z = helpers.reparameterize(mu, sigma, generator=torch.Generator().manual_seed(0))
    eps = (z - mu) / sigma
    (3 * z).sum().backward()
    torch.testing.assert_close(mu.grad, torch.full((1, 2), 3.0))  # dz/dmu = 1
    torch.testing.assert_close(sigma.grad, 3 * eps.detach())  # dz/dsigma = eps


def test_reparameterize_is_seeded_and_checks_shapes():
    mu, sigma = torch.zeros(3, 2), torch.ones(3, 2)
    a = helpers.reparameterize(mu, sigma, torch.Generator().manual_seed(5))
    b = helpers.reparameterize(mu, sigma, torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="same shape"):
        helpers.reparameterize(mu, torch.ones(3, 3))


# ----------------------------------------------------------------------------- vae_loss


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    x, x_recon = torch.randn(8, 24, generator=g), torch.randn(8, 24, generator=g)
    mu, sigma = torch.randn(8, 2, generator=g), torch.rand(8, 2, generator=g) + 0.2
    return x, x_recon, mu, sigma


def test_sum_reduction_is_per_example_sums_averaged_over_the_batch():
    x, x_recon, mu, sigma = _batch()
    total, recon, kl = helpers.vae_loss(x, x_recon, mu, sigma, beta=0.5, reduction="sum")
    torch.testing.assert_close(recon, ((x - x_recon) ** 2).sum(1).mean())
    torch.testing.assert_close(kl, helpers.kl_divergence(mu, sigma).mean())
    torch.testing.assert_close(total, recon + 0.5 * kl)
    assert total.ndim == recon.ndim == kl.ndim == 0


def test_mean_reduction_reproduces_the_walkthrough():
    x, x_recon, mu, sigma = _batch(1)
    logvar = torch.log(sigma**2)
    total, recon, kl = helpers.vae_loss(x, x_recon, mu, sigma, beta=0.01, reduction="mean")
    # the walkthrough's loss: MSE averaged over everything, KL averaged over dimensions and batch
    walkthrough_recon = nn.functional.mse_loss(x_recon, x, reduction="mean")
    walkthrough_kl = -0.5 * torch.mean(1 + logvar - mu**2 - logvar.exp())
    torch.testing.assert_close(recon, walkthrough_recon)
    torch.testing.assert_close(kl, walkthrough_kl)
    torch.testing.assert_close(total, walkthrough_recon + 0.01 * walkthrough_kl)


def test_beta_sum_from_mean_converts_between_the_conventions():
    assert helpers.beta_sum_from_mean(0.01) == pytest.approx(0.12)
    assert helpers.beta_sum_from_mean(1.0, input_dim=24, latent_dim=4) == pytest.approx(6.0)
    x, x_recon, mu, sigma = _batch(2)
    mean_total = helpers.vae_loss(x, x_recon, mu, sigma, beta=0.01, reduction="mean")[0]
    sum_total = helpers.vae_loss(x, x_recon, mu, sigma, beta=helpers.beta_sum_from_mean(0.01), reduction="sum")[0]
    # the two objectives differ only by the constant factor input_dim: same optimum, same gradients up to scale
    torch.testing.assert_close(sum_total, 24 * mean_total)


def test_gaussian_log_likelihood_matches_torch_distributions():
    x, x_recon, _, _ = _batch(3)
    reference = Normal(x_recon, 0.3).log_prob(x).sum(-1)
    torch.testing.assert_close(helpers.gaussian_log_likelihood(x, x_recon, 0.3), reference)


def test_sum_loss_is_the_negative_elbo_up_to_scale_and_constant():
    """With beta = 2 sigma_x^2 the "sum" loss is 2 sigma_x^2 (-ELBO) plus a constant."""
    x, x_recon, mu, sigma = _batch(4)
    sigma_x = 0.2
    loss = helpers.vae_loss(x, x_recon, mu, sigma, beta=2 * sigma_x**2)[0]
    neg_elbo = -(helpers.gaussian_log_likelihood(x, x_recon, sigma_x) - helpers.kl_divergence(mu, sigma)).mean()
    constant = 24 * (math.log(sigma_x) + 0.5 * math.log(2 * math.pi))
    torch.testing.assert_close(loss, 2 * sigma_x**2 * (neg_elbo - constant))


# ----------------------------------------------------------------------------- ELBO and log p(x)


class LinearGaussianVAE(nn.Module):
    """A model whose log p(x) is known exactly: z ~ N(0, I), x | z ~ N(W z + b, sigma_x^2 I).

    W has orthogonal columns, so the true posterior is a diagonal Gaussian; ``offset``
    shifts the encoder away from it (offset = 0: q_phi(z|x) is the exact posterior).
    """

    def __init__(self, sigma_x=0.5, offset=0.0, widen=1.0):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        q, _ = torch.linalg.qr(torch.randn(6, 2, generator=g, dtype=torch.float64))
        self.W = q * torch.tensor([2.0, 0.7], dtype=torch.float64)
        self.b = torch.randn(6, generator=g, dtype=torch.float64)
        self.sigma_x, self.offset, self.widen = sigma_x, offset, widen
        self.dummy = nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def log_px(self, x):
        cov = self.W @ self.W.T + self.sigma_x**2 * torch.eye(6, dtype=torch.float64)
        return MultivariateNormal(self.b, cov).log_prob(x)

    def encode(self, x):
        precision = 1 + (self.W**2).sum(0) / self.sigma_x**2  # diagonal: orthogonal columns
        mu = ((x - self.b) @ self.W) / self.sigma_x**2 / precision
        sigma = precision**-0.5 * self.widen
        return mu + self.offset, sigma.expand_as(mu)

    def decode(self, z):
        return z @ self.W.T + self.b


def _data(model, n=64):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(n, 2, generator=g, dtype=torch.float64)
    return model.decode(z) + model.sigma_x * torch.randn(n, 6, generator=g, dtype=torch.float64)


def test_elbo_equals_log_px_when_q_is_the_true_posterior():
    model = LinearGaussianVAE()
    x = _data(model)
    elbo = helpers.elbo(model, x, sigma_x=model.sigma_x, n_samples=4000, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(elbo, model.log_px(x), atol=0.05, rtol=0)
    iw = helpers.importance_weighted_log_likelihood(
        model, x, model.sigma_x, n_samples=3, generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(iw, model.log_px(x))  # every importance weight equals p(x): exact


def test_elbo_is_a_lower_bound_and_iwae_tightens_it_with_k():
    model = LinearGaussianVAE(offset=0.8, widen=1.6)  # a poor encoder: a clear gap
    x = _data(model)
    log_px = model.log_px(x).mean()
    elbo = helpers.elbo(model, x, model.sigma_x, n_samples=500, generator=torch.Generator().manual_seed(0)).mean()
    iw = [
        helpers.importance_weighted_log_likelihood(
            model, x, model.sigma_x, n_samples=k, generator=torch.Generator().manual_seed(k)
        ).mean()
        for k in (1, 10, 100, 2000)
    ]
    assert elbo < log_px - 1.0  # the gap is real
    assert abs(iw[0] - elbo) < 0.3  # K = 1 is a one-sample ELBO
    assert iw[0] < iw[1] < iw[2] < iw[3] <= log_px + 0.02
    assert log_px - iw[3] < 0.1 * (log_px - elbo)  # most of the gap is closed


def test_iwae_is_at_least_the_elbo_for_a_polymer_vae(tiny_model, small_split):
    model = tiny_model()
    _, test = small_split
    x = torch.tensor(test)
    elbo = helpers.elbo(model, x, sigma_x=0.5, n_samples=20, generator=torch.Generator().manual_seed(0))
    iw = helpers.importance_weighted_log_likelihood(
        model, x, sigma_x=0.5, n_samples=50, generator=torch.Generator().manual_seed(0)
    )
    assert elbo.shape == iw.shape == (len(test),)
    assert iw.mean() >= elbo.mean()


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x, r, m, s: helpers.vae_loss(x, r, m, s, reduction="avg"), ValueError, "unknown reduction 'avg'"),
        (lambda x, r, m, s: helpers.vae_loss(x, r, m, s, beta=-1.0), ValueError, "beta must be a finite number >= 0"),
        (lambda x, r, m, s: helpers.vae_loss(x, r, m, s, beta=float("nan")), ValueError, "beta"),
        (lambda x, r, m, s: helpers.vae_loss(x, r[:, :12], m, s), ValueError, "same shape"),
        (lambda x, r, m, s: helpers.vae_loss(x.numpy(), r, m, s), TypeError, "x must be a torch tensor"),
        (lambda x, r, m, s: helpers.kl_divergence(m), TypeError, "exactly one of sigma= or logvar="),
        (lambda x, r, m, s: helpers.kl_divergence(m, s, logvar=s), TypeError, "exactly one"),
        (lambda x, r, m, s: helpers.kl_divergence(m, s[:, :1]), ValueError, "same shape"),
        (lambda x, r, m, s: helpers.kl_divergence(m, logvar=s.long()), TypeError, "floating-point"),
        (lambda x, r, m, s: helpers.gaussian_log_likelihood(x, r, sigma_x=0.0), ValueError, "sigma_x"),
        (lambda x, r, m, s: helpers.beta_sum_from_mean(-0.1), ValueError, "beta_mean"),
    ],
)
def test_bad_input_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call(*_batch())


def test_n_samples_must_be_positive(tiny_model):
    model, x = tiny_model(), torch.zeros(2, 24)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        helpers.elbo(model, x, 0.5, n_samples=0)
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        helpers.importance_weighted_log_likelihood(model, x, 0.5, n_samples=2.5)
