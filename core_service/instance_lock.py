"""One core per account: an exclusive lock taken before the gateway connects.

Two guards:
- `flock` on `<runtime_dir>/core.lock`: held by the running core's process; the kernel releases it
  when the process dies, so a lock left by `kill -9` is recovered by the next start at once. The
  file names its holder (pid, host, since) so a refused start can say who runs.
- A lease in Redis (`keys.core_lease(account)`, a few seconds, renewed with every heartbeat): a
  second guard where several machines (or runtime folders) share one Redis and one account. A lease
  left by a dead core on this host (its pid is gone, or it held our own runtime folder) is taken
  over; one held from another host is refused until it expires. Redis being down at start does not
  stop the core (the local lock still guards); the lease is taken when Redis answers again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import redis

from common.clock import LIVE, Clock
from common.config import AppConfig, Secrets
from common.trading_calendar import CHINA_TZ

log = logging.getLogger(__name__)

LOCK_FILE = "core.lock"
LEASE_MS = 15_000

# Take or renew the lease: KEYS[1] lease, ARGV[1] our token, ARGV[2] our holder JSON, ARGV[3] lease ms,
# ARGV[4] the token we may take over (or ""). Returns "ok" or the current holder's JSON.
_TAKE = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, holder = pcall(cjson.decode, cur)
  local token = ok and holder['token'] or ''
  if token ~= ARGV[1] and token ~= ARGV[4] then return cur end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', tonumber(ARGV[3]))
return 'ok'
"""
_RELEASE = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, holder = pcall(cjson.decode, cur)
  if ok and holder['token'] == ARGV[1] then redis.call('DEL', KEYS[1]) end
end
return 1
"""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    since_ms: int
    account: str
    runtime: str
    token: str = ""

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.since_ms / 1000, CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
        return f"pid {self.pid} on {self.host}, running since {since} (Asia/Shanghai), runtime {self.runtime}"


class AlreadyRunning(RuntimeError):
    """Another core trades this account; the message names it."""

    def __init__(self, holder: Holder | None, how: str) -> None:
        self.holder = holder
        if holder is None:
            who, account, stop = "a process whose details could not be read", "?", "stop it first"
        else:
            who, account = holder.describe(), holder.account
            stop = f"stop it first (Ctrl-C in its terminal, or `kill {holder.pid}` on {holder.host})"
        super().__init__(f"another core is already running for account {account} ({how}): {who}; {stop}")


def account_of(config: AppConfig, secrets: Secrets) -> str:
    """What one core owns: the broker account on CTP; the simulated account (its database) on sim."""
    if config.gateway.name == "ctp":
        return f"ctp:{secrets.ctp.broker_id}:{secrets.ctp.userid}"
    return f"sim:{config.mysql.host}:{config.mysql.port}/{config.mysql.database}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_holder(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(**{k: data[k] for k in ("pid", "host", "since_ms", "account", "runtime")})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def probe(runtime: Path) -> Holder | None:
    """The holder of the local lock if a live core holds it, else None (used by the supervisor)."""
    path = runtime / LOCK_FILE
    if not path.exists():
        return None
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_holder(path) or Holder(0, "?", 0, "?", str(runtime))
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return None


class InstanceLock:
    def __init__(self, runtime: Path, account: str, client: redis.Redis, lease_key: str,
                 lease_ms: int = LEASE_MS, clock: Clock = LIVE) -> None:
        self.path = runtime / LOCK_FILE
        self.client = client
        self.lease_key = lease_key
        self.lease_ms = lease_ms
        self.holder = Holder(pid=os.getpid(), host=socket.gethostname(), since_ms=clock.now_ms(),
                             account=account, runtime=str(runtime.resolve()), token=uuid.uuid4().hex)
        self._fh: TextIO | None = None
        self.lease_held = False

    # ------------------------------------------------------------ local lock
    def acquire(self) -> None:
        """Take both guards or raise AlreadyRunning (nothing held then)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115  (held open for the life of the core)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise AlreadyRunning(read_holder(self.path), f"lock file {self.path} is held") from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({k: v for k, v in asdict(self.holder).items() if k != "token"}))
        fh.flush()
        self._fh = fh
        try:
            self.renew(taking=True)
        except AlreadyRunning:
            self._drop_local()
            raise

    def _drop_local(self) -> None:
        fh = self._fh
        self._fh = None
        if fh is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    # ------------------------------------------------------------ Redis lease
    def renew(self, taking: bool = False) -> bool:
        """Take or extend the lease; False when Redis cannot be reached (the local lock still holds).
        Raises AlreadyRunning when another live core holds it."""
        mine = json.dumps(asdict(self.holder))
        takeover = ""
        for _ in range(2):
            try:
                answer = self.client.eval(_TAKE, 1, self.lease_key, self.holder.token, mine, self.lease_ms, takeover)
            except redis.RedisError as exc:
                if self.lease_held or taking:
                    log.warning("core lease: Redis unreachable (%s); the local lock still guards this account", exc)
                self.lease_held = False
                return False
            if answer == "ok":
                self.lease_held = True
                return True
            other = _holder_of(answer)
            if other is not None and self._stale(other):
                log.warning("core lease: taking over from a core that is gone (%s)", other.describe())
                takeover = other.token
                continue
            self.lease_held = False
            raise AlreadyRunning(other, f"Redis lease {self.lease_key} is held")
        return False

    def _stale(self, other: Holder) -> bool:
        if other.host != self.holder.host:
            return False  # another machine: only its lease expiry tells
        if other.runtime == self.holder.runtime:
            return True  # we hold the flock of that runtime folder, so its holder is dead
        return not _pid_alive(other.pid)

    def release(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self.client.eval(_RELEASE, 1, self.lease_key, self.holder.token)
        self.lease_held = False
        self._drop_local()


def _holder_of(raw: str) -> Holder | None:
    try:
        data = json.loads(raw)
        return Holder(**{k: data[k] for k in ("pid", "host", "since_ms", "account", "runtime", "token")})
    except (ValueError, KeyError, TypeError):
        return None
