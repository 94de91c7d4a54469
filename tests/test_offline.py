"""The default run makes no connection outside loopback.

Two layers: the Python offline guard (utils/machinery/offline) refuses non-loopback sockets and
name look-ups in every Python process of the test run, notebook kernels included; and where the
system allows it, ``./course.sh test`` runs everything in a network namespace whose only
interface is loopback, which also covers Rust (icechunk, obstore) and C (GDAL) code. No test
here sends a packet anywhere but loopback: the guard refuses before connecting.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

TEST_NET = "192.0.2.1"  # TEST-NET-1 (RFC 5737): documentation only, routed nowhere


def test_guard_is_active_in_this_process() -> None:
    with pytest.raises(ConnectionRefusedError, match="offline guard"):
        socket.create_connection((TEST_NET, 443), timeout=1)
    with pytest.raises(ConnectionRefusedError, match="offline guard"):
        socket.getaddrinfo("example.org", 443)


def test_guard_allows_loopback() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    with server, socket.create_connection(server.getsockname(), timeout=1):
        pass
    assert socket.getaddrinfo("localhost", 80)


def test_guard_reaches_child_processes() -> None:
    # A notebook kernel is a child process like this one.
    code = textwrap.dedent(f"""
        import socket
        try:
            socket.create_connection(("{TEST_NET}", 80), timeout=1)
        except ConnectionRefusedError as e:
            print("refused:", e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("refused: offline guard"), out


def test_network_namespace_has_only_loopback() -> None:
    if os.environ.get("COURSE_NETNS") != "1":
        if os.environ.get("COURSE_REQUIRE_NETNS") == "1":
            pytest.fail("COURSE_REQUIRE_NETNS=1 but the tests do not run in a loopback-only namespace")
        pytest.skip("not run by `./course.sh test` in a network namespace (unshare unavailable here)")
    names = sorted(name for _, name in socket.if_nameindex())
    assert names == ["lo"], f"network interfaces besides loopback: {names}"
