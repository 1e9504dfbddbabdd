# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6 · Case study: a VAE for a bead-spring polymer
#
# Everything so far meets one system: a chain of 12 beads in the plane, 24 numbers per
# conformation, squeezed through a 2-D latent space. We judge the model like physicists: do
# its polymers have the right bonds, avoid overlaps, and follow the data's distributions?
# Along the way we correct several slips of the course's code walkthrough.
#
# **Learning objectives**
# - Remove translation and rotation, and see what principal-axis alignment *cannot* remove.
# - Read the shipped model's loss curves and say how its training recipe differs from the walkthrough's.
# - Judge reconstructions and samples physically: error against variance, distributions,
#   Wasserstein distances, the fraction of valid polymers.
# - Read the latent map, interpolate, and explore the latent space with sliders.
#
# Run it: [Open in Colab](https://colab.research.google.com/github/protein-ai-course/polymer-vae-bundle/blob/main/notebooks/06_polymer_case_study.ipynb) · [Binder](https://mybinder.org/v2/gh/protein-ai-course/polymer-vae-bundle/main?urlpath=lab/tree/notebooks/06_polymer_case_study.ipynb) · locally: see README

# %%
# On Colab, install the course package first (elsewhere it is already installed).
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/protein-ai-course/polymer-vae-bundle"], check=True)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patheffects import withStroke

import helpers
from helpers import plots
from helpers.exercises import polymer_case_study as exercises
from helpers.selfcheck import claim
from helpers.widgets import LatentExplorer

torch.manual_seed(0)
rng = np.random.default_rng(0)
U = plots.LENGTH_UNIT  # "bead diam.": the length unit in labels and printed numbers

# %% [markdown]
# ## 1. The data: 10,000 simulated conformations
#
# The bundle simulates its own bead-spring polymer (harmonic bonds, bending stiffness,
# Lennard-Jones attraction between non-bonded beads), so everything runs offline; lengths are
# in bead diameters. The lecture's "~10,000 conformations" are not these frames: its source,
# the dmol.pub file, holds 2048 frames, in that file's own length unit (section 11).
# The walkthrough shows frames 0, 1000, ..., 4000, which fails on that file; `np.linspace`
# over `len(paths)` works for any size. In the drawings, an open circle marks bead 1.

# %%
USE_DMOL = False  # True: the original 2048-frame file of dmol.pub (downloaded once: needs the network)
paths = helpers.load_paths("dmol") if USE_DMOL else helpers.load_paths()
print(f"{paths.shape[0]} frames x {paths.shape[1]} beads x {paths.shape[2]} coordinates")

shown = np.linspace(0, len(paths) - 1, 5).astype(int)
rg_raw = helpers.radius_of_gyration(paths)
centered = helpers.center_com(paths)
plots.polymer_grid(centered[shown], [f"frame {k}: $R_g$ {rg_raw[k]:.2f} {U}" for k in shown], size=2.6)
plt.show()

# %% [markdown]
# ## 2. Preprocessing: translation and rotation out
#
# Moving or turning a frame keeps its shape; the model should not have to learn those
# motions. Per frame:
#
# 1. **Center**: $\mathbf r_i \leftarrow \mathbf r_i - \frac1N\sum_j \mathbf r_j$.
# 2. **Align**: the gyration tensor $S = \sum_i \mathbf r_i \mathbf r_i^\top$ (2×2) has its
#    largest eigenvector along the chain's long axis, at the angle
#    $\theta = \tfrac12\,\mathrm{atan2}(2S_{xy},\, S_{xx}-S_{yy})$; rotating by $-\theta$ lays
#    that axis along x, so that $S_{xy} = 0$ and $S_{xx} \ge S_{yy}$.
#
# `helpers.preprocess` does both and flattens each frame to 24 numbers.

# %%
aligned = helpers.align_principal(centered)
x, y = aligned[..., 0], aligned[..., 1]
s_xx, s_yy, s_xy = (x * x).sum(1), (y * y).sum(1), (x * y).sum(1)
print(f"after alignment: max |S_xy| = {np.abs(s_xy).max():.1e}, S_xx >= S_yy in {np.mean(s_xx >= s_yy):.0%} of frames")

fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), constrained_layout=True)
half = np.linalg.norm(centered[shown], axis=-1).max() + 0.5  # one scale for both overlays (turns keep it)
for ax, frames, title in zip(axes, (paths, centered, aligned), ("raw", "centered", "centered + aligned")):
    for k, color in zip(shown, ("C0", "C1", "C2", "C4", "C6")):  # no red: red marks invalid polymers
        plots.draw_polymer(ax, frames[k], color=color, show_ends=False, beads=title == "raw", label=f"frame {k}")
    ax.set(title=title if title == "raw" else f"{title} (lines through the bead centres)", xlabel=f"x ({U})",
           ylabel=f"y ({U})", **({} if title == "raw" else dict(xlim=(-half, half), ylim=(-half, half))))
axes[0].legend(fontsize=8, ncol=2)
plt.show()

# %% tags=["check"]
claim(np.abs(s_xy).max() < 1e-8 and np.all(s_xx >= s_yy - 1e-9), "alignment makes S diagonal with S_xx >= S_yy",
      f"max |S_xy| {np.abs(s_xy).max():.1e}")
