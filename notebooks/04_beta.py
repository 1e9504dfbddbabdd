# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4 · β: rate, distortion and posterior collapse
#
# Notebook 3 derived the ELBO. Here we turn the knob $\beta$ on its KL term. Eleven small VAEs
# trained with $\beta$ from $10^{-4}$ to $100$ let us read the result as a trade-off between
# *rate* (how much the code says about $x$) and *distortion* (how badly $x$ is reconstructed), all
# the way to collapse.
#
# **Learning objectives**
# - Say which decoder noise $\sigma_x$ a $\beta$ assumes, in the "sum" and "mean" loss conventions.
# - Read a $\beta$ sweep as a rate–distortion curve of slope set by $\beta$; predict with a linear
#   model where the rate vanishes.
# - Measure posterior collapse; say when a decoder or the optimisation causes it, and what KL
#   warm-up and free bits do.
# - Tell the decoder's mean $f_\theta(z)$ from a draw of $p_\theta(x\mid z)$.
#
# Run it: [Open in Colab](https://colab.research.google.com/github/protein-ai-course/polymer-vae-bundle/blob/main/notebooks/04_beta.ipynb) · [Binder](https://mybinder.org/v2/gh/protein-ai-course/polymer-vae-bundle/main?urlpath=lab/tree/notebooks/04_beta.ipynb) · locally: see README

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

import helpers
from helpers import plots
from helpers.exercises import beta as exercises
from helpers.selfcheck import claim
from helpers.widgets import BetaExplorer

torch.manual_seed(0)
train, test = helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)   # (n, 24), bead diameters
sweep = helpers.load_beta_sweep()                     # [(beta, model, result)], beta in the "sum" convention
main_model, meta = helpers.load_pretrained()          # notebook 3's model, for comparison
print(f"{len(sweep)} models, beta = {', '.join(f'{b:g}' for b, _, _ in sweep)}")

# %% [markdown]
# ## 1. $\beta$ is an assumption about noise, and its value depends on the reductions
#
# Notebook 3 showed that with a Gaussian decoder of noise $\sigma_x$ (a standard deviation, in bead
# diameters) the loss $\mathbb{E}_q\lVert x - f_\theta(z)\rVert^2 + \beta\,D_{\mathrm{KL}}$ of `helpers.vae_loss`
# ("sum" convention: squared error summed over the 24 coordinates, KL summed over the 2 latent
# dimensions) is $2\sigma_x^2(-\mathrm{ELBO})$ plus a constant when $\beta = 2\sigma_x^2$. So choosing
# $\beta$ *is* choosing the decoder noise, $\sigma_x = \sqrt{\beta/2}$.
#
# The lecture's code walkthrough uses the **"mean" convention**: squared error averaged over the 24
# coordinates, KL averaged over the 2 latent dimensions. Dividing the first term by 24 and the
# second by 2 means its $\beta$ must be multiplied by $24/2 = 12$ for the same objective: its
# $\beta = 0.01$ is $0.12$ here, notebook 3's value. A $\beta$ quoted without its reductions is meaningless.
#
# Reconstruction error is the mean squared error **per coordinate**, in (bead diam.)², on the
# held-out split, decoded from a draw $z \sim q_\phi(z\mid x)$ as in the loss (not from $\mu$).

# %%
print(f"walkthrough beta 0.01 ('mean') = {helpers.beta_sum_from_mean(0.01):.2f} ('sum'); "
      f"notebook 3's model: beta = {meta['beta']}")
eigenvalues = np.linalg.eigvalsh(np.cov(train.T))[::-1]          # variance along the principal axes, (bead diam.)²
total_variance = float(train.var(0).sum())                       # summed over the 24 coordinates, as in notebook 1
rms_per_coordinate = math.sqrt(total_variance / 24)
sigma_x_range = [math.sqrt(b / 2) for b in (sweep[0][0], sweep[-1][0])]
print(f"sigma_x from {sigma_x_range[0]:.3f} to {sigma_x_range[1]:.1f} bead diam. over the sweep; the data's rms "
      f"spread per coordinate is {rms_per_coordinate:.2f} bead diam. (total variance {total_variance:.2f} (bead diam.)²)")

# %% tags=["check"]
claim(abs(helpers.beta_sum_from_mean(0.01) - 0.12) < 1e-9 and meta["beta"] == 0.12, "0.01 ('mean') = 0.12 ('sum')",
      f"{helpers.beta_sum_from_mean(0.01)}, model {meta['beta']}")
