"""A small TCP proxy for fault tests: cut a real server off (connections dropped, new ones
refused), or hang it (connections stay open, nothing moves either way, as a stalled server or a
network black hole), and bring it back, without touching the server itself."""

from __future__ import annotations

import contextlib
import select
import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._up = False
        self._flowing = threading.Event()
        self._flowing.set()
        self.up()

    def hang(self) -> None:
        """Stop moving bytes in both directions; connections (also new ones) stay open and wait.
        `resume()` lets the buffered bytes through, in order, as after a network stall."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    @property
    def hung(self) -> bool:
        return not self._flowing.is_set()

    def up(self) -> None:
        self._flowing.set()
        with self._lock:
            if self._up:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
            self._up = True
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and drop every open one."""
        with self._lock:
            self._up = False
            if self._listener:
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()
        # A thread blocked in accept() can keep a closed listener alive: poke it so it sees _up=False.
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
            pass

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if not self._up:
                client.close()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            with self._lock:
                if not self._up:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                if not self._flowing.wait(0.05):
                    if a.fileno() < 0 or b.fileno() < 0:
                        raise OSError("closed")
                    continue
                readable, _, _ = select.select([a, b], [], [], 1.0)
                for src in readable:
                    data = src.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (b if src is a else a).sendall(data)
        except (OSError, ValueError):
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
