# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1 · The generation problem: from noise to a molecule
#
# We want a machine that turns random numbers into new, realistic molecules: a protein
# sequence nobody has written down, or a polymer conformation nobody has simulated. This
# notebook sets up that problem. First we see why we cannot simply enumerate the candidates,
# then we meet the toy system of the whole course, a 12-bead polymer in two dimensions, and
# finally we try the most obvious way to train a noise-to-data network and watch it fail in an
# instructive way. That failure is the reason the encoder exists, and the next notebook builds it.
#
# **Learning objectives**
# - Compute the size of protein sequence space exactly and put it next to a physical number.
# - Describe the bead-spring polymer data set: its shape, its length unit (the bead diameter) and
#   its radius of gyration $R_g$, from compact coils to extended chains.
# - State the goal of a VAE decoder $p_\theta(x\mid z)$: map noise $z \sim \mathcal N(0, I)$
#   to data.
# - Explain, with a measurement, why training a decoder on random (noise, data) pairs only
#   teaches it the average conformation, and why that average is not even a valid polymer.
# - Say what is missing: each training example needs a noise vector that carries information
#   about it, which is the encoder's job.
#
# Run it: [Open in Colab](https://colab.research.google.com/github/protein-ai-course/polymer-vae-bundle/blob/main/notebooks/01_generation_problem.ipynb) · [Binder](https://mybinder.org/v2/gh/protein-ai-course/polymer-vae-bundle/main?urlpath=lab/tree/notebooks/01_generation_problem.ipynb) · locally: see README

# %%
# On Colab, install the course package first (elsewhere it is already installed).
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/protein-ai-course/polymer-vae-bundle"], check=True)

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import trange

import helpers
from helpers import plots
from helpers.exercises import generation_problem as exercises
from helpers.selfcheck import claim

UNIT = plots.LENGTH_UNIT                  # "bead diam.": all lengths are in bead diameters
torch.set_num_threads(1)                  # networks this small run fastest on one thread
torch.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Sequence space is too large to search
#
# A protein of length $L$ is a string over the 20 standard amino acids, so there are $20^L$
# possible sequences. For $L = 100$ (a small domain) Python's integers give the number exactly,
# with no floating-point rounding:
#
# $$20^{100} = 10^{100 \log_{10} 20} \approx 10^{130.1}.$$
#
# For scale, the observable universe holds roughly $10^{80}$ atoms.

# %%
n_sequences = 20**100                     # an exact integer, all 131 digits of it
digits = len(str(n_sequences))
log10_n = 100 * math.log10(20)
print(f"20^100 = {str(n_sequences)[:6]}... ({digits} digits) ≈ 10^{log10_n:.2f}")

ATOMS_IN_UNIVERSE = 10**80                # order of magnitude, observable universe
ratio = n_sequences // ATOMS_IN_UNIVERSE  # exact integer division
print(f"sequences per atom of the universe: about 10^{len(str(ratio)) - 1}")

# Suppose every atom were a computer testing a billion sequences per second since the Big Bang.
AGE_OF_UNIVERSE_S = 4.35e17               # 13.8 billion years, in seconds
log10_tested = 80 + 9 + math.log10(AGE_OF_UNIVERSE_S)
print(f"sequences tested: 10^{log10_tested:.1f}, a fraction 10^{log10_tested - log10_n:.1f} of the space")

# %% tags=["check"]
claim(digits == 131 and n_sequences > 10**130, "20^100 has 131 digits, about 10^130.1", f"{digits} digits")
claim(abs(log10_n - 130.103) < 1e-3, "log10(20^100) = 130.1", f"{log10_n:.4f}")
claim(len(str(ratio)) - 1 == 50, "about 10^50 sequences per atom", f"10^{len(str(ratio)) - 1}")
claim(abs(AGE_OF_UNIVERSE_S / (13.8e9 * 365.25 * 24 * 3600) - 1) < 0.01, "4.35e17 s is 13.8 billion years",
      f"{AGE_OF_UNIVERSE_S / (365.25 * 24 * 3600):.3g} years");

# %% [markdown]
# The figure shows how fast $20^L$ grows with the chain length $L$. Known protein sequences
# (the UniProt database holds a few hundred million, of order $10^{8.5}$) fill an
# unimaginably small corner. Enumerating is hopeless: a useful generator must *learn* where
# in this space functional proteins live and draw new ones from there.