claim(np.allclose(helpers.radius_of_gyration(aligned), rg_raw), "moving and turning leaves R_g unchanged",
      "R_g changed");

# %% [markdown]
# ## 3. What alignment cannot fix
#
# **The 180° turn** sends every $\mathbf r_i$ to $-\mathbf r_i$, and $S$ does not notice: a
# recipe that uses only $S$ (the walkthrough's) hands the model two 24-vectors for one shape.
# `align_principal` breaks the tie with the bead order: the bead index must grow with x,
# $\sum_i (i-\bar\imath)\,x_i \ge 0$, else it turns the frame by 180°.
#
# **The bead order.** All beads are alike, so reading the chain from bead 12 gives the *same*
# molecule: an exact symmetry of a homopolymer. Yet the reversed chain is another 24-vector,
# and since the 180° rule reads the bead order, it also comes out turned. We keep the
# simulation's labels: the data holds each shape in both orders, and the model learns both.
#
# **The mirror image** ($y \to -y$) cannot be reached by a rotation in the plane and has the
# same energy; we keep both, and `resolve_mirror=True` would fold them. In 3-D, mirror images
# of a chiral molecule are *different* molecules (L- and D-amino acids): folding them would be wrong.

# %%
def rotation(angle):
    """2x2 matrix turning vectors anticlockwise by ``angle`` (radians)."""
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def align_by_tensor_only(frame):
    """Rotate the long axis onto x using S alone: blind to the direction of the axis."""
    r = frame - frame.mean(axis=0)
    s = r.T @ r
    theta = 0.5 * np.arctan2(2 * s[0, 1], s[0, 0] - s[1, 1])
    return r @ rotation(-theta).T


