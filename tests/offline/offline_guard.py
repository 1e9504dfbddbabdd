"""The test suite's network guard: refuse every connection that would leave the machine.

The course must run with no network. ``block_network()`` patches the ``socket`` module so
that a connection to a non-loopback address, or a DNS look-up of a remote name, fails at
once with ``NetworkBlockedError`` instead of hanging or silently working. Loopback
(127.0.0.1, ::1, localhost) and Unix sockets keep working, for Jupyter kernels and the
browser test.

Where it is installed:
    * in the pytest process and its xdist workers, by the session fixture in tests/conftest.py;
    * in every Python process started by the tests (notebook kernels of nbval and nbclient,
      subprocesses), by ``sitecustomize.py`` in this folder: the root conftest.py puts this
      folder on PYTHONPATH, which those processes inherit.

Every refused address is appended to ``blocked_attempts``; the suite fails any test during
which that list grew, even if the code under test caught the error.
"""

from __future__ import annotations

import ipaddress
import socket
from contextlib import contextmanager


class NetworkBlockedError(ConnectionError):
    """Raised for any connection to a non-loopback address once ``block_network()`` ran."""


blocked_attempts: list[str] = []  # addresses refused so far in this process
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _ip(host):
    """``host`` as an ``ipaddress`` object, or None for a host name."""
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
        f"network access is blocked by the test suite's offline guard (tests/offline): "
        f"refused a connection to {address!r}. The course must work offline."
    )


def block_network() -> None:
    """Make every socket connection to a non-loopback address raise ``NetworkBlockedError``.

    Patches ``socket.socket.connect``, ``connect_ex``, ``socket.create_connection`` and
    ``socket.getaddrinfo`` (numeric addresses and this machine's name need no DNS and pass;
    other names are refused). Idempotent.
    """
    if getattr(socket.socket.connect, "_offline_guard", False):
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
        if (
            host not in (None, "", b"")
            and _ip(host) is None
            and not _is_loopback(host)
            and host != socket.gethostname()
        ):
            _refuse(host)
        return real_getaddrinfo(host, *args, **kwargs)

    for patched in (connect, connect_ex, create_connection, getaddrinfo):
        patched._offline_guard = True
    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.create_connection, socket.getaddrinfo = create_connection, getaddrinfo


@contextmanager
def no_attempts_allowed():
    """Fail (AssertionError) on leaving the block if any connection was refused inside it.

    Catches code that swallows ``NetworkBlockedError`` and carries on. Yields the list of
    refused addresses; a block that expects refusals checks it and clears it.
    """
    blocked_attempts.clear()
    try:
        yield blocked_attempts
    finally:
        attempts = list(blocked_attempts)
        blocked_attempts.clear()
    assert not attempts, f"the test tried to use the network: {attempts}"