# %%
lengths = np.arange(1, 301)
fig, ax = plt.subplots(figsize=(7, 3.6), constrained_layout=True)
ax.plot(lengths, lengths * np.log10(20), label="all sequences of length $L$: $20^L$")
ax.axhline(80, color="0.3", ls="--", label="atoms in the observable universe ($10^{80}$)")
ax.axhline(8.5, color="C2", ls=":", label="known protein sequences (~$10^{8.5}$)")
ax.plot([100], [log10_n], "ko")
ax.annotate(r"$L=100$: $10^{130}$", (100, log10_n), xytext=(115, 115), arrowprops=dict(arrowstyle="->"))
ax.set(xlabel="chain length $L$ (residues)", ylabel="log$_{10}$(count)", title="The size of sequence space",
       ylim=(0, 400))
ax.legend(loc="upper left", fontsize=9)
plt.show()

# %% [markdown]
# ### Exercise 1.1 · When does sequence space outgrow the universe?
#
# Write `crossing_length(alphabet_size, exponent)`: the shortest chain length $L$ (an integer)
# for which `alphabet_size**L` exceeds `10**exponent`. Estimate with logarithms, then make the
# answer exact with Python's integers, which have no rounding. The self-check tries other
# alphabets (4 nucleotides, 2 bits, 100 or 1000 letters) and other powers of ten.

# %% tags=["exercise"]
def crossing_length(alphabet_size, exponent):
    """The shortest chain length L with alphabet_size**L > 10**exponent."""
    return None  # replace with your code


L_cross = crossing_length(20, 80)
print(f"20^L exceeds 10^80 from L = {L_cross} on")

# %% tags=["self-check"]
exercises.check_crossing_length(crossing_length);

# %% tags=["solution"]
def crossing_length_solution(alphabet_size, exponent):
    L = math.floor(exponent / math.log10(alphabet_size))   # the estimate: 80 / 1.301 = 61.5 -> 61
    while alphabet_size**L <= 10**exponent:                 # exact integers decide "exceeds"
        L += 1
    return L


exercises.check_crossing_length(crossing_length_solution)
print(f"a peptide of {crossing_length_solution(20, 80)} residues already has more sequences than the universe has atoms; "
      f"100**40 is exactly 10**80, so 100 letters need {crossing_length_solution(100, 80)}")

# %% [markdown]
# ## 2. A toy molecule we can see: the bead-spring polymer
#
# Proteins are hard to draw and slow to simulate, so the course works with a stand-in that
# poses the same generative problem: a chain of 12 beads in the plane, joined by stiff springs,
# with a mild bending stiffness and a Lennard-Jones attraction between beads that are not
# bonded. The bundle simulates its own data set, 10,000 conformations from a Langevin
# simulation at constant temperature (offline, cached; the first run takes a few seconds). The
# lecture's code walkthrough uses another file (dmol.pub, 2048 frames, not the ~10,000 the texts
# quote); notebook 6 compares the two.
#
# **What the frames are samples of.** Springs, bending and attraction add up to a potential
# energy $U(x)$ (`helpers.polymer_energy`, in units of the thermal energy $kT$). A simulation at
# constant temperature samples the Boltzmann distribution
#
# $$p(x) = \frac{e^{-U(x)/kT}}{Z}, \qquad Z = \int e^{-U(x')/kT}\,dx' :$$
#
# a conformation's probability density falls exponentially with its energy. We can evaluate $U$
# but not $Z$, an integral over all conformations, so $p(x)$ itself is out of reach; a long
# simulation gives samples. A generative model sees only those samples: its $p_\theta(x)$ should
# approach $p(x)$, falling like $e^{-U(x)/kT}$, so that a conformation with overlapping beads gets
# next to no probability. Notebook 8 uses $U$ itself to check and repair generated polymers.
#
# Lengths are in **bead diameters**: bonds are about 1 bead diameter long, and two non-bonded
# beads rarely come closer than about 1 bead diameter. One conformation is 12 beads × 2
# coordinates, a vector $x \in \mathbb R^{24}$. That vector is what a generative model must produce.
#
# Before modeling, each frame is centered and rotated so that its long axis lies along $x$
# (notebook 6 explains how, and what this cannot remove). Then the data set is a matrix with one
# 24-number row per conformation.

# %%
paths = helpers.load_paths()                              # (10000, 12, 2), in bead diameters
data = helpers.preprocess(paths)                          # (10000, 24), centered and aligned, float32
train, test = helpers.train_test_split(data, seed=42)     # 9000 / 1000 frames
print(f"paths {paths.shape}, data {data.shape}, train {train.shape}, test {test.shape}")

