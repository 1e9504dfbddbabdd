"""Polymer data: where it comes from (simulation, the original file, your own) and preprocessing.

Shapes used throughout:
    paths:  (frames, beads, 2)  raw conformations, as simulated or loaded
    data:   (frames, 2 * beads) preprocessed, flattened float32 vectors fed to the VAE
"""

from __future__ import annotations

import hashlib
import numbers
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch

from ._checks import check_array, check_seed
from ._io import atomic_write, cache_dir
from .simulation import simulate_polymer

DMOL_URL = "https://github.com/whitead/dmol-book/raw/main/data/long_paths.npz"
DMOL_SHA256 = "ccfdc2415231191f818d46e717e06ad8403b0c6dacb7790c3ec64f4f70234610"
DMOL_FILENAME = "long_paths.npz"


# ----------------------------------------------------------------------------- loading


def load_paths(source: str | os.PathLike = "simulate", **kwargs) -> np.ndarray:
    """Load polymer conformations, shape (frames, beads, 2), float64.

    Args:
        source: ``"simulate"`` (default, offline): the bundle's own bead-spring simulation;
            keyword arguments go to ``simulate_polymer``.
            ``"dmol"``: the original 2048-frame ``long_paths.npz`` of the dmol.pub VAE chapter
            (A. D. White, CC BY-NC 3.0), downloaded on first use, checked against its sha256
            and cached. Needs the network once.
            A path to a ``.npz`` (one array, or an array named ``arr``) or ``.npy`` file.
    """
    if isinstance(source, str) and source in ("simulate", "dmol"):
        if source == "simulate":
            return simulate_polymer(**kwargs)
        if kwargs:
            raise TypeError(f"load_paths('dmol') takes no options, got {sorted(kwargs)}")
        return _load_file(download_dmol())
    if kwargs:
        raise TypeError(f"options {sorted(kwargs)} only apply to source='simulate'")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.suffix not in (".npz", ".npy"):
            raise ValueError(
                f"unknown source {str(source)!r}: expected 'simulate', 'dmol' or a path to a .npz/.npy file"
            )
        if not path.exists():
            raise FileNotFoundError(f"no such data file: {path}")
        return _load_file(path)
    raise TypeError(f"source must be 'simulate', 'dmol' or a file path, got {type(source).__name__}")


def _load_file(path: Path) -> np.ndarray:
    """Read conformations from .npz/.npy without unpickling anything."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise _unreadable(path, err) from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            names = loaded.files
            if "arr" in names:
                name = "arr"
            elif len(names) == 1:
                name = names[0]
            else:
                raise ValueError(f"{path} holds arrays {names}; expected one array or one named 'arr'")
            try:
                array = loaded[name]
            except (ValueError, OSError, EOFError) as err:
                raise _unreadable(path, err) from None
    else:
        array = loaded
    return check_paths(array, name=f"data in {path.name}").astype(np.float64)


def _unreadable(path: Path, err: Exception) -> ValueError:
    """The error for a data file that np.load(allow_pickle=False) cannot read."""
    if "pickle" in str(err):  # numpy's message for object arrays and pickles names allow_pickle
        return ValueError(f"{path} holds pickled Python objects, which are refused for safety ({err})")
    return ValueError(f"{path} is not a readable .npy/.npz file (truncated or corrupt?): {err}")


def check_paths(paths, name: str = "paths"):
    """Raise unless ``paths`` is a finite real array of shape (frames >= 1, beads >= 3, 2)."""
    paths = check_array(name, paths, ndim=3, last_dims=(None, 2))
    if paths.shape[1] < 3:
        raise ValueError(f"{name} needs at least 3 beads per frame, got shape {tuple(paths.shape)}")
    return paths


def download_dmol(url: str = DMOL_URL, sha256: str = DMOL_SHA256, timeout: float = 30.0) -> Path:
    """Download ``long_paths.npz`` into the cache once, verify its sha256, return its path.

    A cached file is re-verified on every call. A download with the wrong checksum is
    discarded (never cached) and raises ``ValueError``; no network raises ``ConnectionError``.
    """
    target = cache_dir() / DMOL_FILENAME
    if target.exists():
        if _sha256(target.read_bytes()) == sha256:
            return target
        target.unlink()  # a stale or tampered copy: fetch it again

    def fetch(f):
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                while chunk := response.read(1 << 16):
                    digest.update(chunk)
                    f.write(chunk)
        except (urllib.error.URLError, OSError) as err:
            raise ConnectionError(
                f"could not download {url} ({err}). Without network access, use the default "
                f"simulated data (load_paths('simulate')), or copy {DMOL_FILENAME} into "
                f"{target.parent} or pass its path to load_paths()."
            ) from None
        if digest.hexdigest() != sha256:
            raise ValueError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {digest.hexdigest()}; "
                "the file was discarded"
            )

    return atomic_write(target, fetch)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- preprocessing


def center_com(paths: np.ndarray) -> np.ndarray:
    """Subtract each frame's centre of mass (all beads weigh the same). Shape kept."""
    paths = check_paths(paths)
    return paths - paths.mean(axis=1, keepdims=True)