def gap(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


frame = paths[shown[1]]
versions = {"frame": frame, "turned 180°": frame @ rotation(np.pi).T, "mirror image": frame * [1.0, -1.0],
            "bead order reversed": frame[::-1]}
recipes = {
    "S only": align_by_tensor_only,
    "align_principal": lambda f: helpers.align_principal(f[None])[0],
    "resolve_mirror": lambda f: helpers.align_principal(f[None], resolve_mirror=True)[0],
}
results = {(r, v): recipe(f) for r, recipe in recipes.items() for v, f in versions.items()}
inputs = [f - f.mean(0) for f in versions.values()]  # centered, for display only
outputs = [results[r, v] for r in recipes for v in versions]
plots.polymer_grid(np.stack(inputs + outputs), list(versions) + [""] * 12, ncols=4, size=2.2,
                   row_labels=["input", *recipes]).suptitle("One shape, four inputs, three recipes")
plt.show()
for recipe in recipes:
    print(f"{recipe:16s} largest gap to the frame's result (bead diam.):",
          ", ".join(f"{v} {gap(results[recipe, 'frame'], results[recipe, v]):.2f}" for v in list(versions)[1:]))

# %% tags=["check"]
claim(gap(results["S only", "frame"], results["S only", "turned 180°"]) > 1.0, "S alone misses the 180° turn",
      "the turned copy came out the same")
claim(gap(results["align_principal", "frame"], results["align_principal", "turned 180°"]) < 1e-9
      and gap(results["align_principal", "frame"], results["align_principal", "mirror image"]) > 1.0
      and gap(results["resolve_mirror", "frame"], results["resolve_mirror", "mirror image"]) < 1e-9,
      "align_principal removes the turn, keeps the mirror image; resolve_mirror folds it", "it does not")
claim(np.allclose(results["align_principal", "bead order reversed"], -results["align_principal", "frame"][::-1]),
      "the reversed chain comes out reversed and turned by 180°", "it does not");

# %% [markdown]
# **Near-round frames.** The long axis is only defined when the eigenvalues of $S$ differ. For
# a frame about as wide as it is long, a tiny wiggle can turn the axis, and the aligned frame,
# by a large angle. We count frames whose eigenvalue ratio (small over large) exceeds 0.6, and
# jiggle the roundest and the most elongated frame by 0.02 bead diameters per bead.

# %%
eigenvalues = np.linalg.eigvalsh(np.einsum("nbi,nbj->nij", centered, centered))  # ascending, per frame
roundness = eigenvalues[:, 0] / eigenvalues[:, 1]


def wobble(f, size=0.02, n=20):
    """Largest change of the aligned frame when every bead moves by about ``size``."""
    jiggled = f + size * rng.standard_normal((n, *f.shape))
    return gap(helpers.align_principal(jiggled), helpers.align_principal(f[None]))


wobbles = wobble(centered[np.argmax(roundness)]), wobble(centered[np.argmin(roundness)])
print(f"eigenvalue ratio > 0.6 in {np.mean(roundness > 0.6):.1%} of the frames")
print(f"largest change after the jiggle: roundest frame {wobbles[0]:.2f} {U}, most elongated {wobbles[1]:.2f} {U}")

# %% tags=["check"]
claim(0.04 < np.mean(roundness > 0.6) < 0.08, "about 6% of frames have an eigenvalue ratio > 0.6",
      f"{np.mean(roundness > 0.6):.1%}")
claim(wobbles[0] > 1.0 > 10 * wobbles[1], "a 0.02 jiggle turns a near-round frame, not an elongated one",
      f"changes {wobbles[0]:.2f} and {wobbles[1]:.2f}");

# %% [markdown]
# ### Exercise 6.1 · Is the preprocessing really blind to position and orientation?
#
# Write `move(frame, degrees, shift)`: turn a (12, 2) frame anticlockwise by `degrees` about
# the origin (`rotation` takes radians), then shift it by `shift` = (x, y). The self-check
# tries other frames, angles and shifts; the cell after it compares `frame`, after
# preprocessing, with its copy moved by 37° and (5, −2), and with its mirror image.

# %% tags=["exercise"]
def move(frame, degrees, shift):
    """``frame`` (beads, 2) turned anticlockwise by ``degrees`` about (0, 0), then shifted by ``shift``."""
    return frame.copy()  # replace


# %% tags=["self-check"]
exercises.check_move(move);

# %% tags=["solution"]
def move(frame, degrees, shift):
    """``frame`` (beads, 2) turned anticlockwise by ``degrees`` about (0, 0), then shifted by ``shift``."""
    return frame @ rotation(np.deg2rad(degrees)).T + np.asarray(shift)


exercises.check_move(move);

# %%
for name, f in (("turned and shifted by your move", move(frame, 37, (5, -2))), ("mirror image", frame * [1.0, -1.0])):
    print(f"{name}: {gap(helpers.preprocess(f[None]), helpers.preprocess(frame[None])):.1e} {U} from the frame, after preprocessing")

# %% tags=["check"]
claim(gap(helpers.preprocess(versions["turned 180°"][None] + [5.0, -2.0]), helpers.preprocess(frame[None])) < 1e-5
      < 1.0 < gap(helpers.preprocess(versions["mirror image"][None]), helpers.preprocess(frame[None])),
      "a turn and a shift vanish up to round-off, a mirror image stays over a bead diameter away", "they do not");

# %% [markdown]
# With a correct `move`, the moved copy matches to round-off (below $10^{-5}$); the mirror
# image stays over a bead diameter away.

# %% [markdown]
# ## 4. The model and its training
#
# Encoder $q_\phi(z\mid x)$ and decoder $p_\theta(x\mid z)$ with mean $f_\theta(z)$, each three
# hidden layers of 256 units, a 2-D latent space: 277,532 parameters (the walkthrough's "~250K"
# undercounts). The loss per frame (`helpers.vae_loss`):
#
# $$\mathcal L(x) = \underbrace{\lVert x - \hat x\rVert^2}_{\text{sum over 24 coordinates}}
#   + \beta\,\underbrace{D_{\mathrm{KL}}\!\left(q_\phi(z\mid x)\,\Vert\,\mathcal N(0, I)\right)}_{\text{sum over 2 dimensions}},
#   \qquad \hat x = f_\theta(\mu_\phi + \sigma_\phi\odot\varepsilon),$$
#
# with $\beta = 0.12$: the walkthrough's $\beta = 0.01$ with its averages over dimensions
# ($0.01 \times 24 / 2$).
#
# We plot the shipped model's training history. Its recipe differs from the walkthrough's
# (Adam, constant learning rate $10^{-3}$, 150 epochs): a **one-cycle** schedule raises the
# learning rate to $5\times10^{-3}$ over the first quarter of the steps, then anneals it to
# almost zero; Adam's $\beta_2$ is 0.99, not 0.999 (a shorter memory of squared gradients, so
# the step size follows the schedule). A 60-epoch run takes about a quarter of the recipe's
# time and ends at a slightly lower test error (`benchmarks/RESULTS.md`).
# `TRAIN_FROM_SCRATCH = True` trains here (~10 s; `EPOCHS = 4` for a quick look).

# %%
data = helpers.preprocess(paths)
train, test = helpers.train_test_split(data, seed=42)
TRAIN_FROM_SCRATCH, EPOCHS = False, 60

if TRAIN_FROM_SCRATCH or USE_DMOL:  # the shipped model was trained on the simulated data
    model = helpers.PolymerVAE()
    history = helpers.train_vae(model, train, test, epochs=EPOCHS)
else:
    model, meta = helpers.load_pretrained()
    history = helpers.History(**meta["history"])
model.eval()
fig = plots.loss_curves(history)
fig.axes[0].set_ylabel(f"squared error per frame ({U})²\n(sum over 24 coordinates)")
fig.suptitle(f"Training history: {history.epochs} epochs ({'trained here' if TRAIN_FROM_SCRATCH or USE_DMOL else 'the shipped model'})")
plt.show()
print(f"{sum(p.numel() for p in model.parameters()):,} parameters; last epoch: test squared error "
      f"{history.test_recon[-1]:.2f} ({U})² per frame, KL {history.test_kl[-1]:.2f} nats")

# %% tags=["check"]
claim(sum(p.numel() for p in model.parameters()) == 277_532, "277,532 parameters", "another count")
claim(history.epochs == 60 and history.test_recon[-1] < 0.15 * history.test_recon[0],
      "60 epochs; the error falls by an order of magnitude", f"{history.epochs} epochs")
claim(max(history.train_kl[:5]) > 5 and 6 < history.test_kl[-1] < 7.5, "KL above 5 nats within five epochs, ends near 6.6",
      f"{max(history.train_kl[:5]):.1f}, {history.test_kl[-1]:.1f} nats")
wobble_kl = np.abs(np.diff(history.test_kl[10:30])).mean(), np.abs(np.diff(history.test_kl[45:])).mean()
claim(wobble_kl[0] > 2 * wobble_kl[1], "the test curves wobble mid-training and settle at the end", f"{wobble_kl}")
claim(1.05 < history.test_recon[-1] / history.train_recon[-1] < 1.25, "test error about 10-20% above training error",
      f"ratio {history.test_recon[-1] / history.train_recon[-1]:.2f}");

# %% [markdown]
# The reconstruction term (summed over a frame's 24 coordinates, log scale) falls by an order
# of magnitude. The KL term jumps above 5 nats within five epochs: information in the code
# buys a far better reconstruction. The test curves wobble while the learning rate is high and
# settle as it anneals; the test error ends slightly (~13%) above the training error. The test
# frames are fair: most have siblings from the same simulation run in training, but those are
# 10 τ apart (1.7 bead diam. RMSD) and almost never a test frame's nearest training frame, and
# holding out whole runs instead raises the test error by at most about 3%
# (`benchmarks/bench_heldout.py`).

# %% [markdown]
# ## 5. Reconstructions
#
# Encode a test frame to $\mu_\phi(x)$ and decode it. From here on, the
# **reconstruction error** is the mean squared error per coordinate, in (bead diam.)² (the
# loss curves sum over 24 coordinates). We compare it with the data's variance per coordinate (the error
# of always answering with the mean frame), also after the tensor-only alignment of section 3.

# %%
test_mse = helpers.reconstruction_error(model, test)
variance = float(test.var(axis=0).mean())
variance_all = float(data.var(axis=0).mean())
tensor_only = np.stack([align_by_tensor_only(f) for f in paths]).reshape(len(paths), -1)
variance_tensor_only = float(tensor_only.var(axis=0).mean())
sampled_error = helpers.evaluate(model, test)[1]  # per frame, one z ~ q(z|x) per frame, as in training
print(f"test reconstruction error {test_mse:.3f} ({U})², test variance {variance:.3f} ({U})²: "
      f"{test_mse / variance:.0%} left unexplained")
print(f"per frame (x 24): {24 * test_mse:.2f} decoding mu, {sampled_error:.2f} decoding a sample z ~ q(z|x)")
print(f"variance of all frames: {variance_all:.2f} after align_principal, "
      f"{variance_tensor_only:.2f} after the tensor-only alignment (180° turn left in)")

with torch.no_grad():
    mu_test = model.encode(torch.as_tensor(test))[0].numpy()
recon = helpers.decode_conformations(model, mu_test)
reference = helpers.ValidityReference.from_data(train)
recon_report = helpers.validity(recon, reference)
print(f"reconstructions: {recon_report}")
mix = np.concatenate([np.flatnonzero(recon_report.valid)[:3], np.flatnonzero(~recon_report.valid)[:3]])
plots.polymer_grid(recon[mix], [f"test[{k}]" for k in mix], behind=test[mix], reference=reference, size=2.6, ncols=3).suptitle(
    "Test frames (grey) and their reconstructions $f_\\theta(\\mu_\\phi(x))$, three valid and three not\n"
    f"(red: fails the validity check, with the reason; lengths in {U})")
plt.show()

# %% tags=["check"]
claim(0.10 < test_mse < 0.16 and 1.0 < variance < 1.2, "an error of about 0.13 against a variance of about 1.1",
      f"{test_mse:.3f} and {variance:.3f}")
claim(f"{test_mse:.3f} {24 * test_mse:.2f} {history.test_recon[-1]:.2f}" == "0.132 3.17 3.26"
      and 0.07 < sampled_error - 24 * test_mse < 0.14 and abs(sampled_error - history.test_recon[-1]) < 0.05,
      "24 x 0.132 = 3.17 per frame from mu; a sample z adds about 0.1, as in the loss curve's 3.26",
      f"{24 * test_mse:.2f}, {sampled_error:.2f}, {history.test_recon[-1]:.2f}")
claim(1.5 < variance_tensor_only / variance_all < 3, "the 180° turn roughly doubles the variance",
      f"ratio {variance_tensor_only / variance_all:.2f}")
claim(0.2 < recon_report.fraction_valid < 0.45, "about a third of the reconstructions are valid",
      f"{recon_report.fraction_valid:.0%}");

# %% [markdown]
# The walkthrough promises a loss of "roughly 0.01–0.05", but that is a property of the data,
# not of VAEs. Here the model leaves about an eighth of the variance unexplained. Per frame,
# 24 × 0.132 = 3.17 lies below the loss curve's last test value, 3.26: the loss decodes a
# sample $z \sim q_\phi(z\mid x)$, as in training, whose scatter around $\mu_\phi(x)$ adds
# about 0.1 (printed above). Leave the 180° turn in, and the variance roughly doubles without
# a single shape changing: compare errors only with the variance *under the same preprocessing*.
#
# The reconstructions get the fold right but are smoother, with shorter bonds, and only about
# a third pass the validity check. Two latent numbers cannot store the thermal wiggles of 11
# bonds, so the decoder returns their *average* for a code, and an average of wiggly chains is
# a shrunken chain.

# %% [markdown]
# ## 6. Generating new conformations
#
# Draw $z \sim \mathcal N(0, I)$ and decode. We show the decoder's mean $f_\theta(z)$, not a
# draw from $p_\theta(x\mid z)$: up to the factor $\beta$, our loss is the negative ELBO of a
# Gaussian decoder with standard deviation $\sqrt{\beta/2} \approx 0.24$ bead diameters per
# coordinate, noise that breaks nearly every bond. `helpers.validity` requires all bonds within
# the data's range (1st–99th percentile of the frames' extreme bonds) and no non-bonded pair
# closer than in 99.9% of real frames.

# %%
samples = model.sample(2000, seed=0).numpy()
sample_report = helpers.validity(samples, reference)
draws = samples + np.sqrt(0.12 / 2) * rng.standard_normal(samples.shape)
print(f"decoder means: {sample_report}")
print(f"draws from p(x|z): {helpers.validity(draws, reference).fraction_valid:.1%} valid; "
      f"real test frames: {helpers.validity(test, reference).fraction_valid:.1%} valid")
titles = [f"$R_g$ {rg:.2f}" for rg in helpers.radius_of_gyration(samples[:12])]
plots.polymer_grid(samples[:12], titles, reference=reference, size=2.2).suptitle(
    f"Decoder means $f_\\theta(z)$, $z \\sim \\mathcal{{N}}(0, I)$; red: fails the check (reason; lengths in {U})")
plt.show()
mean_bond = helpers.bond_lengths(train).mean(), helpers.bond_lengths(samples).mean()
mean_rg = helpers.radius_of_gyration(train).mean(), helpers.radius_of_gyration(samples).mean()
print(f"mean bond length: data {mean_bond[0]:.2f} {U}, samples {mean_bond[1]:.2f} {U}; "
      f"mean R_g: data {mean_rg[0]:.2f} {U}, samples {mean_rg[1]:.2f} {U}")

# %% tags=["check"]
claim(0.05 < sample_report.fraction_valid < 0.5, "most samples fail the check, but not all",
      f"{sample_report.fraction_valid:.0%} valid")
claim(helpers.validity(draws, reference).fraction_valid < 0.01, "noise of the decoder's size breaks nearly every draw",
      f"{helpers.validity(draws, reference).fraction_valid:.1%} valid")
claim(mean_bond[1] < mean_bond[0] and mean_rg[1] < mean_rg[0], "decoded means have short bonds and are too small",
      f"bonds {mean_bond}, R_g {mean_rg}");

# %% [markdown]
# Many samples look plausible, yet most fail, as the reconstructions did:
# averaging bond *vectors* that point in slightly different directions gives a shorter vector
# than the average *length* ($\lVert\mathbb E[\mathbf b]\rVert \le \mathbb E\lVert\mathbf b\rVert$,
# Jensen's inequality), so decoded bonds come out short, and in compact coils beads drift together.

# %% [markdown]
# ## 7. Distributions: data against samples
#
# A generative model should reproduce the data's *distributions*. The 1-D Wasserstein distance
# $W_1(P, Q) = \int_0^1 \lvert F_P^{-1}(q) - F_Q^{-1}(q) \rvert\, dq$ is the mean horizontal gap
# between the two quantile functions, in bead diameters: a $W_1$ of 0.1 for $R_g$ means sizes off
# by 0.1 on average, quantile by quantile. Train against test gives the noise floor.

# %%
def wasserstein_1d(a, b, n_quantiles=1000):
    """W_1 between two 1-D samples: the mean gap between their quantile functions."""
    q = (np.arange(n_quantiles) + 0.5) / n_quantiles
    return float(np.mean(np.abs(np.quantile(a, q) - np.quantile(b, q))))


pairs = np.triu_indices(12, k=2)
measures = {
    "bond length": lambda r: helpers.bond_lengths(r).ravel(),
    "non-bonded distance": lambda r: helpers.pairwise_distances(r)[:, pairs[0], pairs[1]].ravel(),
    "R_g": helpers.radius_of_gyration,
    "end-to-end distance": helpers.end_to_end_distance,
}
train_subset = train[rng.choice(len(train), 2000, replace=False)]
w1 = {name: (wasserstein_1d(f(train_subset), f(test)), wasserstein_1d(f(train_subset), f(samples)))
      for name, f in measures.items()}
print(f"{'W1 in ' + U:22s} {'test vs train':>14s} {'samples vs train':>17s} {'ratio':>7s}")
for name, (floor, w) in w1.items():
    print(f"{name:22s} {floor:14.3f} {w:17.3f} {w / floor:7.1f}")

fig = plots.compare_distributions(test, samples, labels=("data (test)", "decoder means"), reference=reference)
for ax, (floor, w) in zip(fig.axes, w1.values()):
    ax.set_title(f"$W_1$ to train {w:.3f} (test: {floor:.3f})", fontsize=9)
fig.suptitle("Real frames against decoder means (red shading: outside the validity check's limits)")
plt.show()

# %% tags=["check"]
claim(all(w > floor for floor, w in w1.values()), "every measure is above its noise floor", str(w1))
claim(w1["R_g"][1] < 0.15 * helpers.radius_of_gyration(train_subset).mean(), "sizes right to about 10%",
      f"W1(R_g) = {w1['R_g'][1]:.3f}");

# %% [markdown]
# Relative to its noise floor, local geometry is worst: bond lengths, held by the data in a
# narrow band.
#
# ### Exercise 6.2 · How much do the chains bend?
#
# The simulation gives the chain a bending stiffness. Write `bend_angles(r)`: for
# conformations `r` (chains, beads, 2), the angle by which the chain turns at each inner
# bead, between the bond vectors $\mathbf b_i = \mathbf r_{i+1} - \mathbf r_i$ and
# $\mathbf b_{i+1}$: in radians, 0 for a straight chain, shape (chains, beads − 2). Predict
# first: do decoder means bend more or less than real chains?

# %% tags=["exercise"]
def bend_angles(r):
    """Turn of the chain at each inner bead, radians in [0, pi]: (chains, beads, 2) -> (chains, beads - 2)."""
    return np.zeros((len(r), r.shape[1] - 2))  # replace


# %% tags=["self-check"]
exercises.check_bend_angles(bend_angles);

# %% tags=["solution"]
def bend_angles(r):
    """Turn of the chain at each inner bead, radians in [0, pi]: (chains, beads, 2) -> (chains, beads - 2)."""
    b = np.diff(r, axis=1)  # bond vectors
    cross = b[:, :-1, 0] * b[:, 1:, 1] - b[:, :-1, 1] * b[:, 1:, 0]
    return np.abs(np.arctan2(cross, (b[:, :-1] * b[:, 1:]).sum(-1)))


exercises.check_bend_angles(bend_angles);

# %%
turns = exercises.compare_turns(bend_angles, test, samples)  # the reference's means, and your function's

# %% tags=["check"]
claim(0.72 < turns[0] < 0.76 and 0.43 < turns[1] < 0.46 and 0.57 < turns[1] / turns[0] < 0.62,
      "real chains turn by about 0.74 rad per bead, decoder means by about 0.45 (40% less)", f"{turns}")
claim(max(w1, key=lambda name: w1[name][1] / w1[name][0]) == "bond length",
      "bond lengths are reproduced worst relative to the noise floor", str(w1));

# %% [markdown]
# Real chains turn by about 0.74 rad (43°) per bead, the decoder means by about 0.45, 40%
# less: the average of wiggly chains is straighter as well as shorter-bonded.

# %% [markdown]
# ## 8. The latent map: structure without labels
#
# Color each training frame's code $\mu_\phi(x)$ by $R_g$, which the model never saw. Two
# numbers measure how much of $R_g$ the code carries: its correlation with the best single
# direction of $z$ (least squares, black arrow), and $R^2$, the fraction of the test frames' $R_g$
# variance explained by the mean $R_g$ of the 20 training frames with the nearest codes. Grey
# marks where the decoder's mean is invalid (a third of the codes are drawn).

# %%
with torch.no_grad():
    mu_train = model.encode(torch.as_tensor(train))[0].numpy()
rg_train, rg_test = helpers.radius_of_gyration(train), helpers.radius_of_gyration(test)
coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(mu_train)), mu_train]), rg_train, rcond=None)
direction = coef[1:] / np.linalg.norm(coef[1:])
corr = np.corrcoef(mu_train @ direction, rg_train)[0, 1]
squared_distances = ((mu_test[:, None, :] - mu_train[None, :, :]) ** 2).sum(-1)  # (test, train)
rg_predicted = rg_train[np.argpartition(squared_distances, 20, axis=1)[:, :20]].mean(axis=1)
r2 = 1 - np.sum((rg_test - rg_predicted) ** 2) / np.sum((rg_test - rg_test.mean()) ** 2)
train_codes_valid = helpers.validity(helpers.decode_conformations(model, mu_train), reference).fraction_valid
print(f"best single direction: correlation {corr:+.2f} (explains {corr ** 2:.2f}); R^2 from 20 nearest codes: {r2:.2f}")
print(f"training codes whose decoded mean is valid: {train_codes_valid:.0%}")

