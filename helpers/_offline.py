"""Offline mode: refuse every connection that would leave the machine.

The course must run with no network. When ``helpers`` is imported with the environment
variable ``POLYMER_VAE_OFFLINE=1`` (the test suite sets it, so notebook kernels inherit it),
``block_network()`` patches the socket module so that any connection to a non-loopback
address fails at once with ``NetworkBlockedError`` instead of hanging or silently working.
"""

from __future__ import annotations

import os

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
