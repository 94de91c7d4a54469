"""Offline guard: refuse, before any packet is sent, every connection and name look-up but loopback.

Its folder's ``sitecustomize`` imports it in every Python process of a test run or an execution (on
``PYTHONPATH``: pytest, kernels, Dask workers). Rust (icechunk, obstore) and C (GDAL) sockets are kept
off the network by the namespace ``./course.sh test`` runs in (tests/test_offline.py)."""

from __future__ import annotations

import ipaddress
import socket

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class OfflineGuardError(ConnectionRefusedError):
    """Raised for a connection attempt to anything but loopback during the tests."""


def _is_local(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%")[0]
    if host == "" or host.lower() in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


def _refuse(host: object, port: object) -> None:
    raise OfflineGuardError(
        f"offline guard: refused a connection to {host}:{port}. The course's default run must "
        "use only loopback (127.0.0.1): read the sample data or the local cloud "
        "(utils.local_cloud) instead of the internet."
    )


def _check(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        if not _is_local(address[0]):
            _refuse(address[0], address[1] if len(address) > 1 else "?")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    return _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
    if not _is_local(host):
        _refuse(host, port)
    return _getaddrinfo(host, port, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo
