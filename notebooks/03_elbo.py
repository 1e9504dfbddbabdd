# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3 · The ELBO: from maximum likelihood to a loss you can train
#
# A generative model should give the training data high probability $p_\theta(x)$. For a VAE that
# probability is an integral over every latent code, which we cannot compute in general, so we
# train on a lower bound instead, the *evidence lower bound* (ELBO). In this notebook each line of
# its derivation is checked with numbers on the course's pretrained polymer VAE. Because this
# model's latent space is only two-dimensional, we can even do the "impossible" integral by brute
# force and see how far below it the bound sits. The second half turns the knob $\beta$ in front
# of the KL term and reads the result as a trade-off between *rate* (how much the code says about
# $x$) and *distortion* (how badly $x$ is reconstructed), all the way to posterior collapse.
#
# **Learning objectives**
# - Derive $\log p_\theta(x) \ge \mathbb{E}_{q_\phi(z\mid x)}[\log p_\theta(x\mid z)] - D_{\mathrm{KL}}(q_\phi(z\mid x)\,\|\,p(z))$
#   and verify every step numerically (importance sampling, Jensen's inequality, the split into two terms).
# - Compute the Gaussian KL in closed form and confirm it with a Monte-Carlo estimate whose error
#   shrinks like $1/\sqrt{n}$.
# - Tighten the bound with importance weighting and measure the remaining gap to $\log p_\theta(x)$.
# - Say which decoder noise $\sigma_x$ a given $\beta$ assumes, and convert $\beta$ between the
#   "sum" and "mean" loss conventions.
# - Read a $\beta$ sweep as a rate–distortion curve, and tell posterior collapse from a merely
#   smoother latent space, with numbers.
#
# Run it: [Open in Colab](https://colab.research.google.com/github/protein-ai-course/polymer-vae-bundle/blob/main/notebooks/03_elbo.ipynb) · [Binder](https://mybinder.org/v2/gh/protein-ai-course/polymer-vae-bundle/main?urlpath=lab/tree/notebooks/03_elbo.ipynb) · locally: see README

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
from matplotlib.patches import Ellipse
from torch.distributions import Normal

import helpers
from helpers.widgets import BetaExplorer

torch.manual_seed(0)
rng = np.random.default_rng(0)

TRAIN_FROM_SCRATCH = False  # True: retrain the model below (about ten seconds on two CPU cores) instead of loading it

# %%
paths = helpers.load_paths()                       # (10000, 12, 2) simulated conformations, lengths in σ
train, test = helpers.train_test_split(helpers.preprocess(paths), seed=42)
if TRAIN_FROM_SCRATCH:
    model = helpers.PolymerVAE()
    helpers.train_vae(model, train, test, beta=0.12, seed=0)
    TRAINED_BETA = 0.12
else:
    model, meta = helpers.load_pretrained()
    TRAINED_BETA = meta["beta"]
model.eval()
print(f"train {train.shape}, test {test.shape}; model trained with beta = {TRAINED_BETA} ('sum' convention, section 1)")

# %% [markdown]
# ## 1. The probabilistic model, and what $\beta$ assumes about noise
#
# *Notation.* σ has two roles in this section. Written after a number, σ is the length unit, the
# bead diameter. With a subscript it is a standard deviation: $\sigma_x$, the decoder's noise
# level, is a length and is itself measured in σ; the encoder's $\sigma_\phi(x)$ (`sigma` in the
# code) is a pure number on the latent axes.
#
# The VAE is a recipe for generating a conformation $x \in \mathbb{R}^{24}$ (12 beads × 2
# coordinates, in bead diameters σ):
#
# $$z \sim p(z) = \mathcal{N}(0, I_2), \qquad x \mid z \sim p_\theta(x \mid z) = \mathcal{N}\big(f_\theta(z),\ \sigma_x^2 I_{24}\big).$$
#
# The decoder network $f_\theta$ only gives the *mean*; the model also needs a noise level
# $\sigma_x$ (in σ), how far a real conformation may lie from the decoded one. With it the
# log-likelihood of one conformation is
#
# $$\log p_\theta(x\mid z) = -\frac{\lVert x - f_\theta(z)\rVert^2}{2\sigma_x^2} - D\log\sigma_x - \frac D2 \log 2\pi, \qquad D = 24 .$$
#
# The training loss of `helpers.vae_loss` in its **"sum" convention** (squared error summed over
# the 24 coordinates, KL summed over the 2 latent dimensions, both per conformation) is
#
# $$\mathcal{L}_\beta = \mathbb{E}_q\lVert x - f_\theta(z)\rVert^2 + \beta\, D_{\mathrm{KL}}
#   = 2\sigma_x^2\,\big(-\mathrm{ELBO}\big) + \text{const} \quad\text{exactly when}\quad \beta = 2\sigma_x^2 .$$
#
# So choosing $\beta$ *is* choosing the decoder noise: $\sigma_x = \sqrt{\beta/2}$. The code
# walkthrough uses the **"mean" convention** instead (squared error averaged over the 24
# coordinates, KL averaged over the 2 latent dimensions). Dividing the first term by 24 and the
# second by 2 means its $\beta$ must be multiplied by $24/2 = 12$ to give the same objective:
# the walkthrough's $\beta = 0.01$ is $\beta = 0.12$ here. A $\beta$ quoted without its
# reductions is meaningless. The pretrained model used $\beta = 0.12$ ("sum"), so:

# %%
beta_sum = helpers.beta_sum_from_mean(0.01)          # walkthrough beta (mean convention) -> sum convention
SIGMA_X = math.sqrt(TRAINED_BETA / 2)                # decoder noise assumed by the trained model, in σ
test_mse = helpers.reconstruction_error(model, test)
print(f"walkthrough beta 0.01 ('mean')  =  {beta_sum:.2f} ('sum')")
print(f"assumed decoder noise  sigma_x = sqrt(beta / 2) = {SIGMA_X:.3f} σ")
print(f"actual test reconstruction error: {test_mse:.3f} σ² per coordinate (rms {math.sqrt(test_mse):.2f} σ)")
assert abs(beta_sum - TRAINED_BETA) < 1e-9 and abs(SIGMA_X - 0.245) < 5e-4
assert math.sqrt(test_mse) > SIGMA_X, "the text below says the actual error exceeds the assumed noise"

# the identity L_beta = 2 sigma_x^2 (-ELBO) + const, checked on one batch with the same z for both sides
x_batch = torch.as_tensor(test[:256])
with torch.no_grad():
    x_rec, mu_b, sigma_b = model(x_batch, generator=torch.Generator().manual_seed(0))
    loss_sum, _, _ = helpers.vae_loss(x_batch, x_rec, mu_b, sigma_b, beta=TRAINED_BETA, reduction="sum")
    elbo_same_z = helpers.gaussian_log_likelihood(x_batch, x_rec, SIGMA_X) - helpers.kl_divergence(mu_b, sigma_b)
const = -2 * SIGMA_X**2 * 24 * (math.log(SIGMA_X) + 0.5 * math.log(2 * math.pi))
print(f"L_beta = {loss_sum.item():.4f};   2 sigma_x^2 (-ELBO) + const = {(-2 * SIGMA_X**2 * elbo_same_z.mean() + const).item():.4f}")
assert torch.isclose(loss_sum, -2 * SIGMA_X**2 * elbo_same_z.mean() + const, rtol=1e-4)

