"""Reads the core's live state from Redis (heartbeat, account, positions, orders, strategies,
contracts, main contract, latest tick) and builds the system status the pages show.

Every value is parsed with the contract's models; an entry that does not parse is logged and
skipped rather than shown half-understood. Time (since when Redis is down, the tick age) comes from the
injected `Clock`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeVar

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError

from common.clock import Clock
from common.contract import (
    AccountState,
    ContractInfo,
    Heartbeat,
    Keys,
    MainContract,
    OrderState,
    PositionState,
    StrategyState,
    TickMessage,
)
from common.trading_calendar import in_session

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], raw: str | None, where: str) -> M | None:
    if not raw:
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("ignoring unparsable %s: %s", where, exc.errors()[:1])
        return None


class LiveState:
    """Async reads of the hot state the core keeps in Redis; remembers since when Redis is down."""

    def __init__(self, client: aioredis.Redis, keys: Keys, clock: Clock) -> None:
        self.redis = client
        self.keys = keys
        self.clock = clock
        self.redis_down_since_ms: int | None = None

    def note_redis(self, ok: bool, error: BaseException | None = None) -> None:
        """Record whether Redis just answered; the first failure and the recovery are logged."""
        if ok and self.redis_down_since_ms is not None:
            log.info("Redis answers again after %.0f s", (self.clock.now_ms() - self.redis_down_since_ms) / 1000)
            self.redis_down_since_ms = None
        elif not ok and self.redis_down_since_ms is None:
            self.redis_down_since_ms = self.clock.now_ms()
            log.warning("Redis unreachable (%s): live data, login and commands are unavailable until it answers",
                        type(error).__name__ if error else "no answer")

    async def core_status(self) -> tuple[Heartbeat | None, MainContract | None, bool]:
        """The heartbeat and the main contract, and whether Redis answered at all."""
        try:
            heartbeat, main = await self.heartbeat(), await self.main_contract()
        except Exception as exc:
            self.note_redis(False, exc)
            return None, None, False
        self.note_redis(True)
        return heartbeat, main, True

    async def heartbeat(self) -> Heartbeat | None:
        return _parse(Heartbeat, await self.redis.get(self.keys.heartbeat), "heartbeat")

    async def account(self) -> AccountState | None:
        return _parse(AccountState, await self.redis.get(self.keys.account), "account")

    async def main_contract(self) -> MainContract | None:
        return _parse(MainContract, await self.redis.get(self.keys.main_contract), "main contract")

    async def _hash(self, key: str, model: type[M]) -> dict[str, M]:
        out: dict[str, M] = {}
        for field, raw in (await self.redis.hgetall(key)).items():
            item = _parse(model, raw, f"{key}[{field}]")
            if item is not None:
                out[field] = item
        return out

    async def positions(self) -> list[PositionState]:
        return [p for p in (await self._hash(self.keys.positions, PositionState)).values() if p.volume > 0]

    async def orders(self) -> list[OrderState]:
        orders = list((await self._hash(self.keys.orders, OrderState)).values())
        return sorted(orders, key=lambda o: o.ts_ms, reverse=True)

    async def strategies(self) -> list[StrategyState]:
        return sorted((await self._hash(self.keys.strategies, StrategyState)).values(), key=lambda s: s.name)

    async def contracts(self) -> list[ContractInfo]:
        return sorted((await self._hash(self.keys.contracts, ContractInfo)).values(), key=lambda c: c.symbol)

    async def latest_tick(self, symbol: str) -> TickMessage | None:
        entries = await self.redis.xrevrange(self.keys.tick_stream(symbol), count=1)
        if not entries:
            return None
        try:
            return TickMessage.from_fields(entries[0][1])
        except ValidationError as exc:
            log.warning("ignoring unparsable tick in %s: %s", symbol, exc.errors()[:1])
            return None

    async def tick_history(self, symbol: str, limit: int) -> list[TickMessage]:
        """Up to `limit` newest ticks of the stream, oldest first."""
        entries = await self.redis.xrevrange(self.keys.tick_stream(symbol), count=limit)
        ticks = []
        for _, fields in reversed(entries):
            try:
                ticks.append(TickMessage.from_fields(fields))
            except ValidationError:
                continue
        return ticks

    async def redis_ok(self) -> bool:
        try:
            ok = bool(await asyncio.wait_for(self.redis.ping(), timeout=2))
        except Exception as exc:
            self.note_redis(False, exc)
            return False
        self.note_redis(ok)
        return ok


def tick_time_ms(tick: TickMessage) -> int:
    """When the tick was created by the gateway (local clock), used for data age."""
    return int(tick.local_ts * 1000)


def build_status(
    clock: Clock,
    heartbeat: Heartbeat | None,
    redis_ok: bool,
    mysql_ok: bool,
    last_tick_ms: int | None,
    stale_after_s: float,
    main_contract: MainContract | None = None,
    redis_down_since_ms: int | None = None,
    mysql_down_since_ms: int | None = None,
) -> dict[str, Any]:
    """The system status every page's header shows (core alive, gateway, stores and since when one is
    down, tick age, stale), as of `clock`'s now."""
    now = clock.now_ms()
    if heartbeat and heartbeat.last_tick_ms:
        last_tick_ms = max(last_tick_ms or 0, heartbeat.last_tick_ms)
    session = in_session(clock.now())
    age_s = (now - last_tick_ms) / 1000.0 if last_tick_ms else None
    core_alive = heartbeat is not None if redis_ok else None  # None: unknown, Redis is down
    stale = (session and (age_s is None or age_s > stale_after_s)) or not core_alive
    gateway = heartbeat.gateway.model_dump(mode="json") if heartbeat else None
    return {
        "server_ms": now,
        "core_alive": core_alive,
        "heartbeat": heartbeat.model_dump(mode="json") if heartbeat else None,
        "gateway": gateway,
        "gateway_logged_in": bool(heartbeat and heartbeat.gateway.state == "LOGGED_IN"),
        "redis_ok": redis_ok,
        "redis_down_since_ms": None if redis_ok else redis_down_since_ms,
        "mysql_ok": mysql_ok,
        "mysql_down_since_ms": None if mysql_ok else mysql_down_since_ms,
        "core_mysql_ok": heartbeat.mysql_ok if heartbeat else None,
        "main_contract": (main_contract.symbol if main_contract else (heartbeat.main_contract if heartbeat else None)),
        "trading_day": heartbeat.trading_day if heartbeat else None,
        "last_tick_ms": last_tick_ms,
        "tick_age_s": round(age_s, 3) if age_s is not None else None,
        "in_session": session,
        "stale": bool(stale),
        "stale_after_s": stale_after_s,
    }