claim(4 < sigma_x_range[1] / rms_per_coordinate < 10, "the largest sigma_x is several times the data's spread",
      f"{sigma_x_range[1] / rms_per_coordinate:.1f} times")
claim(abs(total_variance - 26.5) < 0.1, "total variance about 26.5 (bead diam.)^2 (key takeaways)", f"{total_variance:.2f}");

# %% [markdown]
# ## 2. Rate versus distortion
#
# In the language of information theory the two terms of the loss are
#
# - **rate** $R = \mathbb{E}_x D_{\mathrm{KL}}(q_\phi(z\mid x)\,\|\,p(z))$, in nats per conformation (a
#   *nat* is information in natural-log units, ≈ 1.44 bits). It bounds from above the mutual
#   information $I(x; z)$ of $x$ and its code: $R = I(x; z) + D_{\mathrm{KL}}(q_\phi(z)\,\|\,p(z))$, with
#   $q_\phi(z) = \mathbb{E}_x\, q_\phi(z\mid x)$ the *aggregate posterior* (all codes pooled);
# - **distortion** $D$, the reconstruction error per coordinate.
#
# Per conformation the loss is $24\,D + \beta R$. Each $\beta$ picks the point of the trade-off where
# this is smallest, where the curve $D(R)$ has slope $\mathrm{d}D/\mathrm{d}R = -\beta/24$: a nat of
# rate is worth $\beta/24$ of distortion.
#
# A linear model tells where the rate should vanish. For a *linear* decoder the optimal VAE is
# probabilistic PCA: latent direction $j$ stays in use only if the data's variance $\lambda_j$ along its
# $j$-th principal axis exceeds the noise $\sigma_x^2 = \beta/2$, and then costs
# $R_j = \frac12\log(2\lambda_j/\beta)$ nats. With two latent dimensions all information is off
# once $\beta > 2\lambda_1$.
#
# The sweep's models are smaller than notebook 3's (two hidden layers of 128, not three of 256);
# their lowest distortion is higher (below).

# %%
def linear_rate(beta):
    """Rate (nats) of the optimal linear-Gaussian VAE with 2 latent dimensions, sigma_x^2 = beta / 2."""
    return sum(max(0.0, 0.5 * math.log(2 * lam / beta)) for lam in eigenvalues[:2])


beta_collapse = 2 * eigenvalues[0]
x_test = torch.as_tensor(test)
rows = []
with torch.no_grad():
    for beta, m, result in sweep:
        mu_b, sigma_b = m.encode(x_test)
        samples = m.sample(20_000, seed=0).numpy()            # decoder MEANS f_theta(z), z ~ N(0, I)
        rows.append(dict(beta=beta, rate=result["test_kl"], distortion=result["test_recon"] / 24,
                         kl_dims=helpers.kl_divergence(mu_b[:, :, None], sigma_b[:, :, None]).mean(0).numpy(),
                         diversity=math.sqrt(samples.var(0).sum() / total_variance), codes=mu_b.numpy(),
                         samples=samples, rg_samples=helpers.radius_of_gyration(samples)))
        rows[-1]["explained"] = 1 - rows[-1]["distortion"] * 24 / total_variance
betas, rates, distortions = (np.array([r[k] for r in rows]) for k in ("beta", "rate", "distortion"))
n_params = [sum(p.numel() for p in m.parameters()) for m in (sweep[0][1], main_model)]
main_error = helpers.evaluate(main_model, test, beta=meta["beta"])[1] / 24     # same measure: z drawn from q
print(f"parameters: sweep models {n_params[0]:,}, notebook 3's model {n_params[1]:,}; smallest sweep error "
      f"{distortions.min():.3f} vs main model {main_error:.3f} (bead diam.)² per coordinate")
print(f"largest principal variances: {np.round(eigenvalues[:3], 2)} (bead diam.)²; full collapse predicted above "
      f"beta = 2 lambda_1 = {beta_collapse:.1f}")
print(f"{'beta':>7s} {'sigma_x':>8s} {'rate':>6s} {'KL per dim':>13s} {'error/coord':>11s} {'explained':>9s} "
      f"{'diversity':>9s} {'linear rate':>11s}")
for r in rows:
    print(f"{r['beta']:7g} {math.sqrt(r['beta'] / 2):8.3f} {r['rate']:6.2f} {str(np.round(r['kl_dims'], 2)):>13s} "
          f"{r['distortion']:11.3f} {max(r['explained'], 0.0):9.0%} {r['diversity']:9.2f} {linear_rate(r['beta']):11.2f}")

