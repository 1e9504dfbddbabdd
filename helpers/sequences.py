"""A small synthetic protein family, for the sequence version of the encoder and decoder.

Real protein families (e.g. from Pfam) need a download; this one is generated
deterministically: a random ancestor, a few subfamilies that each change some positions,
and members that mutate each position with a probability set by how conserved it is.
"""

from __future__ import annotations

import numpy as np
import torch

from ._checks import check_array, check_positive_int, check_seed

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
