"""Fake CTP fronts for gateway tests: a port where nothing listens, and a front that drops every connection."""

from __future__ import annotations

import os
import socket
import threading
import time
from types import TracebackType


def free_port() -> int:
    """A local port nothing listens on (bound once by us, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def os_threads() -> int:
    """Native threads of this process (CTP's own threads included, which `threading` does not see)."""
    return len(os.listdir("/proc/self/task"))


class DroppingFront:
    """A TCP server that accepts each connection and closes it at once; records when each arrived."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self.accepted: list[float] = []  # time.monotonic() of each connection
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"dropping-front-{self.port}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted.append(time.monotonic())
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self) -> DroppingFront:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