# %% [markdown]
# *Explained*: the share of the data's total variance the reconstructions recover. *Diversity*: the rms
# spread of 20,000 decoded prior samples relative to the data's (1: as varied as the data, 0: all identical).
#
# **A learned $\sigma_x$ leaves no choice.** If $\sigma_x$ is learned with the rest, the ELBO is largest at
# $\sigma_x^2$ = the squared error per coordinate (notebook 3, section 1), so $\beta = 2\sigma_x^2$ must equal
# $2D$. Which models agree with their own assumption?

# %%
print("2 x distortion, the beta a learned sigma_x would set: " + ",  ".join(
    f"beta {b:g}: {2 * d:.2f}" for b, d in zip(betas, distortions) if 0.1 <= b <= 3))

# %% tags=["check"]
two_d = dict(zip(betas, 2 * distortions))
claim(0.3 < two_d[0.3] < 0.35 and 0.42 < two_d[1.0] < 0.44, "2D is 0.34 at beta = 0.3 and 0.43 at beta = 1",
      f"{two_d[0.3]:.3f}, {two_d[1.0]:.3f}");

# %% [markdown]
# Up to $\beta = 0.3$ the models claim less noise than they make, from $\beta = 1$ more; a learned
# $\sigma_x$ would settle in between, near $\beta \approx 0.4$ ($\sigma_x \approx 0.45$ bead diameters).
# The course's $\beta = 0.12$ is over-confident, as notebook 3 found.

# %% tags=["check"]
claim(n_params[0] < 0.2 * n_params[1] and distortions.min() > main_error, "the sweep's models are smaller and their floor higher",
      f"{n_params}, {distortions.min():.3f} vs {main_error:.3f}")
claim(len(sweep) == 11 and betas[0] == 1e-4 and betas[-1] == 100, "eleven models from 1e-4 to 100", str(betas));

# %%
fig, (ax_rd, ax_r) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
ax_rd.plot(rates, distortions, "o-")
labels = {}                                                      # models at the same point share one label
for b, r_, d_ in zip(betas, rates, distortions):
    labels.setdefault((round(r_, 1), round(d_, 2)), []).append(f"{b:g}")
for k, ((r_, d_), bs) in enumerate(labels.items()):             # on the crowded flat part, alternate above and below
    ax_rd.annotate("β=" + ", ".join(bs), (r_, d_), textcoords="offset points", fontsize=8,
                   xytext=(4, -12 if (k % 2 == 0 and d_ < 0.2) else 5))
ax_rd.axhline(total_variance / 24, color="0.5", ls=":", label="error of the average polymer (rate 0)")
ax_rd.margins(x=0.1, y=0.08)                                     # room for the labels at both ends
ax_rd.set(xlabel="rate: KL (nats per conformation)", ylabel="distortion: error per coordinate ((bead diam.)²)",
          title="Rate–distortion curve of the β sweep (test set)")
ax_rd.legend(fontsize=8)
beta_fine = np.logspace(-4, 2, 200)
ax_r.semilogx(betas, rates, "o", label="VAE, measured")
ax_r.semilogx(beta_fine, [linear_rate(b) for b in beta_fine], "-", color="0.4", label="linear VAE (PCA) theory")
ax_r.axvline(beta_collapse, color="k", ls="--", label=f"$2\\lambda_1$ = {beta_collapse:.1f}: full collapse (theory)")
ax_r.set(xlabel="β ('sum' convention)", ylabel="rate: KL (nats per conformation)", title="Rate falls with β")
ax_r.legend(fontsize=8)
plt.show()

priced = (rates[:-1] > 0.05) & (betas[:-1] >= 0.3)              # segments where both ends still carry information
price = -24 * np.diff(distortions) / np.diff(rates)              # error per conformation given up per nat saved
print("price of a nat, 24 x (extra error per coordinate) per nat saved, in (bead diam.)² per nat, between neighboring betas:")
print("  " + ",  ".join(f"{a:g}->{b:g}: {p_:.2f}" for a, b, p_ in zip(betas[:-1][priced], betas[1:][priced], price[priced])))
rate_drop = 1 - rates[betas == 0.03][0] / rates[0]
print(f"beta 1e-4 -> 0.03: rate {rates[0]:.1f} -> {rates[betas == 0.03][0]:.1f} nats (down {rate_drop:.0%}), error "
      f"{distortions[0]:.3f} -> {distortions[betas == 0.03][0]:.3f} (bead diam.)² per coordinate")

# %% tags=["check"]
lo, hi = betas[:-1][priced], betas[1:][priced]
claim(np.all((price[priced] > 0.5 * lo) & (price[priced] < 1.5 * hi)), "the price of a nat lies between neighboring betas",
      str(np.round(price[priced], 2)))
