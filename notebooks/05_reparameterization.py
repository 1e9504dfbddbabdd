# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5 · The reparameterization trick
#
# Training a VAE follows the gradient of an *expectation over random latent codes*,
# $\nabla_\phi\, \mathbb{E}_{z\sim q_\phi(z\mid x)}[f(z)]$, e.g. of the reconstruction loss of the
# decoder $p_\theta(x\mid z)$. Autograd cannot differentiate a random number generator. We
# repair that with $z = \mu + \sigma\,\varepsilon$ and compare this *pathwise* estimator with
# the *score-function* (REINFORCE) estimator: both unbiased, with very different variances.
#
# **Learning objectives**
# - See why a sampled $z$ carries no usable gradient (`.sample()`, `torch.normal`) and what
#   `.rsample()` does.
# - Write $z = \mu + \sigma \odot \varepsilon$ and its derivatives $\partial z/\partial\mu = 1$,
#   $\partial z/\partial\sigma = \varepsilon$.
# - Check Monte-Carlo gradients against finite differences with *common random numbers*.
# - Say which terms of the VAE loss need the trick, and what the encoder learns without it.
# - Derive the score-function estimator and measure both estimators' variances.
# - Explain why VAEs use the pathwise estimator, and when you would need REINFORCE.
#
# Run it: [Open in Colab](https://colab.research.google.com/github/protein-ai-course/polymer-vae-bundle/blob/main/notebooks/05_reparameterization.ipynb) · [Binder](https://mybinder.org/v2/gh/protein-ai-course/polymer-vae-bundle/main?urlpath=lab/tree/notebooks/05_reparameterization.ipynb) · locally: see README
#
# *Notation.* $\sigma$ is always a standard deviation (of a toy Gaussian or of the encoder's
# Gaussian). $f$ is the function inside the expectation (toy $z^2$, later a squared error), not
# the decoder's mean $f_\theta$. Lengths are in bead diameters.

# %%
# On Colab, install the course package first (elsewhere it is already installed).
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "git+https://github.com/protein-ai-course/polymer-vae-bundle"], check=True)

# %%
import copy
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

import helpers
from helpers.exercises import reparameterization as exercises
from helpers.selfcheck import claim

torch.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Sampling cuts the gradient
#
# Take the simplest objective with a known answer: $z \sim \mathcal{N}(\mu, \sigma^2)$ and
# $f(z) = z^2$. Then
#
# $$J(\mu, \sigma) = \mathbb{E}[z^2] = \mu^2 + \sigma^2, \qquad
#   \frac{\partial J}{\partial \mu} = 2\mu, \qquad \frac{\partial J}{\partial \sigma} = 2\sigma .$$
#
# In practice we estimate $J$ with $n$ samples, $\hat J = \frac1n \sum_i f(z_i)$, and ask autograd
# for $\nabla \hat J$. Here is what random draws give.

# %%
MU, SIGMA = 1.0, 0.5
EXACT_GRAD = np.array([2 * MU, 2 * SIGMA])  # (dJ/dmu, dJ/dsigma)


def f(z):
    """The toy objective f(z) = z^2 (elementwise)."""
    return z**2


def fresh_parameters():
    return torch.tensor(MU, requires_grad=True), torch.tensor(SIGMA, requires_grad=True)


mu, sigma = fresh_parameters()
z = torch.distributions.Normal(mu, sigma).sample((10_000,))
print(f"Normal(mu, sigma).sample():  requires_grad={z.requires_grad}, grad_fn={z.grad_fn}")
try:
    f(z).mean().backward()
except RuntimeError as err:
    print("backward() fails:", err)

# %% [markdown]
# `.sample()` runs under `torch.no_grad()`: the samples are plain numbers, disconnected from
# $\mu$ and $\sigma$, so there is nothing to differentiate. `torch.normal(mu, sigma)` is more
# treacherous: it *does* return a tensor with a `grad_fn`, so `backward()` runs without complaint,
# but PyTorch defines the derivative of a random draw with respect to its mean and standard
# deviation as **zero**. The optimizer would receive a silent zero.

# %%
mu, sigma = fresh_parameters()
z = torch.normal(mu.expand(10_000), sigma.expand(10_000))
print(f"torch.normal(mu, sigma):     requires_grad={z.requires_grad}, grad_fn={type(z.grad_fn).__name__}")
f(z).mean().backward()
print(f"autograd says  dJ/dmu = {mu.grad.item():.3f},  dJ/dsigma = {sigma.grad.item():.3f}")
print(f"the truth is   dJ/dmu = {EXACT_GRAD[0]:.3f},  dJ/dsigma = {EXACT_GRAD[1]:.3f}")

# %% tags=["check"]
claim(mu.grad.item() == 0.0 and sigma.grad.item() == 0.0, "torch.normal passes a silent zero gradient",
      f"({mu.grad.item()}, {sigma.grad.item()})");

# %% [markdown]
# `.rsample()` ("reparameterized sample") is the fix, and it is nothing more than the trick this
# notebook is about: it draws $\varepsilon \sim \mathcal{N}(0, 1)$ and returns $\mu + \sigma\varepsilon$.

# %%
mu, sigma = fresh_parameters()
z = torch.distributions.Normal(mu, sigma).rsample((1_000_000,))
print(f"Normal(mu, sigma).rsample(): grad_fn={type(z.grad_fn).__name__}")
f(z).mean().backward()
rsample_grad = np.array([mu.grad.item(), sigma.grad.item()])
print(f"autograd says  dJ/dmu = {rsample_grad[0]:.3f},  dJ/dsigma = {rsample_grad[1]:.3f}  (exact {EXACT_GRAD})")

# %% tags=["check"]
claim(np.allclose(rsample_grad, EXACT_GRAD, rtol=0, atol=0.01), "rsample gradients match (2 mu, 2 sigma)",  # 4 standard errors
      f"{rsample_grad}");

