"""The sequence VAE: a small synthetic protein family, its networks, loss and training loop.

Real protein families (e.g. from Pfam) need a download; this one is generated
deterministically: a random ancestor, a few subfamilies that each change some positions,
and members that mutate each position with a probability set by how conserved it is.
``ProteinEncoder`` / ``ProteinDecoder`` work on one-hot sequences (batch, length, 20);
``sequence_vae_loss``, ``train_sequence_vae`` and ``reconstruction_accuracy`` train and measure them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import trange

from ._checks import (
    check_array,
    check_non_negative,
    check_positive,
    check_positive_int,
    check_positive_ints,
    check_seed,
)
from .layers import Encoder, mlp
from .losses import kl_divergence, reparameterize

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"  # the 20 standard residues, one-letter codes


def synthetic_family(n_sequences: int = 2000, length: int = 40, n_subfamilies: int = 3, seed: int = 0):
    """Generate an aligned sequence family.

    Returns:
        sequences: int64 array (n_sequences, length), residue indices into ``AMINO_ACIDS``.
        subfamily: int64 array (n_sequences,), which subfamily each sequence comes from
            (a label for colouring latent maps; never used for training).
    """
    check_positive_int("n_sequences", n_sequences)
    check_positive_int("length", length, minimum=2)
    check_positive_int("n_subfamilies", n_subfamilies)
    check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    ancestor = rng.integers(0, 20, size=length)
    conservation = rng.uniform(0.0, 1.0, size=length) ** 2  # many variable, few conserved sites
    mutation_rate = 0.3 * (1.0 - conservation)
    centres = np.tile(ancestor, (n_subfamilies, 1))
    for k in range(n_subfamilies):  # each subfamily rewrites a quarter of the sites
        sites = rng.choice(length, size=length // 4, replace=False)
        centres[k, sites] = rng.integers(0, 20, size=sites.size)
    subfamily = rng.integers(0, n_subfamilies, size=n_sequences)
    sequences = centres[subfamily].copy()
    mutate = rng.random((n_sequences, length)) < mutation_rate
    sequences[mutate] = rng.integers(0, 20, size=int(mutate.sum()))
    return sequences.astype(np.int64), subfamily.astype(np.int64)


def _residue_indices(sequences) -> np.ndarray:
    """Validate residue indices (n, length): integers in 0..19. Returns a numpy int64 array."""
    sequences = check_array("sequences", sequences, ndim=2)
    seq = sequences.detach().cpu().numpy() if isinstance(sequences, torch.Tensor) else np.asarray(sequences)
    if not np.issubdtype(seq.dtype, np.integer):
        raise TypeError(f"sequences must hold integer residue indices 0..{len(AMINO_ACIDS) - 1}, got dtype {seq.dtype}")
    if seq.size and (seq.min() < 0 or seq.max() >= len(AMINO_ACIDS)):
        raise ValueError(
            f"sequences must hold residue indices 0..{len(AMINO_ACIDS) - 1}, got values {seq.min()} to {seq.max()}"
        )
    return seq.astype(np.int64)


def one_hot(sequences) -> torch.Tensor:
    """Residue indices (n, length) -> float32 one-hot tensor (n, length, 20)."""
    seq = torch.as_tensor(_residue_indices(sequences))
    return torch.nn.functional.one_hot(seq, len(AMINO_ACIDS)).float()


def to_strings(sequences) -> list[str]:
    """Residue indices (n, length) -> one-letter strings."""
    return ["".join(AMINO_ACIDS[i] for i in row) for row in _residue_indices(sequences)]


def _residue_tensor(residues) -> torch.Tensor:
    return torch.as_tensor(_residue_indices(residues))


def consensus(residues, labels=None, n_groups: int | None = None) -> torch.Tensor:
    """The most common residue at each position.

    Args:
        residues: residue indices (n, length).
        labels: optional group of each sequence (n,), integers 0..n_groups-1: then one
            consensus per group.

    Returns int64 (length,) without labels, (n_groups, length) with them. Ties go to the
    lowest residue index.
    """
    seq = _residue_tensor(residues)
    if labels is None:
        return torch.mode(seq, dim=0).values
    labels = np.asarray(labels)
    if labels.shape != (len(seq),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers of shape ({len(seq)},), got {labels.dtype} {labels.shape}")
    n_groups = int(labels.max()) + 1 if n_groups is None else n_groups
    missing = [k for k in range(n_groups) if not np.any(labels == k)]
    if missing:
        raise ValueError(f"no sequence carries label(s) {missing}: cannot form their consensus")
    return torch.stack([torch.mode(seq[torch.as_tensor(labels == k)], dim=0).values for k in range(n_groups)])


class ProteinEncoder(nn.Module):
    """q_phi(z|x) for aligned sequences: one-hot (batch, length, 20) -> mu, sigma (batch, latent_dim).

    ``sigma`` picks the parameterisation inside the network (see ``Encoder``); either way the
    encoder returns the standard deviation sigma itself, not log sigma^2.
    """

    def __init__(self, length: int, latent_dim=2, hidden_dim=128, n_tokens=20, sigma="logvar"):
        super().__init__()
        check_positive_ints(length=length, latent_dim=latent_dim, hidden_dim=hidden_dim, n_tokens=n_tokens)
        self.length, self.n_tokens = length, n_tokens
        self.encoder = Encoder(length * n_tokens, (hidden_dim, hidden_dim), latent_dim, sigma)

    def forward(self, x_onehot: torch.Tensor):
        if not isinstance(x_onehot, torch.Tensor):
            raise TypeError(f"expected a torch tensor of one-hot sequences, got {type(x_onehot).__name__}")
        if x_onehot.ndim != 3 or x_onehot.shape[1:] != (self.length, self.n_tokens):
            raise ValueError(
                f"expected one-hot sequences of shape (batch, {self.length}, {self.n_tokens}), got {tuple(x_onehot.shape)}"
            )
        return self.encoder(x_onehot.flatten(1))


class ProteinDecoder(nn.Module):
    """p_theta(x|z) for sequences: z (batch, latent_dim) -> logits (batch, length, 20).

    softmax over the last axis gives, at each position, a distribution over the 20 residues;
    the reconstruction loss is the cross-entropy against the true residues.
    """

    def __init__(self, length: int, latent_dim=2, hidden_dim=128, n_tokens=20):
        super().__init__()
        check_positive_ints(length=length, latent_dim=latent_dim, hidden_dim=hidden_dim, n_tokens=n_tokens)
        self.length, self.n_tokens = length, n_tokens
        self.net = mlp([latent_dim, hidden_dim, hidden_dim, length * n_tokens])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, self.length, self.n_tokens)


def sequence_vae_loss(encoder, decoder, onehot, residues, beta: float = 1.0, generator=None):
    """Mean over the batch of the two loss terms, (cross-entropy, KL), in nats per sequence.

    ``onehot`` (batch, length, 20) goes into the encoder; one z per sequence is drawn with the
    reparameterisation; ``residues`` (batch, length) are the targets of the decoder's logits.
    The loss to minimise is cross_entropy + beta * kl.
    """
    mu, sigma = encoder(onehot)
    z = reparameterize(mu, sigma, generator=generator)
    logits = decoder(z)  # (batch, length, 20)
    recon = torch.nn.functional.cross_entropy(logits.transpose(1, 2), residues, reduction="none").sum(-1)
    return recon.mean(), kl_divergence(mu, sigma).mean()


def train_sequence_vae(
    encoder,
    decoder,
    residues,
    *,
    epochs: int = 20,
    beta: float = 1.0,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
) -> np.ndarray:
    """Train a ProteinEncoder/ProteinDecoder pair with Adam on cross-entropy + beta * KL.

    Args:
        residues: training sequences as residue indices (n, length).

    Returns the per-epoch means (epochs, 2): cross-entropy and KL, in nats per sequence.
    Trains on the encoder's device with its own random generator (seeded by ``seed``). Both
    networks are left in eval mode.
    """
    check_positive_ints(epochs=epochs, batch_size=batch_size)
    check_non_negative("beta", beta)
    check_positive("lr", lr)
    check_seed("seed", seed)
    device = next(encoder.parameters()).device
    residues = _residue_tensor(residues)
    onehot, residues = one_hot(residues).to(device), residues.to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=lr)
    encoder.train()
    decoder.train()
    history = []
    for _ in trange(epochs, desc="training the sequence VAE", leave=False, disable=not progress):
        totals = torch.zeros(2, device=device)
        for batch in torch.randperm(len(residues), generator=gen, device=device).split(batch_size):
            recon, kl = sequence_vae_loss(encoder, decoder, onehot[batch], residues[batch], generator=gen)
            optimizer.zero_grad()
            (recon + beta * kl).backward()
            optimizer.step()
            totals += torch.stack([recon.detach(), kl.detach()]) * len(batch)
        history.append((totals / len(residues)).cpu().numpy())
    encoder.eval()
    decoder.eval()
    return np.array(history)


@torch.no_grad()
def reconstruction_accuracy(encoder, decoder, residues) -> np.ndarray:
    """Per-position fraction of residues recovered by decoding mu_phi(x) and taking the most
    probable residue. residues (n, length) -> float array (length,)."""
    device = next(encoder.parameters()).device
    seq = _residue_tensor(residues)
    mu, _ = encoder(one_hot(seq).to(device))
    seq = seq.to(device)
    return (decoder(mu).argmax(-1) == seq).float().mean(0).cpu().numpy()
