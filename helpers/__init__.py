"""helpers: the small library behind the polymer-VAE course notebooks.

One module per concern, each readable in one sitting:

    simulation   the bead-spring polymer model and its Langevin dynamics
    data         loading (simulated, original dmol.pub file, your own) and preprocessing
    measures     radius of gyration, bond lengths, contacts, validity against the data
    energy       the simulator's potential energy of a conformation, numpy and torch
    sequences    a synthetic protein family for the sequence models
    models       Encoder q_phi(z|x), Decoder p_theta(x|z), PolymerVAE, protein versions
    losses       reparameterisation, KL, the beta-VAE loss, ELBO and log p(x) estimates
    posterior    exact log p(x) and p(z|x) on a grid (2-D latent space), the best Gaussian per x
    training     train_vae and its History
    internal     valid generation: internal-coordinate decoder, samplers, R_g condition
    checkpoints  save/load models, the shipped pretrained models
    optimization gradient-based search in latent space, with validity penalties
    plots        figures: polymers, latent maps, loss curves, distributions
    widgets      the latent-space and beta explorers (ipywidgets, inline backend)

``plots``, ``widgets``, ``optimization`` and ``posterior`` are imported on demand:
``from helpers import plots``.
"""

from . import internal
from .checkpoints import load_beta_sweep, load_checkpoint, load_pretrained, save_checkpoint
from .data import (
    DMOL_SHA256,
    align_principal,
    center_com,
    download_dmol,
    load_paths,
    preprocess,
    train_test_split,
    unflatten,
)
from .energy import polymer_energy
from .losses import (
    beta_sum_from_mean,
    elbo,
    gaussian_log_likelihood,
    importance_weighted_log_likelihood,
    kl_divergence,
    reparameterize,
    vae_loss,
)
from .measures import (
    ValidityReference,
    as_coordinates,
    bond_lengths,
    end_to_end_distance,
    min_nonbonded_distance,
    pairwise_distances,
    radius_of_gyration,
    validity,
)
from .models import Decoder, Encoder, PolymerVAE, ProteinDecoder, ProteinEncoder, decode_conformations
from .sequences import AMINO_ACIDS, one_hot, synthetic_family, to_strings
from .simulation import simulate_polymer
from .training import History, evaluate, reconstruction_error, train_vae

__version__ = "0.1.0"