# %% [markdown]
# ## 2. The trick: $z = \mu + \sigma \odot \varepsilon$
#
# Move the randomness into a parameter-free noise variable and make $z$ a deterministic function
# of the parameters:
#
# $$\varepsilon \sim \mathcal{N}(0, I), \qquad z = \mu + \sigma \odot \varepsilon
#   \quad\Longrightarrow\quad
#   \frac{\partial z}{\partial \mu} = 1, \qquad \frac{\partial z}{\partial \sigma} = \varepsilon .$$
#
# $z$ has exactly the distribution $\mathcal{N}(\mu, \sigma^2)$, and the chain rule now passes
# through it: $\nabla_{\mu,\sigma}\, \mathbb{E}_\varepsilon[f(\mu+\sigma\varepsilon)]
# = \mathbb{E}_\varepsilon[f'(z)\,(1, \varepsilon)]$. The course package implements it as
# `helpers.reparameterize(mu, sigma, generator)`. A seeded generator lets us recreate its
# $\varepsilon$ and confirm both derivatives.

# %%
mu = torch.tensor([0.3, -1.2], requires_grad=True)
sigma = torch.tensor([0.5, 0.1], requires_grad=True)
z = helpers.reparameterize(mu, sigma, generator=torch.Generator().manual_seed(1))
eps = torch.randn(2, generator=torch.Generator().manual_seed(1))  # the same draw, recreated

z.sum().backward()  # d(z1 + z2)/d(parameter) picks out dz_j/d(parameter_j)
print("z           =", z.detach().numpy())
print("dz/dmu      =", mu.grad.numpy(), "  (expected 1)")
print("dz/dsigma   =", sigma.grad.numpy(), "  (expected eps =", eps.numpy(), ")")

# %% tags=["check"]
claim(torch.allclose(z.detach(), mu.detach() + sigma.detach() * eps), "z = mu + sigma * eps", f"{z}")
claim(torch.allclose(mu.grad, torch.ones(2)) and torch.allclose(sigma.grad, eps), "dz/dmu = 1 and dz/dsigma = eps",
      f"{mu.grad}, {sigma.grad}");

# %% [markdown]
# Left: a new draw from $\mathcal{N}(\mu, 0.5^2)$ at every $\mu$:
# no curve whose slope autograd could take. Middle: five fixed $\varepsilon_k$ and
# $z_k(\mu) = \mu + 0.5\,\varepsilon_k$ move smoothly with $\mu$. Right: the Monte-Carlo objective
# $\hat J(\mu) = \frac1{20}\sum_i z_i^2$: a jagged cloud with fresh samples at every $\mu$, a
# smooth curve with the same 20 values of $\varepsilon$.

# %%
mus = np.linspace(-2, 2, 41)
fixed_eps = np.array([1.28, 0.52, 0.0, -0.52, -1.28])  # the 90, 70, 50, 30, 10 % quantiles of N(0, 1)
fig, (ax_l, ax_m, ax_r) = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True)
for k in range(5):
    ax_l.plot(mus, mus + 0.5 * rng.standard_normal(len(mus)), ".", color=f"C{k + (k > 2)}", ms=5)  # no red:
    ax_m.plot(mus, mus + 0.5 * fixed_eps[k], "-", color=f"C{k + (k > 2)}", label=f"ε = {fixed_eps[k]:+.2f}")  # it marks invalid polymers
ax_l.set(xlabel="μ", ylabel="sample z", title="fresh draw at every μ")
ax_m.set(xlabel="μ", ylabel="sample z", title="z = μ + σε, ε held fixed (σ = 0.5)")
ax_m.legend(fontsize=8)
common_eps = rng.standard_normal(20)
ax_r.plot(mus, [np.mean(f(m + 0.5 * rng.standard_normal(20))) for m in mus], ".", color="C1",
          label="fresh samples at every μ")
ax_r.plot(mus, [np.mean(f(m + 0.5 * common_eps)) for m in mus], "-", color="C0", label="same 20 ε at every μ")
ax_r.plot(mus, mus**2 + 0.25, "--", color="k", lw=1, label="exact J = μ² + σ²")
ax_r.set(xlabel="μ", ylabel="Ĵ(μ), 20 samples", title="Monte-Carlo objective")
ax_r.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 3. Checking the gradient against finite differences
#
# The central finite difference
#
# $$\frac{\partial \hat J}{\partial \mu} \approx \frac{\hat J(\mu + h) - \hat J(\mu - h)}{2h}$$
#
# must agree with autograd. The catch: if $\hat J(\mu+h)$ and $\hat J(\mu-h)$ use *different*
# samples, their difference is sampling noise ($\sim 1/\sqrt{n}$) divided by a tiny $2h$. The cure
# is **common random numbers**: draw $\varepsilon_1..\varepsilon_n$ once and use them at both
# points. Then $\hat J(\mu, \sigma) = \frac1n\sum_i f(\mu + \sigma\varepsilon_i)$ is a smooth
# deterministic function, exact up to $O(h^2)$. We work in float64 so that $h = 10^{-6}$ is not
# swamped by rounding.

# %%
def mc_objective(mu, sigma, eps):
    """J_hat(mu, sigma) = mean_i f(mu + sigma * eps_i) with the noise eps given (common random numbers)."""
    return f(mu + sigma * eps).mean()