flat = distortions[betas <= 0.1]
claim(0.6 < rate_drop < 0.73 and np.ptp(flat) < 0.06 * flat.min(), "rate down two thirds, distortion flat up to 0.1",
      f"{rate_drop:.0%}, spread {np.ptp(flat):.3f}")
theory = np.array([linear_rate(b) for b in betas])
claim(np.all(rates[betas <= 3] > theory[betas <= 3]) and np.all(np.abs(rates - theory)[betas >= 10] < 0.2),
      "measured rates above the linear theory up to beta = 3, close from beta = 10 on", str(np.round(rates - theory, 2)))
d_of = dict(zip(betas, distortions))
r_of = dict(zip(betas, rates))
claim(r_of[1e-3] > r_of[0.01] and abs(d_of[1e-3] - 0.162) < 5e-4 and abs(d_of[0.01] - 0.155) < 5e-4,
      "beta = 1e-3: more rate than 0.01 for a larger distortion, 0.162 against 0.155", f"{d_of[1e-3]:.4f}, {d_of[0.01]:.4f}")
claim(abs(rates[0] - 24.66) < 0.005 and abs(theory[0] - 12.02) < 0.005 and abs(distortions[0] - 0.157) < 5e-4
      and abs(distortions[betas == 0.1][0] - 0.156) < 5e-4, "beta = 1e-4: 24.66 nats vs 12.02, distortion 0.157 -> 0.156",
      f"{rates[0]:.2f}, {theory[0]:.2f}, {distortions[0]:.4f}, {distortions[betas == 0.1][0]:.4f}");

# %% [markdown]
# The printed price of a nat lies between the two $\beta$s of each segment, as the slope $-\beta/24$
# predicts. From $\beta = 10^{-4}$ to $0.03$ the rate falls by about two thirds while the
# distortion stays put within a few percent (there the price is lost in noise). The curve is not
# monotone there: $\beta = 10^{-3}$ spends more rate than $\beta = 0.01$ for a larger distortion
# (0.162 against 0.155): that model lies off the frontier, trained less well. Up to $\beta = 3$
# every model spends more nats than the linear theory, most at the smallest $\beta$: 24.66 against
# 12.02 at $10^{-4}$, for a distortion of 0.157 (0.156 at $\beta = 0.1$). In this sweep the extra nats
# buy no reconstruction: they pin each conformation to a tinier spot of latent space and spread
# the codes beyond the prior (section 4). From $\beta = 10$ on the two agree within a few tenths of a nat.
#
# ## 3. The whole sweep at a glance
#
# `BetaExplorer` shows one model at a time (β slider; arrow keys work once it has focus): the latent
# map of held-out conformations colored by $R_g$ (circles: 1 and 2 prior standard deviations), three
# reconstructions (gray: the input), three decoded prior samples, and the model's point (ringed) on
# the rate–distortion curve. Open circle: bead 1. All polymers are decoder means $f_\theta(z)$.

# %%
beta_explorer = BetaExplorer(test, sweep)
beta_explorer

# %% [markdown]
# If the widget does not render (a static export, GitHub's viewer), the next figure shows five
# $\beta$s: their latent maps (dashed: 2 standard deviations of the prior; the axes widen where the
# codes spread beyond it, as at $\beta = 10^{-3}$) and, in each row, one
# $z \sim \mathcal{N}(0, I)$ decoded by each model. Read down a column: different polymers mean
# the code matters; the same polymer in every row means collapse.

# %%
beta_explorer.static_figure(betas=(1e-3, 0.1, 1.0, 10.0, 30.0))
plt.show()

# %% [markdown]
# ## 4. Posterior collapse, measured
#
# **Posterior collapse** means the encoder gives up: $q_\phi(z\mid x) \approx p(z)$ for every $x$, the
# KL term goes to zero, and the decoder outputs the same average polymer whatever $z$ it gets.
# Three measurements make it precise: the KL each latent dimension carries, how varied the prior
# samples are, and their radius of gyration compared with the data. (Which latent dimension takes
# which direction is arbitrary, and $\lambda_1 \approx \lambda_2$ here, so the first panel sorts each
# model's two KLs.)

# %%
by_beta = {r["beta"]: r for r in rows}
chosen = [1e-3, 0.1, 1.0, 10.0, 30.0]
fig, (ax_kl, ax_div, ax_rg) = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
kl_dims = np.sort(np.stack([r["kl_dims"] for r in rows]), axis=1)[:, ::-1]   # (betas, 2): larger KL first
for j, (name, marker) in enumerate((("larger", "o"), ("smaller", "s"))):
    ax_kl.semilogx(betas, kl_dims[:, j], marker, color=f"C{j + 4}", label=f"VAE, its {name}-KL latent dimension")
