"""Property optimisation in latent space: gradient descent on z through the decoder.

The decoder p_theta(x|z) is a differentiable map from z to coordinates, so any
differentiable property of a conformation (its radius of gyration, say) can be optimised
over z with the chain rule. Left alone, the optimiser happily walks to z where the decoder
was never trained and returns shapes no simulation would produce. Two kinds of terms keep
it honest; all are added to the loss with non-negative weights:

    loss(z) = objective(x) + prior_weight * 1/2 |z|^2
              + bond_penalty * sum_bonds [relu(b_lo - b)^2 + relu(b - b_hi)^2]
              + contact_penalty * sum_{|i-j|>=2} relu(c_lo - d_ij)^2,       x = decoder(z)

* the prior term 1/2 |z|^2 is -log p(z) up to a constant for p(z) = N(0, I): it keeps z
  where p(z) has mass (which is not the same as where the training codes lie: notebook 08);
* the penalties are squared violations of the data's bond range [b_lo, b_hi] and closest
  non-bonded contact c_lo (a ``ValidityReference``), tightened by a small ``margin`` so that
  an optimum pressed against a limit lands just inside it, not just outside.

Several starting points can be optimised at once: the loss is a sum of independent
per-start terms and Adam updates each coordinate separately, so a batch of starts follows
exactly the paths the starts would follow one at a time.

Design under bounds (as in drug design: optimise one property while others stay inside a
window) is an objective plus ``window_penalty`` on the bounded properties. When a property
has no formula, a network trained on measured examples predicts it:
``fit_property_predictor`` fits a small one on conformations and their measured properties.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ._checks import (
    check_array,
    check_non_negative,
    check_positive,
    check_positive_int,
    check_seed,
    check_unconditional,
)
from ._cpu import one_thread
from .measures import ValidityReference, bond_lengths, pairwise_distances, radius_of_gyration

DEFAULT_MARGIN = 0.02  # how far inside the data's limits the penalties aim (length units: bead diameters)


@dataclass(frozen=True)
class OptimizationResult:
    """What ``optimize_latent`` returns. ``S`` = steps, ``d`` = latent dimension.

    For a single start z0 of shape (d,) the arrays have no start axis; for a batch of
    starts z0 of shape (n, d) a start axis follows the step axis.

    path:         (S + 1, d) or (S + 1, n, d): z before each step and after the last one
    objective:    (S + 1,) or (S + 1, n): the objective alone at each z of the path
    loss:         (S + 1,) or (S + 1, n): objective plus the weighted prior and penalties
    conformation: (beads, 2) or (n, beads, 2): the decoded conformation at the final z
    """

    path: np.ndarray
    objective: np.ndarray
    loss: np.ndarray
    conformation: np.ndarray

    @property
    def z(self) -> np.ndarray:
        """The final latent point(s): (d,) or (n, d)."""
        return self.path[-1]


def bond_violation(x, reference: ValidityReference, margin: float = DEFAULT_MARGIN) -> torch.Tensor:
    """Sum over bonds of the squared distance outside [bond_min + margin, bond_max - margin].

    x: (batch, 2 * beads) or (batch, beads, 2) tensor -> (batch,); zero when all bonds fit.
    """
    b = bond_lengths(x)
    too_short = torch.relu(reference.bond_min + margin - b)
    too_long = torch.relu(b - (reference.bond_max - margin))
    return (too_short**2 + too_long**2).sum(-1)


def contact_violation(x, reference: ValidityReference, margin: float = DEFAULT_MARGIN) -> torch.Tensor:
    """Sum over non-bonded pairs (|i - j| >= 2) of the squared shortfall below contact_min + margin.

    x: (batch, 2 * beads) or (batch, beads, 2) tensor -> (batch,); zero when no pair is too close.
    """
    d = pairwise_distances(x)
    i, j = np.triu_indices(d.shape[-1], k=2)
    return (torch.relu(reference.contact_min + margin - d[..., i, j]) ** 2).sum(-1)


def target_rg(target: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """The objective (R_g(x) - target)^2 for a target-R_g search: (batch, 24) -> (batch,)."""
    check_positive("target", target)

    def squared_miss(x: torch.Tensor) -> torch.Tensor:
        return (radius_of_gyration(x) - target) ** 2

    squared_miss.__name__ = f"target_rg({target:g})"
    return squared_miss


def window_penalty(values: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Squared distance of ``values`` outside the window [low, high]; zero inside it.

    values: tensor of any shape (e.g. (batch,) predicted end-to-end distances) -> same shape,
    in the squared units of ``values``. Add it, weighted, to an objective to keep a property
    within bounds.
    """
    for name, bound in (("low", low), ("high", high)):
        if isinstance(bound, bool) or not isinstance(bound, numbers.Real) or not np.isfinite(bound):
            raise TypeError(f"{name} must be a finite number, got {bound!r}")
    if not low < high:
        raise ValueError(f"the window needs low < high, got [{low}, {high}]")
    return torch.relu(low - values) ** 2 + torch.relu(values - high) ** 2