fig, (ax_map, ax_pred) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
plots.validity_map(ax_map, model, reference, extent=(-4, 4, -4, 4), n=81)
plots.latent_map(ax_map, mu_train[::3], rg_train[::3])
ax_map.annotate("", xy=mu_train.mean(0) + 2 * direction, xytext=mu_train.mean(0),
                arrowprops=dict(arrowstyle="-|>", color="k", lw=2.5, path_effects=[withStroke(linewidth=5, foreground="w")]))
ax_map.set(xlabel="$z_1$", ylabel="$z_2$", title="Training codes $\\mu_\\phi(x)$; grey: decodes invalid")
ax_pred.scatter(rg_test, rg_predicted, s=4, alpha=0.5)
ax_pred.plot([rg_test.min(), rg_test.max()], [rg_test.min(), rg_test.max()], "k--", lw=1)
ax_pred.set(xlabel=f"true $R_g$ of a test frame ({U})", ylabel=f"mean $R_g$ of its 20 nearest codes ({U})",
            title=f"$R_g$ read off the latent code: $R^2$ = {r2:.2f}")
plt.show()

# %% tags=["check"]
claim(r2 > 0.7 and 0.25 < corr ** 2 < r2 - 0.3, "R_g is readable from the code, a line explains about 0.4",
      f"R^2 {r2:.2f}, correlation {corr:+.2f}")
