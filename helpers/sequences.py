"""A small synthetic protein family, for the sequence version of the encoder and decoder.

Real protein families (e.g. from Pfam) need a download; this one is generated
deterministically: a random ancestor, a few subfamilies that each change some positions,
and members that mutate each position with a probability set by how conserved it is.
Also the sequence VAE's pieces: its loss, a short training loop, and reconstruction accuracy
(ProteinEncoder / ProteinDecoder live in ``models``).
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import trange

from ._checks import (
    check_array,
    check_non_negative,
    check_positive,
    check_positive_int,
    check_positive_ints,
    check_seed,
)
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


def sequence_vae_loss(encoder, decoder, onehot, residues, beta: float = 1.0, generator=None):
    """Mean over the batch of the two loss terms, (cross-entropy, KL), in nats per sequence.

    ``onehot`` (batch, length, 20) goes into the encoder; one z per sequence is drawn with the
    reparameterisation; ``residues`` (batch, length) are the targets of the decoder's logits.
    The loss to minimise is cross_entropy + beta * kl.
    """
    mu, sigma = encoder(onehot)
    z = reparameterize(mu, sigma, generator=generator)
    logits = decoder(z)                                            # (batch, length, 20)
    recon = torch.nn.functional.cross_entropy(logits.transpose(1, 2), residues, reduction="none").sum(-1)
    return recon.mean(), kl_divergence(mu, sigma).mean()


def train_sequence_vae(encoder, decoder, residues, *, epochs: int = 20, beta: float = 1.0, batch_size: int = 64,
                       lr: float = 2e-3, seed: int = 0, progress: bool = True) -> np.ndarray:
    """Train a ProteinEncoder/ProteinDecoder pair with Adam on cross-entropy + beta * KL.

    Args:
        residues: training sequences as residue indices (n, length).

    Returns the per-epoch means (epochs, 2): cross-entropy and KL, in nats per sequence.
    Both networks are left in eval mode.
    """
    check_positive_ints(epochs=epochs, batch_size=batch_size)
    check_non_negative("beta", beta)
    check_positive("lr", lr)
    check_seed("seed", seed)
    residues = _residue_tensor(residues)
    onehot = one_hot(residues)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=lr)
    encoder.train()
    decoder.train()
    history = []
    for _ in trange(epochs, desc="training the sequence VAE", leave=False, disable=not progress):
        totals = torch.zeros(2)
        for batch in torch.randperm(len(residues), generator=gen).split(batch_size):
            recon, kl = sequence_vae_loss(encoder, decoder, onehot[batch], residues[batch], generator=gen)
            optimizer.zero_grad()
            (recon + beta * kl).backward()
            optimizer.step()
            totals += torch.stack([recon.detach(), kl.detach()]) * len(batch)
        history.append((totals / len(residues)).numpy())
    encoder.eval()
    decoder.eval()
    return np.array(history)


@torch.no_grad()
def reconstruction_accuracy(encoder, decoder, residues) -> np.ndarray:
    """Per-position fraction of residues recovered by decoding mu_phi(x) and taking the most
    probable residue. residues (n, length) -> float array (length,)."""
    seq = _residue_tensor(residues)
    mu, _ = encoder(one_hot(seq))
    return (decoder(mu).argmax(-1) == seq).float().mean(0).numpy()
