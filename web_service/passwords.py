"""The operator's password: an argon2 hash in MySQL (`web_operator`), never the password itself.

The hash is cached in memory so a MySQL outage does not lock the operator out of the console.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from common.db import Database

log = logging.getLogger(__name__)

OPERATOR_ID = 1
OPERATOR_NAME = "operator"
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_new_password(password: str) -> str | None:
    """The reason a new password is unacceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if password != password.strip():
        return "the password must not start or end with spaces"
    return None


class OperatorStore:
    """Reads and writes the single operator row."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._cached: str | None = None

    def get_hash(self) -> str | None:
        """The stored hash (refreshing the cache), or the cached one when MySQL is unreachable."""
        try:
            rows = self._db.query("SELECT password_hash FROM web_operator WHERE id = %s", (OPERATOR_ID,))
        except Exception:
            if self._cached is None:
                raise
            log.warning("MySQL unreachable while reading the operator hash; using the cached one")
            return self._cached
        with self._lock:
            self._cached = rows[0]["password_hash"] if rows else None
            return self._cached

    def set_password(self, password: str) -> None:
        self._db.execute(
            "INSERT INTO web_operator (id, username, password_hash, updated_at)"
            " VALUES (%s, %s, %s, UTC_TIMESTAMP(3))"
            " ON DUPLICATE KEY UPDATE password_hash = VALUES(password_hash), updated_at = VALUES(updated_at)",
            (OPERATOR_ID, OPERATOR_NAME, hash_password(password)),
        )
        self.get_hash()

    def verify(self, password: str) -> bool:
        stored = self.get_hash()
        return bool(stored) and verify_password(stored, password)


def write_secret_file(path: Path, text: str) -> None:
    """Create `path` readable by the owner only (mode 0600), replacing any older file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def ensure_initial_password(store: OperatorStore, file: Path) -> bool:
    """Set a random password when none exists, writing it to `file`; True when one was generated."""
    if store.get_hash():
        return False
    password = secrets.token_urlsafe(18)
    store.set_password(password)
    write_secret_file(file, password + "\n")
    log.warning(
        "no operator password was set: generated one and wrote it to %s (mode 0600);"
        " change it with `python -m web_service.set_password`",
        file,
    )
    return True