class PropertyPredictor(torch.nn.Module):
    """A small network predicting k properties of a conformation: (batch, 2 * beads) -> (batch, k).

    Inputs and outputs are standardised with the training set's mean and standard deviation
    (kept as buffers), so the network works in units of one standard deviation and its output
    is in the properties' own units (bead diameters for R_g). Made by ``fit_property_predictor``.
    """

    def __init__(self, x_mean, x_std, y_mean, y_std, hidden: int):
        super().__init__()
        for name, value in (("x_mean", x_mean), ("x_std", x_std), ("y_mean", y_mean), ("y_std", y_std)):
            self.register_buffer(name, value)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(len(x_mean), hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, len(y_mean))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x, dtype=torch.float32, device=self.x_mean.device).reshape(len(x), -1)
        return self.net((x - self.x_mean) / self.x_std) * self.y_std + self.y_mean


def fit_property_predictor(
    conformations, properties, *, hidden: int = 32, steps: int = 300, lr: float = 1e-2, seed: int = 0
) -> PropertyPredictor:
    """Fit a ``PropertyPredictor`` by full-batch Adam on the mean squared (standardised) error.

    conformations: (n, beads, 2) or (n, 2 * beads); properties: (n,) or (n, k), numpy or torch.
    Deterministic for a given ``seed``. Returns the predictor in eval mode.
    """
    check_positive_int("hidden", hidden)
    check_positive_int("steps", steps)
    check_positive("lr", lr)
    check_seed("seed", seed)
    x = torch.as_tensor(np.asarray(conformations, dtype=np.float32)).reshape(len(conformations), -1)
    y = torch.as_tensor(np.asarray(properties, dtype=np.float32))
    y = y[:, None] if y.ndim == 1 else y
    if y.ndim != 2 or len(y) != len(x):
        raise ValueError(
            f"properties must have shape (n,) or (n, k) with n = {len(x)} conformations, "
            f"got {tuple(np.shape(properties))}"
        )
    if len(x) < 2 or not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError("fit_property_predictor needs at least 2 conformations and finite numbers")
    std = lambda a: a.std(0).clamp_min(1e-6)  # noqa: E731 (a constant column would divide by zero)
    with torch.random.fork_rng():  # seeded initial weights; the global random state is left alone
        torch.manual_seed(seed)
        predictor = PropertyPredictor(x.mean(0), std(x), y.mean(0), std(y), hidden)
    optimizer = torch.optim.Adam(predictor.net.parameters(), lr=lr)
    target = (y - predictor.y_mean) / predictor.y_std
    with one_thread():
        for _ in range(steps):
            loss = ((predictor.net((x - predictor.x_mean) / predictor.x_std) - target) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return predictor.eval().requires_grad_(False)


def _per_conformation(values, n: int, name: str) -> torch.Tensor:
    """Check that an objective returned one finite value per conformation: shape (n,)."""
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"{name} must return a torch tensor (one value per conformation), got {type(values).__name__}")
    if values.ndim == 0 and n == 1:
        values = values.reshape(1)
    if tuple(values.shape) != (n,):
        raise ValueError(
            f"{name} must return one value per conformation, shape ({n},), got {tuple(values.shape)}; "
            "e.g. helpers.radius_of_gyration maps (batch, 24) to (batch,)"
        )
    if not torch.isfinite(values).all():
        raise FloatingPointError(f"{name} returned NaN or infinity; check the objective or lower lr")
    return values


