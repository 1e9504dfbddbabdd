# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5 · Case study: a VAE for a bead-spring polymer
#
# Everything from the first four notebooks now meets one concrete system: a chain of 12 beads
# in the plane, i.e. 24 numbers per conformation, squeezed through a 2-D latent space. We
# prepare the data, train (or load) the model, and then judge it the way a physicist would:
# not only by its loss, but by whether its polymers have the right bond lengths, do not
# overlap, and are distributed like the real ones. Along the way we correct several slips of
# the course's code walkthrough and put two of its claims to the test.
#
# **Learning objectives**
# - Remove translation and rotation from conformations, and see what principal-axis alignment
#   *cannot* remove: the 180° turn needs an extra rule, the mirror image is a real choice.
# - Train the polymer VAE with a progress bar and read its loss curves.
# - Judge reconstructions and samples with physical measures: the reconstruction error against
#   the data's variance, distributions of bond lengths, distances and $R_g$, Wasserstein
#   distances, and the fraction of valid polymers.
# - Read the latent map: structure ($R_g$) appears although no $R_g$ label was ever used.
# - Interpolate between two real conformations, check every point physically, and explore the
#   latent space with sliders.
#
# Run it: [Open in Colab](https://colab.research.google.com/github/protein-ai-course/polymer-vae-bundle/blob/main/notebooks/05_polymer_case_study.ipynb) · [Binder](https://mybinder.org/v2/gh/protein-ai-course/polymer-vae-bundle/main?urlpath=lab/tree/notebooks/05_polymer_case_study.ipynb) · locally: see README

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

import helpers
from helpers import plots
from helpers.widgets import LatentExplorer

torch.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The data: 10,000 simulated conformations
#
# The bundle simulates its own bead-spring polymer (harmonic bonds, a bending stiffness and a
# Lennard-Jones attraction between non-bonded beads, at constant temperature), so everything
# runs offline. Lengths are in bead diameters σ. The lecture's "~10,000 conformations" are
# these 10,000 frames; the original file of the dmol.pub chapter holds 2048 frames, and it is
# one flag away (section 11).

# %%
USE_DMOL = False  # True: the original 2048-frame file of dmol.pub (downloaded once: needs the network)
paths = helpers.load_paths("dmol") if USE_DMOL else helpers.load_paths()
print(f"{paths.shape[0]} frames x {paths.shape[1]} beads x {paths.shape[2]} coordinates")

# %% [markdown]
# Five frames spread over the whole set. (The walkthrough indexes frames 0, 1000, ..., 4000,
# which fails on its own 2048-frame file; spacing the indices with `np.linspace` over
# `len(paths)` works for any size.) The raw frames sit anywhere in the plane and point in any
# direction: that is what preprocessing removes.

# %%
shown = np.linspace(0, len(paths) - 1, 5).astype(int)
rg_raw = helpers.radius_of_gyration(paths)
fig, axes = plt.subplots(1, 5, figsize=(14, 3), constrained_layout=True)
for ax, k in zip(axes, shown):
    plots.draw_polymer(ax, paths[k])
    ax.set(title=f"frame {k}: $R_g$ = {rg_raw[k]:.2f} σ", xlabel="x (σ)")
axes[0].set_ylabel("y (σ)")
plt.show()

# %% [markdown]
# ## 2. Preprocessing: translation and rotation out
#
# A conformation's shape does not change when we move or turn it, so the model should not
# have to learn those motions. Two steps, per frame:
#
# 1. **Center**: $\mathbf r_i \leftarrow \mathbf r_i - \frac1N\sum_j \mathbf r_j$ (all beads weigh the same).
# 2. **Align**: the gyration tensor $S = \sum_i \mathbf r_i \mathbf r_i^\top$ (a 2×2 matrix)
#    has its largest eigenvector along the chain's long axis, at the angle
#    $\theta = \tfrac12\,\mathrm{atan2}(2S_{xy},\, S_{xx}-S_{yy})$ to the x axis; rotating by
#    $-\theta$ lays the long axis along x. Afterwards $S_{xy} = 0$ and $S_{xx} \ge S_{yy}$.
#
# `helpers.preprocess` does both and flattens each frame to 24 numbers.

# %%
centered = helpers.center_com(paths)
aligned = helpers.align_principal(centered)
x, y = aligned[..., 0], aligned[..., 1]
s_xx, s_yy, s_xy = (x * x).sum(1), (y * y).sum(1), (x * y).sum(1)
print(f"after alignment: max |S_xy| = {np.abs(s_xy).max():.1e}, S_xx >= S_yy in {np.mean(s_xx >= s_yy):.0%} of frames")
assert np.abs(s_xy).max() < 1e-8 and np.all(s_xx >= s_yy - 1e-9)
# moving and turning a frame does not change its shape, so R_g is untouched
assert np.allclose(helpers.radius_of_gyration(aligned), rg_raw)

