"""Files: where the cache lives, atomic writes, and a small on-disk cache for arrays."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

_cache_override: Path | None = None  # set to a folder to force the cache there (wins over everything)
_fallbacks: dict[Path, Path] = {}  # unwritable cache folder -> the temporary folder used instead


def cache_dir() -> Path:
    """The writable folder for simulated data and downloads.

    ``$POLYMER_VAE_CACHE`` if set, else ``$XDG_CACHE_HOME/polymer-vae`` or
    ``~/.cache/polymer-vae``. When that folder cannot be written (a read-only home on a
    shared machine), falls back to a folder in the system's temporary directory and warns
    (once per folder).
    """
    if _cache_override is not None:
        return Path(_cache_override)
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


# ----------------------------------------------------------------------------- offline mode

OFFLINE_ENV = "POLYMER_VAE_OFFLINE"


class NetworkBlockedError(ConnectionError):
    """Raised for any connection to a non-loopback address once ``block_network()`` ran."""


blocked_attempts: list[str] = []  # addresses refused so far (the test suite checks this stays empty)
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _ip(host):
    """``host`` as an ``ipaddress`` object, or None for a host name."""
    import ipaddress

    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    try:
        return ipaddress.ip_address(str(host).strip("[]").split("%")[0])
    except ValueError:
        return None


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if str(host).lower() in _LOOPBACK_NAMES:
        return True
    ip = _ip(host)
    if ip is None:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _refuse(address) -> None:
    blocked_attempts.append(repr(address))
    raise NetworkBlockedError(
        f"network access is blocked ({OFFLINE_ENV}=1 or the test suite's offline guard): "
        f"refused a connection to {address!r}. The course must work offline."
    )


def block_network() -> None:
    """Make every socket connection to a non-loopback address raise ``NetworkBlockedError``.

    Connections to 127.0.0.1, ::1 and localhost (Jupyter kernels, a local browser test) and
    Unix sockets keep working; so do DNS look-ups of numeric addresses, while look-ups of
    other host names are refused (they would need the network). Applied automatically when
    ``helpers`` is imported with the environment variable ``POLYMER_VAE_OFFLINE=1``, which is
    how the test suite keeps notebook kernels offline too. Idempotent.
    """
    import socket

    if getattr(socket.socket.connect, "_polymer_vae_guard", False):
        return
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_create_connection, real_getaddrinfo = socket.create_connection, socket.getaddrinfo

    def allowed(sock, address) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True  # Unix sockets and the like never leave the machine
        return _is_loopback(address[0])

    def connect(self, address):
        if not allowed(self, address):
            _refuse(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        if not allowed(self, address):
            _refuse(address)
        return real_connect_ex(self, address)

    def create_connection(address, *args, **kwargs):
        if not _is_loopback(address[0]):
            _refuse(address)
        return real_create_connection(address, *args, **kwargs)

    def getaddrinfo(host, *args, **kwargs):
        # numeric addresses need no look-up; a remote host name would need DNS, i.e. the network
        if host not in (None, "", b"") and _ip(host) is None and not _is_loopback(host) and host != socket.gethostname():
            _refuse(host)
        return real_getaddrinfo(host, *args, **kwargs)

    for patched in (connect, connect_ex, create_connection, getaddrinfo):
        patched._polymer_vae_guard = True
    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.create_connection, socket.getaddrinfo = create_connection, getaddrinfo


if os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes"):
    block_network()
