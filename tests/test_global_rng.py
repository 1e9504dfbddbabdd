"""Training and generation draw from generators of their own: torch's global random state, the
student's session's own, is the same after each call as before it."""

from __future__ import annotations

import pytest
import torch

import helpers
from helpers import generation
from helpers.sequences import train_sequence_vae


def _train_vae(split, tiny_model):
    model = tiny_model()
    return lambda: helpers.train_vae(model, split[0], split[1], epochs=2, progress=False)


def _train_sequence_vae(split, tiny_model):
    torch.manual_seed(0)
    encoder, decoder = helpers.ProteinEncoder(10, hidden_dim=8), helpers.ProteinDecoder(10, hidden_dim=8)
    residues = helpers.synthetic_family(64, length=10)[0]
    return lambda: train_sequence_vae(encoder, decoder, residues, epochs=2, progress=False)


def _train_generator(split, tiny_model):
    return lambda: generation.train_generator(split[0][:64], conditional=True, progress=False)


def _fit_prior_and_generate(split, tiny_model):
    torch.manual_seed(0)
    model = generation.PolymerGenerator(hidden_dim=8, n_hidden=1)
    return lambda: (generation.fit_prior(model, split[0]), model.generate(20, seed=1))


CALLS = {
    "train_vae": _train_vae,
    "sequences.train_sequence_vae": _train_sequence_vae,
    "train_generator": _train_generator,
    "fit_prior, generate(seed=...)": _fit_prior_and_generate,
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_global_random_state_is_unchanged(small_split, tiny_model, name):
    call = CALLS[name](small_split, tiny_model)
    torch.manual_seed(1234)
    torch.rand(3)  # a state that no torch.manual_seed(seed) call returns to
    before = torch.random.get_rng_state()
    call()
    assert torch.equal(torch.random.get_rng_state(), before), f"{name} changed torch's global random state"
