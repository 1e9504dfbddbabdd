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
PRETRAINED_DIR = Path(__file__).parent / "pretrained"


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


def load_checkpoint(path: str | os.PathLike, model: PolymerVAE | None = None, map_location="cpu"):
    """Load a checkpoint. Returns (model, metadata).

    Without ``model`` a new ``PolymerVAE`` is built from the stored config; with one, its
    config must match the stored one exactly, or a ``ValueError`` lists the differences.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated zip, foreign pickle, random bytes ...
        raise ValueError(f"{path} is not a readable checkpoint (corrupt, truncated or unsafe): {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} checkpoint")
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