n, h = 10_000, 1e-6
eps = torch.randn(n, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
mu = torch.tensor(MU, dtype=torch.float64, requires_grad=True)
sigma = torch.tensor(SIGMA, dtype=torch.float64, requires_grad=True)
mc_objective(mu, sigma, eps).backward()
autograd = np.array([mu.grad.item(), sigma.grad.item()])

with torch.no_grad():
    fd_common = np.array([
        (mc_objective(mu + h, sigma, eps) - mc_objective(mu - h, sigma, eps)).item() / (2 * h),
        (mc_objective(mu, sigma + h, eps) - mc_objective(mu, sigma - h, eps)).item() / (2 * h),
    ])
    gen = torch.Generator().manual_seed(3)
    fresh = lambda: torch.randn(n, generator=gen, dtype=torch.float64)  # noqa: E731
    fd_fresh = np.array([
        (mc_objective(mu + h, sigma, fresh()) - mc_objective(mu - h, sigma, fresh())).item() / (2 * h),
        (mc_objective(mu, sigma + h, fresh()) - mc_objective(mu, sigma - h, fresh())).item() / (2 * h),
    ])

print(f"{'':34s}{'dJ/dmu':>14s}{'dJ/dsigma':>14s}")
for name, g in [("exact (2 mu, 2 sigma)", EXACT_GRAD), ("autograd, pathwise (n = 10^4)", autograd),
                ("finite diff., common random numbers", fd_common), ("finite diff., fresh samples", fd_fresh)]:
    print(f"{name:34s}{g[0]:14.6f}{g[1]:14.6f}")
print("max |autograd - finite difference (common)| =", f"{np.abs(autograd - fd_common).max():.2e}")

# %% tags=["check"]
claim(np.allclose(autograd, fd_common, rtol=1e-6, atol=1e-8), "autograd and finite differences (common) agree",
      f"{autograd} vs {fd_common}")
claim(np.all(np.abs(autograd - EXACT_GRAD) < 0.05), "the pathwise gradient is close to the exact one", f"{autograd}")
claim(np.all(np.abs(fd_fresh - EXACT_GRAD) > 10), "with fresh samples the finite difference is pure noise",
      f"{fd_fresh}");

# %% [markdown]
# The same check on the real thing, the reconstruction part of a VAE loss. Take the
# pretrained polymer VAE, a held-out conformation $x$, the mean $\mu$ and standard deviation
# $\sigma$ of its encoder's $q_\phi(z\mid x)$ (two latent dimensions each), and
#
# $$L(\mu, \sigma) = \frac1n \sum_{i=1}^n \big\lVert f_\theta(\mu + \sigma \odot \varepsilon_i) - x \big\rVert^2 ,$$
#
# with the decoder network $f_\theta$ (the mean of $p_\theta(x\mid z)$), the squared error summed
# over the 24 coordinates as in the VAE loss. As $x$ we take a typical frame, the one whose
# $\sigma$ (geometric mean of the two) is the test set's median. One catch: the decoder is built
# of ReLUs, so $L$ is piecewise quadratic; a central difference is exact on a quadratic (up to
# rounding, about $10^{-16}|L|/h$) unless its step moves one of the 256 codes across a kink, where
# a hidden unit switches on or off. The last column counts such crossings.

# %%
model, info = helpers.load_pretrained()
train, test = helpers.train_test_split(helpers.preprocess(helpers.load_paths()), seed=42)
with torch.no_grad():
    sigma_test = model.encode(torch.as_tensor(test))[1]        # (1000, 2), the encoder's standard deviations
width = sigma_test.prod(-1).sqrt()                             # (1000,), geometric mean of the two
k_med = int(width.argsort()[len(test) // 2])                   # the test frame of median width
x = torch.as_tensor(test[k_med:k_med + 1], dtype=torch.float64)  # (1, 24)
decoder = copy.deepcopy(model.decoder).double()                # float64 copy for clean finite differences
with torch.no_grad():
    mu0, sigma0 = (t.double() for t in model.encode(x.float()))
print(f"test frame {k_med}: mu = {mu0.numpy().round(3)}, sigma = {sigma0.numpy().round(4)}"
      f" (median sigma over the test set, both dimensions pooled: {sigma_test.median():.3f})")

eps = torch.randn(256, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)


def decoder_loss(mu, sigma):
    """Mean squared reconstruction error (summed over 24 coordinates) of z = mu + sigma * eps."""
    return ((decoder(mu + sigma * eps) - x) ** 2).sum(-1).mean()


mu, sigma = mu0.clone().requires_grad_(), sigma0.clone().requires_grad_()
decoder_loss(mu, sigma).backward()
autograd = torch.cat([mu.grad[0], sigma.grad[0]]).numpy()

def kinks_crossed(z_minus, z_plus):
    """How many (code, hidden unit) pairs switch a ReLU on or off between two batches of codes."""
    crossed = 0
    for layer in decoder.net:
        if isinstance(layer, torch.nn.ReLU):
            crossed += int(((z_minus > 0) != (z_plus > 0)).sum())
        z_minus, z_plus = layer(z_minus), layer(z_plus)
    return crossed


finite, kinks = [], []
with torch.no_grad():
    for which, j in [("mu", 0), ("mu", 1), ("sigma", 0), ("sigma", 1)]:
        step = torch.zeros_like(mu0)
        step[0, j] = h
        plus, minus = [(mu0 + s * step, sigma0) if which == "mu" else (mu0, sigma0 + s * step) for s in (1, -1)]
        finite.append((decoder_loss(*plus) - decoder_loss(*minus)).item() / (2 * h))
        kinks.append(kinks_crossed(minus[0] + minus[1] * eps, plus[0] + plus[1] * eps))
finite, kinks = np.array(finite), np.array(kinks)
rel_diff = np.abs(autograd - finite) / np.abs(autograd).max()    # relative to the largest partial
for name, a, b, d, k in zip(["dL/dmu_1", "dL/dmu_2", "dL/dsigma_1", "dL/dsigma_2"], autograd, finite, rel_diff, kinks):
    print(f"{name:12s} autograd {a:10.6f}   finite difference {b:10.6f}   relative difference {d:.0e}   kinks {k}")

# %% tags=["check"]
claim(np.all(rel_diff[kinks == 0] < 1e-8), "without a kink in the step, autograd and finite differences agree to 1e-8",
      f"relative differences {rel_diff.round(12)}, kinks crossed {kinks}")
claim(sum(m.out_features for m in decoder.net[:-1] if isinstance(m, torch.nn.Linear)) == 768, "768 hidden units",
      str(decoder.net));

# %% [markdown]
# Where no kink is crossed they agree to better than $10^{-8}$. A step that crossed one would
# make that partial disagree: a flaw of the finite difference, not of autograd.

# %% [markdown]
# ## 4. Where the trick enters the VAE loss
#
# Per conformation, the VAE minimizes ($2\sigma_x^2$ times the negative ELBO plus a constant when
# $\beta = 2\sigma_x^2$, notebook 3)
#
# $$\mathcal L(x) = \underbrace{\mathbb E_{z\sim q_\phi(z\mid x)} \big\lVert x - f_\theta(z)\big\rVert^2}_{\text{reconstruction: an expectation}}
#   + \beta\, \underbrace{\tfrac12 \textstyle\sum_j \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big)}_{\mathrm{KL}(q_\phi(z\mid x)\,\Vert\, p(z)):\ \text{a formula}} ,
#   \qquad p(z) = \mathcal N(0, I).$$
#
# Only the first term is an expectation over a random $z$. The KL between two Gaussians is
# closed-form, a deterministic function of $\mu, \sigma$ that autograd differentiates directly:
# no sampling, no trick. What if we forget the trick?
# Below, the encoder's weights $\phi$ get their gradient on the whole training set three ways:
# from $\beta\,$KL alone, and from the full loss with $z$ drawn by `sample()` and by `rsample()`
# (8 draws per conformation, the same $\varepsilon$ in both; $\beta = 0.12$, the shipped model's).

# %%
x_train = torch.as_tensor(train)                               # (9000, 24)


def encoder_gradient(draw, with_reconstruction=True):
    """Gradient of the mean loss over x_train with respect to the encoder's weights, flattened."""
    model.zero_grad()
    torch.manual_seed(0)                                       # the same eps for every call
    mu, sigma = (t.repeat(8, 1) for t in model.encode(x_train))  # 8 copies of each code: (72000, 2)
    z = draw(torch.distributions.Normal(mu, sigma))            # 8 draws per conformation
    reconstruction = ((model.decode(z) - x_train.repeat(8, 1)) ** 2).sum(-1).mean()
    kl = helpers.kl_divergence(mu, sigma).mean()               # closed form: no sample involved
    (reconstruction * with_reconstruction + info["beta"] * kl).backward()
    return torch.cat([p.grad.flatten() for p in model.encoder.parameters()])


g_kl = encoder_gradient(lambda q: q.sample(), with_reconstruction=False)
g_sample = encoder_gradient(lambda q: q.sample())
g_rsample = encoder_gradient(lambda q: q.rsample())
g_recon = g_rsample - g_kl                                     # what the reconstruction adds
print(f"|gradient| from beta * KL alone:            {g_kl.norm():.3f}")
print(f"|gradient| of the loss, z = q.sample():     {g_sample.norm():.3f}"
      f"  (minus the KL's: {(g_sample - g_kl).norm():.1f})")
print(f"|gradient| of the loss, z = q.rsample():    {g_rsample.norm():.3f}")
print(f"  of which the reconstruction's part:       {g_recon.norm():.3f},"
      f" cosine with the KL's {torch.nn.functional.cosine_similarity(g_recon, g_kl, dim=0):.2f}")

# %% tags=["check"]
claim(info["beta"] == 0.12, "the shipped model was trained with beta = 0.12", f"{info['beta']}")
claim(torch.equal(g_sample, g_kl), "with sample() the encoder's gradient is exactly the KL's",
      f"difference {(g_sample - g_kl).norm():.2e}")
claim(g_rsample.norm() < 0.5 * g_kl.norm(), "with rsample() the two terms nearly cancel",
      f"{g_rsample.norm():.3f} vs KL alone {g_kl.norm():.3f}")
claim(torch.nn.functional.cosine_similarity(g_recon, g_kl, dim=0) < -0.9,
      "the reconstruction's gradient points against the KL's", f"{torch.nn.functional.cosine_similarity(g_recon, g_kl, dim=0):.2f}")
decoder_grads = []
for draw in (lambda q: q.sample(), lambda q: q.rsample()):
    encoder_gradient(draw)
    decoder_grads.append(torch.cat([p.grad.flatten() for p in model.decoder.parameters()]))
model.zero_grad()
claim(torch.allclose(*decoder_grads) and decoder_grads[0].norm() > 0, "the decoder's gradient is the same either way",
      f"difference {(decoder_grads[0] - decoder_grads[1]).norm():.2e}");

# %% [markdown]
# With `sample()` the encoder's gradient is *exactly* that of the KL: the reconstruction term,
# the only one that knows what the code is for, never reaches $\phi$. (The decoder's gradient
# is the same either way: it only sees the value of $z$.) With `rsample()` the reconstruction's
# gradient points almost exactly against the KL's: for the trained model the two forces largely
# cancel (their sum is under half the KL's part), the KL pulling every code towards
# $\mathcal N(0, I)$ and the reconstruction holding it where it identifies its conformation.
#
# The closed form is a gift of the Gaussian prior. With another prior (e.g. a mixture like
# notebook 8's aggregated posterior) the KL is estimated on the same draws,
# $\frac1n\sum_i [\log q_\phi(z_i\mid x) - \log p(z_i)]$, and needs the trick too: with
# `sample()` its gradient would be $\frac1n\sum_i \nabla_\phi \log q_\phi(z_i\mid x)$, zero on
# average.

# %% tags=["check"]
mc_kl_grads = {}
for draw in ("rsample", "sample"):
    mu_t = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    sigma_t = torch.tensor([0.3, 0.8], dtype=torch.float64, requires_grad=True)
    q = torch.distributions.Normal(mu_t, sigma_t)
    z = getattr(q, draw)((1_000_000,))
    (q.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z)).sum(-1).mean().backward()
    mc_kl_grads[draw] = torch.cat([mu_t.grad, sigma_t.grad])
closed_form = torch.cat([mu_t.detach(), sigma_t.detach() - 1 / sigma_t.detach()])  # d KL / d(mu, sigma)
claim(torch.allclose(mc_kl_grads["rsample"], closed_form, atol=0.02), "a Monte-Carlo KL with rsample has the KL's gradient",
      f"{mc_kl_grads['rsample']} vs {closed_form}")
claim(mc_kl_grads["sample"].abs().max() < 0.05, "with sample() its gradient is zero on average",
      f"{mc_kl_grads['sample']}");

# %% [markdown]
# ## 5. The other way: the score-function (REINFORCE) estimator
#
# Another way to differentiate an expectation: move the gradient onto the density,
#
# $$\nabla_\lambda\, \mathbb{E}_{q_\lambda}[f(z)]
#   = \int f(z)\, \nabla_\lambda q_\lambda(z)\, dz
#   = \int f(z)\, q_\lambda(z)\, \nabla_\lambda \log q_\lambda(z)\, dz
#   = \mathbb{E}_{q_\lambda}\big[f(z)\, \nabla_\lambda \log q_\lambda(z)\big],$$
#
# using $\nabla q = q\, \nabla \log q$. The gradient of $\log q$ is called the *score*. For
# $q = \mathcal{N}(\mu, \sigma^2)$ and $z = \mu + \sigma\varepsilon$:
#
# $$\frac{\partial \log q}{\partial \mu} = \frac{z-\mu}{\sigma^2} = \frac{\varepsilon}{\sigma},
#   \qquad
#   \frac{\partial \log q}{\partial \sigma} = \frac{(z-\mu)^2 - \sigma^2}{\sigma^3} = \frac{\varepsilon^2 - 1}{\sigma}.$$
#
# | estimator | per-sample gradient for $\mu$ | for $\sigma$ | needs |
# | --- | --- | --- | --- |
# | pathwise (reparameterization) | $f'(z)$ | $f'(z)\,\varepsilon$ | $f$ differentiable, $z$ reparameterizable |
# | score function (REINFORCE) | $f(z)\,\varepsilon/\sigma$ | $f(z)\,(\varepsilon^2-1)/\sigma$ | only values $f(z)$ and $\nabla\log q$ |
#
# In code, REINFORCE is usually written as a *surrogate loss*: draw $z$ without gradient, then
# backpropagate through `f(z).detach() * q.log_prob(z)`. The two forms give the same number:

# %%
def pathwise_grads(eps, mu=MU, sigma=SIGMA):
    """Per-sample pathwise gradients (d/dmu, d/dsigma) of f(z) = z^2: 2z and 2z * eps."""
    z = mu + sigma * eps
    return 2 * z, 2 * z * eps


def score_grads(eps, mu=MU, sigma=SIGMA):
    """Per-sample score-function gradients (d/dmu, d/dsigma) of E[z^2]: f(z) eps/sigma, f(z)(eps^2-1)/sigma."""
    fz = f(mu + sigma * eps)
    return fz * eps / sigma, fz * (eps**2 - 1) / sigma


mu, sigma = fresh_parameters()
q = torch.distributions.Normal(mu, sigma)
z = q.sample((1000,))                            # no gradient through the sample itself
surrogate = (f(z).detach() * q.log_prob(z)).mean()
surrogate.backward()
by_formula = [g.mean().item() for g in score_grads(((z - MU) / SIGMA).numpy())]
print(f"surrogate-loss autograd: ({mu.grad.item():.5f}, {sigma.grad.item():.5f});  formula: "
      f"({by_formula[0]:.5f}, {by_formula[1]:.5f})")

# %% tags=["check"]
claim(np.allclose([mu.grad.item(), sigma.grad.item()], by_formula, rtol=1e-4), "the surrogate loss gives the formula",
      f"({mu.grad.item()}, {sigma.grad.item()}) vs {by_formula}");

# %% [markdown]
# **Both estimators are unbiased.** Averaged over many samples, each must land on the exact
# gradient $(2\mu, 2\sigma) = (2, 1)$, within a few standard errors $\mathrm{sd}/\sqrt{n}$.

# %%
n_big = 1_000_000
eps = rng.standard_normal(n_big)
print(f"{'':22s}{'dJ/dmu':>22s}{'dJ/dsigma':>22s}")
print(f"{'exact':22s}{EXACT_GRAD[0]:>22.4f}{EXACT_GRAD[1]:>22.4f}")
unbiased = {}
for name, grads in [("pathwise", pathwise_grads(eps)), ("score function", score_grads(eps))]:
    means = np.array([g.mean() for g in grads])
    ses = np.array([g.std() / math.sqrt(n_big) for g in grads])
    print(f"{name:22s}" + "".join(f"{m:>14.4f} ± {s:.4f}" for m, s in zip(means, ses)))
    unbiased[name] = np.all(np.abs(means - EXACT_GRAD) < 4 * ses)

# %% tags=["check"]
claim(all(unbiased.values()), "both estimators land on the exact gradient within 4 standard errors", f"{unbiased}");

# %% [markdown]
# ## 6. Same mean, very different variance
#
# Unbiasedness is not enough: stochastic gradient descent takes one noisy estimate per step, and
# its noise is what limits learning. We repeat each estimator $R = 20{,}000$ times with $n$ samples
# each and measure the variance of the gradient for $\mu$ across repetitions. For $f(z) = z^2$ the
# per-sample variances are known exactly (moments of a Gaussian: $\mathbb{E}\varepsilon^2 = 1$,
# $\mathbb{E}\varepsilon^4 = 3$, $\mathbb{E}\varepsilon^6 = 15$):
#
# $$\operatorname{Var}_{\text{path}} = \operatorname{Var}(2z) = 4\sigma^2, \qquad
#   \operatorname{Var}_{\text{score}} = \frac{\mathbb{E}[(\mu+\sigma\varepsilon)^4\varepsilon^2]}{\sigma^2} - 4\mu^2
#   = \frac{\mu^4}{\sigma^2} + 14\mu^2 + 15\sigma^2 ,$$
#
# and an average of $n$ independent samples divides both by $n$. Dashed: formulas; dots:
# measurements.

# %%
def variance_of_mean(grad_fn, n, reps, sigma=SIGMA):
    """Variance over `reps` repetitions of the n-sample average of the d/dmu gradient."""
    eps = rng.standard_normal((reps, n))
    return grad_fn(eps, sigma=sigma)[0].mean(axis=1).var()


def var_path(sigma, mu=MU):
    return 4 * sigma**2


def var_score(sigma, mu=MU):
    return mu**4 / sigma**2 + 14 * mu**2 + 15 * sigma**2


REPS = 20_000
ns = np.array([1, 3, 10, 30, 100, 300, 1000])
v_path_n = np.array([variance_of_mean(pathwise_grads, n, REPS) for n in ns])
v_score_n = np.array([variance_of_mean(score_grads, n, REPS) for n in ns])

sigmas = np.logspace(-2, 0.5, 11)
v_path_s = np.array([variance_of_mean(pathwise_grads, 1, 20_000, sigma=s) for s in sigmas])
v_score_s = np.array([variance_of_mean(score_grads, 1, 20_000, sigma=s) for s in sigmas])

fig, (ax_n, ax_s) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
for v, fn, name, c in [(v_path_n, var_path, "pathwise", "C0"), (v_score_n, var_score, "score function", "C1")]:
    ax_n.loglog(ns, v, "o", color=c, label=f"{name} (measured)")
    ax_n.loglog(ns, fn(SIGMA) / ns, "--", color=c, lw=1, label=f"{name}: formula / n")
ax_n.set(xlabel="samples per gradient estimate n", ylabel="variance of ∂Ĵ/∂μ",
         title=f"Variance vs n (μ = {MU}, σ = {SIGMA})")
ax_n.legend(fontsize=8)
for v, fn, name, c in [(v_path_s, var_path, "pathwise", "C0"), (v_score_s, var_score, "score function", "C1")]:
    ax_s.loglog(sigmas, v, "o", color=c, label=f"{name} (measured)")
    ax_s.loglog(sigmas, fn(sigmas), "--", color=c, lw=1, label=f"{name} (formula)")
ax_s.set(xlabel="standard deviation σ of q", ylabel="variance of a one-sample ∂J/∂μ estimate",
         title=f"Variance vs σ (μ = {MU}, n = 1)")
ax_s.legend(fontsize=8)
plt.show()

ratio_n = v_score_n / v_path_n
print("variance ratio score/pathwise at each n:", np.round(ratio_n, 1))
print(f"formula: {var_score(SIGMA) / var_path(SIGMA):.1f} at σ = {SIGMA};"
      f" {var_score(0.01) / var_path(0.01):.2e} at σ = 0.01"
      f" (small-σ limit mu^4 / (4 sigma^4) = {MU**4 / (4 * 0.01**4):.2e})")

# %% tags=["check"]
claim(np.all(v_path_n < v_score_n) and np.all(v_path_s < v_score_s), "the pathwise estimator has the smaller variance",
      f"{v_path_n} vs {v_score_n}")
claim(np.allclose(v_path_n * ns, var_path(SIGMA), rtol=0.05), "pathwise variance is 4 sigma^2 / n", f"{v_path_n * ns}")
claim(np.allclose(v_score_n * ns, var_score(SIGMA), rtol=0.2), "score-function variance follows its formula",
      f"{v_score_n * ns}")
claim(abs(var_score(SIGMA) / var_path(SIGMA) - 22) < 0.5 and np.allclose(ratio_n, 22, rtol=0.15),
      "the ratio is about 22 at every n", f"{ratio_n.round(1)}")
claim(abs(var_score(0.01) / var_path(0.01) / 2.5e7 - 1) < 0.01, "the ratio is 2.5e7 at sigma = 0.01",
      f"{var_score(0.01) / var_path(0.01):.3g}");

# %% [markdown]
# Left: both variances fall as $1/n$, so their ratio is the same at every $n$, about 22 here:
# REINFORCE needs ~22 times more samples for the same precision. Right: as $q$ gets narrow the
# pathwise variance *shrinks* ($\propto \sigma^2$) while the score-function variance *explodes*
# ($\propto 1/\sigma^2$; the score $\varepsilon/\sigma$ grows while $f$ does not). Their ratio
# grows like $1/\sigma^4$, about $\mu^4/(4\sigma^4) = 2.5 \times 10^{7}$ at $\sigma = 0.01$.
#
# A trained VAE lives at the left of that plot: its encoder's $\sigma$ has a median of a few
# hundredths (§3). The same comparison on the VAE objective: $f$ becomes the squared error
# $\mathrm{err}(z) = \lVert f_\theta(z) - x\rVert^2$ of a held-out polymer, $z \sim q_\phi(z\mid x)$,
# gradients for both components of $\mu$ (variances summed), one sample per estimate as in
# training. First the typical frame of §3, 4000 repetitions:

# %%
def per_sample_gradients(x, reps, seed):
    """One-sample estimates of d err / d mu for each frame of x (frames, 24), `reps` times over.

    Returns (pathwise, score_function), each a tensor (reps, frames, 2).
    """
    with torch.no_grad():
        mu_q, sigma_q = model.encode(x)
    eps = torch.randn(reps, *mu_q.shape, generator=torch.Generator().manual_seed(seed))
    mu_rep = mu_q.expand(reps, -1, -1).clone().requires_grad_()          # one copy of mu per repetition
    z = mu_rep + sigma_q * eps
    err = ((model.decode(z.reshape(-1, 2)).reshape(*z.shape[:2], -1) - x) ** 2).sum(-1)  # (reps, frames)
    err.sum().backward()                                  # mu_rep.grad[r, k] = d err(z_rk) / d mu_k
    return mu_rep.grad, err.detach()[..., None] * eps / sigma_q


g_path, g_score = per_sample_gradients(torch.as_tensor(test[k_med:k_med + 1]), reps=4000, seed=5)
mean_p, mean_s = g_path.mean(0)[0].numpy(), g_score.mean(0)[0].numpy()
se_s = g_score.std(0)[0].numpy() / math.sqrt(4000)
var_p, var_s = g_path.var(0).sum().item(), g_score.var(0).sum().item()
print(f"mean gradient  pathwise {mean_p.round(2)}   score function {mean_s.round(2)} ± {se_s.round(2)}")
print(f"per-sample variance  pathwise {var_p:.3g}   score function {var_s:.3g}   ratio {var_s / var_p:.0f}")

# %% tags=["check"]
claim(sigma_test.median() < 0.1, "the encoder's sigma is typically a few hundredths", f"median {sigma_test.median():.3f}")
se_diff = (g_score - g_path).std(0)[0].numpy() / math.sqrt(4000)     # standard error of the difference
claim(np.all(np.abs(mean_s - mean_p) < 3 * se_diff), "the two mean gradients differ by less than three standard errors",
      f"{mean_p} vs {mean_s} ± {se_s}, difference {(mean_s - mean_p) / se_diff} standard errors")
claim(50 < var_s / var_p < 300, "at the typical frame the ratio is of order a hundred", f"{var_s / var_p:.0f}");

# %% [markdown]
# One frame is one frame. Over the whole test set (100 repetitions per frame):

# %%
g_path, g_score = per_sample_gradients(torch.as_tensor(test), reps=100, seed=6)
ratios = (g_score.var(0).sum(-1) / g_path.var(0).sum(-1)).numpy()     # (1000,), one per test frame
low, median, high = np.percentile(ratios, [10, 50, 90])
print(f"variance ratio score/pathwise over the test set: median {median:.0f}, "
      f"10th-90th percentile {low:.0f}-{high:.0f}")

fig, ax = plt.subplots(figsize=(6.5, 3.2), constrained_layout=True)
ax.hist(ratios, bins=np.geomspace(ratios.min(), ratios.max(), 41), color="0.6")
ax.axvline(var_s / var_p, color="C0", ls="--", label=f"frame of median $\\sigma$ (§3): {var_s / var_p:.0f}")
ax.axvline(median, color="C1", ls=":", label=f"median over the test set: {median:.0f}")
ax.set(xscale="log", xlabel="variance ratio score function / pathwise", ylabel="test frames",
       title="REINFORCE is noisier on every test frame")
ax.legend(fontsize=8)
plt.show()

# %% tags=["check"]
claim(ratios.min() > 1, "the pathwise estimator wins on every test frame", f"smallest ratio {ratios.min():.2f}")
claim(200 < median < 1000 and low > 30, "a few hundred on the median test frame", f"{low:.0f}, {median:.0f}, {high:.0f}")
claim(high > 1000, "over a thousand on one frame in ten", f"90th percentile {high:.0f}");

# %% [markdown]
# Both estimators agree on the mean gradient, within three standard errors (the ± above), but one
# REINFORCE sample is far noisier: about a hundred times at the typical frame, a few hundred times
# on the median test frame, over a thousand on one frame in ten (100 repetitions per frame: part
# of that spread is estimation noise). The ratio varies mostly because the error does: the score
# function's noise grows with the size of $\mathrm{err}(z)$, the pathwise noise with its slope.
# REINFORCE would need that many samples per data point and step to match one pathwise sample.

# %% [markdown]
# ## 7. Why VAEs use the pathwise estimator
#
# - **It uses more information.** The pathwise gradient contains $f'(z)$, the decoder's own
#   gradient; REINFORCE only sees the values $f(z)$ and must infer the slope from how they
#   correlate with the noise. For a slowly varying $f$ like a decoder's error that costs variance.
#   Not always: where $f$ oscillates fast, $f'$ is large while $f$ stays bounded, and for
#   $f(z) = \cos 4z$ at the toy's $\mu, \sigma$ the pathwise variance is four times the score
#   function's (7.8 vs 1.8; Mohamed et al., 2020, discuss such cases).
# - **It gets better, not worse, as the encoder becomes confident**, exactly where the score
#   function's $1/\sigma^2$ variance hurts most. One sample per data point and step is enough.
# - **It is free.** $z = \mu + \sigma \odot \varepsilon$ is one line (`helpers.reparameterize`,
#   `Normal.rsample`), and ordinary backpropagation does the rest.
#
# REINFORCE still has its place: when $z$ is **discrete** (choosing amino acids, a bond
# topology) there is no smooth $z(\varepsilon)$, and when $f$ is a black box without gradients
# (a docking score, a lab measurement). Then one uses the score function with variance
# reduction (a *baseline*, Exercise 5.2), or continuous relaxations such as Gumbel-softmax.

# %% tags=["check"]
w = 4.0                                                        # f(z) = cos(w z)
damp = math.exp(-2 * w**2 * SIGMA**2)                         # E[cos(2 w z)] = cos(2 w mu) * damp
exact_cos = (w**2 * ((1 - math.cos(2 * w * MU) * damp) / 2 - (math.sin(w * MU) * damp**0.25) ** 2),  # Var(-w sin wz)
             (1 + math.cos(2 * w * MU) * (1 - 4 * w**2 * SIGMA**2) * damp) / 2 / SIGMA**2
             - (w * math.sin(w * MU) * damp**0.25) ** 2)       # Var(cos(wz) eps / sigma)
eps = np.random.default_rng(7).standard_normal(1_000_000)
z = MU + SIGMA * eps
measured_cos = (np.var(-w * np.sin(w * z)), np.var(np.cos(w * z) * eps / SIGMA))
claim(np.round(exact_cos, 1).tolist() == [7.8, 1.8] and 4 <= exact_cos[0] / exact_cos[1] < 4.5
      and np.allclose(measured_cos, exact_cos, rtol=0.02),
      "for f = cos 4z the pathwise variance is four times the score function's (7.8 vs 1.8)",
      f"exact {exact_cos}, measured {measured_cos}");

# %% [markdown]
# ### Exercise 5.1 · The log-variance parameterization
#
# The lecture's encoder outputs $\ell = \log \sigma^2$ instead of $\sigma$, so
# $z = \mu + e^{\ell/2}\,\varepsilon$. Work out $\partial z/\partial \ell$ on paper and write it in
# `dz_dlogvar`. The self-check compares your function with autograd's derivative on values and
# shapes you have not seen.

# %% tags=["exercise"]
def dz_dlogvar(logvar, eps):
    """Your formula for dz/d(logvar) where z = mu + exp(logvar / 2) * eps (elementwise)."""
    return torch.zeros_like(eps)  # replace with your answer


# %% tags=["self-check"]
exercises.check_dz_dlogvar(dz_dlogvar);

# %% tags=["solution"]
# dz/dl = d/dl exp(l/2) * eps = (1/2) exp(l/2) eps = sigma * eps / 2
def dz_dlogvar_solution(logvar, eps):
    return 0.5 * torch.exp(0.5 * logvar) * eps


exercises.check_dz_dlogvar(dz_dlogvar_solution);

# %% [markdown]
# ### Exercise 5.2 · The best baseline for REINFORCE
#
# Since $\mathbb{E}[\nabla \log q] = 0$, subtracting a constant $b$ from $f$ leaves the
# score-function estimator unbiased: $\mathbb{E}[(f(z) - b)\,s(z)] = \nabla J$, with the score
# $s = \partial_\lambda \log q_\lambda(z)$ for one parameter $\lambda$ (a number per sample). On paper, find the $b^*$ that minimizes its per-sample
# variance $\mathbb{E}[(f - b)^2 s^2] - (\nabla J)^2$; then write `best_baseline`, which estimates
# $b^*$ from $n$ samples. The self-check tries it on functions and distributions you have not
# seen, a discrete $z$ among them.

# %% tags=["exercise"]
def best_baseline(f_values, score):
    """The constant b with the smallest variance, from numpy arrays (n,) of f(z_i) and s(z_i)."""
    return 0.0  # replace with your estimate


# %% tags=["self-check"]
exercises.check_best_baseline(best_baseline);

# %% tags=["solution"]
# Var = E[(f - b)^2 s^2] - (grad J)^2;  d/db = -2 E[(f - b) s^2] = 0  =>  b* = E[f s^2] / E[s^2]
def best_baseline_solution(f_values, score):
    return np.mean(f_values * score**2) / np.mean(score**2)


exercises.check_best_baseline(best_baseline_solution);

# %%
exercises.show_baseline_variances(best_baseline)

# %% tags=["check"]
toy = exercises.baseline_variances()
exact = {name: round(row[1], 6) for name, row in toy.items()}
claim(list(exact.values()) == [21.75, 10.5, 9.5, 1.0], "the variances 21.75, 10.5, 9.5 and 1.0", f"{exact}")
claim(all(abs(row[2] / row[1] - 1) < 0.05 for row in toy.values()), "the measurements agree with the formulas",
      f"{toy}");

# %% [markdown]
# On the toy of §6 the best constant cuts the variance from 21.75 to 9.5, a little better than
# the mean of $f$ (10.5). No constant comes near the pathwise 1.0: a baseline removes the noise
# that comes from the size of $f$, not the noise from how $f$ changes with $z$.

# %% [markdown]
# ## Key takeaways
#
# - A random draw has no derivative: `.sample()` cuts the graph, and `torch.normal(mu, sigma)`
#   silently returns **zero** gradients.
# - $z = \mu + \sigma \odot \varepsilon$, $\varepsilon \sim \mathcal{N}(0, I)$, moves the randomness
#   into a parameter-free input; $\partial z/\partial\mu = 1$, $\partial z/\partial\sigma = \varepsilon$,
#   and backpropagation works (`rsample`).
# - Check Monte-Carlo gradients by finite differences with **common random numbers**.
# - In the VAE loss the reconstruction needs the trick, and so does a Monte-Carlo KL (a
#   non-Gaussian prior); the closed-form Gaussian KL does not. With `sample()` the encoder
#   learns from the KL alone.
# - The score-function estimator $\mathbb{E}[f(z)\nabla\log q(z)]$ is also unbiased and needs no
#   gradient of $f$; for a slowly varying $f$ its variance is far larger and grows like $1/\sigma^2$: a
#   few hundred times the pathwise one on the median test frame.
# - VAEs use the pathwise gradient; REINFORCE (with baselines) is for discrete latents and
#   black-box objectives.
