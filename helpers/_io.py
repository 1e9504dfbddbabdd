"""Files: where the cache lives, atomic writes, and a small on-disk cache for arrays."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

_fallbacks: dict[Path, Path] = {}  # unwritable cache folder -> the temporary folder used instead


def cache_dir() -> Path:
    """The writable folder for simulated data and downloads.

    ``$POLYMER_VAE_CACHE`` if set, else ``$XDG_CACHE_HOME/polymer-vae`` or
    ``~/.cache/polymer-vae``. When that folder cannot be written (a read-only home on a
    shared machine), falls back to a folder in the system's temporary directory and warns
    (once per folder).
    """
    env = os.environ.get("POLYMER_VAE_CACHE")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "polymer-vae"
    if base in _fallbacks:
        return _fallbacks[base]
    if _writable(base):
        return base
    fallback = Path(tempfile.gettempdir()) / f"polymer-vae-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    if not _writable(fallback):
        raise PermissionError(
            f"cannot write the cache folder {base} nor the fallback {fallback}; "
            "set POLYMER_VAE_CACHE to a writable folder"
        )
    warnings.warn(
        f"cache folder {base} is not writable; using {fallback} instead "
        "(set POLYMER_VAE_CACHE to choose another folder)",
        stacklevel=3,
    )
    _fallbacks[base] = fallback
    return fallback


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
        return True
    except OSError:
        return False


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(file_object)`` on a temporary file next to ``path``, then rename it.

    The rename is atomic, so a crash or an interrupt never leaves a half-written ``path``:
    readers see either the old file or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cached_array(name: str, key: dict, compute) -> np.ndarray:
    """Return ``compute()``, stored as ``<cache_dir>/<name>-<hash of key>.npy``.

    A cached file that cannot be read (truncated, foreign) is recomputed and replaced.
    """
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = cache_dir() / f"{name}-{digest}.npy"
    if path.exists():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            warnings.warn(f"ignoring unreadable cache file {path}; recomputing", stacklevel=3)
    array = compute()
    try:
        atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))
    except OSError as err:  # a full disk or a folder that became read-only: keep the result anyway
        warnings.warn(f"could not write the cache file {path} ({err}); the result is not cached", stacklevel=3)
    return array
