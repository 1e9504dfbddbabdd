"""Training a VAE: a plain loop over shuffled index batches, with progress and safety checks."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ._checks import check_array, check_non_negative, check_option, check_positive, check_positive_int
from .losses import REDUCTIONS, vae_loss

# the defaults reach the code walkthrough's quality (150 epochs, batch 256, Adam 1e-3) in
# a fraction of its time: see benchmarks/bench_training.py and benchmarks/RESULTS.md
DEFAULT_EPOCHS = 40
DEFAULT_BATCH_SIZE = 128
DEFAULT_LR = 2e-3
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
    return torch.as_tensor(np.asarray(data) if not isinstance(data, torch.Tensor) else data, dtype=torch.float32).to(device)


@torch.no_grad()
def evaluate(model, data, beta: float = DEFAULT_BETA, reduction: str = "sum", seed: int = 0):
    """Average (total, recon, kl) of ``vae_loss`` over ``data`` (one z sample per frame, seeded)."""
    model.eval()
    device = next(model.parameters()).device
    x = _as_tensor("data", data, model.config["input_dim"], device)
    gen = torch.Generator(device=device).manual_seed(seed)
    x_recon, mu, sigma = model(x, generator=gen)
    return tuple(float(v) for v in vae_loss(x, x_recon, mu, sigma, beta, reduction))


@torch.no_grad()
def reconstruction_error(model, data) -> float:
    """Mean squared error per coordinate of decoding the encoder's mean mu(x): no sampling.

    The deterministic "test reconstruction error" quoted in the notebooks and benchmarks.
    """
    model.eval()
    device = next(model.parameters()).device
    x = _as_tensor("data", data, model.config["input_dim"], device)
    mu, _ = model.encode(x)
    return float(((model.decode(mu) - x) ** 2).mean())


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
    schedule: str = "cosine",
    progress: bool = True,
    on_epoch_end=None,
) -> History:
    """Train ``model`` (a ``PolymerVAE``) on ``train`` (frames, input_dim) with Adam.

    Args:
        test: optional held-out data, evaluated after every epoch (no gradient).
        beta: KL weight, in the convention of ``reduction`` (see ``vae_loss``).
        schedule: ``"cosine"`` decays the learning rate to zero over the run (faster to a
            good optimum); ``"constant"`` keeps it fixed, as in the walkthrough.
        progress: show a tqdm progress bar with the current losses.
        on_epoch_end: optional function ``f(epoch, model, history)`` called after each epoch
            (e.g. to record extra metrics or draw a live plot).

    Returns a ``History``. Ctrl-C (or the notebook's stop button) ends training cleanly after
    the current batch: the model keeps its weights, the history holds the finished epochs and
    ``history.interrupted`` is True. A loss that becomes NaN or explodes raises
    ``FloatingPointError`` naming the likely cause; the model is restored to the weights
    it had at the start of that epoch.
    """
    check_positive_int("epochs", epochs)
    check_positive("lr", lr)
    check_non_negative("beta", beta)
    check_positive_int("batch_size", batch_size)
    check_option("reduction", reduction, REDUCTIONS)
    check_option("schedule", schedule, ("cosine", "constant"))
    device = next(model.parameters()).device
    x_train = _as_tensor("train", train, model.config["input_dim"], device)
    x_test = None if test is None else _as_tensor("test", test, model.config["input_dim"], device)

    torch.manual_seed(seed)
    gen = torch.Generator(device=device).manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(x_train)
    steps_per_epoch = max(1, -(-n // batch_size))
    total_steps = epochs * steps_per_epoch
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
        if schedule == "cosine"
        else None
    )
    history = History()
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress, leave=False)
    try:
        for epoch in bar:
            model.train()
            snapshot = copy.deepcopy(model.state_dict())
            order = torch.randperm(n, generator=gen, device=device)
            sums = torch.zeros(3, device=device)
            for b in range(steps_per_epoch):
                x = x_train[order[b * batch_size : (b + 1) * batch_size]]
                x_recon, mu, sigma = model(x, generator=gen)
                loss, recon, kl = vae_loss(x, x_recon, mu, sigma, beta, reduction)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                sums += torch.stack([loss.detach(), recon.detach(), kl.detach()]) * len(x)
            means = (sums / n).tolist()
            first = history.train_loss[0] if history.train_loss else None
            if not np.isfinite(means[0]) or (first is not None and means[0] > 1e4 * max(first, 1e-3)):
                model.load_state_dict(snapshot)
                raise FloatingPointError(
                    f"training diverged in epoch {epoch + 1} (mean loss {means[0]:.3g}). The learning "
                    f"rate (lr={lr}) is probably too high: try lr=1e-3 or lower. A very large "
                    f"beta (beta={beta}) or unscaled input data can also cause this. The model "
                    "was restored to the weights it had at the start of that epoch."
                )
            history.train_loss.append(means[0])
            history.train_recon.append(means[1])
            history.train_kl.append(means[2])
            if x_test is not None:
                _, test_recon, test_kl = evaluate(model, x_test, beta, reduction, seed=epoch)
                history.test_recon.append(test_recon)
                history.test_kl.append(test_kl)
            history.seconds.append(time.perf_counter() - start)
            postfix = dict(recon=f"{means[1]:.3f}", kl=f"{means[2]:.2f}")
            if x_test is not None:
                postfix["test_recon"] = f"{history.test_recon[-1]:.3f}"
            bar.set_postfix(postfix)
            if on_epoch_end is not None:
                on_epoch_end(epoch, model, history)
                model.train()
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"training interrupted after {history.epochs} complete epoch(s); the model keeps its current weights")
    finally:
        bar.close()
        model.eval()
    return history