fig, axes = plt.subplots(1, 3, figsize=(12, 4), constrained_layout=True)
for ax, frames, title in zip(axes, (paths, centered, aligned), ("raw", "centered", "centered + aligned")):
    for k, color in zip(shown, ("C0", "C1", "C2", "C3", "C4")):
        plots.draw_polymer(ax, frames[k], color=color, show_ends=False)
    ax.set(title=title, xlabel="x (σ)", ylabel="y (σ)")
plt.show()

# %% [markdown]
# ## 3. What alignment cannot fix: the 180° turn and the mirror image
#
# Turning a frame by 180° sends every $\mathbf r_i$ to $-\mathbf r_i$, and
# $S=\sum_i \mathbf r_i\mathbf r_i^\top$ does not notice: any recipe that looks only at $S$
# (the walkthrough's eigenvector recipe is one) cannot tell a frame from its turned copy, and
# hands the model two different 24-vectors for one shape. `align_principal` breaks the tie
# with the chain's direction: after the rotation the bead index must grow with x,
# $\sum_i (i-\bar\imath)\,x_i \ge 0$, else it turns the frame by 180°.
#
# A mirror image ($y \to -y$) is different: no rotation maps a 2-D chain onto its mirror
# image, and both have the same energy. By default we keep both (the model must learn both);
# `resolve_mirror=True` reflects frames so that $\sum_i (i-\bar\imath)\,y_i \ge 0$ and folds
# the pair into one shape. The figure follows one frame through the three recipes.

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


frame = paths[shown[1]]
versions = {"frame": frame, "turned 180°": frame @ rotation(np.pi).T, "mirror image": frame * [1.0, -1.0]}
recipes = {
    "S only": lambda f: align_by_tensor_only(f),
    "align_principal": lambda f: helpers.align_principal(f[None])[0],
    "align_principal\nresolve_mirror=True": lambda f: helpers.align_principal(f[None], resolve_mirror=True)[0],
}
results = {(r, v): recipe(f) for r, recipe in recipes.items() for v, f in versions.items()}

fig, axes = plt.subplots(4, 3, figsize=(9, 7.5), sharex="row", sharey="row", constrained_layout=True)
for col, (name, f) in enumerate(versions.items()):
    plots.draw_polymer(axes[0, col], f - f.mean(0), color="0.4")  # centered, for display only
    axes[0, col].set_title(name)
    for row, recipe in enumerate(recipes, start=1):
        plots.draw_polymer(axes[row, col], results[recipe, name], color=f"C{row - 1}")
axes[0, 0].set_ylabel("input\ny (σ)")
for row, recipe in enumerate(recipes, start=1):
    axes[row, 0].set_ylabel(f"{recipe}\ny (σ)")
for ax in axes[-1]:
    ax.set_xlabel("x (σ)")
fig.suptitle("One shape, three inputs (white circle: bead 1)")
plt.show()


def gap(a, b):
    return float(np.abs(a - b).max())


for recipe in recipes:
    turned = gap(results[recipe, "frame"], results[recipe, "turned 180°"])
    mirror = gap(results[recipe, "frame"], results[recipe, "mirror image"])
    print(f"{recipe.replace(chr(10), ' '):38s} largest gap to the turned copy {turned:.2f} σ, to the mirror image {mirror:.2f} σ")

# %%
assert gap(results["S only", "frame"], results["S only", "turned 180°"]) > 1.0  # the 180° ambiguity
assert gap(results["align_principal", "frame"], results["align_principal", "turned 180°"]) < 1e-9
assert gap(results["align_principal", "frame"], results["align_principal", "mirror image"]) > 1.0
mirrored = "align_principal\nresolve_mirror=True"
assert gap(results[mirrored, "frame"], results[mirrored, "mirror image"]) < 1e-9
reflected = np.abs(helpers.align_principal(centered, resolve_mirror=True) - aligned).max(axis=(1, 2)) > 1e-9
print(f"resolve_mirror=True would reflect {reflected.mean():.0%} of the frames")

# %% [markdown]
# ### Exercise 5.1 · Is the preprocessing really blind to position and orientation?
#
# Take `frame`, turn it by 37° and shift it by (5, −2) σ, and store the result in `moved`.
# Then compare `helpers.preprocess` of both. (What would happen with a mirror image instead?)

# %%
moved = frame.copy()  # your turn: rotate by 37 degrees and shift by (5, -2)