claim(0.2 < train_codes_valid < 0.45, "only about a third of the training codes decode valid",
      f"{train_codes_valid:.0%}");

# %% [markdown]
# Compact (dark) and extended (bright) chains occupy different regions: the code carries
# "size" unasked. Not along one linear axis (the best line explains about 0.4 of the
# variance, the neighbors 0.9): compact chains come in several folds, in separate lobes with
# sparse gaps between them. Grey covers most of the square, *even where codes are densest*:
# only about a third of the training codes decode to a valid polymer. Notebook 7 optimizes
# in this map.

# %% [markdown]
# ## 9. Interpolation between two real conformations
#
# Encode two frames, decode points along $z(\alpha) = (1-\alpha)\,z_a + \alpha\,z_b$, and
# check each. The walkthrough takes its second frame as `train_data[100:1]`, an empty slice
# (100 *up to* 1) that stops the code; a batch of one is `train[100:101]`. For comparison, a
# straight line through the coordinates.

# %%
a, b = 0, 100
with torch.no_grad():
    z_a = model.encode(torch.as_tensor(train[a:a + 1]))[0]
    z_b = model.encode(torch.as_tensor(train[b:b + 1]))[0]  # train[100:1] would be empty
alphas = torch.linspace(0, 1, 9)[:, None]
latent_path = helpers.decode_conformations(model, (1 - alphas) * z_a + alphas * z_b)
coordinate_path = ((1 - alphas.numpy()) * train[a] + alphas.numpy() * train[b]).reshape(9, 12, 2)
path_reports = {"latent": helpers.validity(latent_path, reference),
                "coordinates": helpers.validity(coordinate_path, reference)}
