"""Brute-force log p(x), the posterior on a grid, and the best Gaussian for one conformation.

A linear decoder f(z) = A z + b makes everything exact: p(x) = N(b, A A^T + sigma_x^2 I) and the
posterior is Gaussian with covariance (I + A^T A / sigma_x^2)^-1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal

import helpers
from helpers import posterior

SIGMA_X = 0.3


class LinearDecoder(nn.Module):
    """A 'VAE' whose decoder is f(z) = A z + b (D = 4), with orthogonal columns of A."""

    latent_dim = 2

    def __init__(self):
        super().__init__()
        self.A = nn.Parameter(torch.tensor([[1.5, 0.0], [0.0, 0.8], [0.0, 0.0], [0.0, 0.0]]))
        self.b = nn.Parameter(torch.tensor([0.5, -0.2, 0.1, 0.0]))

    def decode(self, z):
        return z @ self.A.T + self.b


@pytest.fixture(scope="module")
def linear():
    model = LinearDecoder()
    g = torch.Generator().manual_seed(0)
    x = model.decode(torch.randn(5, 2, generator=g)).detach() + SIGMA_X * torch.randn(5, 4, generator=g)
    with torch.no_grad():
        cov_x = model.A @ model.A.T + SIGMA_X**2 * torch.eye(4)
        exact = MultivariateNormal(model.b, cov_x).log_prob(x)
        cov_z = torch.linalg.inv(torch.eye(2) + model.A.T @ model.A / SIGMA_X**2)
        mean_z = (x - model.b) @ model.A @ cov_z.T / SIGMA_X**2
    return model, x, exact, mean_z, cov_z


def test_quadrature_matches_the_exact_marginal_likelihood(linear):
    model, x, exact, _, _ = linear
    grid = posterior.quadrature(model, x, SIGMA_X, subdivide=4)
    torch.testing.assert_close(grid.log_px, exact, atol=1e-3, rtol=0)
    assert grid.mass_left_out.max() < 1e-4


def test_posterior_is_normalised_with_the_exact_moments(linear):
    model, x, _, mean_z, cov_z = linear
    grid = posterior.quadrature(model, x, SIGMA_X, subdivide=4)
    for i in range(len(x)):
        # normalised in float64, stored in float32: each weight is rounded by at most eps32 / 2
        # of itself, so their exact sum is within eps32 / 2 of one, whatever the number of points
        assert abs(float(grid.weights(i).double().sum()) - 1) <= torch.finfo(torch.float32).eps / 2
    torch.testing.assert_close(grid.mean(), mean_z, atol=2e-3, rtol=0)
    torch.testing.assert_close(grid.sd(), cov_z.diagonal().sqrt().expand(len(x), 2), atol=2e-3, rtol=0)
    # log p(z|x) integrates to one over the fine points
    z = grid.points[0]
    total = torch.logsumexp(grid.log_posterior(0, z, model, x, SIGMA_X), 0) + 2 * math.log(grid.spacing)
    assert abs(float(total)) < 1e-4


def test_image_is_relative_to_the_peak(linear):
    model, x, _, _, _ = linear
    grid = posterior.quadrature(model, x[:1], SIGMA_X, subdivide=2)
    image, extent = grid.image(0)
    assert np.nanmax(image) == 0 and np.nanmin(image) >= -5
    assert extent[0] < float(grid.mean()[0, 0]) < extent[1] and extent[2] < float(grid.mean()[0, 1]) < extent[3]


def test_best_gaussian_closes_the_gap_when_the_posterior_is_gaussian(linear):
    model, x, exact, mean_z, cov_z = linear
    start_mu, start_sd = torch.zeros(len(x), 2), torch.ones(len(x), 2)
    mu, sd, trace = posterior.fit_gaussian(
        model, x, SIGMA_X, start_mu, start_sd, steps=300, lr=0.05, n_samples=2000
    )  # fixed draws: mu is off by ~ sd / sqrt(n)
    assert trace["elbo"].shape == (301, len(x)) and trace["mu"].shape == (301, len(x), 2)
    eps = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        elbo = posterior.gaussian_elbo(model, x, mu, sd, SIGMA_X, eps)
        elbo_start = posterior.gaussian_elbo(model, x, start_mu, start_sd, SIGMA_X, eps)
    assert torch.all(elbo_start < exact - 0.5)  # the prior as q is far from the posterior
    torch.testing.assert_close(elbo, exact, atol=0.05, rtol=0)
    torch.testing.assert_close(mu, mean_z, atol=0.03, rtol=0)
    assert all(p.requires_grad for p in model.parameters())  # the decoder is left as it was


def test_quadrature_agrees_with_importance_sampling_on_the_pretrained_model():
    model, meta = helpers.load_pretrained()
    sigma_x = math.sqrt(meta["beta"] / 2)
    _, test = helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)
    x = torch.as_tensor(test[:4])
    grid = posterior.quadrature(model, x, sigma_x, subdivide=4)
    iwae = helpers.importance_weighted_log_likelihood(
        model, x, sigma_x, n_samples=5000, generator=torch.Generator().manual_seed(0)
    )
    elbo = helpers.elbo(model, x, sigma_x, n_samples=500, generator=torch.Generator().manual_seed(0))
    assert torch.all(elbo < grid.log_px)
    assert torch.all(iwae < grid.log_px + 0.05)
    assert float((grid.log_px - iwae).median()) < 0.1


def test_bad_input_is_rejected(linear):
    model, x, _, _, _ = linear
    with pytest.raises(ValueError, match="sigma_x"):
        posterior.quadrature(model, x, 0.0)
    with pytest.raises(ValueError, match="2-D latent"):
        posterior.quadrature(helpers.PolymerVAE(latent_dim=3), torch.zeros(1, 24), SIGMA_X)
    with pytest.raises(ValueError, match="sigma0"):
        posterior.fit_gaussian(model, x, SIGMA_X, torch.zeros(len(x), 2), torch.zeros(len(x), 2))


def test_posterior_panel_draws_the_posterior_and_the_gaussians(linear):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers import plots

    model, x, _, mean_z, cov_z = linear
    grid = posterior.quadrature(model, x[:1], SIGMA_X, subdivide=2)
    fig, ax = plt.subplots()
    far = torch.tensor([2.0, -2.0])
    image = plots.posterior_panel(
        ax, grid, 0, [(mean_z[0], cov_z.diagonal().sqrt(), "C1", "q"), (far, torch.tensor([0.1, 0.1]), "C2", "far")]
    )
    assert image.get_array().shape == grid.image(0)[0].shape
    assert len(ax.patches) == 4 and ax.get_xlabel() == "$z_1$" and ax.get_ylabel() == "$z_2$"
    lo, hi = ax.get_xlim()
    assert lo < float(mean_z[0, 0]) < hi and lo < 2.0 < hi  # zoomed to hold the posterior and both Gaussians
    plt.close(fig)
