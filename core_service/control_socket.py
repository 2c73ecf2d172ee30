"""The core's local control channel: a Unix socket that works when Redis is down or hung.

`<runtime_dir>/control.sock`, owner-only (mode 0600, and the peer's uid is checked). One JSON line
in, one JSON line out: `{"op": "command", "command": {...Command...}}` is executed by the same
command processor as the Redis path (checked, answered, audited; the audit row is spooled like
trades when MySQL is down), `{"op": "status"}` answers the heartbeat. The CLI uses it when it runs
on the core's machine (`make stop` = emergency stop through it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from common.contract import Command, CommandReply
from common.lifecycle import LoopThread

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
MAX_REQUEST = 64 * 1024
CLIENT_IO_TIMEOUT_S = 5.0


class ControlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: Literal["command", "status"]
    command: dict[str, Any] | None = None


class ControlUnavailable(OSError):
    """No core listens on the local channel (not running, or on another machine)."""


def socket_path(runtime: Path) -> Path:
    return runtime / SOCKET_NAME


class ControlServer(LoopThread):
    """Accepts connections (a 0.5 s accept timeout a round); each is served on its own short thread."""

    def __init__(self, path: Path, run_command: Callable[[str], CommandReply],
                 status: Callable[[], dict[str, Any]]) -> None:
        super().__init__("arbig-control", what="accepting a connection", logger=log)
        self.path = path
        self.run_command = run_command
        self.status = status
        self._sock = self._bind(path)

    @staticmethod
    def _bind(path: Path) -> socket.socket:
        """Bind under a temporary name, make it owner-only, then move it into place (no window in
        which another user could connect). A socket file left by a killed core is replaced: the
        caller holds the instance lock, so no live core owns it."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(tmp))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        sock.listen(16)
        sock.settimeout(0.5)
        return sock

    def stop(self, timeout: float = 2.0) -> bool:
        ended = super().stop(timeout)
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
        return ended

    def step(self) -> None:
        try:
            conn, _ = self._sock.accept()  # another OSError (a broken socket): the loop backs off
        except TimeoutError:
            return
        threading.Thread(target=self._serve, args=(conn,), name="arbig-control-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                if not _same_user(conn):
                    _send(conn, {"error": "refused: the control channel is for the core's own user"})
                    return
                conn.settimeout(CLIENT_IO_TIMEOUT_S)
                _send(conn, self._answer(_read_line(conn)))
            except (OSError, ValueError) as exc:
                log.warning("control channel: bad request (%s)", exc)

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = ControlRequest.model_validate_json(line)
        except ValidationError as exc:
            return {"error": f"invalid request: {exc.errors()[0]['msg']}"}
        if request.op == "status":
            return {"status": self.status()}
        raw = json.dumps(request.command or {})
        return {"reply": self.run_command(raw).model_dump(mode="json")}


def _same_user(conn: socket.socket) -> bool:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid in (os.getuid(), 0)


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too long")
    return data.strip()


def _send(conn: socket.socket, payload: dict[str, Any]) -> None:
    conn.sendall(json.dumps(payload, ensure_ascii=False).encode() + b"\n")


# ---------------------------------------------------------------- client side (CLI)


def _request(path: Path, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    if not path.exists():
        raise ControlUnavailable(f"no control socket at {path}: the core is not running on this machine")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        try:
            sock.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            raise ControlUnavailable(f"nothing answers on {path}: the core is not running") from exc
        sock.sendall(json.dumps(payload).encode() + b"\n")
        line = _read_line(sock)
    finally:
        sock.close()
    if not line:
        raise ControlUnavailable(f"the core closed the control channel {path} without an answer")
    answer = json.loads(line)
    if "error" in answer:
        raise ControlUnavailable(f"the core refused the request: {answer['error']}")
    return answer


def send_local(path: Path, command: Command, timeout_s: float) -> CommandReply:
    """Send one command through the local channel and return the core's answer (TimeoutError if none)."""
    answer = _request(path, {"op": "command", "command": json.loads(command.to_json())}, timeout_s)
    return CommandReply.model_validate(answer["reply"])


def local_status(path: Path, timeout_s: float) -> dict[str, Any]:
    return _request(path, {"op": "status"}, timeout_s)["status"]