# %%
# Self-check (Exercise 5.1)
def check_moved(candidate):
    changed = gap(candidate, frame) > 1e-6
    same_after = gap(helpers.preprocess(candidate[None]), helpers.preprocess(frame[None])) < 1e-4
    if not changed:
        print("✗ `moved` is still the original frame: apply the rotation and the shift first.")
    elif same_after:
        print("✓ Right: the preprocessed vectors agree, the VAE never sees the move.")
    else:
        print("✗ The preprocessed vectors differ: did you mirror the frame instead of rotating it?")
    return changed and same_after


check_moved(moved);

# %% jupyter={"source_hidden": true}
# Solution (Exercise 5.1)
moved_solution = frame @ rotation(np.deg2rad(37)).T + np.array([5.0, -2.0])
assert check_moved(moved_solution)
print(f"largest difference after preprocessing: "
      f"{gap(helpers.preprocess(moved_solution[None]), helpers.preprocess(frame[None])):.1e} σ (zero up to float32 rounding)")
# A mirror image is NOT removed (it is a different 2-D conformation) unless resolve_mirror=True:
mirror_gap = gap(helpers.preprocess((frame * [1.0, -1.0])[None]), helpers.preprocess(frame[None]))
print(f"the mirror image after preprocessing differs by up to {mirror_gap:.2f} σ")
assert mirror_gap > 1.0

# %% [markdown]
# ## 4. Training the VAE
#
# The model is the lecture's: encoder $q_\phi(z\mid x)$ and decoder $p_\theta(x\mid z)$ with
# mean $f_\theta(z)$, each three hidden layers of 256 units, a 2-D latent space; 277,532
# parameters (the walkthrough's "~250K" undercounts). The loss per frame, in the "sum"
# convention of `helpers.vae_loss`:
#
# $$\mathcal L(x) = \underbrace{\lVert x - \hat x\rVert^2}_{\text{summed over 24 coordinates}}
#   + \beta\,\underbrace{D_{\mathrm{KL}}\!\left(q_\phi(z\mid x)\,\Vert\,\mathcal N(0, I)\right)}_{\text{summed over 2 dimensions}},
#   \qquad \hat x = f_\theta(\mu_\phi + \sigma_\phi\odot\varepsilon).$$
#
# With these reductions $\beta = 0.12$; it is the walkthrough's $\beta = 0.01$, which averaged
# both terms over their dimensions instead ($0.01 \times 24 / 2$).
#
# Training the full model (`helpers.train_vae` with its defaults: 60 epochs, batches of 256)
# takes about ten seconds on two CPU cores. By default we load the shipped model, trained
# exactly this way, and run a four-epoch demo so you can watch the progress bar and the losses
# fall. Set `TRAIN_FROM_SCRATCH = True` to train the real thing here.

# %%
data = helpers.preprocess(paths)
train, test = helpers.train_test_split(data, seed=42)
print(f"train {train.shape}, test {test.shape}")

TRAIN_FROM_SCRATCH = False

if TRAIN_FROM_SCRATCH or USE_DMOL:  # the shipped model was trained on the simulated data
    model = helpers.PolymerVAE()
    history = helpers.train_vae(model, train, test)
    plots.loss_curves(history)
else:
    model, info = helpers.load_pretrained()
    print(f"loaded the pretrained model: {info['epochs']} epochs, beta = {info['beta']}, data: {info['data']}")
    demo = helpers.PolymerVAE()
    history = helpers.train_vae(demo, train, test, epochs=4)
    fig = plots.loss_curves(history)
    fig.suptitle(f"A four-epoch demo run (the loaded model trained for {info['epochs']})")
plt.show()
model.eval()
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")
assert history.train_recon[-1] < 0.5 * history.train_recon[0]  # training makes progress

# %% [markdown]
# ## 5. Reconstructions
#
# Encode a held-out frame to the mean $\mu_\phi(x)$ of $q_\phi(z\mid x)$ and decode it: how
# close does $\hat x = f_\theta(\mu_\phi(x))$ come back? The error is an MSE per
# coordinate (σ²); $\sqrt{2\,\mathrm{MSE}}$ is the typical displacement of a bead (σ). To
# judge it we need the data's own variance per coordinate, the error of always answering with
# the mean frame. That variance depends on the preprocessing, so we also compute it for the
# tensor-only alignment of section 3, which leaves the 180° turn in the data.

# %%
test_mse = helpers.reconstruction_error(model, test)
variance = float(test.var(axis=0).mean())
variance_all = float(data.var(axis=0).mean())
tensor_only = np.stack([align_by_tensor_only(f) for f in paths]).reshape(len(paths), -1)
variance_tensor_only = float(tensor_only.var(axis=0).mean())
print(f"test reconstruction error: {test_mse:.3f} σ² per coordinate "
      f"(typical bead displacement {np.sqrt(2 * test_mse):.2f} σ)")
