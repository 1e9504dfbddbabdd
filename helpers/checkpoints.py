"""Saving and loading trained models: weights plus the config needed to rebuild them.

Files are written atomically and read with ``torch.load(weights_only=True)``, which
refuses arbitrary pickled objects: a checkpoint can hold tensors, numbers, strings, lists
and dicts only. Each file also stores a sha256 of its config, metadata and weights, checked on
loading: it detects corruption (a truncated download, a flipped bit), not deliberate edits,
since whoever edits a file can recompute it.

``PRETRAINED`` is the registry of the shipped models (``helpers/pretrained/``): for each, what
it is, the recipe that ``scripts/train_pretrained.py`` trains it with, and the sha256 of the
file's bytes (checked by the test suite).
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
from pathlib import Path

import numpy as np
import torch

from ._io import atomic_write
from .diffusion import RECIPE as DIFFUSION_RECIPE
from .diffusion import PolymerDiffusion
from .discriminator import RECIPE as DISCRIMINATOR_RECIPE
from .discriminator import ChainDiscriminator
from .generation import GENERATOR, RECIPE, PolymerGenerator
from .models import PolymerVAE
from .training import DEFAULT_BETA, DEFAULT_EPOCHS

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
BETA_SWEEP_CONFIG = dict(
    input_dim=24, hidden_dim=128, latent_dim=2, sigma="softplus", n_hidden=2, decoder="cartesian", condition=None
)

# The shipped models: name -> what ``helpers/pretrained/{name}.pt`` holds, its recipe (the calls of
# scripts/train_pretrained.py, all on load_paths() split by train_test_split(seed=42), initial
# weights seeded with 0) and the sha256 of the file (update it after retraining).
# load_pretrained(name) returns the single models; load_beta_sweep() the beta sweep.
PRETRAINED = {
    "polymer_vae": dict(
        description="the default Cartesian PolymerVAE of the notebooks",
        recipe=dict(model={}, train_vae=dict(epochs=DEFAULT_EPOCHS, beta=DEFAULT_BETA, seed=0)),
        sha256="1f0750ecc6607d931317b10b9a859d32912fc4c8dc0c1108a2d5d89334f37a6b",
    ),
    "valid_polymer": dict(
        description="a PolymerGenerator (internal-coordinate likelihood) with its learned prior: generate(n, seed=...)",
        recipe=dict(train_generator=dict(conditional=False, seed=0), model=GENERATOR, train_vae=RECIPE),
        sha256="3c4ec85db5d7e9ef9b9c1b64caacfd2964ee1b20817d14f3f10eb5e26f4bba08",
    ),
    "conditional_polymer": dict(
        description="the PolymerGenerator conditioned on R_g: generate(n, seed=..., rg=...)",
        recipe=dict(train_generator=dict(conditional=True, seed=0), model=GENERATOR, train_vae=RECIPE),
        sha256="15ab55132f32b37be11c3b5f6c3fe9afa70cc34510f73d7ac2914f7b5575f064",
    ),
    "diffusion_polymer": dict(
        description="the diffusion model of notebook 9 (PolymerDiffusion, guidable on R_g): generate(n, seed=...)",
        recipe=dict(train_diffusion=dict(DIFFUSION_RECIPE, conditional=True, seed=0)),
        sha256="572078834d770abda3b1de42f748e8e8ad59411670440ba46d3677aaa421d600",
    ),
    "diffusion_discriminator": dict(
        description="notebook 9's discriminator for diffusion_polymer: model.generate(n, discriminator=...)",
        recipe=dict(train_discriminator=dict(DISCRIMINATOR_RECIPE, seed=0)),
        sha256="23cddf0cd395a2ddacf73d2e806b9eff66adebc951544df20795d82f5169f802",
    ),
    "beta_sweep": dict(
        description="the beta explorer's models, one per value of BETA_SWEEP: load_beta_sweep()",
        recipe=dict(model=BETA_SWEEP_CONFIG, betas=BETA_SWEEP, train_vae=dict(seed=0)),
        sha256="8632a0982d1fe3e8155e65836dd1c943ff2db8e8bb4e0e40681de8c398a23681",
    ),
}
PRETRAINED_SHA256 = {f"{name}.pt": entry["sha256"] for name, entry in PRETRAINED.items()}  # by file name


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
    """sha256 of the config, the metadata and every weight (buffers included): detects corrupted files."""
    h = hashlib.sha256(json.dumps([config, metadata], sort_keys=True).encode())
    for state in state_dicts:
        for name in sorted(state):
            t = state[name].detach().cpu().contiguous()
            h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


MODELS = (PolymerVAE, PolymerDiffusion, ChainDiscriminator)  # what a checkpoint can hold


def save_checkpoint(model, path: str | os.PathLike, **metadata) -> Path:
    """Write ``model``'s weights and config (and any simple ``metadata``) to ``path``.

    ``model``: a ``PolymerVAE`` (or ``PolymerGenerator``), a ``diffusion.PolymerDiffusion`` or a
    ``discriminator.ChainDiscriminator``.

    ``metadata`` may hold numbers, strings, lists and dicts (numpy values are converted).
    The file also stores a sha256 of its contents, checked by ``load_checkpoint`` (corruption only).
    """
    if not isinstance(model, MODELS):
        raise TypeError(
            f"expected a PolymerVAE, a PolymerDiffusion or a ChainDiscriminator, got {type(model).__name__}"
        )
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
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, foreign pickle, random bytes ...
        raise ValueError(f"{path} is not a readable checkpoint (corrupt, truncated or unsafe): {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise ValueError(f"{path} is not a {expected_format} checkpoint")
    missing = [k for k in (*required, "sha256") if k not in payload]
    if missing or not isinstance(payload["config"], dict):
        raise ValueError(f"{path} is an incomplete {expected_format} checkpoint (missing {missing or 'a config dict'})")
    return payload


def _verify(path: Path, payload: dict, described, state_dicts: list[dict]) -> None:
    """Compare the stored sha256 with the contents: a mismatch means a corrupted file."""
    stored = payload["sha256"]
    try:
        actual = _digest(payload["config"], described, state_dicts)
    except (AttributeError, TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path} holds malformed weights: {err}") from None
    if actual != stored:
        raise ValueError(f"{path} is corrupt: its contents do not match the checksum stored in it")


KINDS = {"diffusion": PolymerDiffusion, "discriminator": ChainDiscriminator}  # config["kind"] -> class; none: a VAE


def _stored_kind(config: dict) -> type:
    return KINDS.get(config.get("kind"), PolymerVAE)


def load_checkpoint(path: str | os.PathLike, model=None):
    """Load a checkpoint. Returns (model, metadata).

    Without ``model`` a new model is built from the stored config: a ``PolymerGenerator`` when
    the stored weights include a learned prior (``prior_weights``), a ``PolymerDiffusion`` for a
    diffusion model, a ``ChainDiscriminator`` for a discriminator, a ``PolymerVAE`` otherwise.
    With one, it must be of the same kind and its config must match the stored one exactly, or a
    ``ValueError`` lists the differences.
    """
    if model is not None and not isinstance(model, MODELS):
        raise TypeError(
            f"model must be None, a PolymerVAE, a PolymerDiffusion or a ChainDiscriminator, got {type(model).__name__}"
        )
    path = Path(path)
    payload = _read(path, FORMAT, ("config", "state_dict"))
    _verify(path, payload, payload.get("metadata", {}), [payload["state_dict"]])
    config = payload["config"]
    stored_kind = _stored_kind(config)
    if model is not None and not isinstance(model, stored_kind):
        raise ValueError(
            f"checkpoint {path.name} holds a {stored_kind.__name__}, but the model given is a {type(model).__name__}: "
            "call load_checkpoint without a model to get the stored kind"
        )
    if model is None:
        model = _build(path, config, payload["state_dict"])
    elif model.config.get("decoder") != config.get("decoder"):
        raise ValueError(
            f"checkpoint {path.name} holds a model with a {config.get('decoder')!r} decoder, but the model "
            f"given has a {model.config['decoder']!r} decoder: build PolymerVAE(decoder={config.get('decoder')!r}, ...) "
            "or call load_checkpoint without a model"
        )
    elif model.config != config:
        diff = {
            k: (config.get(k), model.config.get(k))
            for k in set(config) | set(model.config)
            if config.get(k) != model.config.get(k)
        }
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


def _build(path: Path, config: dict, state: dict):
    kind = PolymerGenerator if "prior_weights" in state else PolymerVAE
    if config.get("kind") in KINDS:
        kind, config = KINDS[config["kind"]], {k: v for k, v in config.items() if k != "kind"}
    try:
        return kind(**config)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path} stores an invalid model config {config}: {err}") from None


def load_pretrained(name: str = "polymer_vae"):
    """A shipped model trained on the default simulated data (see ``PRETRAINED``). Returns (model, metadata).

    Regenerate them with ``python scripts/train_pretrained.py``.
    """
    if name == "beta_sweep":
        raise ValueError("beta_sweep holds one model per beta: load it with load_beta_sweep()")
    if name not in PRETRAINED:
        names = sorted(set(PRETRAINED) - {"beta_sweep"})
        raise ValueError(f"unknown pretrained model {name!r}; expected one of {names}")
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
        model = _build(path, payload["config"], state)
        try:
            model.load_state_dict(state)
            beta = float(result["beta"])
        except (RuntimeError, KeyError, TypeError) as err:
            raise ValueError(f"{path} holds a model that does not fit its config: {err}") from None
        sweep.append((beta, model.eval(), result))
    return sorted(sweep, key=lambda item: item[0])