bonds = helpers.bond_lengths(paths)                       # (10000, 11), all bonds of every frame
bond_range = np.percentile(bonds, [1, 99])                # pooled over all 110,000 bonds
print(f"bond lengths: mean {bonds.mean():.3f} {UNIT}, "
      f"1st-99th percentile {bond_range[0]:.2f}-{bond_range[1]:.2f} {UNIT}")
closest = helpers.min_nonbonded_distance(paths)           # (10000,) closest non-bonded pair per frame
print(f"closest non-bonded pair: median {np.median(closest):.2f} {UNIT}, "
      f"1st percentile {np.percentile(closest, 1):.2f} {UNIT}, minimum {closest.min():.2f} {UNIT}")

# %% tags=["check"]
claim(paths.shape == (10000, 12, 2) and data.shape == (10000, 24), "10,000 frames of 12 beads in 2-D",
      f"paths {paths.shape}, data {data.shape}")
claim(0.95 < bonds.mean() < 1.05, "bonds are about 1 bead diameter long", f"mean bond {bonds.mean():.3f}")
claim(0.85 < np.percentile(closest, 1) < 1.05, "non-bonded beads rarely come closer than about 1 bead diameter",
      f"1st percentile of the closest contact {np.percentile(closest, 1):.2f}")
claim(np.allclose(bond_range, [0.77, 1.23], atol=0.006), "§6 quotes the pooled bond range 0.77-1.23",
      f"{bond_range.round(3)}");

# %% [markdown]
# Six frames from the training set (titles: row numbers in `train`). In every polymer drawing of
# the course the **open circle marks bead 1**, so you can tell where the chain starts.

# %%
picks = rng.choice(len(train), size=6, replace=False)
fig = plots.polymer_row(train[picks], titles=[f"train[{k}]" for k in picks], ncols=3, size=2.6, lim=5)
fig.suptitle("Six conformations from the training set (open circle: bead 1)")
plt.show()

# %% [markdown]
# ## 3. One number for shape: the radius of gyration
#
# Conformations range from compact coils to nearly straight chains. The **radius of
# gyration** summarizes this in one number, the root-mean-square distance of the beads from
# their center of mass $\bar{\mathbf r}$:
#
# $$R_g = \sqrt{\frac{1}{N}\sum_{i=1}^{N} \lVert \mathbf r_i - \bar{\mathbf r}\rVert^2},
# \qquad \bar{\mathbf r} = \frac1N \sum_{i=1}^{N} \mathbf r_i, \qquad N = 12.$$
#
# We compute it once by hand and compare it with `helpers.radius_of_gyration`, which the rest
# of the course uses. A straight 12-bead chain with bonds of exactly 1 bead diameter has
# $R_g = \sqrt{(N^2-1)/12} = 3.45$ bead diameters; the most extended frames exceed it slightly,
# because their bonds stretch a little beyond 1.

# %%
centered = paths - paths.mean(axis=1, keepdims=True)            # subtract the center of mass
rg = np.sqrt((centered**2).sum(axis=-1).mean(axis=-1))            # (10000,) in bead diameters
print("same as helpers.radius_of_gyration:", np.allclose(rg, helpers.radius_of_gyration(paths)))
rg_straight = math.sqrt((12**2 - 1) / 12)                         # a straight chain of 1-unit bonds
print(f"R_g: min {rg.min():.2f}, median {np.median(rg):.2f}, max {rg.max():.2f} {UNIT} "
      f"(a straight chain: {rg_straight:.2f} {UNIT})")

fig, ax = plt.subplots(figsize=(6.5, 3.4), constrained_layout=True)
ax.hist(rg, bins=60, color="0.6")
for q, label, color in ((1, "1st percentile (compact)", "C0"), (99, "99th percentile (extended)", "C1")):
    ax.axvline(np.percentile(rg, q), color=color, ls="--", label=label)
ax.axvline(rg_straight, color="k", ls=":", label="fully straight chain")
ax.set(xlabel=f"radius of gyration $R_g$ ({UNIT})", ylabel="number of frames", title="Compact to extended")
ax.legend(fontsize=9)
plt.show()