ax_kl.semilogx(beta_fine, [max(0.0, 0.5 * math.log(2 * eigenvalues[0] / b)) for b in beta_fine], "k-", lw=1,
               label=f"linear theory, one axis ($\\lambda_1$ = {eigenvalues[0]:.1f}; $\\lambda_2$ = {eigenvalues[1]:.1f}: same curve)")
ax_kl.axvline(beta_collapse, color="k", ls="--", lw=1)
ax_kl.set(xlabel="β ('sum' convention)", ylabel="KL per latent dimension (nats)", title="Information per dimension")
ax_kl.legend(fontsize=7.5, loc="upper center")
ax_div.semilogx(betas, [r["diversity"] for r in rows], "o-", label="sample diversity")
ax_div.semilogx(betas, [max(r["explained"], 0.0) for r in rows], "s-", label="variance explained (test set)")
ax_div.axvline(beta_collapse, color="k", ls="--", lw=1, label="$2\\lambda_1$ (theory: full collapse)")
ax_div.set(xlabel="β ('sum' convention)", ylabel="fraction (dimensionless)", ylim=(-0.03, 1.03),
           title="Collapse: both fall to zero")
ax_div.legend(fontsize=8)
ax_rg.boxplot([helpers.radius_of_gyration(test)] + [by_beta[b]["rg_samples"] for b in chosen], whis=(5, 95),
              showfliers=False)
ax_rg.set_xticks(range(1, len(chosen) + 2), ["test data"] + [f"β = {b:g}" for b in chosen], fontsize=8)
ax_rg.set(ylabel="$R_g$ (bead diam.)", title="$R_g$ of 20,000 prior samples (box: quartiles, whiskers: 5–95%)")
ax_rg.title.set_fontsize(9)
plt.show()

# %%
reference = helpers.ValidityReference.from_data(train)
for b in (1.0, 10.0, 30.0, 100.0):
    r = by_beta[b]
    bonds = helpers.bond_lengths(r["samples"])
    r["valid"] = float(helpers.validity(r["samples"], reference).valid.mean())
    r["bond_mean"] = float(bonds.mean())
    print(f"beta = {b:<4g}: rate {r['rate']:.2f} nats, KL per dim {np.round(r['kl_dims'], 3)}, explained "
          f"{max(r['explained'], 0.0):.0%}, diversity {r['diversity']:.3f}, R_g {np.percentile(r['rg_samples'], 5):.2f}-"
          f"{np.percentile(r['rg_samples'], 95):.2f} bead diam., mean bond {r['bond_mean']:.2f} bead diam., "
          f"valid samples {r['valid']:.0%}")
bend = {b: float(np.sqrt((by_beta[b]["samples"].reshape(-1, 12, 2)[..., 1] ** 2).mean())) for b in (1.0, 10.0)}
data_bend = float(np.sqrt((test.reshape(-1, 12, 2)[..., 1] ** 2).mean()))
print(f"rms distance of the beads from the principal axis: data {data_bend:.2f}, beta = 1 {bend[1.0]:.2f}, "
      f"beta = 10 {bend[10.0]:.2f} bead diam.; data's mean bond {helpers.bond_lengths(test).mean():.2f} bead diam.")

# %% tags=["check"]
r1, r10 = by_beta[1.0], by_beta[10.0]
claim(r10["rate"] < 1.0 and r1["rate"] > 2.0 and np.all(r1["kl_dims"] > 0.5) and np.all(r10["kl_dims"] > 0.2),
      "beta = 10 below 1 nat, shared by both dimensions; beta = 1 not collapsed",
      f"{r10['rate']:.2f} {r10['kl_dims'].round(2)}, {r1['rate']:.2f}")
claim(r1["explained"] > 0.6 and r10["explained"] < r1["explained"] - 0.2 and r10["diversity"] < 0.75 * r1["diversity"],
      "beta = 10 explains much less and its samples are more alike", f"{r10['explained']:.2f}, {r10['diversity']:.2f}")
rg_10 = np.percentile(r10["rg_samples"], [5, 95])
claim(bend[10.0] < 0.1 * data_bend < bend[1.0] and r10["valid"] < 0.02 and r10["bond_mean"] < 0.6
      and 1.15 < rg_10[0] < 1.25 and 2.35 < rg_10[1] < 2.45,
      "beta = 10 samples are straight chains (R_g 1.2-2.4) with bonds far too short: not valid",
      f"bend {bend[10.0]:.2f}, valid {r10['valid']:.2f}, mean bond {r10['bond_mean']:.2f}, R_g {rg_10.round(2)}")
