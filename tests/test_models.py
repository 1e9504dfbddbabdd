"""Encoder q_phi(z|x), decoder p_theta(x|z), the PolymerVAE and the protein versions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import helpers


def n_parameters(module):
    return sum(p.numel() for p in module.parameters())


def test_default_model_has_the_documented_size_and_layout():
    model = helpers.PolymerVAE()
    assert n_parameters(model) == 277_532  # not "~250K"
    assert model.config == dict(
        input_dim=24, hidden_dim=256, latent_dim=2, sigma="softplus", n_hidden=3, decoder="cartesian", condition=None
    )
    linears = [m for m in model.encoder.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(24, 256), (256, 256), (256, 256), (256, 2), (256, 2)]
    linears = [m for m in model.decoder.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2, 256), (256, 256), (256, 256), (256, 24)]
    assert sum(isinstance(m, nn.ReLU) for m in model.decoder.modules()) == 3  # none after the output


@pytest.mark.parametrize("sigma", ["softplus", "logvar"])
def test_shapes_and_positive_sigma(tiny_model, sigma):
    model = tiny_model(sigma=sigma, latent_dim=3)
    x = torch.randn(17, 24) * 5
    mu, s = model.encode(x)
    assert mu.shape == s.shape == (17, 3) and (s > 0).all()
    assert model.decode(mu).shape == (17, 24)
    x_recon, mu2, s2 = model(x)
    assert x_recon.shape == (17, 24)
    torch.testing.assert_close(mu2, mu)
    torch.testing.assert_close(s2, s)
    assert model.encode(x[0])[0].shape == (3,)  # a single unbatched example works too


@pytest.mark.parametrize(
    "sigma, transform", [("softplus", nn.functional.softplus), ("logvar", lambda h: torch.exp(h / 2))]
)
def test_sigma_parameterisations(tiny_model, sigma, transform):
    model = tiny_model(sigma=sigma)
    x = torch.randn(5, 24)
    hidden = model.encoder.body(x)
    _, s = model.encode(x)
    torch.testing.assert_close(s, transform(model.encoder.to_sigma(hidden)))


def test_forward_samples_z_with_the_reparameterisation(tiny_model):
    model = tiny_model()
    x = torch.randn(8, 24)
    a = model(x, generator=torch.Generator().manual_seed(1))[0]
    b = model(x, generator=torch.Generator().manual_seed(1))[0]
    c = model(x, generator=torch.Generator().manual_seed(2))[0]
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    mu, sigma = model.encode(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, model.decode(mu + sigma * eps))


def test_sample_decodes_prior_draws_reproducibly(tiny_model):
    model = tiny_model()
    a, b, c = model.sample(6, seed=3), model.sample(6, seed=3), model.sample(6, seed=4)
    assert a.shape == (6, 24) and not a.requires_grad
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    z = torch.randn(6, 2, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, model.decode(z).detach())


def test_encoder_and_decoder_are_configurable():
    enc = helpers.Encoder(input_dim=10, hidden_dims=(16, 8), latent_dim=4, sigma="logvar")
    mu, sigma = enc(torch.randn(3, 10))
    assert mu.shape == sigma.shape == (3, 4)
    dec = helpers.Decoder(latent_dim=4, hidden_dims=(8,), output_dim=10)
    assert dec(mu).shape == (3, 10)
    assert n_parameters(helpers.PolymerVAE(hidden_dim=128, n_hidden=2)) == 40_220  # the beta-sweep size


def test_protein_models_round_trip_one_hot_sequences():
    sequences, _ = helpers.synthetic_family(16, length=30, seed=0)
    x = helpers.one_hot(sequences)
    torch.manual_seed(0)
    enc, dec = helpers.ProteinEncoder(length=30, latent_dim=2), helpers.ProteinDecoder(length=30, latent_dim=2)
    mu, sigma = enc(x)
    assert mu.shape == sigma.shape == (16, 2) and (sigma > 0).all()
    logits = dec(mu)
    assert logits.shape == (16, 30, 20)
    probs = logits.softmax(-1)
    torch.testing.assert_close(probs.sum(-1), torch.ones(16, 30))
    loss = nn.functional.cross_entropy(logits.transpose(1, 2), torch.as_tensor(sequences))
    loss.backward()
    assert all(p.grad is not None for p in dec.parameters())
    with pytest.raises(ValueError, match=r"\(batch, 30, 20\)"):
        enc(x[:, :20])
    with pytest.raises(TypeError, match="torch tensor"):
        enc(sequences)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(sigma="exp"), ValueError, "unknown sigma 'exp'; expected one of \\['logvar', 'softplus'\\]"),
        (dict(hidden_dim=0), ValueError, "hidden_dim must be >= 1"),
        (dict(latent_dim=2.5), TypeError, "latent_dim must be an integer"),
        (dict(n_hidden=0), ValueError, "n_hidden must be >= 1"),
        (dict(input_dim=-24), ValueError, "input_dim must be >= 1"),
        (dict(decoder="polar"), ValueError, "unknown decoder"),
        (dict(condition=dict(mean=1.0, std=0.0, min=0.5, max=2.0)), ValueError, "std > 0"),
        (dict(condition=dict(mean=1.0, std=1.0)), ValueError, "keys"),
        (dict(condition=[1.0, 2.0]), ValueError, "dict"),
        (dict(condition=dict(mean=float("nan"), std=1.0, min=0.5, max=2.0)), ValueError, "finite"),
    ],
)
def test_bad_configs_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        helpers.PolymerVAE(**kwargs)
    if "sigma" in kwargs:
        with pytest.raises(error, match=message):
            helpers.Encoder(**kwargs)


def test_bad_tensors_get_a_clear_message(tiny_model):
    model = tiny_model()
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 24\), got \(5, 12, 2\)"):
        model.encode(torch.zeros(5, 12, 2))
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 2\)"):
        model.decode(torch.zeros(5, 3))
    with pytest.raises(TypeError, match="torch tensor"):
        model.encode(torch.zeros(5, 24).numpy())
    with pytest.raises(TypeError, match="float tensor"):
        model.encode(torch.zeros(5, 24, dtype=torch.long))
    with pytest.raises(TypeError, match=r"float64.*x\.float\(\)"):
        model(torch.zeros(5, 24, dtype=torch.float64))
    with pytest.raises(ValueError, match="n must be >= 1"):
        model.sample(0)
    with pytest.raises(ValueError, match="length must be >= 1"):
        helpers.ProteinDecoder(length=0)


def test_decode_conformations_gives_numpy_polymers(tiny_model):
    model = tiny_model()
    z = np.array([[0.0, 0.5], [1.0, -1.0]])  # float64 numpy is accepted
    polymers = helpers.decode_conformations(model, z)
    assert isinstance(polymers, np.ndarray) and polymers.shape == (2, 12, 2)
    expected = model.decode(torch.tensor(z, dtype=torch.float32)).detach().numpy()
    np.testing.assert_array_equal(polymers.reshape(2, 24), expected)
    assert helpers.decode_conformations(model, torch.zeros(2, requires_grad=True)).shape == (1, 12, 2)