print(f"the test frames' variance: {variance:.3f} σ² per coordinate -> "
      f"the model leaves {test_mse / variance:.0%} of it unexplained")
print(f"variance of all frames: {variance_all:.2f} σ² after align_principal, "
      f"{variance_tensor_only:.2f} σ² after the tensor-only alignment (180° turn left in)")

with torch.no_grad():
    test_t = torch.as_tensor(test)
    mu_test = model.encode(test_t)[0]
    recon = model.decode(mu_test).numpy()
reference = helpers.ValidityReference.from_data(train)
recon_report = helpers.validity(recon, reference)
print(f"reconstructions: {recon_report}")

fig, axes = plt.subplots(1, 6, figsize=(14, 2.8), sharex=True, sharey=True, constrained_layout=True)
for ax, k in zip(axes, range(6)):
    plots.draw_polymer(ax, test[k], color="0.6", label="test frame")
    plots.draw_polymer(ax, recon[k], color="C0", label="reconstruction")
    ax.set(xlim=(-6, 6), ylim=(-4, 4), xlabel="x (σ)")
axes[0].set_ylabel("y (σ)")
axes[0].legend(fontsize=7, loc="lower left")
plt.show()

# %% [markdown]
# The walkthrough promises a reconstruction loss of "roughly 0.01–0.05". That number is not a
# property of VAEs; it depends on the data. Here the test error is about 0.13 σ² against a
# variance of about 1.1 σ²: the model leaves about an eighth of the variance unexplained. And
# the variance depends on the preprocessing: leave the 180° turn in, and half the frames
# arrive turned, which roughly doubles the variance (printed above) without changing a single
# shape. So an error must be compared with the variance *under the same preprocessing*. On
# the original dmol.pub file the walkthrough's own recipe ends near 0.20 (measured offline by
# running its code unchanged). Its alignment leaves the turn in, and with the turn in that
# file's variance is about 0.65 (0.36 after `align_principal`; both measured offline, see
# section 11), so 0.20 is about 30% of it, against our eighth.
# A fair statement is always relative: *how much of the data's variance is left over?*
#
# Notice the shapes: the reconstructions get the overall fold right, but they are smoother
# and their bonds are shorter than the real ones (the validity line above). Two latent numbers
# cannot store the small thermal wiggles of 11 bonds, so the decoder returns their *average*
# for a given code, and an average of wiggly chains is a shrunken chain.

# %%
MSE_BOUND = 0.30 if USE_DMOL else 0.25  # σ² per coordinate
assert test_mse < MSE_BOUND, f"test reconstruction error {test_mse:.3f} above {MSE_BOUND}"
assert test_mse < 0.6 * variance  # and well below simply predicting the mean frame
assert USE_DMOL or (0.10 < test_mse < 0.16 and 1.0 < variance < 1.2)  # "about 0.13 against about 1.1"
assert USE_DMOL or 0.08 < test_mse / variance < 0.18  # "about an eighth" on our data
assert 1.5 < variance_tensor_only / variance_all < 3  # the 180° turn roughly doubles the variance

# %% [markdown]
# ## 6. Generating new conformations
#
# Generation is one decoder pass: draw $z \sim \mathcal N(0, I)$ and decode. Each sample is
# checked against the training data (`helpers.validity`): all bonds within the data's
# range and no two non-bonded beads closer than in 99.9% of real frames. Invalid samples are
# drawn in red.

# %%
samples = model.sample(2000, seed=0).numpy()
sample_report = helpers.validity(samples, reference)
print(f"samples: {sample_report}")
print(f"real test frames: {helpers.validity(test, reference)}")

fig, axes = plt.subplots(2, 6, figsize=(14, 5), sharex=True, sharey=True, constrained_layout=True)
for k, ax in enumerate(axes.flat):
    ok = bool(sample_report.valid[k])
    plots.draw_polymer(ax, samples[k], color="C0" if ok else "C3")
    ax.set(xlim=(-6, 6), ylim=(-4.5, 4.5),
           title=f"$R_g$ {helpers.radius_of_gyration(samples[k]):.2f} σ" + ("" if ok else " ✗"))
for ax in axes[-1]:
    ax.set_xlabel("x (σ)")
for ax in axes[:, 0]:
    ax.set_ylabel("y (σ)")
fig.suptitle("Samples from the prior (red: fails the validity check)")
plt.show()