plots.polymer_grid(np.concatenate([latent_path[::2], coordinate_path[::2]]), [f"α = {t:.2f}" for t in alphas[::2, 0]] * 2,
                   reference=reference, ncols=5, size=2.6, row_labels=["latent", "coordinates"]).suptitle(
    f"Every second point of the two paths: in latent space (top; its ends are the reconstructions of train[{a}] and\n"
    f"train[{b}]) and in coordinate space (bottom, between the frames themselves); red: invalid, lengths in {U}")
plt.show()

fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), constrained_layout=True)
for name, frames in (("latent", latent_path), ("coordinates", coordinate_path)):
    for ax, values in zip(axes, (helpers.radius_of_gyration(frames), path_reports[name].bond_min,
                                 path_reports[name].contact_min)):
        ax.plot(alphas[:, 0], values, "o-", color="C2" if name == "latent" else "C1", label=f"{name} path")
axes[1].axhspan(0, reference.bond_min, color="C3", alpha=0.12, label="shorter than the data")
axes[2].axhspan(0, reference.contact_min, color="C3", alpha=0.12, label="closer than the data")
for ax, ylabel in zip(axes, ("$R_g$", "shortest bond", "closest non-bonded pair")):
    ax.set(xlabel="interpolation fraction α", ylabel=f"{ylabel} ({U})", title=ylabel)
    ax.legend(fontsize=8)
