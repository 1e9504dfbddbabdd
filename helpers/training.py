"""Training a VAE: a plain loop over shuffled index batches, with progress and safety checks."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ._checks import check_array, check_non_negative, check_option, check_positive, check_positive_int, check_seed
from ._cpu import small_network_cpu
from .losses import REDUCTIONS
from .models import PolymerVAE

# the defaults reach the code walkthrough's quality (150 epochs, batch 256, Adam 1e-3) in
# a fraction of its time: see benchmarks/bench_training.py and benchmarks/RESULTS.md
DEFAULT_EPOCHS = 60
DEFAULT_BATCH_SIZE = 256
DEFAULT_LR = 5e-3  # the peak of the one-cycle schedule; Adam starts and ends far below it
SCHEDULES = ("onecycle", "cosine", "constant")
DEFAULT_BETA = 0.12  # "sum" convention; equals the walkthrough's beta = 0.01 with its "mean" reductions


@dataclass
class History:
    """Per-epoch averages. ``test_*`` lists stay empty when no test set was given."""

    train_loss: list = field(default_factory=list)
    train_recon: list = field(default_factory=list)
    train_kl: list = field(default_factory=list)
    test_recon: list = field(default_factory=list)
    test_kl: list = field(default_factory=list)
    seconds: list = field(default_factory=list)  # wall time since the start, at each epoch's end
    interrupted: bool = False

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()}


def _as_tensor(name, data, input_dim, device):
    data = check_array(name, data, ndim=2, last_dims=(input_dim,), min_len=1)
    if not isinstance(data, torch.Tensor):  # a float32 copy: also fine for read-only arrays
        data = torch.from_numpy(np.array(data, dtype=np.float32))
    return data.to(device=device, dtype=torch.float32)


@torch.no_grad()
def evaluate(model, data, beta: float = DEFAULT_BETA, reduction: str = "sum", seed: int = 0):
    """Average (total, recon, kl) of ``model.loss`` over ``data`` (one z sample per frame, seeded).

    For the Cartesian decoder that is ``vae_loss``; for the internal-coordinate likelihood, recon
    is -log p_theta(x|z) in nats per frame (see ``PolymerVAE.loss``).
    """
    model.eval()
    device = next(model.parameters()).device
    x = _as_tensor("data", data, model.config["input_dim"], device)
    gen = torch.Generator(device=device).manual_seed(seed)
    return tuple(float(v) for v in model.loss(x, beta, reduction, generator=gen))


ADAM_BETAS = (0.9, 0.99)  # beta1 is cycled by the one-cycle schedule; beta2 is ours (torch: 0.999)


def _adam(params, lr: float) -> torch.optim.Adam:
    """Adam with beta2 = 0.99 (torch's default: 0.999), fused where the device supports it.

    A shorter memory of the squared gradients lets the step size follow the one-cycle
    schedule. The fused version updates all parameter tensors in one go.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=ADAM_BETAS, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, betas=ADAM_BETAS)


@torch.no_grad()
def reconstruction_error(model, data) -> float:
    """Mean squared error per coordinate of decoding the encoder's mean mu(x): no sampling.

    The deterministic "test reconstruction error" quoted in the notebooks and benchmarks.
    """
    model.eval()
    device = next(model.parameters()).device
    x = _as_tensor("data", data, model.config["input_dim"], device)
    mu, _ = model.encode(x)
    return float(((model.decode(mu, model.condition_of(x)) - x) ** 2).mean())


def _one_epoch(model, optimizer, scheduler, x_train, batch_size, beta, reduction, gen, free_bits=0.0) -> list:
    """One pass over ``x_train`` in shuffled batches; returns the mean [loss, recon, kl] per frame.

    Batches are slices of one random permutation (plain tensor indexing: no DataLoader, whose
    per-batch Python overhead is larger than the work for a network this small). Losses are
    summed on the device and read once per epoch, not with a ``.item()`` per batch.
    """
    model.train()
    n = len(x_train)
    order = torch.randperm(n, generator=gen, device=x_train.device)
    sums = torch.zeros(3, device=x_train.device)
    for start in range(0, n, batch_size):
        x = x_train[order[start : start + batch_size]]
        optimizer.zero_grad(set_to_none=True)
        loss, recon, kl = model.loss(x, beta, reduction, generator=gen, free_bits=free_bits)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        sums += torch.stack([loss.detach(), recon.detach(), kl.detach()]) * len(x)
    return (sums / n).tolist()