mean_bond_data, mean_bond_samples = helpers.bond_lengths(train).mean(), helpers.bond_lengths(samples).mean()
mean_rg_data, mean_rg_samples = helpers.radius_of_gyration(train).mean(), helpers.radius_of_gyration(samples).mean()
print(f"mean bond length: data {mean_bond_data:.2f} σ, samples {mean_bond_samples:.2f} σ")
print(f"mean R_g:         data {mean_rg_data:.2f} σ, samples {mean_rg_samples:.2f} σ")

# %% [markdown]
# Most samples look like plausible polymers at a glance, yet on our data most fail the check
# (printed above), for the reason seen in the reconstructions: the decoder outputs the mean
# $f_\theta(z)$ of $p_\theta(x\mid z)$, the average of all conformations that share a code.
# Averaging bond *vectors* that point in slightly different directions gives a shorter vector
# than the average *length* ($\lVert\mathbb E[\mathbf b]\rVert \le \mathbb E\lVert\mathbf b\rVert$,
# Jensen's inequality), so the bonds of decoded chains come out short, and in the crowded
# middle of compact coils beads drift together. The validity check is strict on purpose: the data's bonds barely fluctuate.

# %%
SAMPLE_VALIDITY_BOUND = 0.05
assert sample_report.fraction_valid > SAMPLE_VALIDITY_BOUND
assert mean_bond_samples < mean_bond_data  # decoded means are shrunken chains ...
assert mean_rg_samples < mean_rg_data  # ... and so slightly too small overall
assert USE_DMOL or sample_report.fraction_valid < 0.5  # the text above: on our data most samples fail

# %% [markdown]
# ## 7. Distributions: data against samples
#
# A generative model should reproduce the data's *distributions*, not single frames. To put a
# number on "how different", we use the 1-D Wasserstein distance: the average horizontal gap
# between the two quantile functions,
#
# $$W_1(P, Q) = \int_0^1 \left| F_P^{-1}(q) - F_Q^{-1}(q) \right| dq ,$$
#
# in the measure's own units (σ): a $W_1$ of, say, 0.1 σ for $R_g$ means that the samples'
# sizes are off by 0.1 σ on average, quantile by quantile. Finite samples never give exactly 0, so we also compute the
# distance between two halves of the real data (train against test): the noise floor.

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
train_subset = train[rng.choice(len(train), min(2000, len(train)), replace=False)]
rg_data = helpers.radius_of_gyration(train_subset)
w1 = {name: (wasserstein_1d(f(train_subset), f(test)), wasserstein_1d(f(train_subset), f(samples)))
      for name, f in measures.items()}
print(f"{'measure':22s} {'W1 test vs train':>17s} {'W1 samples vs train':>20s} {'ratio':>7s}")
for name, (floor, w) in w1.items():
    print(f"{name:22s} {floor:15.3f} σ {w:18.3f} σ {w / floor:7.1f}")

fig = plots.compare_distributions(test, samples, labels=("data (test)", "samples"))
fig.suptitle("Real frames against decoded samples")
plt.show()

# %%
assert all(w > floor for floor, w in w1.values())  # the samples are distinguishable from data ...
assert w1["R_g"][1] < 0.2 * rg_data.mean()  # ... but their sizes are roughly right:
assert USE_DMOL or w1["R_g"][1] < 0.15 * rg_data.mean()  # off by about 10% on our data

# %% [markdown]
# ### Exercise 5.2 · What do the samples get most wrong?
#
# Using the table above, which measure do the samples reproduce *worst relative to the noise
# floor* (the largest ratio)? Set `worst` to its name, as spelled in `measures`.

# %%
worst = None  # e.g. "R_g"


# %%
# Self-check (Exercise 5.2)
def check_worst(name):
    ratios = {m: w / floor for m, (floor, w) in w1.items()}
    answer = max(ratios, key=ratios.get)
    if name is None:
        print("Set `worst` to one of", list(measures))
    elif name == answer:
        print(f"✓ Right: {answer}, {ratios[answer]:.0f} times its noise floor.")
    else:
        print(f"✗ Not {name!r}: compare the last column of the table again.")
    return name == answer


check_worst(worst);

# %% jupyter={"source_hidden": true}
# Solution (Exercise 5.2)
worst_solution = max(w1, key=lambda name: w1[name][1] / w1[name][0])
assert check_worst(worst_solution)
assert USE_DMOL or worst_solution == "bond length"  # what the comment below explains
# The global size (R_g, end-to-end distance) is learned well; the bond lengths, which the data
# holds within a narrow band, are the hardest to get right from averages: local geometry is
# where a 2-D code runs out of room.

