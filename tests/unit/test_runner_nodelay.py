"""The core's HTTP handler switches Nagle's algorithm off on each connection (callyard.runner):
gevent writes a response's headers and body apart, and with Nagle on the body waited for the
client's delayed acknowledgement, 40 ms per gateway ingest."""

from __future__ import annotations

import subprocess
import sys


def test_each_connection_sends_without_nagle() -> None:
    # gevent code: run in a child process, so this one stays gevent-free (see test_runner_loop).
    child = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stdout + child.stderr
    assert "nodelay 1" in child.stdout


def run_in_child() -> None:
    import socket

    from callyard.runner import WSGIHandler

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        accepted, address = listener.accept()
        with client, accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0  # the default
            handler = WSGIHandler(accepted, address, None)
            print("nodelay", int(bool(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))))
            handler.rfile.close()


if __name__ == "__main__":
    run_in_child()