def train_vae(
    model,
    train,
    test=None,
    *,
    epochs: int = DEFAULT_EPOCHS,
    beta: float = DEFAULT_BETA,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    reduction: str = "sum",
    schedule: str = "onecycle",
    free_bits: float = 0.0,
    progress: bool = True,
    on_epoch_end=None,
) -> History:
    """Train ``model`` (a ``PolymerVAE``) on ``train`` (frames, input_dim) with Adam.

    Args:
        test: optional held-out data, evaluated after every epoch (no gradient).
        beta: KL weight, in the convention of ``reduction`` (see ``vae_loss``).
        seed: seeds the batches' order and the z samples, drawn from a generator of their own on
            the model's device (torch's global random state is left alone).
        schedule: ``"onecycle"`` (default) warms the learning rate up to ``lr`` over the first
            quarter of the steps and then anneals it to almost zero: a high peak moves fast,
            the long decay settles into a good optimum. ``"cosine"`` only decays from ``lr``;
            ``"constant"`` keeps ``lr`` fixed, as in the code walkthrough.
        free_bits: nats of KL charged at least per latent dimension (internal-coordinate
            decoder only; see ``PolymerVAE.loss``); 0 trains on the plain (beta-)ELBO.
        progress: show a tqdm progress bar with the current losses.
        on_epoch_end: optional function ``f(epoch, model, history)`` called after each epoch
            (e.g. to record extra metrics or draw a live plot).

    Returns a ``History``. Ctrl-C (or the notebook's stop button) ends training cleanly after
    the current batch: the model keeps its weights, the history holds the finished epochs and
    ``history.interrupted`` is True. A loss that becomes NaN or explodes raises
    ``FloatingPointError`` naming the likely cause; the model is restored to the weights
    it had at the start of that epoch.
    """
    if not isinstance(model, PolymerVAE):
        raise TypeError(f"model must be a PolymerVAE, got {type(model).__name__}")
    check_positive_int("epochs", epochs)
    check_positive("lr", lr)
    check_seed("seed", seed)
    check_non_negative("beta", beta)
    check_positive_int("batch_size", batch_size)
    check_option("reduction", reduction, REDUCTIONS)
    check_option("schedule", schedule, SCHEDULES)
    check_non_negative("free_bits", free_bits)
    device = next(model.parameters()).device
    x_train = _as_tensor("train", train, model.config["input_dim"], device)
    x_test = None if test is None else _as_tensor("test", test, model.config["input_dim"], device)

    gen = torch.Generator(device=device).manual_seed(seed)
    optimizer = _adam(model.parameters(), lr)
    n = len(x_train)
    steps_per_epoch = max(1, -(-n // batch_size))
    total_steps = epochs * steps_per_epoch
    # OneCycleLR divides by zero at exactly 4 steps and has no room to warm up below ~10:
    # such short runs (a quick check on a small data set) simply decay from lr
    if schedule == "onecycle" and total_steps >= 10:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps, pct_start=0.25)
    elif schedule in ("cosine", "onecycle"):
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    else:
        scheduler = None
    # the untrained model's loss is the yardstick for "exploding": comparing with the first
    # epoch instead would miss a run that explodes from its very first steps (own seeded sample)
    initial_loss = evaluate(model, x_train[:1024], beta, reduction, seed=seed)[0]
    history = History()
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress, leave=False)
    try:
        with small_network_cpu():  # one thread, denormals flushed: see helpers/_cpu.py
            for epoch in bar:
                snapshot = copy.deepcopy(model.state_dict())
                means = _one_epoch(model, optimizer, scheduler, x_train, batch_size, beta, reduction, gen, free_bits)
                if not np.isfinite(means[0]) or means[0] > 1e4 * max(initial_loss, 1e-3):
                    model.load_state_dict(snapshot)
                    raise FloatingPointError(
                        f"training diverged in epoch {epoch + 1} (mean loss {means[0]:.3g}). The learning "
                        f"rate (lr={lr}) is probably too high: try lr=1e-3 or lower. A very large "
                        f"beta (beta={beta}) or unscaled input data can also cause this. The model "
                        "was restored to the weights it had at the start of that epoch."
                    )
                if x_test is not None:  # evaluate before recording, so that Ctrl-C here keeps the lists in step
                    _, test_recon, test_kl = evaluate(model, x_test, beta, reduction, seed=epoch)
                history.train_loss.append(means[0])
                history.train_recon.append(means[1])
                history.train_kl.append(means[2])
                if x_test is not None:
                    history.test_recon.append(test_recon)
                    history.test_kl.append(test_kl)
                history.seconds.append(time.perf_counter() - start)
                postfix = dict(recon=f"{means[1]:.3f}")
                if beta > 0:  # with beta = 0 (an autoencoder) the KL is not part of the objective
                    postfix["kl"] = f"{means[2]:.2f}"
                if x_test is not None:
                    postfix["test_recon"] = f"{history.test_recon[-1]:.3f}"
                bar.set_postfix(postfix)
                if on_epoch_end is not None:
                    on_epoch_end(epoch, model, history)
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"training interrupted after {history.epochs} complete epoch(s); the model keeps its current weights")
    finally:
        bar.close()
        model.eval()
    return history
