"""helpers: the small library behind the polymer-VAE course notebooks.

One module per concern, each readable in one sitting; each imports only modules above it
in this list (and the private ``_checks``, ``_cpu`` and ``_io``):

    measures     radius of gyration, bond lengths, internal coordinates, contacts, validity
    simulation   the bead-spring polymer model and its Langevin dynamics
    data         loading (simulated, original dmol.pub file, your own) and preprocessing
    energy       the simulator's potential energy of a conformation, relaxation in its force field
    losses       reparameterisation, KL, the beta-VAE loss, ELBO and log p(x) estimates
    mixture      a Gaussian mixture fitted to latent codes by EM: the learned prior p(z)
    layers       MLPs, Encoder q_phi(z|x), Decoder p_theta(x|z) (Cartesian), chain from bonds
    likelihood   p_theta(x|z) in internal coordinates: bond lengths and turns, bond by bond
    models       PolymerVAE (optionally conditioned on R_g), decoding latent points, validity_grid
    sequences    the sequence VAE: a synthetic protein family, its networks, loss and training
    training     train_vae and its History
    generation   valid generation: PolymerGenerator, its learned prior, a baseline, metrics
    diffusion    a denoising diffusion model of polymer shapes: PolymerDiffusion, train_diffusion, samplers, bound
    discriminator  discriminator guidance: a classifier of data against the model's draws corrects its score
    posterior    exact log p(x) and p(z|x) on a grid (2-D latent space), the best Gaussian per x
    optimization gradient-based search in latent space, with validity penalties
    checkpoints  save/load models, the registry of shipped pretrained models
    plots        figures: polymers, latent maps, loss curves, distributions
    widgets      the latent-space and beta explorers (ipywidgets, inline backend)
    selfcheck    exercise self-checks and the notebooks' checks of their own claims

``plots``, ``widgets``, ``optimization`` and ``posterior`` are imported on demand:
``from helpers import plots``.
"""

from . import diffusion, discriminator, generation
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
from .layers import Decoder, Encoder
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
from .models import PolymerVAE, decode_conformations
from .sequences import AMINO_ACIDS, ProteinDecoder, ProteinEncoder, one_hot, synthetic_family, to_strings
from .simulation import simulate_polymer
from .training import History, evaluate, reconstruction_error, train_vae

__version__ = "0.1.0"