for b in (30.0, 100.0):
    r = by_beta[b]
    claim(b > beta_collapse and r["rate"] < 0.005 and np.all(r["kl_dims"] < 0.05)
          and abs(r["distortion"] * 24 - total_variance) < 0.02 * total_variance
          and r["diversity"] < 0.05 and np.ptp(np.percentile(r["rg_samples"], [5, 95])) < 0.05,
          f"beta = {b:g} has fully collapsed", f"rate {r['rate']:.3f}, distortion {r['distortion'] * 24:.2f}, "
          f"diversity {r['diversity']:.3f}, R_g 5-95% {np.percentile(r['rg_samples'], [5, 95]).round(3)}");

# %% [markdown]
# Collapse sets in at the top of the sweep (numbers above):
#
# - At $\beta = 10$ the rate is below 1 nat, and the model explains only a fraction of the data's
#   variance. Every prior sample is a straight chain along the principal axis; they differ mostly
#   in how the beads are spaced along it (how stretched, the spread of $R_g$, and where they bunch),
#   which is what the remaining fraction of a nat, shared by both dimensions, encodes. **They are not valid polymers**: a straight 12-bead chain with $R_g$ of 1.2–2.4 bead
#   diameters has bonds far shorter than a bead diameter (printed above): neighbors overlap.
# - At $\beta = 30$ and $100$ collapse is complete: the rate is zero to two decimals, the
#   reconstruction error equals the data's total variance (the error of "always answer with the
#   average polymer"), and all decoded prior samples are the same polymer, as the linear theory
#   predicts above $2\lambda_1$.
#
# "The same polymer" holds only for the decoder's *mean*: a draw from $p_\theta(x\mid z)$ adds noise
# of $\sigma_x = \sqrt{30/2} \approx 3.9$ bead diameters at $\beta = 30$, larger than the polymer (Exercise 4.2).

# %% [markdown]
# Low sample diversity alone is not collapse: at $\beta = 10^{-3}$ the samples bunch too, for the
# opposite reason. The codes spread far beyond the prior, so $z \sim \mathcal{N}(0, I)$ visits only
# the middle of the occupied region: prior and aggregate posterior differ, the part of the high
# rate that is not information about $x$.
#
# Large $\beta$ is not the only road to collapse. A decoder **expressive** enough to model $x$
# without $z$, for instance an autoregressive one that generates a sequence token by token, can
# reach its best ELBO with $q_\phi(z\mid x) = p(z)$: then even the *optimum* is collapsed, at
# $\beta = 1$ (Bowman et al., 2016, for text). Ours cannot model the beads' correlations without the
# code (its coordinates are independent given $z$), so its optimum keeps the code while
# $\sigma_x^2 = \beta/2$ is below the data's main variances. But training, with any decoder, can
# miss the optimum: early on the decoder cannot use $z$, the KL pushes $q_\phi$ onto the prior, and
# a dimension switched off gets no signal to come back. Notebook 2's sequence VAE switched
# one of its two axes off; its 8-D polymer VAE usually leaves a dimension with KL near 0.
#
# Two standard remedies. **KL warm-up** (Bowman et al., 2016; Sønderby et al., 2016) trains with
# $\beta$ rising from 0 to its final value over the first epochs, so the decoder learns to use $z$
# before the KL is charged. **Free bits** (Kingma et al., 2016) charge each dimension
# $\max(\lambda, \mathrm{KL}_j)$, with $\mathrm{KL}_j$ averaged over the batch: below $\lambda$ nats information is
# free, so switching a dimension off gains nothing: with $\lambda = 0.5$ the $\beta = 10$ model's 0.63
# nats would cost as much as 1 nat.
#
# The **$\beta$-VAE** (Higgins et al., 2017) raises $\beta$ above the ELBO's value on purpose: pressed
# towards the factorised prior, each latent dimension tends to pick up one independent factor of
# variation (*disentanglement*), at a cost in distortion. Their "$\beta > 1$" is $\beta > 2\sigma_x^2$
# for the noise the data actually has, e.g. the learned $2D \approx 0.4$ of section 2: the sweep's
# $\beta \ge 1$ are $\beta$-VAEs in their sense.

