"""The shipped conditional model (``conditional_polymer``) at every public entry point that decodes.

A conditional model decodes (z, c), c = the standardised R_g. Each entry point either works
correctly with it (those given data x take c from x, as training does) or refuses it with an
error that says what it expected, never with the decoder's low-level complaint about c.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import helpers  # noqa: E402
from helpers import posterior  # noqa: E402
from helpers.models import validity_grid  # noqa: E402
from helpers.optimization import optimize_latent  # noqa: E402
from helpers.widgets import LatentExplorer  # noqa: E402

SIGMA_X = 0.3  # bead diameters
K = 5  # samples per frame


@pytest.fixture(scope="module")
def conditional():
    model, _ = helpers.load_pretrained("conditional_polymer")
    assert model.config["condition"] is not None
    return model


@pytest.fixture(scope="module")
def frames(default_split):
    return torch.as_tensor(default_split[1][:8])


def _refused(name, call):
    def check(model, x):
        expected = rf"^{name} expects a model without an R_g condition.* model\.generate\(n, rg=\.\.\.\)"
        with pytest.raises(ValueError, match=expected):
            call(model, x)

    return check


def _by_hand(model, x):
    """K samples z ~ q(z|x) per frame (one generator, as the helpers draw them), decoded with x's own c."""
    mu, sigma = model.encode(x)
    z = helpers.reparameterize(mu.expand(K, *mu.shape), sigma.expand(K, *sigma.shape), torch.Generator().manual_seed(0))
    decoded = torch.stack([model.decode(z_k, model.condition_of(x)) for z_k in z])  # (K, frames, 24)
    return mu, sigma, z, helpers.gaussian_log_likelihood(x.expand_as(decoded), decoded, SIGMA_X)


# the helpers decode all K samples in one batch, _by_hand one sample at a time: float32 sums in
# another order differ by ~1e-6 relative (log-likelihoods of tens of nats), hence the tolerances below


@torch.no_grad()
def _elbo_decodes_with_each_frames_condition(model, x):
    mu, sigma, _, log_lik = _by_hand(model, x)
    got = helpers.elbo(model, x, SIGMA_X, n_samples=K, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(got, log_lik.mean(0) - helpers.kl_divergence(mu, sigma), rtol=1e-5, atol=1e-4)


@torch.no_grad()
def _iwae_decodes_with_each_frames_condition(model, x):
    mu, sigma, z, log_lik = _by_hand(model, x)
    normal = torch.distributions.Normal
    log_w = log_lik + normal(0.0, 1.0).log_prob(z).sum(-1) - normal(mu, sigma).log_prob(z).sum(-1)
    got = helpers.importance_weighted_log_likelihood(
        model, x, SIGMA_X, n_samples=K, generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(got, torch.logsumexp(log_w, 0) - math.log(K), rtol=1e-5, atol=1e-4)


TABLE = {
    "decode_conformations": _refused(
        "decode_conformations", lambda m, x: helpers.decode_conformations(m, np.zeros((3, 2)))
    ),
    "optimize_latent": _refused(
        "optimize_latent", lambda m, x: optimize_latent(m, helpers.radius_of_gyration, np.zeros(2))
    ),
    "elbo": _elbo_decodes_with_each_frames_condition,
    "importance_weighted_log_likelihood": _iwae_decodes_with_each_frames_condition,
    "posterior.quadrature": _refused("quadrature", lambda m, x: posterior.quadrature(m, x, SIGMA_X)),
    "LatentExplorer": _refused("LatentExplorer", lambda m, x: LatentExplorer(m, x)),
    "validity_grid": _refused("validity_grid", lambda m, x: validity_grid(m, x, n=3)),
}


@pytest.mark.parametrize("entry_point", sorted(TABLE))
def test_the_conditional_model_works_or_is_refused_clearly(conditional, frames, entry_point):
    TABLE[entry_point](conditional, frames)


def test_the_refusal_names_the_range_of_targets(conditional):
    cond = conditional.config["condition"]
    with pytest.raises(ValueError, match=rf"R_g in \[{cond['min']:.3g}, {cond['max']:.3g}\] bead diameters"):
        helpers.decode_conformations(conditional, np.zeros((1, 2)))
