"""Write the core's side of the contract into real Redis and MySQL, exactly in the shapes the core
writes (common.contract models, sql/0001 tables). Used by the web tests, the bench and demos."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from common.contract import (
    AccountState,
    CommandAudit,
    ContractInfo,
    EventMessage,
    GatewayState,
    GatewayStatus,
    Heartbeat,
    Keys,
    MainContract,
    OrderState,
    PositionState,
    StrategyState,
    SystemEvent,
    TickMessage,
    new_uid,
    now_ms,
    position_field,
)
from common.db import Database
from common.trading_calendar import CHINA_TZ, trading_day_str


def tick(symbol: str, price: float, ts_ms: int | None = None, **extra: Any) -> TickMessage:
    ts_ms = ts_ms or now_ms()
    dt = datetime.fromtimestamp(ts_ms / 1000, tz=CHINA_TZ)
    fields: dict[str, Any] = dict(
        symbol=symbol, exchange="SHFE", ts_ms=ts_ms, datetime=dt.isoformat(), trading_day=trading_day_str(dt),
        local_ts=time.time(), last_price=price, volume=1000, turnover=price * 1000 * 1000, open_interest=50000,
        bid_price_1=round(price - 0.02, 2), bid_volume_1=5, ask_price_1=round(price + 0.02, 2), ask_volume_1=7,
        open_price=600.0, high_price=max(price, 610.0), low_price=min(price, 590.0), pre_close=598.0,
        pre_settlement=599.0, limit_up=634.94, limit_down=563.06,
    )
    fields.update(extra)
    return TickMessage(**fields)


def write_tick(r: redis.Redis, keys: Keys, symbol: str, price: float, **extra: Any) -> TickMessage:
    message = tick(symbol, price, **extra)
    r.xadd(keys.tick_stream(symbol), message.to_fields(), maxlen=20_000, approximate=True)
    return message


def write_heartbeat(r: redis.Redis, keys: Keys, main: str = "au2702", ttl_s: int = 5,
                    state: GatewayState = GatewayState.LOGGED_IN, reason: str = "", last_tick_ms: int | None = None) -> None:
    hb = Heartbeat(pid=os.getpid(), ts_ms=now_ms(), started_ms=now_ms() - 60_000,
                   gateway=GatewayStatus(name="sim", state=state, reason=reason), main_contract=main,
                   trading_day=trading_day_str(datetime.now(UTC)), mysql_ok=True, mysql_backlog=0, redis_backlog=0,
                   last_tick_ms=last_tick_ms)
    r.set(keys.heartbeat, hb.to_json(), ex=ttl_s)


def publish(r: redis.Redis, keys: Keys, kind: str, data: dict[str, Any]) -> None:
    r.xadd(keys.events, {"json": EventMessage(type=kind, data=data).to_json()}, maxlen=10_000, approximate=True)


def account(balance: float = 1_000_000.0, unrealized: float = 0.0, **extra: Any) -> AccountState:
    return AccountState(gateway="SIM", accountid="sim001", balance=balance, available=balance * 0.8, frozen=0.0,
                        margin=balance * 0.2, unrealized_pnl=unrealized, pre_balance=1_000_000.0,
                        trading_day=trading_day_str(datetime.now(UTC)), **extra)


def write_account(r: redis.Redis, keys: Keys, state: AccountState, event: bool = True) -> None:
    r.set(keys.account, state.to_json())
    if event:
        publish(r, keys, "account", state.model_dump())


def position(symbol: str, direction: str, volume: float, price: float, **extra: Any) -> PositionState:
    data: dict[str, Any] = dict(gateway="SIM", vt_symbol=f"{symbol}.SHFE", symbol=symbol, exchange="SHFE",
                                direction=direction, volume=volume, yd_volume=0, td_volume=volume, frozen=0,
                                price=price, pnl=0.0, margin=volume * price * 1000 * 0.1)
    data.update(extra)
    return PositionState(**data)


def write_position(r: redis.Redis, keys: Keys, state: PositionState, event: bool = True) -> None:
    r.hset(keys.positions, position_field(state.vt_symbol, state.direction), state.to_json())
    if event:
        publish(r, keys, "position", state.model_dump())


def contract(symbol: str, is_main: bool = False) -> ContractInfo:
    return ContractInfo(symbol=symbol, exchange="SHFE", vt_symbol=f"{symbol}.SHFE", name=f"黄金{symbol[2:]}",
                        size=1000, pricetick=0.02, min_volume=1, is_main=is_main)


def write_contracts(r: redis.Redis, keys: Keys, symbols: list[str], main: str) -> None:
    for symbol in symbols:
        r.hset(keys.contracts, symbol, contract(symbol, symbol == main).to_json())
    write_main(r, keys, main, event=False)


def write_main(r: redis.Redis, keys: Keys, symbol: str, event: bool = True) -> MainContract:
    main = MainContract(symbol=symbol, exchange="SHFE", vt_symbol=f"{symbol}.SHFE", since_ms=now_ms())
    r.set(keys.main_contract, main.to_json())
    if event:
        publish(r, keys, "main_contract", main.model_dump())
    return main


def strategy(name: str = "au_dual_ma", state: str = "ADDED", **extra: Any) -> StrategyState:
    data: dict[str, Any] = dict(name=name, class_name="AuDualMaStrategy", vt_symbol="au2702.SHFE",
                                parameters={"fast_window": 5, "slow_window": 20, "fixed_size": 1},
                                variables={"fast_ma": 0.0, "slow_ma": 0.0, "pos": 0},
                                inited=state in ("INITED", "TRADING", "STOPPED"), trading=state == "TRADING", state=state)
    data.update(extra)
    return StrategyState(**data)


def write_strategy(r: redis.Redis, keys: Keys, state: StrategyState, event: bool = True) -> None:
    r.hset(keys.strategies, state.name, state.to_json())
    if event:
        publish(r, keys, "strategy", state.model_dump())


def order(vt_orderid: str = "SIM.1", status: str = "NOTTRADED", **extra: Any) -> OrderState:
    data: dict[str, Any] = dict(gateway="SIM", vt_orderid=vt_orderid, orderid=vt_orderid.split(".", 1)[1],
                                symbol="au2702", exchange="SHFE", direction="SHORT", offset="CLOSE", type="LIMIT",
                                price=600.0, volume=1, traded=0, status=status)
    data.update(extra)
    return OrderState(**data)


def write_order(r: redis.Redis, keys: Keys, state: OrderState, event: bool = True) -> None:
    r.hset(keys.orders, state.vt_orderid, state.to_json())
    if event:
        publish(r, keys, "order", state.model_dump())


def broker_error(message: str = "order rejected au2702 CTP.1_2_3 [OnRspOrderInsert]: ErrorID 31: CTP:资金不足",
                 vt_orderid: str = "CTP.1_2_3", error_id: int = 31, error_kind: str = "order_insert",
                 request: str = "OnRspOrderInsert", replayed: bool = False, **extra: Any) -> SystemEvent:
    """A `broker_error` system event as the core records a broker refusal (CoreApp._on_broker_error)."""
    detail: dict[str, Any] = dict(gateway="CTP", error_kind=error_kind, error_id=error_id,
                                  error_message=message.rsplit(": ", 1)[-1], request=request, vt_orderid=vt_orderid,
                                  symbol="au2702", replayed=replayed, ts_ms=now_ms())
    data: dict[str, Any] = dict(kind="broker_error", message=message, level="WARNING" if replayed else "ERROR",
                                detail=detail)
    data.update(extra)
    return SystemEvent(**data)


def write_system_event(r: redis.Redis, keys: Keys, event: SystemEvent, db: Database | None = None) -> None:
    """Publish a system event as the core does; with `db` also its system_events row (the pages' snapshot)."""
    if db is not None:
        db.execute("INSERT INTO system_events (uid, ts, level, kind, message, detail) VALUES (%s,%s,%s,%s,%s,%s)",
                   (event.uid, datetime.fromtimestamp(event.ts_ms / 1000, tz=UTC).replace(tzinfo=None), event.level,
                    event.kind, event.message[:1024], json.dumps(event.detail)))
    publish(r, keys, "system", event.model_dump())


# ---------------------------------------------------------------- MySQL rows (as the core records them)

def naive_utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


def insert_trades(db: Database, rows: list[dict[str, Any]]) -> None:
    db.executemany(
        "INSERT INTO trades (gateway, exchange, tradeid, direction, trading_day, symbol, orderid, offset_, price,"
        " volume, strategy, ts, recorded_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,UTC_TIMESTAMP(3))",
        [(r.get("gateway", "SIM"), "SHFE", r["tradeid"], r["direction"], r["trading_day"], r["symbol"],
          r.get("orderid", "o" + r["tradeid"]), r.get("offset", "OPEN"), r["price"], r.get("volume", 1),
          r.get("strategy"), naive_utc(r["ts"])) for r in rows],
    )


def trade_rows(n: int, start: datetime, step_s: float = 60.0, symbols: tuple[str, ...] = ("au2702",)) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        ts = start + timedelta(seconds=step_s * i)
        rows.append({"tradeid": f"t{i:07d}", "direction": "LONG" if i % 2 == 0 else "SHORT",
                     "trading_day": trading_day_str(ts), "symbol": symbols[i % len(symbols)],
                     "price": 600 + (i % 100) * 0.02, "volume": 1 + i % 3, "ts": ts})
    return rows


def insert_snapshots(db: Database, points: list[tuple[datetime, float]]) -> None:
    db.executemany(
        "INSERT INTO account_snapshots (uid, ts, trading_day, gateway, accountid, balance, available, frozen, margin,"
        " unrealized_pnl) VALUES (%s,%s,%s,'SIM','sim001',%s,%s,0,0,0)",
        [(new_uid(), naive_utc(ts), trading_day_str(ts), bal, bal) for ts, bal in points],
    )


def insert_trigger(db: Database, strategy_name: str, ts: datetime, action: str = "buy", result: str = "success") -> str:
    uid = new_uid()
    db.execute(
        "INSERT INTO strategy_triggers (uid, ts, trading_day, strategy, vt_symbol, condition_, price, volume, action,"
        " result, vt_orderids, error) VALUES (%s,%s,%s,%s,'au2702.SHFE','fast_ma crossed above slow_ma',600.5,1,%s,%s,"
        "'SIM.1,SIM.2','')",
        (uid, naive_utc(ts), trading_day_str(ts), strategy_name, action, result),
    )
    return uid


def insert_system_event(db: Database, ts: datetime, kind: str, message: str, level: str = "INFO") -> None:
    db.execute("INSERT INTO system_events (uid, ts, level, kind, message, detail) VALUES (%s,%s,%s,%s,%s,%s)",
               (new_uid(), naive_utc(ts), level, kind, message, json.dumps({"source": "test"})))


def audit(command_type: str = "position.close", status: str = "done", **extra: Any) -> CommandAudit:
    received = now_ms()
    data: dict[str, Any] = dict(command_id=new_uid()[:16], type=command_type,
                                params={"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 1},
                                source="web", operator="operator", issued_ms=received - 20, received_ms=received,
                                replied_ms=received + 15, status=status, reason="sent SIM.1")
    data.update(extra)
    return CommandAudit(**data)


def insert_audit(db: Database, record: CommandAudit) -> None:
    """A command_audit row exactly as the core's writer stores it."""
    def when(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).replace(tzinfo=None)

    db.execute(
        "INSERT INTO command_audit (uid, command_id, type, params, source, operator, issued_at, received_at,"
        " status, reason, result, replied_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (record.uid, record.command_id, record.type, json.dumps(record.params), record.source, record.operator,
         when(record.issued_ms), when(record.received_ms), record.status, record.reason,
         json.dumps(record.result) if record.result is not None else None, when(record.replied_ms)),
    )