# %% [markdown]
# ## 8. The latent map: structure without labels
#
# Encode every training frame to its mean code $\mu_\phi(x)$ and color it by $R_g$. The model
# never saw $R_g$: the loss only asks it to reconstruct coordinates. If compact and extended
# chains still separate, the VAE has organized its latent space by shape on its own. Two
# numbers measure how much of $R_g$ the code carries:
#
# - **one direction**: fit $R_g \approx a + \mathbf w^\top z$ by least squares and correlate
#   $R_g$ with the projection of $z$ on $\mathbf w / \lVert\mathbf w\rVert$ (the red arrow);
# - **the whole code**: predict the $R_g$ of each *test* frame as the mean $R_g$ of the 20
#   training frames with the nearest codes, and compute the fraction of the test variance
#   this explains, $R^2 = 1 - \sum (R_g - \hat R_g)^2 / \sum (R_g - \bar R_g)^2$.

# %%
with torch.no_grad():
    mu_train = model.encode(torch.as_tensor(train))[0].numpy()
mu_test = mu_test.numpy()
rg_train, rg_test = helpers.radius_of_gyration(train), helpers.radius_of_gyration(test)

design = np.column_stack([np.ones(len(mu_train)), mu_train])
coef, *_ = np.linalg.lstsq(design, rg_train, rcond=None)
direction = coef[1:] / np.linalg.norm(coef[1:])
corr = np.corrcoef(mu_train @ direction, rg_train)[0, 1]

squared_distances = ((mu_test[:, None, :] - mu_train[None, :, :]) ** 2).sum(-1)  # (test, train)
nearest = np.argpartition(squared_distances, 20, axis=1)[:, :20]
rg_predicted = rg_train[nearest].mean(axis=1)
r2 = 1 - np.sum((rg_test - rg_predicted) ** 2) / np.sum((rg_test - rg_test.mean()) ** 2)
print(f"correlation of R_g with the best single direction ({direction[0]:+.2f}, {direction[1]:+.2f}): {corr:+.2f}")
print(f"R_g of test frames predicted from their 20 nearest training codes: R^2 = {r2:.2f}")

fig, (ax_map, ax_pred) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
plots.latent_map(ax_map, mu_train, rg_train)
center = mu_train.mean(axis=0)
ax_map.annotate("", xy=center + 2 * direction, xytext=center,
                arrowprops=dict(arrowstyle="-|>", color="C3", lw=2.5))
ax_map.set_title("Training frames at their codes $\\mu_\\phi(x)$; arrow: best linear direction")
ax_pred.scatter(rg_test, rg_predicted, s=4, alpha=0.5)
ax_pred.plot([rg_test.min(), rg_test.max()], [rg_test.min(), rg_test.max()], "k--", lw=1)
ax_pred.set(xlabel="true $R_g$ of a test frame (σ)", ylabel="mean $R_g$ of its 20 nearest codes (σ)",
            title=f"$R_g$ read off the latent code: $R^2$ = {r2:.2f}")
plt.show()

# %% [markdown]
# Compact chains (dark) and extended ones (bright) occupy different regions, and a test
# frame's neighbors in latent space have nearly its $R_g$: the code carries "size" although
# nobody asked for it. It is not one clean linear axis, though (compare the single-direction
# correlation with $R^2$): compact chains come in several folds (hairpins bent either way,
# spirals), and the map keeps them in separate lobes with sparsely populated gaps between
# them. Sparse regions like these gaps, and the thinly populated rim of the map, matter in
# notebook 6.

# %%
assert r2 > 0.7  # R_g is readable from the latent code, though never used in training
assert abs(corr) > 0.3  # and partly along one direction

# %% [markdown]
# ## 9. Interpolation between two real conformations
#
# Encode two frames, walk along the straight line $z(\alpha) = (1-\alpha)\,z_a + \alpha\,z_b$
# and decode each point. The walkthrough's version selects its second frame with
# `train_data[100:1]`: a slice from 100 *up to* 1 is empty, and the code stops with a shape
# error. One frame as a batch of one is `train[100:101]`. We also check each intermediate
# polymer, and compare with naive interpolation of the coordinates themselves.

# %%
a, b = 0, 100
with torch.no_grad():
    z_a = model.encode(torch.as_tensor(train[a:a + 1]))[0]
    z_b = model.encode(torch.as_tensor(train[b:b + 1]))[0]  # train[100:1] would be empty
    alphas = torch.linspace(0, 1, 9)[:, None]
    z_path = (1 - alphas) * z_a + alphas * z_b
    latent_path = model.decode(z_path).numpy()
coordinate_path = (1 - alphas.numpy()) * train[a] + alphas.numpy() * train[b]
path_reports = {"latent": helpers.validity(latent_path, reference),
                "coordinates": helpers.validity(coordinate_path, reference)}