# %%
small = by_beta[1e-3]
extent = float(np.percentile(np.abs(small["codes"]), 99.5))
print(f"beta = 0.001: codes reach ±{extent:.1f} (99.5th percentile of |mu|; the prior's 3 sd: ±3), rate "
      f"{small['rate']:.1f} nats, diversity {small['diversity']:.2f} (beta = 0.1: {by_beta[0.1]['diversity']:.2f})")

# %% tags=["check"]
claim(extent > 5 and small["rate"] > 10 and small["diversity"] < by_beta[0.1]["diversity"],
      "at beta = 0.001 the codes spread far beyond the prior and the samples bunch", f"{extent:.1f}, {small['diversity']:.2f}")
claim(np.all(by_beta[10.0]["kl_dims"] < 0.5) and abs(by_beta[10.0]["rate"] - 0.63) < 0.005,
      "free bits: beta = 10 carries 0.63 nats, under 0.5 in each dimension", str(by_beta[10.0]["kl_dims"].round(3)));

# %% [markdown]
# ### Exercise 4.1 · Which noise does a loss assume?
#
# The lecture this course accompanies says "with $\beta = 1$ the KL term collapses the latent space".
# Not here in the "sum" convention: at $\beta = 1$ both latent dimensions are in use. But a classmate
# uses the walkthrough's "mean" convention, on other data: 3-D chains, more latent dimensions.
# Write `sigma_x_assumed(beta_mean, n_coords, n_latent)`: the decoder noise $\sigma_x$ (in the units
# of $x$) that a loss averaging the squared error over `n_coords` coordinates and the KL over
# `n_latent` latent dimensions, with weight `beta_mean`, assumes. Work it out on paper from section 1
# first; the self-check tries data sets this notebook does not have.

# %% tags=["exercise"]
def sigma_x_assumed(beta_mean, n_coords, n_latent):
    """Decoder noise sigma_x assumed by a 'mean'-convention loss with weight beta_mean."""
    return 0.0  # replace


# %% tags=["self-check"]
exercises.check_sigma_x_assumed(sigma_x_assumed);

# %% tags=["solution"]
def sigma_x_assumed_solution(beta_mean, n_coords, n_latent):
    # averaging divides the squared error by n_coords and the KL by n_latent: multiplying the whole
    # loss by n_coords gives the "sum" convention with beta = beta_mean * n_coords / n_latent = 2 sigma_x²
    return math.sqrt(beta_mean * n_coords / n_latent / 2)


exercises.check_sigma_x_assumed(sigma_x_assumed_solution);

# %% [markdown]
# What does the walkthrough's "$\beta = 1$" assume on our polymers, and what does the linear theory
# of section 2 predict for it? The reference, your function beside it:

# %%
sigma_walk = exercises.sigma_x_beside_yours(sigma_x_assumed, 1.0, 24, 2)
print(f"sigma_x² = {sigma_walk**2:.1f} (bead diam.)² against the principal variances {np.round(eigenvalues[:3], 1)}; "
      f"linear theory: {linear_rate(2 * sigma_walk**2):.2f} nats; the data's rms spread per coordinate: "
      f"{rms_per_coordinate:.2f}")

# %% tags=["check"]
claim(eigenvalues[1] > sigma_walk**2 > eigenvalues[2] and 0.1 < linear_rate(2 * sigma_walk**2) < 1.0
      and sigma_walk > 2 * rms_per_coordinate, "the walkthrough's beta = 1: both axes barely kept, under 1 nat",
      f"{sigma_walk:.2f}, {linear_rate(2 * sigma_walk**2):.2f}");

# %% [markdown]
# That noise is more than twice the data's rms spread per coordinate; only the two largest principal
# variances stand above $\sigma_x^2$, and the linear theory leaves a few tenths of a nat: nearly
# collapsed, as the lecture warns, because of the reductions.

# %% [markdown]
# ### Exercise 4.2 · Draw from the model, not only its mean
#
# Write `draw_conformations(model, beta, n, generator)` that returns `n` draws $x \sim p_\theta(x)$ as
# one tensor of shape `(n, 24)`, as the decoder gives them (not `(n, 12, 2)`, not a list): first
# $z \sim \mathcal{N}(0, I)$, then $x = f_\theta(z) + \sigma_x\varepsilon$ with the $\sigma_x$ that the
# model's $\beta$ ("sum" convention) assumes. Take every random number from `generator`
# (`generator=generator` in each `torch.randn`): the same seed must give the same draws. The
# self-check tries other models, $\beta$s, sizes and seeds, and tests the draws' whole covariance.

# %% tags=["exercise"]
def draw_conformations(model, beta, n, generator):
    """n draws from p_theta(x) of a VAE trained with beta ('sum' convention): (n, 24), bead diameters."""
    return torch.zeros(n, 24)  # replace: decode z ~ N(0, I), then add the decoder's noise