plt.show()
for name, report in path_reports.items():
    print(f"{name:12s} path: shortest bond {report.bond_min.min():.2f} {U}, closest contact "
          f"{report.contact_min.min():.2f} {U}, {report.valid.sum()} of 9 points valid")

# %% tags=["check"]
lat, coo = path_reports["latent"], path_reports["coordinates"]
claim(not lat.valid.all() and not coo.valid.all() and lat.valid[0] and lat.valid[-1],
      "neither path is valid everywhere; the latent path's ends are", f"{lat.valid}, {coo.valid}")
claim(coo.contact_min.min() < 0.5 * reference.contact_min < lat.contact_min.min() and coo.bond_min.min() < lat.bond_min.min(),
      "the coordinate path collapses (overlapping beads), the latent path far less", f"{coo.contact_min.min():.2f}")
claim(lat.contact_min.min() > reference.contact_min and lat.bond_min[1:-1].min() < reference.bond_min,
      "the latent path fails on short bonds, not on contacts", f"{lat.bond_min.min():.2f}");

# %% [markdown]
# The walkthrough promises that *every* point of a latent path is plausible: neither path is. The coordinate path collapses in its middle (bonds nearly vanish, beads
# overlap): averaging two chains folds one onto the other. The latent path changes shape more
# naturally and keeps beads apart, but while the extended chain bends over, its shortest bond
# drops below the data's range: the decoder's average again. Smoother is not physical.