# %% [markdown]
# The assumed noise is smaller than the model's actual rms reconstruction error (both printed
# above): this $\beta$ trusts the decoder a little more than it deserves, i.e. it weighs
# reconstruction more and the KL less than a maximum-likelihood fit of $\sigma_x$ would. That is a
# modeling choice, and everything below uses $\sigma_x = 0.245$ σ consistently.
#
# ## 2. $\log p_\theta(x)$ is an integral, and in two dimensions we can just do it
#
# The quantity we want to maximize is the marginal likelihood
#
# $$p_\theta(x) = \int p_\theta(x\mid z)\, p(z)\, dz .$$
#
# For a real VAE with tens of latent dimensions this integral is hopeless (a grid with 100 points
# per axis in 32 dimensions has $10^{64}$ points). Our latent space has two dimensions, so we can
# sum over a grid, $p_\theta(x) \approx \sum_g p_\theta(x\mid z_g)\,p(z_g)\,\Delta A$, in two
# stages. A coarse grid over the whole prior (spacing 0.04), decoded once and shared by all
# conformations, shows where each posterior lives. The posteriors turn out to be very narrow
# (some less than a hundredth wide, and curved), so every coarse cell that holds
# non-negligible mass is then subdivided into finer points. Doing the sum at two fine
# resolutions shows that it has converged.
# This brute-force value is the ground truth that every bound below is measured against; it is a
# luxury of this toy model.

# %%
N_X = 32                                   # held-out conformations used for the checks
x = torch.as_tensor(test[:N_X])


def log_joint(x, z):
    """log p_theta(x|z) + log p(z) for x (N, 24) and z (N, G, 2): shape (N, G)."""
    with torch.no_grad():
        decoded = model.decode(z.reshape(-1, 2)).reshape(*z.shape[:-1], -1)
        return (helpers.gaussian_log_likelihood(x[:, None].expand_as(decoded), decoded, SIGMA_X)
                + Normal(0.0, 1.0).log_prob(z).sum(-1))


# stage 1: a coarse grid over the prior, decoded once for all conformations
H = 0.04
axis = torch.arange(-4.8, 4.8 + 1e-9, H)
z_coarse = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)    # (G, 2)
with torch.no_grad():
    decoded_coarse = model.decode(z_coarse)                                             # (G, 24)
    log_joint_coarse = (-0.5 * torch.cdist(x, decoded_coarse) ** 2 / SIGMA_X**2
                        - 24 * (math.log(SIGMA_X) + 0.5 * math.log(2 * math.pi))
                        + Normal(0.0, 1.0).log_prob(z_coarse).sum(-1))                  # (N_X, G)

# stage 2: cells within 15 nats of the peak, plus their neighbors, are subdivided S x S
peak = log_joint_coarse.max(1, keepdim=True).values
active = (log_joint_coarse > peak - 15.0).float().reshape(N_X, 1, len(axis), len(axis))
active = torch.nn.functional.max_pool2d(active, 3, stride=1, padding=1).reshape(N_X, -1) > 0


def refined_quadrature(S):
    """log p(x) (N_X,) from S x S points in every active cell; also, per conformation, the points
    and the values of log p(x, z) there (for the posterior)."""
    u = ((torch.arange(S) + 0.5) / S - 0.5) * H
    sub = torch.stack(torch.meshgrid(u, u, indexing="ij"), -1).reshape(-1, 2)           # offsets in a cell
    counts = (active.sum(1) * S * S).tolist()
    z = torch.cat([(z_coarse[active[i]][:, None] + sub).reshape(-1, 2) for i in range(N_X)])
    with torch.no_grad():
        values = (helpers.gaussian_log_likelihood(torch.repeat_interleave(x, torch.tensor(counts), 0),
                                                  model.decode(z), SIGMA_X)
                  + Normal(0.0, 1.0).log_prob(z).sum(-1))
    values, z = torch.split(values, counts), torch.split(z, counts)
    log_px = torch.stack([torch.logsumexp(v, 0) for v in values]) + 2 * math.log(H / S)
    return log_px, z, values


log_px_2, _, _ = refined_quadrature(4)
log_px, z_fine, log_joint_fine = refined_quadrature(6)

# the true posterior p(z|x) on the fine points: its mean and standard deviation per latent dimension
post = [torch.softmax(v, 0) for v in log_joint_fine]
post_mean = torch.stack([w @ z for w, z in zip(post, z_fine)])
post_sd = torch.stack([(w @ z**2 - (w @ z) ** 2).clamp_min(0).sqrt() for w, z in zip(post, z_fine)])

# checks: the cells left out hold a negligible share of the coarse grid's mass, and the refined
# sums at spacings H/4 and H/6 agree
mass_left_out = (torch.softmax(log_joint_coarse, 1) * ~active).sum(1)
resolution_change = (log_px - log_px_2).abs().max()
print(f"log p(x) by quadrature: mean {log_px.mean():.2f} nats, range {log_px.min():.1f} to {log_px.max():.1f}  "
      f"({sum(len(z) for z in z_fine):,} fine points for {N_X} conformations)")
print(f"posterior sds {post_sd.min():.3f} to {post_sd.max():.3f};  mass left out <= {mass_left_out.max():.1e};  "
      f"spacing H/4 vs H/6: max change {resolution_change:.4f} nats")
assert mass_left_out.max() < 1e-4, "the refined cells do not contain the posterior"
assert post_sd.min() < 0.01, "the text says some posteriors are less than a hundredth wide"
assert resolution_change < 0.05, "the quadrature has not converged"

# %% [markdown]
# Since we have $p_\theta(x\mid z)\,p(z)$ on the grid, we also have the **true posterior**
# $p_\theta(z\mid x) = p_\theta(x\mid z)\,p(z)/p_\theta(x)$, the distribution the encoder
# $q_\phi(z\mid x)$ is trying to imitate. How well it does is measured by
# $D_{\mathrm{KL}}(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x)) = \mathbb{E}_q[\log q_\phi(z\mid x) - \log p_\theta(x, z)] + \log p_\theta(x)$,
# in nats (this number returns in section 7). Below, the true posterior (gray, darker = more
# probable, on a log scale) and the encoder's Gaussian (orange ellipses at 1 and 2 standard
# deviations) for the best-matched, a typical and the worst-matched of our 32 conformations.

# %%
with torch.no_grad():
    mu_q, sigma_q = model.encode(x)
