"""Discriminator guidance: a classifier that corrects a diffusion model's score (notebook 9).

The denoiser of ``diffusion`` learns the score of the noisy data, grad log p_t(x_t), from examples,
and where it errs its draws differ from the data (here: beads that overlap). Discriminator
guidance (Kim et al., ICML 2023) trains a classifier d_psi(x_t, t) to tell noisy training chains
(label 1) from noisy copies of the model's own draws (label 0), both noised by the same forward
process, as many of each. The best such classifier's log-odds is log p_data,t(x_t) -
log p_model,t(x_t). If the network's score were the score of its own draws' noisy density (the
method's premise; a learned network and a sampler of 100 steps only approach it), adding that
gradient would turn the model's score into the data's:

    score + grad_x logit(x_t, t),   that is   eps <- eps - sqrt(1 - abar_t) grad_x logit(x_t, t),

which ``diffusion.sample_features(..., discriminator=d)`` applies at every step (weight 1). The
model itself is not changed.

``train_discriminator`` works in rounds. Round 1 learns the gap between the data and the model's
plain draws. Each later round draws again, now with the correction so far, starts from the last
classifier and learns what is left: its loss uses logit - logit_before, so one network ends up
holding the whole correction (sampling costs one classifier pass and its gradient per step,
whatever the rounds).

The classifier sees the standardised features x_t, the step t, and for each pair of beads i < j
of the chain that x_t describes (distance d, bead diameters) log(d + 0.05) and a soft contact
0.05 softplus((1 - d) / 0.05): about 0 for d > 1.1, growing like 1 - d as two beads overlap, so
its gradient can push overlapping beads apart however deep the overlap.
"""

from __future__ import annotations

import copy
import math
import time

import torch
from torch import nn
from tqdm.auto import tqdm

from ._checks import check_array, check_positive, check_positive_int, check_seed
from ._cpu import small_network_cpu
from .diffusion import (
    DEFAULT_SAMPLE_STEPS,
    DEFAULT_SAMPLER,
    PolymerDiffusion,
    bead_distances,
    bounded,
    fingerprint,
    q_sample,
    sample_features,
    shape_features,
    symmetric_copies,
    time_embedding,
    training_steps,
)

# train_discriminator settings of the shipped "diffusion_discriminator"
RECIPE = dict(rounds=6, draws=8_000, epochs=150, lr=2e-3, batch_size=256, threads=2)


def soft_contact(d: torch.Tensor) -> torch.Tensor:
    """0.05 softplus((1 - d) / 0.05) of bead distances d (bead diameters): about 0 for d > 1.1, about 1 - d
    as two beads overlap."""
    return 0.05 * nn.functional.softplus((1.0 - d) / 0.05)


class ChainDiscriminator(nn.Module):
    """logit d_psi(x_t, t): is the noisy chain x_t (standardised features) a noised data chain?

    Args:
        n_beads, steps, scale: those of the ``PolymerDiffusion`` whose draws it corrects (its
            config): the classifier reads x_t as that model does.
        model: that model's ``diffusion.fingerprint`` (None: not recorded); sampler, sample_steps:
            the sampler it was trained for. The sampler refuses a model whose beads, schedule,
            standardisation or weights differ, and warns for another sampler or step count.
        width: hidden units of the 3-layer MLP (the default: 61,057 parameters for 12 beads).
        time_dim: size of the sinusoidal step embedding.
    The config (``kind="discriminator"``) is what ``checkpoints.save_checkpoint`` stores.
    """

    def __init__(self, *, n_beads=12, steps=1000, scale=None, width=128, time_dim=64, model=None,
                 sampler=DEFAULT_SAMPLER, sample_steps=DEFAULT_SAMPLE_STEPS):  # fmt: skip
        super().__init__()
        check_positive_int("n_beads", n_beads, minimum=3)
        check_positive_int("width", width)
        check_positive_int("steps", steps, minimum=2)
        self.dim = 2 * n_beads - 3
        if scale is None:
            scale = dict(mean=[0.0] * self.dim, std=[1.0] * self.dim)
        scale = {k: [float(v) for v in scale[k]] for k in ("mean", "std")}
        self.config = dict(kind="discriminator", n_beads=n_beads, steps=steps, scale=scale, width=width,
                           time_dim=time_dim, model=model, sampler=sampler, sample_steps=sample_steps)  # fmt: skip
        self.steps, self.time_dim = steps, time_dim
        self.register_buffer("mean", torch.tensor(scale["mean"]))  # the diffusion model's standardisation
        self.register_buffer("std", torch.tensor(scale["std"]))
        self.register_buffer("pairs", torch.triu_indices(n_beads, n_beads, 1), persistent=False)
        n_pairs = self.pairs.shape[1]
        self.net = nn.Sequential(
            nn.Linear(self.dim + 2 * n_pairs + time_dim, width), nn.SiLU(),
            nn.Linear(width, width), nn.SiLU(),
            nn.Linear(width, width), nn.SiLU(),
            nn.Linear(width, 1),
        )  # fmt: skip

    def distances(self, x_t: torch.Tensor) -> torch.Tensor:
        """Bead-pair distances (batch, pairs), bead diameters, of the chains that x_t (batch, dim) describes."""
        return bead_distances(bounded(x_t * self.std + self.mean), self.pairs)

    def forward(self, x_t: torch.Tensor, t) -> torch.Tensor:
        """Logits (batch,) for x_t (batch, dim) at steps t (batch,) or (1,) in 1..T (or one int)."""
        t = torch.as_tensor(t, device=x_t.device).reshape(-1)
        d = self.distances(x_t)
        step = time_embedding(t, self.time_dim, self.steps).expand(len(x_t), -1)
        return self.net(torch.cat([x_t, torch.log(d + 0.05), soft_contact(d), step], -1))[:, 0]


