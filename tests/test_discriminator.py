"""Discriminator guidance (notebook 9): the classifier, its training, the corrected sampler, checkpoints, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import helpers
from helpers import diffusion as D
from helpers.discriminator import ChainDiscriminator, train_discriminator


@pytest.fixture(scope="module")
def frames():
    data = helpers.preprocess(helpers.load_paths())
    train, _ = helpers.train_test_split(data, seed=42)
    return train[:512]


@pytest.fixture(scope="module")
def tiny(frames):
    """A small diffusion model and a two-round discriminator for it: every code path, quickly."""
    model, _ = D.train_diffusion(frames, epochs=2, width=32, blocks=1, steps=50, progress=False)
    disc, history = train_discriminator(model, frames, rounds=2, draws=300, epochs=2, width=16, steps=10,
                                        progress=False)  # fmt: skip
    return model, disc, history


def test_training_is_seeded_and_records_each_round(tiny, frames):
    model, disc, history = tiny
    assert history["round"] == [1, 1, 2, 2] and len(history["loss"]) == len(history["accuracy"]) == 4
    assert all(np.isfinite(history["loss"])) and all(0 <= a <= 1 for a in history["accuracy"])
    assert not disc.training and not any(p.requires_grad for p in disc.parameters())
    again, _ = train_discriminator(model, frames, rounds=2, draws=300, epochs=2, width=16, steps=10, progress=False)
    for a, b in zip(disc.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_the_logit_depends_on_step_and_chain(tiny):
    model, disc, _ = tiny
    x = torch.randn(6, model.dim, generator=torch.Generator().manual_seed(0))
    logits = disc(x, torch.full((1,), 3))
    assert logits.shape == (6,) and torch.isfinite(logits).all()
    torch.testing.assert_close(disc(x, 3), logits)  # one step as a plain int
    assert not torch.allclose(logits, disc(x, torch.full((1,), 40)))
    assert not torch.allclose(logits, disc(x.flip(0), torch.full((1,), 3)))


def test_the_log_odds_gradient_matches_finite_differences(tiny):
    """The sampler corrects eps by -sqrt(1 - abar_t) times this gradient of the logit (float64 here)."""
    model, disc, _ = tiny
    x = torch.randn(4, model.dim, generator=torch.Generator().manual_seed(1)).double()
    disc64 = ChainDiscriminator(**{k: v for k, v in disc.config.items() if k != "kind"}).double()
    disc64.load_state_dict(disc.state_dict())
    grad = D._log_odds_gradient(disc64, x, 5)
    h = 1e-6
    for i in (0, 7, 15):
        step = torch.zeros_like(x)
        step[:, i] = h
        t = torch.full((1,), 5)
        numeric = (disc64(x + step, t) - disc64(x - step, t)) / (2 * h)
        torch.testing.assert_close(grad[:, i], numeric, rtol=1e-5, atol=1e-7)


def test_guided_draws_are_seeded_and_differ_from_the_plain_ones(tiny):
    model, disc, _ = tiny
    assert disc.config["model"] == D.fingerprint(model) and disc.config["sample_steps"] == 10
    a = model.generate(16, seed=3, steps=10, discriminator=disc)
    assert a.shape == (16, 12, 2) and np.isfinite(a).all()
    assert np.array_equal(a, model.generate(16, seed=3, steps=10, discriminator=disc))
    assert not np.allclose(a, model.generate(16, seed=3, steps=10))


def test_a_discriminator_of_another_model_or_kind_is_refused(tiny, frames):
    model, disc, _ = tiny
    other, _ = D.train_diffusion(frames, epochs=1, width=32, blocks=1, steps=40, progress=False)
    with pytest.raises(ValueError, match="mistakes of another diffusion model"):
        other.generate(4, seed=0, steps=5, discriminator=disc)
    same_config = D.PolymerDiffusion(**{k: v for k, v in model.config.items() if k != "kind"})  # other weights
    with pytest.raises(ValueError, match="mistakes of another diffusion model"):
        same_config.generate(4, seed=0, steps=10, discriminator=disc)
    with pytest.raises(TypeError, match="needs a ChainDiscriminator"):
        model.generate(4, seed=0, steps=5, discriminator=helpers.PolymerVAE())
    with pytest.raises(TypeError, match=r"returns \(model, metadata\)"):
        model.generate(4, seed=0, steps=5, discriminator=(disc, {}))
    with pytest.warns(UserWarning, match="trained on draws of ddpm with 10 steps; with ddim and 5 steps"):
        model.generate(4, seed=0, steps=5, sampler="ddim", discriminator=disc)
    with pytest.raises(TypeError, match="needs a PolymerDiffusion"):
        train_discriminator(helpers.PolymerVAE(), frames)


@pytest.mark.parametrize("setting", [dict(rounds=0), dict(draws=0), dict(epochs=-1), dict(lr=0.0), dict(seed=-1)])
def test_bad_training_settings_are_refused(tiny, frames, setting):
    model, _, _ = tiny
    with pytest.raises(ValueError):
        train_discriminator(model, frames, progress=False, **setting)


def test_checkpoint_round_trip_and_kinds_kept_apart(tmp_path, tiny):
    model, disc, _ = tiny
    path = helpers.save_checkpoint(disc, tmp_path / "disc.pt", note="tiny")
    loaded, metadata = helpers.load_checkpoint(path)
    assert isinstance(loaded, ChainDiscriminator) and metadata == {"note": "tiny"}
    x = torch.randn(5, model.dim, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(loaded(x, torch.full((1,), 7)), disc(x, torch.full((1,), 7)))
    with pytest.raises(ValueError, match="holds a ChainDiscriminator, but the model given is a PolymerDiffusion"):
        helpers.load_checkpoint(path, model=model)
    model_path = helpers.save_checkpoint(model, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="holds a PolymerDiffusion, but the model given is a ChainDiscriminator"):
        helpers.load_checkpoint(model_path, model=loaded)


def test_the_shipped_discriminator_fits_the_shipped_model():
    model, _ = helpers.load_pretrained("diffusion_polymer")
    disc, metadata = helpers.load_pretrained("diffusion_discriminator")
    assert isinstance(disc, ChainDiscriminator) and metadata["recipe"]["rounds"] >= 1
    assert (disc.config["sampler"], disc.config["sample_steps"]) == (D.DEFAULT_SAMPLER, D.DEFAULT_SAMPLE_STEPS)
    D._check_discriminator(disc, model, "ddpm", 100)  # same weights, beads, schedule, standardisation and sampler
