"""Saving and loading trained models: weights plus the config needed to rebuild them.

Files are written atomically and read with ``torch.load(weights_only=True)``, which
refuses arbitrary pickled objects: a checkpoint can hold tensors, numbers, strings, lists
and dicts only.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
from pathlib import Path

import numpy as np
import torch
from torch.torch_version import TorchVersion

from ._io import atomic_write
from .models import PolymerVAE

FORMAT = "polymer-vae-checkpoint/1"
SWEEP_FORMAT = "polymer-vae-beta-sweep/1"
PRETRAINED_DIR = Path(__file__).parent / "pretrained"

# The beta explorer's models: log-spaced beta ("sum" convention of ``vae_loss``) from almost
# a plain autoencoder (1e-4) to full posterior collapse, on a smaller network that keeps the
# shipped file small (two hidden layers of 128: 40,220 parameters per model). In the "sum"
# convention a latent direction is worth keeping only while the data variance it explains
# exceeds about beta / 2; the largest such variances here are about 8, so the collapse is
# partial at beta = 10 and complete at 30 and above.
BETA_SWEEP = (1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
BETA_SWEEP_CONFIG = dict(input_dim=24, hidden_dim=128, latent_dim=2, sigma="softplus", n_hidden=2)


def _plain(value, where: str):
    """``value`` as plain Python data that ``torch.load(weights_only=True)`` accepts.

    numpy and torch arrays become (nested) lists, numpy scalars become numbers and str
    subclasses (such as ``torch.__version__``) become str; anything else (objects,
    functions ...) raises ``TypeError`` now rather than producing a checkpoint that cannot
    be loaded later.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, torch.Tensor):
        return _plain(value.detach().cpu().tolist(), where)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray):
        return _plain(value.tolist(), where)
    if isinstance(value, np.generic):
        return _plain(value.item(), where)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(
        f"{where} is a {type(value).__name__}; checkpoint metadata can hold only numbers, strings, lists and dicts"
    )


def _digest(config: dict, metadata, state_dicts: list[dict]) -> str:
    """sha256 of the config, the metadata and every weight: detects corrupted or edited files."""
    h = hashlib.sha256(json.dumps([config, metadata], sort_keys=True).encode())
    for state in state_dicts:
        for name in sorted(state):
            t = state[name].detach().cpu().contiguous()
            h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(model: PolymerVAE, path: str | os.PathLike, **metadata) -> Path:
    """Write ``model``'s weights and config (and any simple ``metadata``) to ``path``.

    ``metadata`` may hold numbers, strings, lists and dicts (numpy values are converted).
    The file also stores a sha256 of its contents, checked by ``load_checkpoint``.
    """
    if not isinstance(model, PolymerVAE):
        raise TypeError(f"expected a PolymerVAE, got {type(model).__name__}")
    metadata = _plain(metadata, "metadata")
    config = dict(model.config)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "config": config,
        "state_dict": state,
        "metadata": metadata,
        "sha256": _digest(config, metadata, [state]),
    }
    return atomic_write(path, lambda f: torch.save(payload, f))


def _read(path: Path, expected_format: str, required: tuple[str, ...]) -> dict:
    """torch.load with weights_only=True, turning every failure into a clear ValueError."""
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        # TorchVersion (a str subclass) is allowed because early files stored torch.__version__ as is
        with torch.serialization.safe_globals([TorchVersion]):
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, foreign pickle, random bytes ...
        raise ValueError(f"{path} is not a readable checkpoint (corrupt, truncated or unsafe): {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise ValueError(f"{path} is not a {expected_format} checkpoint")
    missing = [k for k in required if k not in payload]
    if missing or not isinstance(payload["config"], dict):
        raise ValueError(f"{path} is an incomplete {expected_format} checkpoint (missing {missing or 'a config dict'})")
    return payload


def _verify(path: Path, payload: dict, described, state_dicts: list[dict]) -> None:
    """Compare the stored sha256 with the contents (files written before checksums pass unchecked)."""
    stored = payload.get("sha256")
    if stored is None:
        return
    try:
        actual = _digest(payload["config"], described, state_dicts)
    except (AttributeError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path} holds malformed weights: {err}") from None
    if actual != stored:
        raise ValueError(f"{path} is corrupt or was modified: its contents do not match the checksum stored in it")


def load_checkpoint(path: str | os.PathLike, model: PolymerVAE | None = None):
    """Load a checkpoint. Returns (model, metadata).

    Without ``model`` a new ``PolymerVAE`` is built from the stored config; with one, its
    config must match the stored one exactly, or a ``ValueError`` lists the differences.
    """
    if model is not None and not isinstance(model, PolymerVAE):
        raise TypeError(f"model must be a PolymerVAE or None, got {type(model).__name__}")
    path = Path(path)
    payload = _read(path, FORMAT, ("config", "state_dict"))
    _verify(path, payload, payload.get("metadata", {}), [payload["state_dict"]])
    config = payload["config"]
    if model is None:
        model = _build(path, config)
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


def _build(path: Path, config: dict) -> PolymerVAE:
    try:
        return PolymerVAE(**config)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path} stores an invalid model config {config}: {err}") from None


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
    if any("beta" not in r for r in results):
        raise ValueError("every result dict needs its 'beta'")
    config = dict(models[0].config)
    results = _plain([dict(r) for r in results], "results")
    states = [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in models]
    payload = {
        "format": SWEEP_FORMAT,
        "config": config,
        "results": results,
        "state_dicts": states,
        "sha256": _digest(config, results, states),
    }
    return atomic_write(path, lambda f: torch.save(payload, f))


def load_beta_sweep(path=PRETRAINED_DIR / "beta_sweep.pt"):
    """The shipped beta sweep. Returns a list of (beta, model, result) sorted by beta.

    ``result`` holds ``test_recon`` (squared error summed over coordinates, per frame) and
    ``test_kl`` (nats per frame) on the held-out split. Regenerate with
    ``python scripts/train_pretrained.py --only beta-sweep``.
    """
    path = Path(path)
    payload = _read(path, SWEEP_FORMAT, ("config", "results", "state_dicts"))
    results, states = payload["results"], payload["state_dicts"]
    if not isinstance(results, list) or not isinstance(states, list) or len(results) != len(states):
        raise ValueError(f"{path} is malformed: it needs one result per model")
    _verify(path, payload, results, states)
    sweep = []
    for result, state in zip(results, states):
        model = _build(path, payload["config"])
        try:
            model.load_state_dict(state)
            beta = float(result["beta"])
        except (RuntimeError, KeyError, TypeError) as err:
            raise ValueError(f"{path} holds a model that does not fit its config: {err}") from None
        sweep.append((beta, model.eval(), result))
    return sorted(sweep, key=lambda item: item[0])