print(f"z_a = {np.round(z_a[0].numpy(), 2)}, z_b = {np.round(z_b[0].numpy(), 2)}")

fig, axes = plt.subplots(2, 9, figsize=(16, 3.4), sharex=True, sharey=True, constrained_layout=True)
for row, (name, frames) in enumerate((("latent", latent_path), ("coordinates", coordinate_path))):
    report = path_reports[name]
    for k, ax in enumerate(axes[row]):
        plots.draw_polymer(ax, frames[k], color="C0" if report.valid[k] else "C3", show_ends=False)
        ax.set(xlim=(-6, 6), ylim=(-4, 4))
        if row == 0:
            ax.set_title(f"α = {alphas[k, 0]:.2f}")
    axes[row, 0].set_ylabel(f"{name}\ny (σ)")
for ax in axes[-1]:
    ax.set_xlabel("x (σ)")
fig.suptitle("Interpolating in latent space (top) and in coordinate space (bottom); red: invalid")
plt.show()

fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), constrained_layout=True)
for name, report, frames in (("latent", path_reports["latent"], latent_path),
                             ("coordinates", path_reports["coordinates"], coordinate_path)):
    axes[0].plot(alphas[:, 0], helpers.radius_of_gyration(frames), "o-", label=name)
    axes[1].plot(alphas[:, 0], report.bond_min, "o-", label=name)
    axes[2].plot(alphas[:, 0], report.contact_min, "o-", label=name)
axes[1].axhspan(0, reference.bond_min, color="C3", alpha=0.12, label="shorter than the data")
axes[2].axhspan(0, reference.contact_min, color="C3", alpha=0.12, label="closer than the data")
for ax, ylabel in zip(axes, ("$R_g$ (σ)", "shortest bond (σ)", "closest non-bonded pair (σ)")):
    ax.set(xlabel="α", ylabel=ylabel)
    ax.legend(fontsize=8)
plt.show()
for name, report in path_reports.items():
    print(f"{name:12s} path: shortest bond {report.bond_min.min():.2f} σ, closest contact "
          f"{report.contact_min.min():.2f} σ, {report.valid.sum()} of 9 points valid")

# %% [markdown]
# The walkthrough promises that *every* point of a latent path is a plausible polymer. Count
# instead of assuming: neither path keeps all its points valid. The straight line in
# coordinate space collapses in its middle, where bonds nearly vanish and beads overlap,
# because averaging the coordinates of two different chains folds one onto the other. The
# latent path changes the shape more naturally (a hairpin forms), and its shortest bond and
# closest contact are far less extreme, but it fails the check too. Its end points pass (the
# first only just), and no two beads come too close anywhere; what fails is the bonds. While
# the extended chain bends over into the hairpin, the shortest bond drops below the data's
# range (down to about 0.54 σ): the decoder returns an average for each code, and averaged
# chains have short bonds (section 5). A latent path is smoother than a coordinate path, not
# automatically physical.

# %%
lat, coo = path_reports["latent"], path_reports["coordinates"]
if not USE_DMOL:  # the text above describes the simulated data (see section 11 for the dmol.pub file)
    assert lat.contact_min.min() > coo.contact_min.min()  # the latent path overlaps less ...
    assert coo.bond_min.min() < lat.bond_min.min()  # ... and collapses less than the coordinate path,
    assert coo.contact_min.min() < 0.5 * reference.contact_min  # whose middle has overlapping beads
    assert lat.contact_min.min() > 1.2 * reference.contact_min  # the latent path fails on bonds, not contacts:
    assert lat.bond_min[1:-1].min() < 0.9 * min(lat.bond_min[0], lat.bond_min[-1])  # shortest between the ends
assert not lat.valid.all() and not coo.valid.all()  # neither path is valid everywhere
assert np.allclose(latent_path[0], model.decode(z_a).detach().numpy()[0], atol=1e-5)

# %% [markdown]
# ### Exercise 5.3 · From the most compact to the most extended
#
# Interpolate from the most compact to the most extended **test** frame instead. Fill in
# `z_ends`, shape (2, 2): the encoder means of these two frames (hint: `np.argmin`,
# `np.argmax` of their $R_g$, and slices that keep a batch axis). How many of 9 points are
# valid?

# %%
z_ends = torch.zeros(2, 2)  # your turn