def align_principal(paths: np.ndarray, *, resolve_mirror: bool = False) -> np.ndarray:
    """Rotate each (centred) frame so that its principal axis lies along x. Vectorised.

    (frames, beads, 2) numpy array or torch tensor -> centred, aligned numpy array, same shape.

    The principal axis of the 2x2 gyration tensor S = sum_i r_i r_i^T makes the angle
    theta = atan2(2 S_xy, S_xx - S_yy) / 2 with the x axis; we rotate by -theta.

    An axis has no direction, so theta and theta + 180 degrees are equally good. We pick
    one deterministically: the chain must run "left to right", i.e. the bead index and x are
    positively correlated (sum_i (i - mean i) x_i >= 0); otherwise the frame is turned by 180
    degrees.

    Mirror images (y -> -y) are different 2-D conformations with the same energy, and no
    rotation maps one onto the other. By default they are kept (the model must learn both);
    with ``resolve_mirror=True`` each frame is also reflected if needed so that
    sum_i (i - mean i) y_i >= 0, halving the shapes the model has to learn. Frames whose
    correlation is exactly zero (perfectly symmetric) are left as they are.
    """
    paths = check_paths(paths)
    if isinstance(paths, torch.Tensor):  # numpy from here on (the result is a numpy array)
        paths = paths.detach().cpu().numpy()
    centred = paths - paths.mean(axis=1, keepdims=True)
    x, y = centred[..., 0], centred[..., 1]
    sxx, syy, sxy = (x * x).sum(1), (y * y).sum(1), (x * y).sum(1)
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    # rotation by -theta: (x, y) -> (c x + s y, -s x + c y)
    xr, yr = c * x + s * y, -s * x + c * y
    index = np.arange(paths.shape[1]) - (paths.shape[1] - 1) / 2
    flip = np.where((xr * index).sum(1) < 0, -1.0, 1.0)[:, None]
    xr, yr = xr * flip, yr * flip
    if resolve_mirror:
        yr = yr * np.where((yr * index).sum(1) < 0, -1.0, 1.0)[:, None]
    return np.stack([xr, yr], axis=-1)


def preprocess(paths: np.ndarray, *, resolve_mirror: bool = False) -> np.ndarray:
    """Centre, align and flatten: (frames, beads, 2) -> float32 numpy array (frames, 2 * beads)."""
    aligned = align_principal(center_com(paths), resolve_mirror=resolve_mirror)
    return aligned.reshape(len(aligned), -1).astype(np.float32)


def train_test_split(data, test_fraction: float = 0.1, seed: int = 42):
    """Shuffle frames with ``seed`` and split them: returns (train, test), same type as ``data``.

    Deterministic: the same seed always gives the same split.
    """
    data = check_array("data", data, min_len=2)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number between 0 and 1, got {test_fraction!r}")
    check_seed("seed", seed)
    n_test = max(1, int(round(len(data) * test_fraction)))
    if n_test >= len(data):
        raise ValueError(f"cannot split {len(data)} frames with test_fraction={test_fraction}")
    order = np.random.default_rng(seed).permutation(len(data))
    return data[order[n_test:]], data[order[:n_test]]


def unflatten(data) -> np.ndarray:
    """(frames, 2 * beads) -> (frames, beads, 2); accepts numpy or torch."""
    data = check_array("data", data)
    if data.shape[-1] % 2:
        raise ValueError(f"data must have an even last axis (2 * beads), got shape {tuple(data.shape)}")
    return data.reshape(*data.shape[:-1], -1, 2)


__all__ = [
    "DMOL_SHA256",
    "DMOL_URL",
    "align_principal",
    "center_com",
    "check_paths",
    "download_dmol",
    "load_paths",
    "preprocess",
    "train_test_split",
    "unflatten",
]