# %% tags=["self-check"]
exercises.check_draw_conformations(draw_conformations);

# %% tags=["solution"]
def draw_conformations_solution(model, beta, n, generator):
    with torch.no_grad():
        means = model.decode(torch.randn(n, 2, generator=generator))            # z ~ N(0, I): f_theta(z)
    return means + math.sqrt(beta / 2) * torch.randn(means.shape, generator=generator)   # one eps per coordinate


exercises.check_draw_conformations(draw_conformations_solution);

# %% [markdown]
# What do true draws look like, at the course's $\beta = 0.12$ (notebook 3's model) and at $\beta = 30$?
# The reference draws (yours beside them), then four over their decoder means (grey; at $\beta = 30$
# the straight chain in the middle). Invalid draws are red, their title ending in ✗ and the first test
# failed (e.g. "bond 0.32 < 0.69": a bond shorter than the data allows).

# %%
m30 = dict((b, m) for b, m, _ in sweep)[30.0]
shown = {b: exercises.compare_draws(draw_conformations, m, b, reference, n=5000) for b, m in ((meta["beta"], main_model), (30.0, m30))}
bond_spread = float(helpers.bond_lengths(test).std())
print(f"data: bond lengths {helpers.bond_lengths(test).mean():.2f} ± {bond_spread:.2f} bead diam.")
for b, lim in ((meta["beta"], None), (30.0, 12)):                # grey: each draw's decoder mean; red: not valid
    plots.polymer_grid(shown[b][1][:4], [f"draw {k + 1}" for k in range(4)], behind=shown[b][0][:4], reference=reference,
                       ncols=4, lim=lim, size=2.4).suptitle(f"Draws from $p_\\theta(x)$ at β = {b:g}: $\\sigma_x$ = {math.sqrt(b / 2):.2f} bead diam.")
    plt.show()

# %% tags=["check"]
valid_012 = float(helpers.validity(shown[0.12][1], reference).valid.mean())
spread_012 = float(helpers.bond_lengths(shown[0.12][1]).std())
means_valid_012 = float(helpers.validity(shown[0.12][0], reference).valid.mean())
claim(0.0025 < valid_012 < 0.0075 and 0.18 < means_valid_012 < 0.26 and 0.09 < bond_spread < 0.11
      and 3 < spread_012 / bond_spread < 3.8,
      "beta = 0.12: about 1 draw in 200 valid, about a fifth of the means; bond spread about 0.34 vs the data's 0.10",
      f"draws {valid_012:.1%}, means {means_valid_012:.1%}, {spread_012:.2f} vs {bond_spread:.2f}");

# %% [markdown]
# Even at $\beta = 0.12$ the noise ($\sigma_x = 0.24$ per coordinate) is 0.35 per component of each
# bond vector (two beads' noise), against the data's bond-length spread of 0.10: a draw's bonds
# scatter over three times as much as real ones: about 1 draw in 200 is valid, against a fifth of
# the means. As a density over conformations the model is far too broad. Figures show means for
# that reason; the likelihood counts the noise.
#
# %% [markdown]
# ## Key takeaways
#
# - $\beta$ assumes a decoder noise: $\beta = 2\sigma_x^2$ in the "sum" convention; the walkthrough's
#   0.01 ("mean") is 0.12 here. State the reductions (Exercise 4.1). A learned $\sigma_x$ would set
#   $\beta = 2D$, near 0.4 for the sweep's models.
# - Larger $\beta$ trades rate for distortion along a curve of slope $-\beta/24$; the rate bounds the
#   information the code carries, $R \ge I(x; z)$, and at small $\beta$ buys precision nobody uses.
# - Collapse (rate → 0, every decoded sample the average polymer) sets in as $\sigma_x^2 = \beta/2$
#   approaches the largest principal variances: under way at $\beta = 10$ (straight chains with
#   overlapping beads), complete at 30 and 100, where the error is the data's total variance
#   ($\approx 26.5$ (bead diam.)² over the 24 coordinates).
# - An expressive decoder can make collapse the optimum at the ELBO's own weight (Higgins'
#   $\beta = 1$) and above; ours cannot, but training can switch dimensions off with any decoder.
#   KL warm-up and free bits counter that; a $\beta$-VAE raises $\beta$ on purpose.
# - Figures show decoder means; a draw from $p_\theta(x\mid z)$ adds noise $\sigma_x$, and at
#   $\beta = 0.12$ almost no draw is a valid polymer.
