"""The sequence-VAE helpers behind notebook 02: consensus, loss, training, reconstruction accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import helpers
from helpers.sequences import consensus, reconstruction_accuracy, sequence_vae_loss, train_sequence_vae


def test_consensus_overall_and_per_group():
    seqs = np.array([[0, 1, 2], [0, 1, 3], [4, 1, 3], [4, 5, 3]])
    labels = np.array([0, 0, 1, 1])
    assert consensus(seqs).tolist() == [0, 1, 3]  # ties (0 vs 4) go to the lower index
    per_group = consensus(seqs, labels, 2)
    assert per_group.shape == (2, 3) and per_group.dtype == torch.int64
    assert per_group[0].tolist() == [0, 1, 2] and per_group[1].tolist() == [4, 1, 3]


def test_consensus_rejects_bad_labels():
    seqs = np.zeros((4, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="labels must be integers"):
        consensus(seqs, np.array([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="labels must be integers"):
        consensus(seqs, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"no sequence carries label\(s\) \[2\]"):
        consensus(seqs, np.array([0, 1, 0, 1]), 3)
    with pytest.raises(ValueError, match="residue indices"):
        consensus(np.full((2, 3), 20))


def test_sequence_vae_loss_terms():
    torch.manual_seed(0)
    seqs, _ = helpers.synthetic_family(8, length=10, seed=0)
    residues = torch.as_tensor(seqs)
    encoder = helpers.ProteinEncoder(10, latent_dim=2, hidden_dim=16)
    decoder = helpers.ProteinDecoder(10, latent_dim=2, hidden_dim=16)
    recon, kl = sequence_vae_loss(
        encoder, decoder, helpers.one_hot(residues), residues, generator=torch.Generator().manual_seed(0)
    )
    assert recon.shape == kl.shape == ()
    assert abs(recon.item() / 10 - math.log(20)) < 0.3  # untrained: about uniform over 20 residues
    assert kl.item() >= 0
    recon.backward()  # gradients reach the encoder through the reparameterised sample
    assert encoder.encoder.to_mu.weight.grad is not None and encoder.encoder.to_mu.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_training_learns_the_subfamilies_and_is_reproducible():
    seqs, labels = helpers.synthetic_family(800, length=20, n_subfamilies=3, seed=1)

    def run():
        torch.manual_seed(0)
        enc = helpers.ProteinEncoder(20, latent_dim=2, hidden_dim=64)
        dec = helpers.ProteinDecoder(20, latent_dim=2, hidden_dim=64)
        history = train_sequence_vae(enc, dec, seqs, epochs=20, seed=0, progress=False)
        return enc, dec, history

    enc, dec, history = run()
    assert history.shape == (20, 2) and np.all(np.isfinite(history))
    assert history[-1, 0] < 0.8 * history[0, 0]  # the cross-entropy falls
    assert not enc.training and not dec.training
    accuracy = reconstruction_accuracy(enc, dec, seqs)
    assert accuracy.shape == (20,) and np.all((0 <= accuracy) & (accuracy <= 1))
    overall = (torch.as_tensor(seqs) == consensus(seqs)).float().mean().item()
    assert accuracy.mean() > overall + 0.05  # the code carries the subfamily
    np.testing.assert_allclose(run()[2], history)  # same seed, same run


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(epochs=0), "epochs"), (dict(beta=-1.0), "beta"), (dict(lr=0.0), "lr"), (dict(seed=-1), "seed")],
)
def test_training_rejects_bad_settings(kwargs, message):
    seqs, _ = helpers.synthetic_family(10, length=5, seed=0)
    enc = helpers.ProteinEncoder(5, hidden_dim=8)
    dec = helpers.ProteinDecoder(5, hidden_dim=8)
    with pytest.raises((ValueError, TypeError), match=message):
        train_sequence_vae(enc, dec, seqs, progress=False, **kwargs)