def optimize_latent(
    model,
    objective: Callable[[torch.Tensor], torch.Tensor],
    z0,
    *,
    steps: int = 200,
    lr: float = 0.05,
    prior_weight: float = 0.0,
    bond_penalty: float = 0.0,
    contact_penalty: float = 0.0,
    reference=None,
    margin: float = DEFAULT_MARGIN,
    progress: bool = False,
) -> OptimizationResult:
    """Minimise ``objective(decoder(z))`` over z with Adam, plus optional prior and penalties.

    Args:
        model: a trained, unconditional ``PolymerVAE`` (anything with ``decode(z)`` and
            ``latent_dim``); its weights are not changed. z lives on the model's device.
        objective: differentiable function of decoded coordinates (batch, 24) returning one
            value per conformation (batch,), e.g. ``helpers.radius_of_gyration`` (minimise
            R_g) or ``target_rg(2.0)`` (reach R_g = 2). It is always minimised.
        z0: starting point (d,) or a batch of starts (n, d); numpy or torch.
        steps: Adam steps; the learning rate ``lr`` decays to 0 on a cosine schedule, so the
            last steps settle instead of rattling around the optimum.
        prior_weight: weight of 1/2 |z|^2, the negative log prior.
        bond_penalty, contact_penalty: weights of ``bond_violation`` and ``contact_violation``.
        reference: a ``ValidityReference`` (or the training data to derive one); needed
            when a penalty weight is > 0.
        margin: how far inside the reference limits the penalties aim (length units).
        progress: show a tqdm progress bar.

    Deterministic: no randomness is drawn; the same inputs give the same path.
    """
    if not (
        isinstance(model, torch.nn.Module)
        and callable(getattr(model, "decode", None))
        and isinstance(getattr(model, "latent_dim", None), int)
    ):
        raise TypeError(
            f"model must be a trained PolymerVAE (a torch module with decode(z) and latent_dim), "
            f"got {type(model).__name__}"
        )
    check_unconditional("optimize_latent", model)
    if not callable(objective):
        raise TypeError(f"objective must be a function of decoded coordinates, got {type(objective).__name__}")
    check_positive_int("steps", steps)
    check_positive("lr", lr)
    for name, value in (
        ("prior_weight", prior_weight),
        ("bond_penalty", bond_penalty),
        ("contact_penalty", contact_penalty),
        ("margin", margin),
    ):
        check_non_negative(name, value)
    if (bond_penalty > 0 or contact_penalty > 0) and reference is None:
        raise ValueError("bond_penalty and contact_penalty need reference= (a ValidityReference or the training data)")
    if reference is not None and not isinstance(reference, ValidityReference):
        reference = ValidityReference.from_data(reference)

    latent_dim = model.latent_dim
    z0 = check_array("z0", z0, last_dims=(latent_dim,))
    if z0.ndim not in (1, 2):
        raise ValueError(f"z0 must have shape ({latent_dim},) or (starts, {latent_dim}), got {tuple(z0.shape)}")
    single = z0.ndim == 1
    device = next(model.parameters()).device
    z = torch.as_tensor(z0.detach() if isinstance(z0, torch.Tensor) else z0, dtype=torch.float32)
    z = z.reshape(-1, latent_dim).clone().to(device).requires_grad_(True)  # (n, d): one row per start
    name = getattr(objective, "__name__", "objective")

    def losses(z):
        """(objective, total loss) per start, each (n,), and the decoded coordinates."""
        x = model.decode(z)
        obj = _per_conformation(objective(x), len(z), name)
        total = obj + prior_weight * 0.5 * (z**2).sum(-1)
        if bond_penalty > 0:
            total = total + bond_penalty * bond_violation(x, reference, margin)
        if contact_penalty > 0:
            total = total + contact_penalty * contact_violation(x, reference, margin)
        return obj, total, x

    optimizer = torch.optim.Adam([z], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    path, obj_history, loss_history = [], [], []
    with one_thread():
        for _ in tqdm(range(steps), desc="optimising z", disable=not progress, leave=False):
            obj, total, _ = losses(z)
            path.append(z.detach().cpu().numpy().copy())
            obj_history.append(obj.detach().cpu().numpy())
            loss_history.append(total.detach().cpu().numpy())
            # gradient with respect to z only: the model's parameters collect no .grad
            (z.grad,) = torch.autograd.grad(total.sum(), [z])
            optimizer.step()
            schedule.step()
        with torch.no_grad():
            obj, total, x = losses(z)
    path.append(z.detach().cpu().numpy().copy())
    obj_history.append(obj.cpu().numpy())
    loss_history.append(total.cpu().numpy())

    path, obj_history, loss_history = (np.asarray(a, dtype=np.float64) for a in (path, obj_history, loss_history))
    conformation = x.detach().cpu().numpy().astype(np.float64).reshape(len(x), -1, 2)
    if single:  # drop the start axis again
        return OptimizationResult(path[:, 0], obj_history[:, 0], loss_history[:, 0], conformation[0])
    return OptimizationResult(path, obj_history, loss_history, conformation)


__all__ = [
    "DEFAULT_MARGIN",
    "OptimizationResult",
    "PropertyPredictor",
    "bond_violation",
    "contact_violation",
    "fit_property_predictor",
    "optimize_latent",
    "target_rg",
    "window_penalty",
]
