"""The MCP bearer token: one random token in `<runtime dir>/mcp_token.txt` (mode 0600, like the operator's initial
password), created on the web service's first start, replaced by `make rotate-mcp-token`
(`python -m web_service.mcp.token rotate`).

The running web service checks every request against the file through the SDK's token-verifier hook
(`FileTokenVerifier`, used by the SDK's BearerAuthBackend/RequireAuthMiddleware: no token or a wrong one is a 401
before any tool runs). The verifier keeps the token in memory with the file's identity (inode, mtime, size) and
re-reads it when that changes, so a rotation takes effect on the next request without a restart: the old token is
refused from then on. A rotation writes a new file beside the old one and renames it over it, so there is never a
moment without a token file. A missing or empty file refuses every request (and says so in the log once).

The token itself is never logged or printed; only the file's path is.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import secrets
import sys
from pathlib import Path

from mcp.server.auth.provider import AccessToken

log = logging.getLogger(__name__)

TOKEN_FILE_NAME = "mcp_token.txt"
CLIENT_ID = "mcp-agent"  # the principal every valid token stands for (one agent, one token)
TOKEN_BYTES = 32


def token_path(runtime_dir: Path) -> Path:
    return runtime_dir / TOKEN_FILE_NAME


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def write_token(path: Path, token: str) -> None:
    """Replace `path` atomically with a file holding `token` (owner read/write only, 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(str(temp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(token + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def read_token(path: Path) -> str:
    """The token in `path` ("" when the file is missing or empty)."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


def ensure_token(path: Path) -> bool:
    """Create the token file when there is none (or it is empty); True when one was created."""
    if read_token(path):
        if path.stat().st_mode & 0o077:
            log.warning("%s is readable by others: chmod 600 it (or `make rotate-mcp-token`)", path)
        return False
    write_token(path, new_token())
    log.warning("no MCP token yet: generated one in %s (mode 0600); MCP clients send it as"
                " 'Authorization: Bearer <token>'", path)
    return True


def rotate_token(path: Path) -> None:
    write_token(path, new_token())


class FileTokenVerifier:
    """The SDK's `TokenVerifier` (mcp.server.auth.provider): a bearer token is valid when it equals the one in the
    token file now (constant-time compare). The file is re-read only when its identity changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity: tuple[int, int, int] | None = None
        self._token = ""
        self._missing_logged = False

    def current(self) -> str:
        try:
            st = self.path.stat()
        except OSError:
            if not self._missing_logged:
                log.warning("the MCP token file %s is missing: every MCP request is refused until"
                            " `make rotate-mcp-token` writes one", self.path)
                self._missing_logged = True
            self._identity, self._token = None, ""
            return ""
        identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        if identity != self._identity:
            self._token = read_token(self.path)
            self._identity = identity
            self._missing_logged = False
        return self._token

    async def verify_token(self, token: str) -> AccessToken | None:
        expected = self.current()
        if not expected or not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
            return None
        return AccessToken(token=token, client_id=CLIENT_ID, scopes=[])


def main(argv: list[str] | None = None) -> int:
    from web_service.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m web_service.mcp.token",
                                     description="The MCP bearer token (never printed: read the file).")
    parser.add_argument("action", choices=["rotate", "path"],
                        help="rotate: write a new token (the running web refuses the old one from its next request);"
                             " path: print where the token file is")
    args = parser.parse_args(argv)
    path = token_path(load_settings().runtime_dir)
    if args.action == "path":
        print(path)
        return 0
    rotate_token(path)
    print(f"a new MCP token is in {path} (mode 0600); the old one is refused from now on."
          " Give the new one to your MCP client.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