z_q = mu_q + sigma_q * torch.randn(500, N_X, 2, generator=torch.Generator().manual_seed(5))     # z ~ q(z|x)
kl_q_post = (Normal(mu_q, sigma_q).log_prob(z_q).sum(-1) - log_joint(x, z_q.transpose(0, 1)).T).mean(0) + log_px
order = torch.argsort(kl_q_post)
best, typical, worst = int(order[0]), int(order[N_X // 2]), int(order[-1])
print("KL(q || true posterior) over the 32 conformations: median "
      f"{kl_q_post.median():.2f} nats, max {kl_q_post.max():.1f} nats; above 5 nats for {(kl_q_post > 5).sum()} of them")
assert kl_q_post.min() > -0.05, "a KL divergence cannot be negative (beyond Monte-Carlo noise)"


def posterior_panel(ax, i):
    """True posterior of conformation i (fine quadrature points, log color scale) and q_phi(z|x) on top."""
    w, z = post[i], z_fine[i]
    keep = w > 1e-5 * w.max()
    zk, log_w = z[keep], torch.log10(w[keep] / w.max())
    step = H / 6                                                    # the fine points lie on a lattice of this spacing
    ij = torch.round((zk - zk.min(0).values) / step).long()
    image = np.full((int(ij[:, 1].max()) + 1, int(ij[:, 0].max()) + 1), np.nan)
    image[ij[:, 1].numpy(), ij[:, 0].numpy()] = log_w.numpy()
    lo, hi = zk.min(0).values - step / 2, zk.max(0).values + step / 2
    dots = ax.imshow(image, origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), cmap="Greys", vmin=-5, vmax=0,
                     interpolation="nearest")
    for k in (1, 2):
        ax.add_patch(Ellipse(mu_q[i].numpy(), 2 * k * sigma_q[i, 0].item(), 2 * k * sigma_q[i, 1].item(),
                             fill=False, color="C1", lw=2, ls="-" if k == 1 else "--"))
    ax.plot(*mu_q[i].numpy(), "+", color="C1", ms=12, mew=2)
    corners = torch.cat([zk, torch.stack([mu_q[i] - 3 * sigma_q[i], mu_q[i] + 3 * sigma_q[i]])])
    center = (corners.min(0).values + corners.max(0).values) / 2
    half = 0.6 * float((corners.max(0).values - corners.min(0).values).max()) + 0.02
    ax.set(xlim=(center[0] - half, center[0] + half), ylim=(center[1] - half, center[1] + half),
           xlabel="z₁", ylabel="z₂", aspect="equal")
    ax.set_title(f"conformation {i}: KL(q ‖ p(z|x)) = {kl_q_post[i]:.2f} nats", fontsize=10)
    return dots


fig, axes = plt.subplots(1, 3, figsize=(13, 4.3), constrained_layout=True)
for ax, i in zip(axes, (best, typical, worst)):
    dots = posterior_panel(ax, i)
fig.colorbar(dots, ax=axes, label="log₁₀ p(z|x) relative to its peak", shrink=0.85)
plt.show()

# %% [markdown]
# For most conformations the encoder's Gaussian sits on the posterior and has about the right
# width (left, middle). But the true posterior need not be a single Gaussian blob: it can be
# curved, or have two separate modes, and for a few conformations the encoder puts its Gaussian in
# the wrong place altogether (right). One network $q_\phi$ has to serve every $x$, and this
# *amortization* costs most where the posterior is least Gaussian.

# %% [markdown]
# ## 3. Step 1: bring in the encoder (importance sampling)
#
# Multiply and divide the integrand by $q_\phi(z\mid x)$. Nothing changes, but the integral now reads
# as an average over samples from the encoder:
#
# $$p_\theta(x) = \int q_\phi(z\mid x)\,\frac{p_\theta(x\mid z)\,p(z)}{q_\phi(z\mid x)}\,dz
#   = \mathbb{E}_{z\sim q_\phi(z\mid x)}\big[w(z)\big], \qquad
#   w(z) = \frac{p_\theta(x\mid z)\,p(z)}{q_\phi(z\mid x)} .$$
#
# The weight $w$ is large where the encoder under-samples relative to the true posterior. We work
# with $\log w = \log p_\theta(x\mid z) + \log p(z) - \log q_\phi(z\mid x)$; the function below
# returns the three pieces for $K$ samples per conformation.

# %%
def log_weight_terms(model, x, sigma_x, K, generator):
    """For z_k ~ q_phi(z|x), k = 1..K: log p_theta(x|z_k), log p(z_k), log q_phi(z_k|x), each (K, batch)."""
    with torch.no_grad():
        mu, sigma = model.encode(x)
        z = mu + sigma * torch.randn((K, *mu.shape), generator=generator)          # reparameterized samples
        x_rec = model.decode(z.reshape(-1, mu.shape[-1])).reshape(K, *x.shape)
        log_lik = helpers.gaussian_log_likelihood(x.expand_as(x_rec), x_rec, sigma_x)
        log_prior = Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_q = Normal(mu, sigma).log_prob(z).sum(-1)
    return log_lik, log_prior, log_q


K_MAX = 2000
log_lik, log_prior, log_q = log_weight_terms(model, x, SIGMA_X, K_MAX, torch.Generator().manual_seed(1))
log_w = log_lik + log_prior - log_q                                                 # (K_MAX, N_X)
log_mean_w = torch.logsumexp(log_w, 0) - math.log(K_MAX)                            # log of the sample mean of w
difference = log_mean_w - log_px
print(f"log mean(w) with {K_MAX} samples minus quadrature log p(x): median {difference.median():+.3f} nats; "
      f"within 0.3 nats for {(difference.abs() < 0.3).sum()} of {N_X} conformations; "
      f"worst {difference.min():+.1f} nats (conformation {int(difference.argmin())})")
assert difference.abs().median() < 0.3, "the importance-sampling estimate should approach log p(x)"

# %% [markdown]
# For most conformations the two agree to a few tenths of a nat, but not for all. The identity is
# exact, yet the estimate only "sees" where $q$ puts samples: if the posterior mass lies where the
# encoder never looks (the right-hand panel above), 2000 samples miss it and the estimate is far
# too low. With rarer, milder mismatch, a few samples carry huge weights and the estimate wobbles.
# Keep this in mind for section 7.
#
# ## 4. Step 2: Jensen's inequality turns $\log\mathbb{E}$ into $\mathbb{E}\log$
#
# $\log \mathbb{E}[w]$ is awkward to train on: the log of an average of a few samples is a biased
# estimate of it, and so are its gradients. $\mathbb{E}[\log w]$ is an ordinary expectation that a
# single sample estimates without bias. The price is an inequality. Because $\log$ is concave (its graph lies above every chord), the log of an average is
# at least the average of the logs:
#
# $$\log p_\theta(x) = \log \mathbb{E}_q[w] \;\ge\; \mathbb{E}_q[\log w]
#   = \mathbb{E}_{q_\phi(z\mid x)}\!\left[\log\frac{p_\theta(x\mid z)\,p(z)}{q_\phi(z\mid x)}\right] = \mathrm{ELBO}.$$
#
# The inequality holds for *any* set of samples, including the empirical ones: the log of their
# mean is never below the mean of their logs. Left: the chord picture for two values of $w$.
# Right: the $K = 2000$ values of $\log w$ for one conformation.

# %%
i_show = best
fig, (ax_j, ax_h) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
w_grid = np.linspace(0.05, 6, 200)
w1, w2 = 0.4, 5.0
ax_j.plot(w_grid, np.log(w_grid), color="k", label="log w")
ax_j.plot([w1, w2], np.log([w1, w2]), "o--", color="C0", label="chord between w₁ and w₂")
ax_j.plot([(w1 + w2) / 2], [np.log((w1 + w2) / 2)], "o", color="C3", label="log of the mean")
ax_j.plot([(w1 + w2) / 2], [(np.log(w1) + np.log(w2)) / 2], "s", color="C0", label="mean of the logs")
ax_j.set(xlabel="w (dimensionless)", ylabel="log w", title="Jensen: log is concave")
ax_j.legend(fontsize=8)
ax_h.hist(log_w[:, i_show].numpy(), bins=60, color="0.7")
for value, name, c in [(log_w[:, i_show].mean(), "mean of log w (ELBO)", "C0"),
                       (log_mean_w[i_show], "log of mean w", "C3"),
                       (log_px[i_show], "log p(x), quadrature", "k")]:
    ax_h.axvline(value, color=c, lw=2, label=f"{name}: {value:.2f}")
ax_h.set(xlabel="log w (nats)", ylabel="count", title=f"{K_MAX} samples z ~ q(z|x), conformation {i_show}")
ax_h.legend(fontsize=8)
plt.show()

elbo_mc = log_w.mean(0)                                                             # (N_X,)
assert torch.all(log_mean_w >= elbo_mc), "Jensen: log of the mean weight must exceed the mean log weight"
print(f"averaged over conformations: log mean w = {log_mean_w.mean():.3f} >= mean log w = {elbo_mc.mean():.3f}")

# %% [markdown]
# ## 5. Step 3: split the bound into reconstruction and KL
#
# Write $\log w = \log p_\theta(x\mid z) - \log\frac{q_\phi(z\mid x)}{p(z)}$ and take the
# expectation of each piece:
#
# $$\mathrm{ELBO}(x) = \underbrace{\mathbb{E}_{q_\phi(z\mid x)}\big[\log p_\theta(x\mid z)\big]}_{\text{reconstruction term}}
#  \;-\; \underbrace{\mathbb{E}_{q_\phi(z\mid x)}\!\left[\log\frac{q_\phi(z\mid x)}{p(z)}\right]}_{D_{\mathrm{KL}}(q_\phi(z\mid x)\,\|\,p(z))} .$$
#
# - **Reconstruction term** (nats, larger is better): how probable the conformation is under the
#   decoder when $z$ is drawn from the encoder. With the Gaussian decoder it is
#   $-\mathbb{E}\lVert x - f_\theta(z)\rVert^2/(2\sigma_x^2)$ plus a constant: the squared
#   error, in units of the assumed noise.
# - **KL term** (nats, $\ge 0$): how far the encoder's cloud for this $x$ is from the prior, the
#   price of a code that singles $x$ out. Averaged over the data it is the *rate* of section 8,
#   an upper bound on the information the code carries about $x$. It is zero only if
#   $q_\phi(z\mid x) = \mathcal{N}(0, I)$, i.e. if $z$ says nothing about $x$.
#
# The split is exact sample by sample, so the Monte-Carlo ELBO equals (reconstruction estimate)
# minus (KL estimate). Replacing the KL estimate by its closed form (next section) removes part of
# the noise; `helpers.elbo` does exactly that.

# %%
recon_term = log_lik.mean(0)                                         # E_q[log p(x|z)], (N_X,)
kl_mc_per_x = (log_q - log_prior).mean(0)                            # E_q[log q - log p], (N_X,)
kl_closed_per_x = helpers.kl_divergence(mu_q, sigma_q)               # closed form, (N_X,)
elbo_helper = helpers.elbo(model, x, SIGMA_X, n_samples=100, generator=torch.Generator().manual_seed(2))
print(f"reconstruction term  E_q[log p(x|z)]      {recon_term.mean():8.3f} nats")
print(f"KL term, Monte Carlo                      {kl_mc_per_x.mean():8.3f} nats")
print(f"KL term, closed form                      {kl_closed_per_x.mean():8.3f} nats")
print(f"ELBO = mean log w                          {elbo_mc.mean():8.3f} nats")
print(f"ELBO = recon - closed-form KL              {(recon_term - kl_closed_per_x).mean():8.3f} nats")
# helpers.elbo uses 100 fresh samples, the hand-made estimate 2000: their difference is Monte-Carlo noise
se_difference = torch.sqrt((log_lik.var(0) * (1 / 100 + 1 / K_MAX)).sum()).item() / N_X
print(f"helpers.elbo (100 samples)                 {elbo_helper.mean():8.3f} nats  (± {se_difference:.3f} expected noise)")
print(f"log p(x), quadrature                       {log_px.mean():8.3f} nats")
assert torch.allclose(elbo_mc, recon_term - kl_mc_per_x, atol=1e-4)
assert abs(elbo_helper.mean() - (recon_term - kl_closed_per_x).mean()) < 4 * se_difference + 0.01
assert elbo_helper.mean() < log_px.mean()

# %% [markdown]
# ## 6. The KL term in closed form
#
# For $q = \mathcal{N}(\mu, \mathrm{diag}\,\sigma^2)$ and $p = \mathcal{N}(0, I)$ in $J$ dimensions,
# the expectation of $\log q - \log p$ can be done by hand. Per dimension,
# $\log q - \log p = -\log\sigma_j - \frac{(z_j-\mu_j)^2}{2\sigma_j^2} + \frac{z_j^2}{2}$, and under
# $q$: $\mathbb{E}(z_j-\mu_j)^2 = \sigma_j^2$, $\mathbb{E}z_j^2 = \mu_j^2 + \sigma_j^2$. Hence
#
# $$D_{\mathrm{KL}}\big(q\,\|\,p\big) = \frac12 \sum_{j=1}^{J}\left(\mu_j^2 + \sigma_j^2 - 1 - \log\sigma_j^2\right) \;\ge 0 .$$
#
# Each bracket is $\mu_j^2 + (t - 1 - \log t)$ with $t = \sigma_j^2$, and $t - 1 - \log t \ge 0$
# with equality only at $t = 1$. Below, the Monte-Carlo estimate
# $\frac1n \sum_i [\log q(z_i) - \log p(z_i)]$ for one conformation converges to the closed form,
# with standard error $\mathrm{sd}/\sqrt{n}$.

# %%
with torch.no_grad():
    kl_all = helpers.kl_divergence(*model.encode(torch.as_tensor(test)))
print(f"closed-form KL over all {len(test)} test conformations: min {kl_all.min():.3f}, "
      f"mean {kl_all.mean():.3f}, max {kl_all.max():.3f} nats")
assert torch.all(kl_all >= 0), "a KL divergence can never be negative"

i_kl = best
q_i = Normal(mu_q[i_kl], sigma_q[i_kl])
kl_exact = kl_closed_per_x[i_kl].item()
ns = np.unique(np.logspace(1, 5, 9).astype(int))
gen = torch.Generator().manual_seed(3)
estimates, std_errors = [], []
for n in ns:
    z = mu_q[i_kl] + sigma_q[i_kl] * torch.randn(int(n), 2, generator=gen)          # z ~ q(z|x)
    terms = q_i.log_prob(z).sum(-1) - Normal(0.0, 1.0).log_prob(z).sum(-1)
    estimates.append(terms.mean().item())
    std_errors.append(terms.std().item() / math.sqrt(n))
estimates, std_errors = np.array(estimates), np.array(std_errors)

fig, (ax_e, ax_s) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
ax_e.errorbar(ns, estimates, yerr=2 * std_errors, fmt="o", capsize=3, label="Monte Carlo ± 2 SE")
ax_e.axhline(kl_exact, color="k", label=f"closed form {kl_exact:.3f}")
ax_e.set(xscale="log", xlabel="samples n", ylabel="KL (nats)", title=f"KL of q(z|x), conformation {i_kl}")
ax_e.legend(fontsize=8)
ax_s.loglog(ns, np.abs(estimates - kl_exact), "o", label="|Monte Carlo − closed form|")
ax_s.loglog(ns, std_errors, "-", label="standard error sd/√n")
ax_s.loglog(ns, std_errors[0] * np.sqrt(ns[0] / ns), ":", color="k", label="slope −1/2")
ax_s.set(xlabel="samples n", ylabel="error (nats)", title="Error shrinks like 1/√n")
ax_s.legend(fontsize=8)
plt.show()

z_scores = (estimates - kl_exact) / std_errors
slope = np.polyfit(np.log(ns), np.log(std_errors), 1)[0]
print("(estimate − closed form) / SE at each n:", np.round(z_scores, 2))
print(f"fitted slope of log SE vs log n: {slope:.3f}")
assert abs(z_scores[-1]) < 3 and np.all(np.abs(z_scores) < 4), "Monte-Carlo KL disagrees with the closed form"
assert abs(slope + 0.5) < 0.05

# %% [markdown]
# ### Exercise 3.1 · The closed-form KL for a log-variance encoder
#
# The lecture's encoder outputs $\mu$ and $\ell = \log\sigma^2$. Write `my_kl(mu, logvar)` returning
# the KL per example (summed over latent dimensions), shape `(batch,)`. The self-check compares it
# with `helpers.kl_divergence(mu, logvar=logvar)` on random inputs.

# %%
def my_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per example: (batch, J) -> (batch,)."""
    return torch.zeros(mu.shape[0])  # replace with your formula


# %%
# Self-check (Exercise 3.1)
def check_kl(candidate):
    g = torch.Generator().manual_seed(10)
    mu, logvar = torch.randn(50, 3, generator=g), 2 * torch.randn(50, 3, generator=g)
    ok = torch.allclose(candidate(mu, logvar), helpers.kl_divergence(mu, logvar=logvar), atol=1e-5)
    print("✓ correct" if ok else "✗ not yet: compare with 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)")
    return ok


check_kl(my_kl);

# %% jupyter={"source_hidden": true}
# Solution (Exercise 3.1)
def my_kl_solution(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1)


assert check_kl(my_kl_solution)

# %% [markdown]
# ## 7. How loose is the bound? Importance-weighted estimates
#
# The ELBO is below $\log p_\theta(x)$ by exactly
#
# $$\log p_\theta(x) - \mathrm{ELBO}(x) = D_{\mathrm{KL}}\big(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x)\big) \ge 0,$$
#
# how far the encoder's Gaussian is from the true posterior (the *variational gap*). Jensen's step
# loses less if we average more weights *inside* the log: with $K$ samples,
#
# $$\mathcal{L}_K(x) = \mathbb{E}\left[\log \frac1K \sum_{k=1}^K w(z_k)\right], \qquad
#   \mathrm{ELBO} = \mathcal{L}_1 \le \mathcal{L}_2 \le \dots \le \mathcal{L}_K \xrightarrow{K\to\infty} \log p_\theta(x)$$
#
# (Burda et al., 2016, "importance-weighted autoencoder"). We estimate $\mathcal{L}_K$ for $K$ from
# 1 to 1000 by splitting our 2000 weights per conformation into $2000/K$ disjoint groups of $K$
# and averaging the group estimates, and compare with `helpers.importance_weighted_log_likelihood`
# (fresh samples) at $K = 100$.

# %%
Ks = np.array([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])
iwae = []                                                         # (len(Ks), N_X): L_K per conformation
for K in Ks:
    groups = log_w[: (K_MAX // K) * K].reshape(K_MAX // K, K, N_X)
    iwae.append((torch.logsumexp(groups, 1) - math.log(K)).mean(0))
iwae = torch.stack(iwae)
gain = iwae - elbo_mc                                             # L_K - ELBO, paired per conformation
true_gap = log_px - elbo_mc                                       # log p(x) - ELBO = KL(q || true posterior)
gain_mean, gain_median = gain.mean(1).numpy(), gain.median(1).values.numpy()
gain_se = (gain.std(1) / math.sqrt(N_X)).numpy()
iwae_helper = helpers.importance_weighted_log_likelihood(model, x, SIGMA_X, n_samples=100,
                                                         generator=torch.Generator().manual_seed(4))

fig, (ax_g, ax_r) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
ax_g.errorbar(Ks, gain_mean, yerr=2 * gain_se, fmt="o-", color="C0", capsize=3, label="mean (± 2 SE)")
ax_g.plot(Ks, gain_median, "s-", color="C2", label="median")
ax_g.axhline(true_gap.mean(), color="C0", ls="--", label=f"mean of log p(x) − ELBO = {true_gap.mean():.2f}")
ax_g.axhline(true_gap.median(), color="C2", ls="--", label=f"median of log p(x) − ELBO = {true_gap.median():.2f}")
ax_g.plot([100], [(iwae_helper - elbo_mc).mean()], "D", color="C3", ms=8, mfc="none", mew=2,
          label="helpers.importance_weighted_log_likelihood (K = 100), mean")
ax_g.set(xscale="log", xlabel="importance samples K", ylabel=r"$\mathcal{L}_K$ − ELBO (nats)",
         title=f"Gain over the ELBO ({N_X} conformations)")
ax_g.legend(fontsize=7.5, loc="lower right")
remaining = (log_px - iwae).clamp_min(1e-2).numpy()               # log p(x) - L_K per conformation
ax_r.loglog(Ks, remaining, color="0.6", lw=0.8)
ax_r.loglog(Ks, np.median(remaining, 1), "o-", color="C2", lw=2, label="median over conformations")
ax_r.loglog(Ks, np.median(remaining, 1)[0] / Ks, ":", color="k", label="∝ 1/K (large-K theory)")
ax_r.set(xlabel="importance samples K", ylabel=r"log p(x) − $\mathcal{L}_K$ (nats; floor 0.01)",
         title="Remaining gap, one gray line per conformation")
ax_r.legend(fontsize=8)
plt.show()

print(" K    mean gain ± SE     median gain   (nats above the ELBO)")
for K, g, se, m in zip(Ks, gain_mean, gain_se, gain_median):
    print(f"{K:5d}   {g:6.3f} ± {se:.3f}      {m:6.3f}")
print(f"log p(x) - ELBO (quadrature): mean {true_gap.mean():.3f}, median {true_gap.median():.3f}, max {true_gap.max():.2f}")
print(f"helpers.elbo mean {elbo_helper.mean():.3f} <= helpers.importance_weighted_log_likelihood (K = 100) mean "
      f"{iwae_helper.mean():.3f} <= log p(x) mean {log_px.mean():.3f}")
closed = 1 - np.median(remaining[-1]) / np.median(remaining[0])
print(f"for the median conformation, K = 1000 closes {closed:.0%} of the gap")
# two Monte-Carlo estimates of the same quantity (2000 and 500 samples): equal within their noise
noise = 4 * log_w.std(0) / math.sqrt(500) + 0.02
assert torch.all((true_gap - kl_q_post).abs() < noise), "log p(x) - ELBO must equal KL(q || true posterior)"
assert np.all(gain_mean[1:] > 0), "every importance-weighted estimate should lie above the ELBO"
assert np.all(np.diff(gain_mean) > -2 * gain_se[1:]), "L_K should increase with K (within noise)"
assert gain_mean[-1] < true_gap.mean() + 0.1, "L_K cannot exceed log p(x) on average"
assert elbo_helper.mean() < iwae_helper.mean() < log_px.mean() + 0.1
assert abs((iwae_helper - iwae[Ks == 100]).mean()) < 0.2, "helper and hand-made estimates of L_100 should agree"
assert closed > 0.8, "for a typical conformation, 1000 importance samples should close nearly all of the gap"
assert 0.25 < true_gap.median() < 1.0, "the text says a typical conformation's ELBO is about half a nat below log p(x)"
assert true_gap.mean() > 3 * true_gap.median(), "the text says the mean gap is much larger than the median"
assert true_gap.max() > max(10.0, 5 * true_gap.median()), "the text says a few conformations are missed by far"

# %% [markdown]
# Reading the two panels:
#
# - For a typical conformation the ELBO is about half a nat below $\log p_\theta(x)$ (the median
#   printed above), and importance weighting closes nearly all of it by $K = 1000$. For very
#   large $K$ theory predicts a remaining gap of about $\operatorname{Var}(w)/(2K\,\mathbb{E}[w]^2)$,
#   i.e. $\propto 1/K$; the measured decay is slower because the weights are heavy-tailed, so the
#   rare large ones keep turning up as $K$ grows. (Values below 0.01 nats are at the precision of
#   the quadrature and are drawn at 0.01.)
# - The *mean* gap is much larger than the median, because of the few conformations whose
#   posterior the encoder misses (section 2). For them importance weighting with $q$ as the proposal
#   hardly helps: the flat gray lines at the top. Samples from $q$ never reach the region that
#   holds the probability.
# - `helpers.importance_weighted_log_likelihood` with fresh samples agrees with the hand-made
#   estimate and sits between the ELBO and $\log p_\theta(x)$, as it must.
#
# ## 8. β as a knob: rate versus distortion
#
# Now vary the weight of the KL term. The course ships eleven small VAEs trained with
# $\beta$ from $10^{-4}$ to $100$ ("sum" convention; `helpers.load_beta_sweep()`). By section 1,
# each $\beta$ is a different assumed decoder noise $\sigma_x = \sqrt{\beta/2}$: from 0.007 σ
# (reconstruct every detail) to 7.1 σ, several times the data's rms spread per coordinate (both
# printed below). In the language of information theory the two terms are
#
# - **rate** $R = \mathbb{E}_x D_{\mathrm{KL}}(q_\phi(z\mid x)\,\|\,p(z))$, in nats per conformation.
#   It bounds the information the code carries about $x$ from above: $R = I(x; z) +
#   D_{\mathrm{KL}}(q_\phi(z)\,\|\,p(z))$, where $q_\phi(z)$ is the *aggregate posterior* (the codes of
#   all conformations pooled), so $R \ge I(x; z)$, and the excess measures how badly the pooled
#   codes fit the prior;
# - **distortion** $D = \mathbb{E}\lVert x - f_\theta(z)\rVert^2$, squared error in σ².
#
# Minimizing $D + \beta R$ picks one point of the trade-off: small $\beta$ buys low distortion
# with a high rate, large $\beta$ the opposite.
#
# A linear model tells us where the rate should vanish. For a *linear* decoder the optimal VAE is
# probabilistic PCA: latent direction $j$ stays in use only if the data's variance $\lambda_j$ along
# its $j$-th principal axis exceeds the noise $\sigma_x^2 = \beta/2$, and it then costs
# $R_j = \frac12\log(2\lambda_j/\beta)$ nats. With two latent dimensions all information is
# switched off once $\beta > 2\lambda_1$.

# %%
sweep = helpers.load_beta_sweep()
eigenvalues = np.linalg.eigvalsh(np.cov(train.T))[::-1]          # variance along the principal axes, σ²
total_variance = float(test.var(0).sum())                        # distortion of a model that ignores z
beta_collapse = 2 * eigenvalues[0]
print("largest principal variances (σ²):", np.round(eigenvalues[:4], 2),
      f"  total {eigenvalues.sum():.1f};  predicted full collapse above beta = 2 lambda_1 = {beta_collapse:.1f}")
sigma_x_range = [math.sqrt(b / 2) for b, *_ in (sweep[0], sweep[-1])]
rms_per_coordinate = math.sqrt(total_variance / 24)
print(f"{len(sweep)} models, beta {sweep[0][0]:g} to {sweep[-1][0]:g}: sigma_x from {sigma_x_range[0]:.3f} σ to "
      f"{sigma_x_range[1]:.1f} σ, {sigma_x_range[1] / rms_per_coordinate:.1f} times the data's rms spread per "
      f"coordinate ({rms_per_coordinate:.2f} σ)")
assert len(sweep) == 11 and sweep[0][0] == 1e-4 and sweep[-1][0] == 100
assert 4 < sigma_x_range[1] / rms_per_coordinate < 10


def linear_rate(beta):
    """Rate (nats) of the optimal linear-Gaussian VAE with 2 latent dimensions, sigma_x^2 = beta / 2."""
    return sum(max(0.0, 0.5 * math.log(2 * lam / beta)) for lam in eigenvalues[:2])


x_test = torch.as_tensor(test)
rows = []
with torch.no_grad():
    for beta, m, result in sweep:
        mu_b, sigma_b = m.encode(x_test)
        kl_dims = (0.5 * (mu_b**2 + sigma_b**2 - 1 - torch.log(sigma_b**2))).mean(0).numpy()
        samples = m.sample(500, seed=0).numpy()
        diversity = math.sqrt(samples.var(0).sum() / total_variance)   # 1: as varied as the data, 0: all identical
        bend = float(np.sqrt((samples.reshape(-1, 12, 2)[..., 1] ** 2).mean()))  # rms y: 0 for a straight chain
        rows.append(dict(beta=beta, bend=bend, rate=result["test_kl"], distortion=result["test_recon"], kl_dims=kl_dims,
                         explained=1 - result["test_recon"] / total_variance, diversity=diversity,
                         codes=mu_b.numpy(), samples=samples, rg_samples=helpers.radius_of_gyration(samples)))

print(f"{'beta':>7s} {'sigma_x':>8s} {'rate':>7s} {'KL per dim':>14s} {'distortion':>11s} "
      f"{'var. explained':>15s} {'sample diversity':>17s} {'linear theory rate':>19s}")
for r in rows:
    # a collapsed model's distortion equals the total variance up to rounding: show 0%, not -0%
    explained = max(r["explained"], 0.0) if abs(r["explained"]) < 0.005 else r["explained"]
    print(f"{r['beta']:7g} {math.sqrt(r['beta'] / 2):8.3f} {r['rate']:7.2f} {str(np.round(r['kl_dims'], 2)):>14s} "
          f"{r['distortion']:11.2f} {explained:15.0%} {r['diversity']:17.2f} {linear_rate(r['beta']):19.2f}")
print(f"(distortion in σ² per conformation; the data's total variance is {total_variance:.1f} σ²; sample diversity"
      " = rms spread of 500 decoded prior samples relative to the data's: 1 as varied as the data, 0 all identical)")

# %%
betas = np.array([r["beta"] for r in rows])
rates = np.array([r["rate"] for r in rows])
distortions = np.array([r["distortion"] for r in rows])
fig, (ax_rd, ax_r) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
ax_rd.plot(rates, distortions, "o-")
labels = {}                                                      # models at the same point share one label
for b, r_, d_ in zip(betas, rates, distortions):
    labels.setdefault((round(r_, 1), round(d_, 1)), []).append(f"{b:g}")
for k, ((r_, d_), bs) in enumerate(labels.items()):   # on the crowded flat part, alternate above and below
    below = d_ < 1.1 * distortions.min() and k % 2 == 0
    ax_rd.annotate("β=" + ", ".join(bs), (r_, d_), textcoords="offset points", xytext=(4, -12 if below else 5),
                   fontsize=8)
ax_rd.margins(x=0.1)
ax_rd.axhline(total_variance, color="0.5", ls=":", label="distortion of the average polymer (rate 0)")
ax_rd.set(xlabel="rate: KL (nats per conformation)", ylabel="distortion: squared error (σ²)",
          title="Rate–distortion curve of the β sweep (test set)")
ax_rd.legend(fontsize=8)
beta_fine = np.logspace(-4, 2, 200)
ax_r.semilogx(betas, rates, "o", label="VAE, measured")
ax_r.semilogx(beta_fine, [linear_rate(b) for b in beta_fine], "-", color="0.4", label="linear VAE (PCA) theory")
ax_r.axvline(beta_collapse, color="C3", ls="--", label=f"2λ₁ = {beta_collapse:.1f}: full collapse (theory)")
ax_r.set(xlabel="β ('sum' convention)", ylabel="rate: KL (nats)", title="Rate falls with β")
ax_r.legend(fontsize=8)
plt.show()

by_beta = {r["beta"]: r for r in rows}
rate_drop = 1 - by_beta[0.03]["rate"] / by_beta[1e-4]["rate"]
distortion_change = by_beta[0.03]["distortion"] / by_beta[1e-4]["distortion"] - 1
print(f"beta 1e-4 -> 0.03: rate {by_beta[1e-4]['rate']:.1f} -> {by_beta[0.03]['rate']:.1f} nats "
      f"(down {rate_drop:.0%}), distortion {by_beta[1e-4]['distortion']:.2f} -> {by_beta[0.03]['distortion']:.2f} σ² "
      f"({distortion_change:+.0%})")
# the price of one nat: extra distortion per nat of rate given up, between neighboring betas
# (segments where the rate is already zero at both ends have no price)
seg_lo, seg_hi = betas[:-1], betas[1:]
priced = rates[:-1] > 0.05
price = -np.diff(distortions)[priced] / np.diff(rates)[priced]
print("extra distortion per nat saved (σ² per nat), between neighboring betas:")
print("  " + ",  ".join(f"{a:g}->{b:g}: {p_:.2f}" for a, b, p_ in zip(seg_lo[priced], seg_hi[priced], price)))
assert 0.6 < rate_drop < 0.73 and abs(distortion_change) < 0.05
flat = distortions[betas <= 0.03]
assert np.ptp(flat) < 0.05 * flat.min(), "the text says the distortion stays put (within a few percent) up to beta = 0.03"
assert np.all(np.abs(price[seg_hi[priced] <= 0.03]) < 0.1), "below beta = 0.03 the saved nats should be free"
assert np.all(price[seg_lo[priced] >= 1] > 1), "from beta = 1 on, a nat should cost more than 1 σ²"
assert np.all(np.diff(price[seg_lo[priced] >= 0.03]) > 0), "... and the price should grow with beta"
theory = np.array([linear_rate(b) for b in betas])
assert np.all(rates[betas <= 3] > theory[betas <= 3]), "the linear theory should be a floor at small beta"
assert np.all(np.abs(rates - theory)[betas >= 10] < 0.2), "... and close to the measurements at large beta"

# %% [markdown]
# The curve is the expected convex trade-off, with two regimes (numbers printed above; the one
# small departure from convexity is the distortion at $\beta = 10^{-3}$, a few percent above its
# neighbors). From $\beta = 10^{-4}$ to $0.03$ the rate falls by about two thirds while the
# distortion stays put, within a few percent: those extra nats only pinned each conformation to a
# tinier spot of latent space, precision the decoder could not turn into better reconstructions.
# From $\beta = 1$ on, every nat saved costs more than 1 σ² of reconstruction error, and the cost
# grows with $\beta$. The linear theory is a floor at small $\beta$ (a nonlinear decoder finds
# more worth encoding) and comes within a few tenths of a nat of the measurements from
# $\beta = 10$ on, where little detail is left for the decoder to be nonlinear about.
#
# ## 9. The whole sweep at a glance
#
# `BetaExplorer` shows one model of the sweep at a time. Move the β slider (arrow keys work once
# it has focus): you see the latent map of held-out conformations colored by $R_g$ (circles: 1
# and 2 standard deviations of the prior), three reconstructions (gray: the input), three
# samples decoded from $z \sim \mathcal{N}(0, I)$, and the model's point on the rate–distortion
# curve. Watch the samples turn into one and the same polymer and the latent map shrink into the
# prior at the top of the range.

# %%
beta_explorer = BetaExplorer(test, sweep)
beta_explorer

# %% [markdown]
# If the widget does not render (a static export, GitHub's viewer), the next figure shows the
# whole sweep at once: for every $\beta$ its latent map (dashed circle: 2 standard deviations of
# the prior) and its prior samples drawn on top of each other. Identical samples, a single
# polymer where there should be a tangle of different ones, mean collapse.

# %%
beta_explorer.static_figure()
plt.show()

# %% [markdown]
# ## 10. Posterior collapse, measured
#
# **Posterior collapse** means the encoder gives up: $q_\phi(z\mid x) \approx p(z)$ for every $x$,
# the KL term goes to zero, and the decoder outputs the same average polymer whatever $z$ it gets.
# The maps above suggest where that happens; three measurements make it precise: the KL each
# latent dimension carries (against the linear theory), how varied the prior samples are, and the
# distribution of their radius of gyration compared with the data.

# %%
rg_test = helpers.radius_of_gyration(test)
chosen = [1e-3, 0.1, 1.0, 10.0, 30.0]
fig, (ax_kl, ax_div, ax_rg) = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
kl_dims = np.stack([r["kl_dims"] for r in rows])                 # (betas, 2)
for j in range(2):
    ax_kl.semilogx(betas, kl_dims[:, j], "o", color=f"C{j}", label=f"VAE, latent dimension {j + 1}")
    ax_kl.semilogx(beta_fine, [max(0.0, 0.5 * math.log(2 * eigenvalues[j] / b)) for b in beta_fine], "-",
                   color=f"C{j}", lw=1, alpha=0.7, label=f"linear theory, principal axis {j + 1}")
ax_kl.axvline(beta_collapse, color="C3", ls="--", lw=1)
ax_kl.set(xlabel="β ('sum' convention)", ylabel="KL per latent dimension (nats)", title="Information per dimension")
ax_kl.legend(fontsize=7.5)
ax_div.semilogx(betas, [r["diversity"] for r in rows], "o-", label="sample diversity")
ax_div.semilogx(betas, [max(r["explained"], 0.0) for r in rows], "s-", label="variance explained (test set)")
ax_div.axvline(beta_collapse, color="C3", ls="--", lw=1, label="2λ₁ (theory: full collapse)")
ax_div.set(xlabel="β ('sum' convention)", ylabel="fraction (dimensionless)", ylim=(-0.03, 1.03),
           title="Collapse: both fall to zero")
ax_div.legend(fontsize=8)
ax_rg.boxplot([rg_test] + [by_beta[b]["rg_samples"] for b in chosen], whis=(5, 95), showfliers=False)
ax_rg.set_xticks(range(1, len(chosen) + 2), ["test data"] + [f"β = {b:g}" for b in chosen], fontsize=8)
ax_rg.set(ylabel="$R_g$ (σ)", title="$R_g$ of 500 prior samples (box: quartiles, whiskers: 5–95%)")
ax_rg.title.set_fontsize(9)
plt.show()

# %% [markdown]
# The measurements show collapse setting in at the top of the sweep (numbers below):
#
# - At $\beta = 10$ the rate is below 1 nat per conformation, the codes of very different
#   conformations are squeezed together, and the model explains only a fraction of the data's
#   variance. Every prior sample is now a straight chain along the principal axis: all bends are
#   gone, and the samples differ only in how stretched they are (the spread of $R_g$ in the right
#   panel), the one factor the remaining fraction of a nat still encodes.
# - At $\beta = 30$ and $\beta = 100$ the collapse is complete: the rate is zero to two decimals,
#   the test reconstruction error equals the data's total variance (the distortion of "always
#   answer with the average polymer"), and all prior samples are the same polymer, so their $R_g$
#   is a single value. That is what the linear theory predicts above $2\lambda_1$.
#
# Low sample diversity alone is not collapse: at $\beta = 10^{-3}$ the samples are bunched too,
# but for the opposite reason. There the codes spread far beyond the prior (the latent map's
# extent is printed below), so $z \sim \mathcal{N}(0, I)$ only visits the middle of the occupied
# region: the prior and the *aggregate posterior* (all codes together) do not match, while the
# rate is high (printed below). That mismatch is the part of the rate that is not information
# about $x$ (section 8).
#
# And the lecture's claim that **"with $\beta = 1$ the KL term collapses the latent space"**? Not on
# this data, in the "sum" convention: at $\beta = 1$ both latent dimensions are in use, the map is
# still ordered by $R_g$, and the model explains most of the variance (numbers below). What
# $\beta = 1$ means depends on the reductions, though: in the walkthrough's "mean" convention
# $\beta = 1$ is $\beta = 12$ here, which *is* in the collapse region. The real question is not
# "is $\beta$ one?" but "is the assumed noise $\sigma_x^2 = \beta/2$ larger than the data's variance
# along its main directions?"

# %%
for b in (1.0, 10.0, 30.0, 100.0):
    r = by_beta[b]
    print(f"beta = {b:<4g}: rate {r['rate']:.2f} nats, KL per dim {np.round(r['kl_dims'], 3)}, "
          f"distortion {r['distortion']:.2f} σ² (total variance {total_variance:.2f} σ²), "
          f"variance explained {max(r['explained'], 0.0):.0%}, sample diversity {r['diversity']:.3f}, "
          f"R_g of samples {np.percentile(r['rg_samples'], 5):.2f}-{np.percentile(r['rg_samples'], 95):.2f} σ")
data_bend = float(np.sqrt((test.reshape(-1, 12, 2)[..., 1] ** 2).mean()))
print(f"rms distance of the beads from the principal axis: data {data_bend:.2f} σ, samples at beta = 1 "
      f"{by_beta[1.0]['bend']:.2f} σ, at beta = 10 {by_beta[10.0]['bend']:.2f} σ")
small = by_beta[1e-3]
extent = float(np.percentile(np.abs(small["codes"]), 99.5))
print(f"beta = 0.001: codes reach ±{extent:.1f} (99.5th percentile of |mu|; the prior's 3 sd: ±3), "
      f"rate {small['rate']:.1f} nats, sample diversity {small['diversity']:.2f} "
      f"(beta = 0.1: {by_beta[0.1]['diversity']:.2f})")

assert by_beta[10.0]["rate"] < 1.0, "at beta = 10 the rate should have collapsed below 1 nat"
assert by_beta[1.0]["rate"] > 2.0 and np.all(by_beta[1.0]["kl_dims"] > 0.5), "beta = 1 should not collapse here"
assert by_beta[1.0]["explained"] > 0.6 and by_beta[10.0]["explained"] < by_beta[1.0]["explained"] - 0.2
assert by_beta[10.0]["diversity"] < 0.75 * by_beta[1.0]["diversity"], "prior samples should become more alike"
assert by_beta[10.0]["bend"] < 0.1 * data_bend < by_beta[1.0]["bend"], "beta = 10 samples should be straight chains"
for b in (30.0, 100.0):                                  # complete collapse, beyond 2 lambda_1
    r = by_beta[b]
    assert b > beta_collapse and r["rate"] < 0.05 and np.all(r["kl_dims"] < 0.05), f"beta = {b}: KL should be ~0"
    assert abs(r["distortion"] - total_variance) < 0.02 * total_variance, f"beta = {b}: distortion = total variance"
    assert r["diversity"] < 0.05 and np.ptp(r["rg_samples"]) < 0.1, f"beta = {b}: all samples the same polymer"
assert abs(total_variance - 26.4) < 0.5                  # the value quoted in the key takeaways
live = rates > 0.05
assert np.all(np.diff(rates[live]) < 0) and np.all(np.diff(rates) < 0.01), "the rate should fall with beta"
assert extent > 5 and small["rate"] > 10, "see the text on small beta"
assert small["diversity"] < by_beta[0.1]["diversity"], "see the text on small beta"

# %% [markdown]
# ### Exercise 3.2 · When does "β = 1" collapse?
#
# A classmate trains with the walkthrough's loss ("mean" convention) and $\beta = 1$. (a) What is
# that in the "sum" convention, and (b) which decoder noise $\sigma_x$ (in σ) does it assume?
# (c) Using the linear theory of section 8, how many nats of rate would you predict? Fill in the
# three numbers.

# %%
answer_beta_sum = None     # (a)
answer_sigma_x = None      # (b), in σ
answer_rate = None         # (c), in nats

# %%
# Self-check (Exercise 3.2)
def check_collapse_answers(beta_sum, sigma_x, rate):
    truth = helpers.beta_sum_from_mean(1.0)
    checks = {
        "(a) beta in the sum convention": beta_sum is not None and abs(beta_sum - truth) < 1e-6,
        "(b) sigma_x": sigma_x is not None and abs(sigma_x - math.sqrt(truth / 2)) < 1e-3,
        "(c) predicted rate": rate is not None and abs(rate - linear_rate(truth)) < 0.02,
    }
    for name, ok in checks.items():
        print(("✓ " if ok else "✗ ") + name)
    return all(checks.values())


check_collapse_answers(answer_beta_sum, answer_sigma_x, answer_rate);

# %% jupyter={"source_hidden": true}
# Solution (Exercise 3.2)
# (a) mean convention: SE / 24 + beta_mean * KL / 2; multiply by 24: SE + 12 beta_mean KL -> beta = 12.
# (b) sigma_x = sqrt(12 / 2) = 2.45 σ, more than the rms spread of a coordinate around its mean.
# (c) only directions with variance above sigma_x^2 = 6 σ² survive: lambda_1 and lambda_2 (printed in
#     section 8) each contribute 1/2 log(lambda / 6), a few tenths of a nat in total: nearly collapsed.
solution_beta = helpers.beta_sum_from_mean(1.0)
print(f"beta = {solution_beta:g}, sigma_x = {math.sqrt(solution_beta / 2):.2f} σ, "
      f"predicted rate {linear_rate(solution_beta):.2f} nats")
assert check_collapse_answers(solution_beta, math.sqrt(solution_beta / 2), linear_rate(solution_beta))
assert math.sqrt(solution_beta / 2) > rms_per_coordinate and eigenvalues[1] > solution_beta / 2 > eigenvalues[2]
assert 0.1 < linear_rate(solution_beta) < 1.0

# %% [markdown]
# ## Key takeaways
#
# - $\log p_\theta(x) = \log \mathbb{E}_{q_\phi(z\mid x)}[p_\theta(x\mid z)p(z)/q_\phi(z\mid x)]$ is exact; Jensen's
#   inequality moves the log inside and gives the ELBO, which splits into a reconstruction term and
#   $-D_{\mathrm{KL}}(q_\phi(z\mid x)\,\|\,p(z))$.
# - The Gaussian KL has a closed form, $\frac12\sum_j(\mu_j^2+\sigma_j^2-1-\log\sigma_j^2) \ge 0$; a Monte-Carlo
#   estimate agrees within its standard error, which shrinks like $1/\sqrt n$.
# - The gap $\log p_\theta(x) - \mathrm{ELBO} = D_{\mathrm{KL}}(q_\phi(z\mid x)\,\|\,p_\theta(z\mid x))$ is about half a
#   nat for a typical conformation (measured against a brute-force integral), and importance
#   weighting with $K$ samples closes it gradually. For the few conformations whose posterior the
#   encoder misses it is ten nats or more, and sampling from $q$ cannot repair that.
# - $\beta$ is an assumption about decoder noise, $\beta = 2\sigma_x^2$ in the "sum" convention; the
#   walkthrough's $\beta = 0.01$ ("mean") is $0.12$ here. Always state the reductions.
# - Larger $\beta$ trades rate for distortion; the rate is an upper bound on the information the
#   code carries, $R \ge I(x; z)$. Collapse (rate → 0, all samples the same polymer) sets in when
#   $\sigma_x^2 = \beta/2$ approaches the data's largest principal variances: it is well under way
#   at $\beta = 10$ here and complete at $\beta = 30$ and $100$ (rate 0.00 nats, reconstruction
#   error equal to the data's total variance, ≈ 26.4 σ²), but it does not happen at $\beta = 1$
#   (in the "sum" convention).