# %%
# Self-check (Exercise 5.3)
def check_ends(candidate):
    expected = torch.as_tensor(mu_test[[int(np.argmin(rg_test)), int(np.argmax(rg_test))]])
    candidate = torch.as_tensor(candidate, dtype=torch.float32)
    if tuple(candidate.shape) != (2, 2):
        print(f"✗ z_ends should have shape (2, 2), got {tuple(candidate.shape)}")
        return False
    if not torch.allclose(candidate, expected, atol=1e-5):
        print("✗ Not yet: encode test[i:i+1] for the argmin and the argmax of R_g, take the means.")
        return False
    with torch.no_grad():
        ends_path = model.decode((1 - alphas) * expected[0] + alphas * expected[1])
    print(f"✓ Right. Valid points on this path: {helpers.validity(ends_path, reference).valid.sum()} of 9")
    return True


check_ends(z_ends);

# %% jupyter={"source_hidden": true}
# Solution (Exercise 5.3)
i_compact, i_extended = int(np.argmin(rg_test)), int(np.argmax(rg_test))
with torch.no_grad():
    z_ends_solution = torch.cat([model.encode(torch.as_tensor(test[i:i + 1]))[0] for i in (i_compact, i_extended)])
assert check_ends(z_ends_solution)
print(z_ends_solution)

# %% [markdown]
# ## 10. The latent-space explorer
#
# Drag $z_1$ and $z_2$ to decode any point; the cross on the map shows where you are, the
# polymer is drawn beside it with its $R_g$, and it turns red when it fails the validity
# check. The α slider replays the interpolation of section 9 (frames 0 and 100). Look for the
# gaps between the lobes of the map: what do their polymers look like?

# %%
explorer = LatentExplorer(model, train, pair=(a, b))
# the explorer decodes exactly what the model decodes (here: the start of the interpolation)
assert np.allclose(explorer.update(alpha=0.0), latent_path[0].reshape(-1, 2), atol=1e-5)
explorer.update(z1=0.0, z2=0.0);  # start at the center of the map (set before it is displayed)

# %%
explorer

# %% [markdown]
# No widgets (a static page, a PDF)? The same information as a grid of decoded polymers,
# each placed at its latent point and colored by its $R_g$:

# %%
explorer.static_figure()
plt.show()

# %% [markdown]
# ## 11. The original dmol.pub data
#
# Set `USE_DMOL = True` in section 1 and run everything again (it needs the network once, and
# trains the model here, since the shipped one belongs to the simulated data). The cell below
# summarizes whichever data set is loaded. With `USE_DMOL = True` we measured (offline, with
# this notebook): 2048 frames of a floppier chain in other units, bonds spread over
# 0.10–1.65 (1st–99th percentile), a variance per coordinate of 0.36 after `align_principal`
# and 0.65 with the walkthrough's alignment, a test error of 0.18 (about half of the test
# variance; the walkthrough's own recipe ends near 0.20), and 69% of the samples valid. Many
# more samples pass there than here because validity is judged against the data's own bond
# range, which is much wider for the floppier chain. The interpolation of section 9 fares
# worse there: only 3 of the 9 latent points were valid, fewer than on the straight line in
# coordinates (6 of 9).

# %%
unit = "" if USE_DMOL else " σ"  # the dmol.pub file has its own length unit
bond_low, bond_high = np.quantile(helpers.bond_lengths(train), [0.01, 0.99])
print(f"data: {'the dmol.pub file' if USE_DMOL else 'simulated'}, {len(paths)} frames")
print(f"bond lengths, 1st-99th percentile: {bond_low:.2f}-{bond_high:.2f}{unit}")
print(f"variance per coordinate: {variance_all:.2f} after align_principal, "
      f"{variance_tensor_only:.2f} after the tensor-only alignment")
print(f"test reconstruction error: {test_mse:.3f} ({test_mse / variance:.0%} of the test variance)")
print(f"valid samples: {sample_report.fraction_valid:.0%}")

# %% [markdown]
# ## Key takeaways
#
# - Centering and principal-axis alignment remove translation and rotation; the direction of
#   the axis needs an explicit rule (180° turn), and mirror images stay unless you choose to
#   fold them (`resolve_mirror=True`).
# - A reconstruction error means nothing without the data's scale: report it against the
#   variance under the same preprocessing (here about 0.13 of 1.1 σ²), not against a number
#   from another data set.
# - Check generated polymers physically. The decoder returns an average per code, so decoded
#   chains have short bonds: samples get the data's size ($R_g$) right to about 10% but fail
#   the strict bond check far more often than real frames.
# - Wasserstein distances, set against the data-vs-data noise floor, turn histogram
#   comparisons into numbers in σ.
# - Without any labels the latent map orders conformations by size. A straight path through
#   it is smoother than one through the coordinates but not automatically physical: check
#   every point. Where the map is thinly populated (the gaps between its lobes, its rim),
#   the decoder is least constrained: that is where optimization (notebook 6) goes wrong.