# %% [markdown]
# ### Exercise 6.3 · From the most compact to the most extended
#
# Write `end_codes(model, frames)`: the encoder means $\mu_\phi(x)$ of the most compact and
# the most extended of `frames` (smallest and largest $R_g$), shape (2, 2), compact first
# (hint: `np.argmin`, `np.argmax`; keep a batch axis). The cell after the self-check
# interpolates between the two ends of the **test** set.

# %% tags=["exercise"]
def end_codes(model, frames):
    """Encoder means of the most compact and the most extended of ``frames`` (n, 24): shape (2, 2)."""
    return torch.zeros(2, 2)  # replace


# %% tags=["self-check"]
exercises.check_end_codes(end_codes);

# %% tags=["solution"]
def end_codes(model, frames):
    """Encoder means of the most compact and the most extended of ``frames`` (n, 24): shape (2, 2)."""
    rg = helpers.radius_of_gyration(frames)
    with torch.no_grad():
        return model.encode(torch.as_tensor(frames[[np.argmin(rg), np.argmax(rg)]]))[0]


exercises.check_end_codes(end_codes);

# %%
z_ends = torch.as_tensor(end_codes(model, test), dtype=torch.float32)
ends_path = helpers.decode_conformations(model, (1 - alphas) * z_ends[0] + alphas * z_ends[1])
plots.polymer_grid(ends_path, [f"α = {t:.2f}" for t in alphas[:, 0]], reference=reference, ncols=5, size=2.6).suptitle(
    f"Your path, from the most compact to the most extended test frame's code; red: invalid, lengths in {U}")
plt.show()
print(f"valid points on your path: {helpers.validity(ends_path, reference).valid.sum()} of 9")

# %% [markdown]
# ## 10. The latent-space explorer
#
# Drag $z_1$ and $z_2$: the cross marks the point, the decoder's mean polymer is drawn beside
# it (red: invalid), and the map shows the training codes over section 8's grey invalid
# region. The α slider replays section 9's path and hides its number once you move off it.
# The explorer opens at frame 0's code (α = 0), a valid polymer, not at the prior's center
# $z = (0, 0)$, whose polymer is *invalid* (printed below). Look for the gaps between the
# lobes: what do their polymers look like?

# %%
explorer = LatentExplorer(model, train, pair=(a, b))
origin = helpers.validity(helpers.decode_conformations(model, np.zeros((1, 2))), reference)
print(f"the prior's center z = (0, 0) decodes to: {origin}")

# %% tags=["check"]
claim(np.allclose(explorer.polymer, latent_path[0], atol=1e-5) and "· valid" in explorer.text,
      "the explorer opens at the start of the interpolation, on a valid polymer", explorer.text)
claim(not origin.valid.any(), "z = (0, 0) decodes to an invalid polymer", str(origin));

# %%
explorer

# %% [markdown]
# No widgets (a static page, a PDF)? The same as a grid of decoder means at their latent
# points, over the training codes (dots) and the invalid region (shaded grey):

# %%
explorer.static_figure()
plt.show()

# %% [markdown]
# ## 11. The original dmol.pub data
#
# `USE_DMOL = True` in section 1 loads it (network needed once; the model is trained here;
# checks written for our data print notes). Its lengths are in its own unit, and its chain is
# floppier: bonds spread over 0.10–1.65 (1st–99th percentile).
#
# A paradox (measured offline with this notebook): with `align_principal` the model
# leaves 49% of the test variance unexplained (0.18 of 0.37); with the walkthrough's
# alignment, turn left in, only 31% (0.20 of 0.65). The better alignment has the *lower*
# error; the denominator differs. Whether a frame arrives turned is one bit: the code carries
# it and the decoder undoes it, so the turn adds 0.29 of variance but only 0.02 of error. The
# hard part stays: the wiggles of a floppy chain, which two numbers cannot hold, leave 49%
# unexplained there, 12% here.

# %%
bond_low, bond_high = np.quantile(helpers.bond_lengths(train), [0.01, 0.99])
unit = "(file units)" if USE_DMOL else U
print(f"data: {'the dmol.pub file' if USE_DMOL else 'simulated'}, {len(paths)} frames; bonds (1st-99th "
      f"percentile) {bond_low:.2f}-{bond_high:.2f} {unit}")
print(f"variance per coordinate: {variance_all:.2f} after align_principal, {variance_tensor_only:.2f} after "
      f"the tensor-only alignment; test error {test_mse:.3f} ({test_mse / variance:.0%} of the test variance)")

# %% tags=["check"]
claim(0.09 < test_mse / variance < 0.16, "about 12% of the variance unexplained here", f"{test_mse / variance:.0%}");

# %% [markdown]
# ## Key takeaways
#
# - Alignment removes translation and rotation; the axis direction needs a rule (it reads
#   the bead order), near-round frames align unstably, mirror images stay (in 3-D they are
#   different molecules).
# - Report a reconstruction error against the variance under the same preprocessing (here
#   about 0.13 of 1.1 (bead diam.)²).
# - Check polymers physically: decoder means are averages with short bonds; samples get $R_g$
#   right to about 10%, but most, and two thirds of the reconstructions, fail the bond check.
# - Wasserstein distances against the data's noise floor turn histograms into numbers.
# - The latent map orders conformations by size, but most of it, even where codes are dense,
#   decodes invalid; a latent path is smoother, not automatically physical.