# %% tags=["check"]
claim(np.allclose(rg, helpers.radius_of_gyration(paths)), "the hand-made R_g equals the helper's", "they differ")
claim(abs(rg_straight - 3.45) < 0.005, "a straight chain has R_g = 3.45", f"{rg_straight:.3f}")
claim(rg_straight < rg.max() < rg_straight + 0.2, "the most extended frames exceed 3.45 slightly",
      f"max R_g {rg.max():.2f}")
claim(abs(rg.min() - 1.4) < 0.1 and abs(rg.max() - 3.5) < 0.1, "R_g ranges from about 1.4 to about 3.5 (takeaways)",
      f"{rg.min():.2f}-{rg.max():.2f}");

# %% [markdown]
# The spread is wide: a generator that only made typical chains would miss both tails. Here are
# conformations picked at increasing $R_g$, from the most compact to the most extended:

# %%
order = np.argsort(rg)
shown = order[[0, len(rg) // 10, len(rg) // 2, 9 * len(rg) // 10, -1]]
titles = [f"$R_g$ = {rg[k]:.2f} {UNIT}" for k in shown]
fig = plots.polymer_row(helpers.preprocess(paths[shown]), titles=titles)
fig.suptitle("From the most compact (left) to the most extended (right) conformation")
plt.show()

# %% [markdown]
# ## 4. The goal: a decoder from noise to data
#
# A generator is a network $f_\theta$ with parameters $\theta$ that maps a **latent** vector
# $z \in \mathbb R^{J}$ to a conformation. To generate, draw $z$ from a fixed, simple
# distribution (the **prior**) and decode it:
#
# $$z \sim p(z) = \mathcal N(0, I_J), \qquad x \sim p_\theta(x \mid z) = \mathcal N\big(f_\theta(z),\, \sigma_x^2 I_{24}\big).$$
#
# The decoder $p_\theta(x\mid z)$ is a distribution over conformations whose mean is the
# network's output $f_\theta(z)$; a draw from it adds independent Gaussian noise of standard
# deviation $\sigma_x$ to each of the 24 coordinates. Every polymer this course shows as
# "decoded" or "generated" is that **mean** $f_\theta(z)$, not a draw from $p_\theta(x\mid z)$.
#
# For the polymer we use $J = 2$, so the latent space is a plane we can draw, and the decoder
# size the lecture uses: three 256-unit ReLU layers between the 2 inputs and the 24 outputs.
# Untrained, it maps noise to tiny, meaningless clusters near the origin:

# %%
decoder = helpers.Decoder(latent_dim=2, hidden_dims=(256, 256, 256), output_dim=24)
n_params = sum(p.numel() for p in decoder.parameters())
print(f"decoder parameters: {n_params:,}")     # weights and biases of the four layers

z = torch.randn(4, 2)                                            # four draws from the prior
with torch.no_grad():
    untrained = decoder(z)                                       # (4, 24), the decoder's means
zoom = float(untrained.abs().max())                              # how far the farthest bead lies from (0, 0)
fig = plots.polymer_grid(untrained, titles=[f"$z$ = ({a:+.2f}, {b:+.2f})" for a, b in z.tolist()], lim=6, size=2.4,
                         reference=helpers.ValidityReference.from_data(train))   # red: not a valid polymer (§6)
fig.suptitle(f"An untrained decoder, drawn at the data's scale: all 12 beads within ±{zoom:.2f} {UNIT} of the origin\n"
             "(one pile of overlapping beads; red: fails the validity check of §6)")
plt.show()

# %% tags=["check"]
claim(n_params == (2 * 256 + 256) + 2 * (256 * 256 + 256) + (256 * 24 + 24) == 138_520,
      "three 256-unit layers between 2 inputs and 24 outputs: 138,520 parameters", f"{n_params:,}")
claim(zoom < 1.0, "the untrained decoder's outputs are tiny clusters near the origin", f"±{zoom:.2f}");

# %% [markdown]
# Training should make the decoded conformations look like the data: different $z$, different
# realistic polymers, with the right mix of compact and extended ones. But how? Supervised
# learning needs (input, target) pairs. We have the targets, 9,000 conformations, and no inputs:
# nobody told us which $z$ belongs to which conformation.

# %% [markdown]
# ## 5. The naive attempt: pair each conformation with random noise
#
# The obvious idea: give every training conformation $x_i$ its own random $z_i \sim \mathcal N(0, I)$,
# fixed once, and fit the decoder by least squares,
#
# $$\min_\theta \ \frac{1}{n}\sum_{i=1}^{n} \frac{1}{24}\big\lVert x_i - f_\theta(z_i)\big\rVert^2 .$$
#
# This is the **mean squared error per coordinate**, in (bead diameters)²: averaged over the 24
# coordinates and over the frames. The course measures reconstruction error this way throughout.
# Short training (300 Adam steps, a few seconds) is enough to see where this goes.

# %%
def fit_decoder(x, z, steps=300, batch_size=256, lr=1e-3, seed=0):
    """Least-squares fit of a fresh lecture-sized decoder to the pairs (z[i], x[i]).

    x: (n, 24) conformations, z: (n, 2) latent inputs. Returns (decoder, losses per step),
    the loss being the mean squared error per coordinate, in (bead diameters)^2.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = helpers.Decoder(latent_dim=z.shape[1], hidden_dims=(256, 256, 256), output_dim=x.shape[1])
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    for _ in trange(steps, desc="fitting the decoder", leave=False):
        batch = torch.randint(0, len(x), (batch_size,), generator=gen)
        loss = ((net(z[batch]) - x[batch]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    net.eval()
    return net, np.array(losses)


x_train = torch.as_tensor(train)                                  # (9000, 24)
z_random = torch.randn(len(x_train), 2, generator=torch.Generator().manual_seed(1))
noise_decoder, noise_losses = fit_decoder(x_train, z_random)

data_variance = float(train.var(axis=0).mean())                   # per coordinate, (bead diam.)^2
with torch.no_grad():
    train_mse = float(((noise_decoder(z_random) - x_train) ** 2).mean())
print(f"training MSE {train_mse:.3f}  vs  variance of the data {data_variance:.3f} ({UNIT})² per coordinate")

# %% tags=["check"]
claim(abs(train_mse - data_variance) < 0.05 * data_variance, "the training error stalls at the variance of the data",
      f"MSE {train_mse:.3f} vs variance {data_variance:.3f}");

# %% [markdown]
# The training error stalls at the variance of the data. That is exactly the error of a
# network that ignores its input and always answers with the mean conformation $\bar x$. Now
# decode fresh noise and compare the spread of the outputs with the spread of the data. We
# measure spread as the **total variance**: the variance of each of the 24 coordinates over the
# frames, summed (24 times the variance per coordinate above). For the training set it is
# 26.55 (bead diameters)², a number notebook 4 uses again.

# %%
with torch.no_grad():
    generated = noise_decoder(torch.randn(2000, 2, generator=torch.Generator().manual_seed(2))).numpy()
mean_conformation = train.mean(axis=0)                             # (24,), the average frame

total_variance = float(train.var(axis=0).sum())                    # (bead diam.)^2, summed over 24 coordinates
spread_generated = float(generated.var(axis=0).sum())


def rms_to_mean(x):
    """Root-mean-square distance of the beads from the mean conformation's, averaged over frames."""
    squared = ((x - mean_conformation) ** 2).reshape(len(x), 12, 2).sum(-1)   # (frames, beads)
    return float(np.sqrt(squared.mean(-1)).mean())


print(f"total variance: generated {spread_generated:.3f}  vs  data {total_variance:.2f} ({UNIT})²  "
      f"(ratio {spread_generated / total_variance:.1%})")
print(f"RMS bead distance from the mean conformation: generated {rms_to_mean(generated):.2f},"
      f" data {rms_to_mean(train):.2f} {UNIT}")

# %% tags=["check"]
claim(abs(total_variance - 26.55) < 0.005, "the training set's total variance is 26.55", f"{total_variance:.4f}")
claim(spread_generated < 0.01 * total_variance, "decoded outputs vary well under 1% as much as the data",
      f"{spread_generated / total_variance:.2%}")
claim(rms_to_mean(generated) < 0.2 * rms_to_mean(train), "every z decodes to (almost) the mean conformation",
      f"RMS distance {rms_to_mean(generated):.2f} vs {rms_to_mean(train):.2f} for the data");

# %%
fig, (ax_loss, ax_out) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
ax_loss.plot(noise_losses, color="C0", alpha=0.8, label="training batches")
ax_loss.axhline(data_variance, color="k", ls="--", label="variance of the data")
ax_loss.set(xlabel="Adam step", ylabel=f"MSE per coordinate (({UNIT})²)", title="The loss stalls at the variance",
            ylim=(0, 2.5 * data_variance))
ax_loss.legend()
for k, color in enumerate(("C0", "C2")):                          # two real frames, beads of diameter 1
    plots.draw_polymer(ax_out, train[picks[k]], color=color, alpha=0.5, show_ends=False, label=f"real frame train[{picks[k]}]")
for k in range(8):                                                 # overlays: lines with dots at the bead centres
    plots.draw_polymer(ax_out, generated[k], color="C1", alpha=0.7, show_ends=False, beads=False,
                       label="decoder means for 8 different $z$" if k == 0 else None)
plots.draw_polymer(ax_out, mean_conformation, color="k", show_ends=False, beads=False, label="mean conformation $\\bar x$")
ax_out.set(xlabel=f"x ({UNIT})", ylabel=f"y ({UNIT})", title="Different noise, one output")
ax_out.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# Why the mean? Because $z_i$ was drawn independently of $x_i$, the noise carries no
# information about which conformation to produce. For any function $f$, the expected error
# splits into two parts:
#
# $$\mathbb E\,\lVert x - f(z)\rVert^2 = \underbrace{\mathbb E\,\lVert x - \bar x\rVert^2}_{\text{spread of the data}}
#   + \underbrace{\mathbb E\,\lVert \bar x - f(z)\rVert^2}_{\ge 0}
#   \qquad (x \text{ independent of } z),$$
#
# so the best the decoder can do is $f(z) = \bar x$ for every $z$. With 9,000 fixed pairs a
# huge network could eventually memorize the arbitrary assignment, but that would not help
# either: a fresh $z$ would still decode to nothing in particular.

# %% [markdown]
# ## 6. The average polymer is not a polymer
#
# Worse, $\bar x$ is not a conformation the polymer can adopt. Averaging thousands of different
# shapes, bends to the left and to the right, cancels the bends and squeezes the beads together.
# `helpers.validity` compares a conformation with limits taken from the training frames. It
# passes when
# - its **shortest bond** is at least the 1st percentile of the training frames' shortest bonds,
# - its **longest bond** is at most the 99th percentile of their longest bonds, and
# - its **closest non-bonded pair** is at least the 0.1st percentile of their closest contacts.
#
# Percentiles, not the extremes, so that one odd frame does not set the limit; the price is that
# about 2% of real frames fail (printed below). The bond limits, 0.69–1.32 bead diameters, are
# wider than the 0.77–1.23 of §2 because §2 pooled all bonds, while the rule looks at each
# frame's shortest and longest of its 11 bonds, which are more extreme than a typical bond.
# With the pooled range, about 20% of real frames would fail.

# %%
reference = helpers.ValidityReference.from_data(train)
real = helpers.validity(train, reference)
print("training data:      ", real)
print(f"real frames that fail: {1 - real.fraction_valid:.1%}")
print("mean conformation:  ", helpers.validity(mean_conformation, reference))
print("decoded from noise: ", helpers.validity(generated, reference))
print(f"R_g of the mean conformation: {helpers.radius_of_gyration(mean_conformation):.2f} {UNIT} "
      f"(smallest in the data: {rg.min():.2f} {UNIT})")
energy = helpers.polymer_energy(train)                             # U(x) / kT of every training frame
energy_mean = float(helpers.polymer_energy(mean_conformation))
print(f"energy U/kT: real frames median {np.median(energy):.1f}, 99th percentile {np.percentile(energy, 99):.1f}; "
      f"mean conformation {energy_mean:.2g}")

fig = plots.polymer_grid(np.stack([mean_conformation, generated[0], train[picks[0]]]), reference=reference, lim=6, size=2.6,
                         titles=["mean conformation $\\bar x$", "decoded from noise (mean)", "a real frame"])
plt.show()

# %% tags=["check"]
train_bonds = helpers.bond_lengths(train)
pooled_fail = np.mean(((train_bonds < bond_range[0]) | (train_bonds > bond_range[1])).any(-1))
claim(0.015 < 1 - real.fraction_valid < 0.03, "about 2% of real frames fail", f"{1 - real.fraction_valid:.1%}")
claim(abs(reference.bond_min - 0.69) < 0.005 and abs(reference.bond_max - 1.32) < 0.005,
      "the rule's bond limits are 0.69-1.32", f"{reference.bond_min:.3f}-{reference.bond_max:.3f}")
claim(0.15 < pooled_fail < 0.25, "with the pooled range about 20% of real frames would fail", f"{pooled_fail:.1%}")
claim(not helpers.validity(mean_conformation, reference).valid, "the average is not a polymer", "it passes")
claim(helpers.validity(generated, reference).fraction_valid < 0.01, "no output of the noise decoder is valid",
      f"{helpers.validity(generated, reference).fraction_valid:.1%} valid")
mean_report, rg_mean = helpers.validity(mean_conformation, reference), helpers.radius_of_gyration(mean_conformation)
claim(np.allclose([mean_report.bond_min, mean_report.bond_max, mean_report.contact_min], [0.11, 0.71, 0.29], atol=0.005),
      "the average's bonds are 0.11-0.71 and two beads come within 0.29",
      f"bonds {mean_report.bond_min:.3f}-{mean_report.bond_max:.3f}, contact {mean_report.contact_min:.3f}")
claim(abs(rg_mean - 1.56) < 0.005 and np.percentile(rg, 1) < rg_mean < np.percentile(rg, 99),
      "the average's R_g, 1.56, is unremarkable (between the data's 1st and 99th percentiles)", f"{rg_mean:.3f}")
claim(1.5e7 < energy_mean < 2.5e7 and abs(np.median(energy) - 7.6) < 0.05,
      "the average's energy is about 2e7 kT, a real frame's median 7.6 kT",
      f"{energy_mean:.3g} kT, median {np.median(energy):.2f} kT");

# %% [markdown]
# The printout says why: the average's bonds are only 0.11–0.71 bead diameters long and two of
# its non-bonded beads come within 0.29 bead diameters of each other, although its $R_g$ (1.56
# bead diameters) is unremarkable. Size alone does not tell a polymer from a broken one; bonds
# and contacts do. So does the energy of §2: about $2\times10^{7}\,kT$ against a median of 7.6 for
# real frames, a Boltzmann factor $e^{-2\times10^{7}}$ times a typical frame's.

# %% [markdown]
# ### Exercise 1.2 · The cost of a constant guess
#
# Suppose the decoder always answered with one fixed *real* conformation $c$ instead of the mean,
# say the most compact training frame: at least its output would be a valid polymer. Write
# `constant_error(x, c)`, the mean squared error per coordinate (the loss of §5) of answering `c`
# for every frame of `x` (shape `(n, 24)`). Before you run it: will the compact frame beat the
# mean's error, the variance? The self-check tries other frames, constants and numbers of frames.

# %% tags=["exercise"]
def constant_error(x, c):
    """Mean squared error per coordinate of answering c (24,) for every frame of x (n, 24)."""
    return None  # replace with your code


c = train[np.argmin(helpers.radius_of_gyration(train))]   # the most compact training frame, (24,)
print(f"always answering with the compact frame: {constant_error(train, c)}; with the mean: {data_variance:.2f} ({UNIT})²")

# %% tags=["self-check"]
exercises.check_constant_error(constant_error);

# %% tags=["solution"]
def constant_error_solution(x, c):
    return float(((x - c) ** 2).mean())


exercises.check_constant_error(constant_error_solution)
print(f"always answering with the compact frame: {constant_error_solution(train, c):.2f} ({UNIT})²")

# %% [markdown]
# The mean wins, and not by luck. The split of §5, with $c$ in place of $f(z)$, says
#
# $$\frac{1}{24}\,\mathbb E\,\lVert x - c\rVert^2 = \underbrace{\frac{1}{24}\,\mathbb E\,\lVert x - \bar x\rVert^2}_{\text{variance}} + \frac{1}{24}\,\lVert \bar x - c\rVert^2 :$$
#
# every constant pays the variance plus its squared distance from $\bar x$. Even the real frame
# nearest to $\bar x$ pays more:

# %%
offset = ((train - mean_conformation) ** 2).mean(axis=1)        # (9000,): |x_i - x̄|² / 24 of every real frame
nearest = int(np.argmin(offset))                                 # the real frame closest to the mean
compact = int(np.argmin(helpers.radius_of_gyration(train)))      # c above
print(f"the mean: {data_variance:.2f}; the nearest real frame: {data_variance + offset[nearest]:.2f} "
      f"({helpers.validity(train[nearest], reference)}); the compact frame: {data_variance + offset[compact]:.2f}")
print(f"your constant_error(train, c): {constant_error(train, train[compact])}")

# %% tags=["check"]
claim(helpers.validity(train[nearest], reference).valid and abs(offset[nearest] / data_variance - 0.27) < 0.005,
      "the nearest real frame is valid and costs 27% more than the mean", f"{offset[nearest] / data_variance:.1%}")
claim(abs(1 + offset[compact] / data_variance - 2.6) < 0.05, "the compact frame costs 2.6 times as much",
      f"{1 + offset[compact] / data_variance:.2f}");

# %% [markdown]
# Least squares prefers the invalid average to any other constant, valid polymers included: the
# nearest real frame costs 27% more than $\bar x$, the compact one 2.6 times as much. A decoder
# that cannot tell which conformation to produce is rewarded for blurring them.

# %% [markdown]
# ## 7. What is missing: noise that knows about the data
#
# The pairs failed because $z_i$ says nothing about $x_i$. What if each $z_i$ were *computed
# from* $x_i$? As a hand-made stand-in for an encoder, take the first two principal components
# of each conformation (its coordinates along the two directions in which the data vary most),
# scaled to unit variance so that they look like $\mathcal N(0, I)$ draws. Same decoder, same 300
# steps; only the pairing changes.

# %%
_, _, components = np.linalg.svd(train - mean_conformation, full_matrices=False)
pca_codes = (train - mean_conformation) @ components[:2].T            # (9000, 2)
code_scale = pca_codes.std(axis=0)
z_pca = torch.as_tensor(pca_codes / code_scale, dtype=torch.float32)
pca_decoder, pca_losses = fit_decoder(x_train, z_pca)

with torch.no_grad():
    z_test = torch.as_tensor(((test - mean_conformation) @ components[:2].T) / code_scale, dtype=torch.float32)
    test_mse_pca = float(((pca_decoder(z_test) - torch.as_tensor(test)) ** 2).mean())
    z_noise = torch.randn(len(test), 2, generator=torch.Generator().manual_seed(3))
    test_mse_noise = float(((noise_decoder(z_noise) - torch.as_tensor(test)) ** 2).mean())
print(f"held-out MSE per coordinate: random pairs {test_mse_noise:.3f}, "
      f"codes computed from x {test_mse_pca:.3f} ({UNIT})²")

fig, ax = plt.subplots(figsize=(6.5, 3.4), constrained_layout=True)
ax.plot(noise_losses, label="$z$ drawn at random", alpha=0.8)
ax.plot(pca_losses, label="$z$ computed from $x$ (2 principal components)", alpha=0.8)
ax.axhline(data_variance, color="k", ls="--", label="variance of the data")
ax.set(xlabel="Adam step", ylabel=f"MSE per coordinate (({UNIT})²)", title="Informative codes make the decoder learn",
       ylim=(0, 2.5 * data_variance))
ax.legend(fontsize=9)
plt.show()

# %% tags=["check"]
claim(test_mse_pca < 0.6 * test_mse_noise, "informative codes make the decoder learn (held-out error falls)",
      f"{test_mse_pca:.3f} vs {test_mse_noise:.3f}");

# %% [markdown]
# With informative codes the decoder learns at once. A fixed linear map is a crude encoder,
# though: two principal components keep only part of the variation, and nothing guarantees
# that decoding a fresh $z \sim \mathcal N(0, I)$ gives a realistic polymer. The variational
# autoencoder **learns** the encoder $q_\phi(z\mid x)$ together with the decoder, and adds a
# penalty that keeps the codes distributed like the prior we will sample from. Notebook 2
# builds it.

# %% [markdown]
# ## Key takeaways
#
# - There are $20^{100} \approx 10^{130}$ sequences of length 100, about $10^{50}$ for every atom
#   in the observable universe: a generator has to learn where good molecules are, not enumerate.
# - The course's toy molecule is a 12-bead polymer in 2-D: a conformation is a vector in
#   $\mathbb R^{24}$, lengths are in bead diameters, and $R_g$ ranges from compact coils
#   (about 1.4 bead diameters) to nearly straight chains (about 3.5).
# - The goal is a decoder $p_\theta(x\mid z)$ that turns $z \sim \mathcal N(0, I)$ into realistic
#   conformations; the polymers we show are its mean $f_\theta(z)$.
# - Training it on random (noise, data) pairs fails in a measurable way: the loss (mean squared
#   error per coordinate) stalls at the data's variance, decoded outputs barely vary with $z$
#   (well under 1% of the data's total variance), and they all lie close to the mean
#   conformation, which fails the validity rule that about 98% of real frames pass.
# - The cure is a $z$ that carries information about its $x$: an **encoder**. The VAE learns one,
#   $q_\phi(z\mid x)$, and keeps its codes compatible with the prior (notebook 2).