def train_discriminator(
    model: PolymerDiffusion,
    train,
    *,
    rounds: int = RECIPE["rounds"],
    draws: int = RECIPE["draws"],
    epochs: int = RECIPE["epochs"],
    lr: float = RECIPE["lr"],
    batch_size: int = RECIPE["batch_size"],
    threads: int = RECIPE["threads"],
    width: int = 128,
    steps: int = DEFAULT_SAMPLE_STEPS,
    sampler: str = DEFAULT_SAMPLER,
    seed: int = 0,
    progress: bool = True,
):
    """Train a ``ChainDiscriminator`` that corrects ``model``'s draws towards ``train`` (frames, 2 * beads).

    Each round: ``draws`` chains from the model (with the sampler, ``steps`` and the correction of
    the rounds before), then ``epochs`` passes over the training frames, each paired with one draw;
    both get a random symmetric copy (mirror image, read backwards), a random step t (as in
    ``train_diffusion``) and noise; binary cross-entropy on logit - logit_before. Adam with a
    one-cycle ``lr`` per round, on ``threads`` torch threads (drawing and training). The correction
    holds for the sampler and step count it was trained with. Returns (discriminator, history):
    per-epoch "loss" and "accuracy" (of logit - logit_before: how well the round's new part tells
    the two apart; about 0.5 where x_t is mostly noise), "round", "seconds", "interrupted". Seeded; Ctrl-C keeps the classifier as it is after the current batch.
    """
    if not isinstance(model, PolymerDiffusion):
        raise TypeError(f"train_discriminator needs a PolymerDiffusion, got a {type(model).__name__}")
    for name, value in (("rounds", rounds), ("draws", draws), ("epochs", epochs), ("batch_size", batch_size),
                        ("threads", threads)):  # fmt: skip
        check_positive_int(name, value)
    check_positive("lr", lr)
    check_seed("seed", seed)
    real = shape_features(check_array("train", train, min_len=2))  # bond lengths and turns, float64
    if real.shape[1] != model.dim:
        raise ValueError(f"the model has {model.dim} shape features, the data {real.shape[1]}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        disc = ChainDiscriminator(
            n_beads=model.config["n_beads"], steps=model.steps, scale=model.config["scale"], width=width,
            model=fingerprint(model), sampler=sampler, sample_steps=steps,
        )  # fmt: skip
    before, k = None, 0  # the classifier of the previous round (its logits are subtracted), the round
    gen = torch.Generator().manual_seed(seed)
    n_bonds = model.config["n_beads"] - 1
    pairs = min(len(real), draws)
    history = dict(loss=[], accuracy=[], round=[], seconds=[], interrupted=False)
    start = time.perf_counter()
    bar = tqdm(total=rounds * epochs, desc="discriminator", unit="epoch", disable=not progress, leave=False)
    try:
        for k in range(rounds):
            fake = sample_features(model, draws, seed + 1000 + k, steps=steps, sampler=sampler,
                                   discriminator=before, threads=threads)  # fmt: skip
            fake = model.unstandardise(fake).double()
            optimizer = torch.optim.Adam(disc.parameters(), lr=lr)
            per_epoch = pairs // batch_size or 1
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=epochs * per_epoch,
                                                            pct_start=0.05)  # fmt: skip
            with small_network_cpu(threads):
                for _ in range(epochs):
                    disc.train()
                    take_real = torch.randperm(len(real), generator=gen)[:pairs]
                    take_fake = torch.randperm(len(fake), generator=gen)[:pairs]
                    total = correct = 0.0
                    for i in range(per_epoch):
                        idx = slice(i * batch_size, (i + 1) * batch_size)
                        chains = torch.cat([real[take_real[idx]], fake[take_fake[idx]]])
                        x0 = model.encode_features(symmetric_copies(chains, n_bonds, gen))
                        label = torch.cat([torch.ones(len(x0) // 2), torch.zeros(len(x0) - len(x0) // 2)])
                        t = training_steps(model.steps, len(x0), gen)
                        a = model.abar.cpu()[t - 1][:, None]
                        x_t = q_sample(x0, torch.randn(x0.shape, generator=gen), a)
                        logit = disc(x_t, t)
                        if before is not None:  # learn only what the rounds before left
                            with torch.no_grad():
                                earlier = before(x_t, t)
                            logit = logit - earlier
                        loss = nn.functional.binary_cross_entropy_with_logits(logit, label)
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        optimizer.step()
                        scheduler.step()
                        total += float(loss.detach())
                        correct += float(((logit.detach() > 0) == (label > 0)).float().mean())
                    if not math.isfinite(total):
                        raise FloatingPointError(
                            f"discriminator training diverged in round {k + 1}: try a lower lr (lr={lr})"
                        )
                    history["loss"].append(total / per_epoch)
                    history["accuracy"].append(correct / per_epoch)
                    history["round"].append(k + 1)
                    history["seconds"].append(time.perf_counter() - start)
                    bar.update()
                    bar.set_postfix(round=k + 1, loss=f"{total / per_epoch:.4f}")
            before = copy.deepcopy(disc).eval().requires_grad_(False)
    except KeyboardInterrupt:
        history["interrupted"] = True
        print(f"discriminator training interrupted in round {k + 1}; keeping the classifier as it is")
    finally:
        bar.close()
    return disc.eval().requires_grad_(False), history


__all__ = ["RECIPE", "ChainDiscriminator", "soft_contact", "train_discriminator"]
