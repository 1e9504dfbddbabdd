"""Saving and loading trained models: weights plus the config needed to rebuild them.

Files are written atomically and read with ``torch.load(weights_only=True)``, which
refuses arbitrary pickled objects: a checkpoint can hold tensors, numbers, strings, lists
and dicts only.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ._io import atomic_write
from .models import PolymerVAE

FORMAT = "polymer-vae-checkpoint/1"
SWEEP_FORMAT = "polymer-vae-beta-sweep/1"
PRETRAINED_DIR = Path(__file__).parent / "pretrained"

# The beta explorer's models: log-spaced beta ("sum" convention of ``vae_loss``) from almost
# a plain autoencoder (1e-4) to posterior collapse (10), on a smaller network that keeps
# the shipped file small (two hidden layers of 128: 37,764 parameters per model).
BETA_SWEEP = (1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
BETA_SWEEP_CONFIG = dict(input_dim=24, hidden_dim=128, latent_dim=2, sigma="softplus", n_hidden=2)


def save_checkpoint(model: PolymerVAE, path: str | os.PathLike, **metadata) -> Path:
    """Write ``model``'s weights and config (and any simple ``metadata``) to ``path``."""
    if not isinstance(model, PolymerVAE):
        raise TypeError(f"expected a PolymerVAE, got {type(model).__name__}")
    payload = {
        "format": FORMAT,
        "config": dict(model.config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metadata": metadata,
    }
    return atomic_write(path, lambda f: torch.save(payload, f))


def _read(path: Path, expected_format: str) -> dict:
    """torch.load with weights_only=True, turning every failure into a clear ValueError."""
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, foreign pickle, random bytes ...
        raise ValueError(f"{path} is not a readable checkpoint (corrupt, truncated or unsafe): {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise ValueError(f"{path} is not a {expected_format} checkpoint")
    return payload


def load_checkpoint(path: str | os.PathLike, model: PolymerVAE | None = None):
    """Load a checkpoint. Returns (model, metadata).

    Without ``model`` a new ``PolymerVAE`` is built from the stored config; with one, its
    config must match the stored one exactly, or a ``ValueError`` lists the differences.
    """
    path = Path(path)
    payload = _read(path, FORMAT)
    config = payload["config"]
    if model is None:
        model = PolymerVAE(**config)
    elif model.config != config:
        diff = {k: (config.get(k), model.config.get(k)) for k in set(config) | set(model.config) if config.get(k) != model.config.get(k)}
        raise ValueError(
            f"checkpoint {path.name} does not match the model: (stored, model) differ in {diff}. "
            f"Build the model with PolymerVAE(**{config}) or call load_checkpoint without a model."
        )
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"weights in {path.name} do not fit the model: {err}") from None
    model.eval()
    return model, payload.get("metadata", {})


def load_pretrained(name: str = "polymer_vae"):
    """The shipped model trained on the default simulated data. Returns (model, metadata).

    Regenerate it with ``python scripts/train_pretrained.py``.
    """
    available = sorted(p.stem for p in PRETRAINED_DIR.glob("*.pt"))
    if name not in available:
        raise ValueError(f"unknown pretrained model {name!r}; expected one of {available}")
    return load_checkpoint(PRETRAINED_DIR / f"{name}.pt")


def save_beta_sweep(models: list, results: list[dict], path=PRETRAINED_DIR / "beta_sweep.pt") -> Path:
    """Write the beta explorer's models (one config, one state dict per beta) to one file."""
    configs = {tuple(sorted(m.config.items())) for m in models}
    if len(configs) != 1 or len(models) != len(results):
        raise ValueError("save_beta_sweep needs models of one config and one result dict per model")
    payload = {
        "format": SWEEP_FORMAT,
        "config": dict(models[0].config),
        "results": [dict(r) for r in results],
        "state_dicts": [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in models],
    }
    return atomic_write(path, lambda f: torch.save(payload, f))


def load_beta_sweep(path=PRETRAINED_DIR / "beta_sweep.pt"):
    """The shipped beta sweep. Returns a list of (beta, model, result) sorted by beta.

    ``result`` holds ``test_recon`` (squared error summed over coordinates, per frame) and
    ``test_kl`` (nats per frame) on the held-out split. Regenerate with
    ``python scripts/train_pretrained.py --only beta-sweep``.
    """
    payload = _read(Path(path), SWEEP_FORMAT)
    sweep = []
    for result, state in zip(payload["results"], payload["state_dicts"]):
        model = PolymerVAE(**payload["config"])
        model.load_state_dict(state)
        sweep.append((float(result["beta"]), model.eval(), result))
    return sorted(sweep, key=lambda item: item[0])
