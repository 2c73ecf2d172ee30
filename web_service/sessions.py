"""Login sessions in Redis and the failed-login throttle.

The cookie holds a random token; Redis holds only its SHA-256 (`keys.web_session`) with an
expiry, mapped to the session's CSRF token. Failed logins are counted per client
(`keys.login_failures`) and, past a few, each further attempt must wait a growing delay.

Without Redis there are no sessions: a refused or hung Redis raises redis' ConnectionError or
TimeoutError here within the client's socket timeout, and the app answers 503 naming Redis
(web_service.dependency_errors) rather than treating the operator as logged out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

from common.contract import Keys, now_ms

FREE_FAILURES = 3  # failed attempts allowed before delays start
MAX_DELAY_S = 300
FAILURE_MEMORY_S = 3600


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    token_hash: str
    csrf: str
    created_ms: int

    def csrf_matches(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(self.csrf.encode(), candidate.encode())


class SessionStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, ttl_s: int) -> None:
        self._redis = client
        self._keys = keys
        self.ttl_s = ttl_s

    async def create(self, client_ip: str) -> tuple[str, Session]:
        """A new session; returns the cookie token (never stored) and the session."""
        token = secrets.token_urlsafe(32)
        session = Session(token_hash=token_hash(token), csrf=secrets.token_urlsafe(32), created_ms=now_ms())
        value = json.dumps({"csrf": session.csrf, "created_ms": session.created_ms, "ip": client_ip})
        await self._redis.set(self._keys.web_session(session.token_hash), value, ex=self.ttl_s)
        return token, session

    async def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        hashed = token_hash(token)
        raw = await self._redis.get(self._keys.web_session(hashed))
        if not raw:
            return None
        data = json.loads(raw)
        return Session(token_hash=hashed, csrf=data["csrf"], created_ms=int(data["created_ms"]))

    async def delete(self, session: Session) -> None:
        await self._redis.delete(self._keys.web_session(session.token_hash))


class LoginThrottle:
    """Per-client failed-login counter with a growing delay (1, 2, 4 ... 300 s) after FREE_FAILURES."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    async def _state(self, client_ip: str) -> tuple[int, float]:
        """(failures, seconds since the last failure); the key's expiry dates the last failure."""
        key = self._keys.login_failures(client_ip)
        async with self._redis.pipeline(transaction=True) as pipe:
            raw, pttl = await pipe.get(key).pttl(key).execute()
        if not raw or pttl is None or pttl < 0:
            return 0, float(FAILURE_MEMORY_S)
        return int(raw), FAILURE_MEMORY_S - pttl / 1000.0

    @staticmethod
    def delay_for(failures: int) -> float:
        if failures < FREE_FAILURES:
            return 0.0
        return float(min(2 ** (failures - FREE_FAILURES), MAX_DELAY_S))

    async def retry_after(self, client_ip: str) -> float:
        """Seconds this client must still wait before another attempt (0 = may try now)."""
        failures, since_last = await self._state(client_ip)
        return max(0.0, self.delay_for(failures) - since_last)

    async def record_failure(self, client_ip: str) -> int:
        key = self._keys.login_failures(client_ip)
        async with self._redis.pipeline(transaction=True) as pipe:
            failures, _ = await pipe.incr(key).expire(key, FAILURE_MEMORY_S).execute()
        return int(failures)

    async def reset(self, client_ip: str) -> None:
        await self._redis.delete(self._keys.login_failures(client_ip))
