"""The `contracts` table: each contract's size, tick, order limits and its margin and commission rates.

`ContractBook` is what the core knows of each contract: the gateway's ContractData (size, price tick,
min/max order volume; from the recorder, one record per futures contract and change) and the rates
(`ContractRates`): on CTP from the gateway's margin/commission queries (`on_rates`, the gateway's
`rates_listener`), on the simulated gateway from its settings (`use_sim_rates`). Every change goes to
the MySQL writer as a `contract` record; the writer merges it into the row (`upsert`: a column the
record does not state keeps its value) and fills in the commission of trades recorded before the
rates were known (`backfill_commission`). The book also prices a fill's commission for the recorder.
Thread-safe: CTP's callback thread updates rates, the dispatcher thread reads them.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, cast

from pymysql.cursors import Cursor
from vnpy.trader.constant import Product
from vnpy.trader.object import ContractData

from common.config import AppConfig, SimConfig
from common.contract import now_ms
from core_service import serializers as ser
from core_service.contract_rates import ContractRates, OffsetName
from core_service.records import ContractRecord, Put

DEFAULT_SIZE = 1000.0  # au: grams per lot, until the gateway states the contract
RATE_FIELDS = (
    "long_margin_ratio_by_money", "long_margin_ratio_by_volume", "short_margin_ratio_by_money",
    "short_margin_ratio_by_volume", "open_ratio_by_money", "open_ratio_by_volume", "close_ratio_by_money",
    "close_ratio_by_volume", "close_today_ratio_by_money", "close_today_ratio_by_volume",
)
INFO_FIELDS = ("name", "size", "pricetick", "min_volume", "max_volume")
COLUMNS = ("symbol", "exchange", *INFO_FIELDS, *RATE_FIELDS, "margin_is_relative", "rates_instrument", "source",
           "info_synced_at", "margin_synced_at", "commission_synced_at", "last_sync")


def db_time(ms: int) -> str:
    """Epoch ms -> naive UTC DATETIME(3) text."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def sim_rates(symbol: str, exchange: str, sim: SimConfig, ms: int | None = None) -> ContractRates:
    """The simulated gateway's rates as a broker would state them: margin by money on both sides,
    commission per lot (close-today at its own rate)."""
    ms = ms or now_ms()
    return ContractRates(
        symbol=symbol, exchange=exchange,
        long_margin_ratio_by_money=sim.margin_rate, long_margin_ratio_by_volume=0.0,
        short_margin_ratio_by_money=sim.margin_rate, short_margin_ratio_by_volume=0.0,
        open_ratio_by_money=0.0, open_ratio_by_volume=sim.commission_per_lot,
        close_ratio_by_money=0.0, close_ratio_by_volume=sim.commission_per_lot,
        close_today_ratio_by_money=0.0, close_today_ratio_by_volume=sim.close_today_commission_per_lot,
        commission_instrument=symbol, margin_updated_ms=ms, commission_updated_ms=ms,
    )  # fmt: skip


def rates_record(rates: ContractRates, source: str) -> ContractRecord:
    """A `contract` record stating the rates only."""
    margin, commission = rates.margin_updated_ms, rates.commission_updated_ms
    return ContractRecord(
        symbol=rates.symbol, exchange=rates.exchange or None, source=source,
        rates_instrument=rates.commission_instrument or None, last_sync=ser.ms_to_db(rates.updated_ms or now_ms()),
        margin_is_relative=int(rates.margin_is_relative) if margin else None,
        margin_synced_at=ser.ms_to_db(margin) if margin else None,
        commission_synced_at=ser.ms_to_db(commission) if commission else None,
        **{name: getattr(rates, name) for name in RATE_FIELDS})


def info_record(contract: ContractData, ms: int | None = None) -> ContractRecord:
    """A `contract` record stating the gateway's contract info only."""
    stamp = ser.ms_to_db(ms or now_ms())
    return ContractRecord(symbol=contract.symbol, exchange=contract.exchange.name, name=contract.name[:64],
                          size=contract.size, pricetick=contract.pricetick, min_volume=contract.min_volume,
                          max_volume=contract.max_volume, info_synced_at=stamp, last_sync=stamp)


class ContractBook:
    def __init__(self, put: Put, default_size: float = DEFAULT_SIZE) -> None:
        self._put = put
        self.default_size = default_size
        self._lock = threading.Lock()
        self._contracts: dict[str, ContractData] = {}
        self._rates: dict[str, ContractRates] = {}
        self._sim: SimConfig | None = None

    # ------------------------------------------------------------ sources
    def use_sim_rates(self, sim: SimConfig) -> None:
        """The simulated gateway: every contract has the settings' rates (also those already known)."""
        with self._lock:
            self._sim = sim
            known = list(self._contracts.values())
        for contract in known:
            self._set_sim(contract)

    def on_rates(self, symbol: str, rates: ContractRates) -> None:
        """CTP's rates for a contract (the gateway's `rates_listener`, CTP's thread: only enqueues)."""
        with self._lock:
            contract = self._contracts.get(symbol)
            if not rates.exchange and contract is not None:
                rates = rates.model_copy(update={"exchange": contract.exchange.name})
            self._rates[symbol] = rates
        if rates.exchange:
            self._put(rates_record(rates, "ctp"))

    def on_contract(self, contract: ContractData) -> None:
        """A contract the gateway states (dispatcher thread): futures are recorded, once per change."""
        with self._lock:
            before = self._contracts.get(contract.symbol)
            self._contracts[contract.symbol] = contract
            sim = self._sim is not None
            pending = self._rates.get(contract.symbol)
        if contract.product != Product.FUTURES:
            return
        if before is None or any(getattr(before, f) != getattr(contract, f) for f in INFO_FIELDS):
            self._put(info_record(contract))
        if sim and before is None:
            self._set_sim(contract)
        elif pending is not None and not pending.exchange and before is None:
            self.on_rates(contract.symbol, pending)  # rates that arrived before the contract

    def _set_sim(self, contract: ContractData) -> None:
        assert self._sim is not None
        rates = sim_rates(contract.symbol, contract.exchange.name, self._sim)
        with self._lock:
            self._rates[contract.symbol] = rates
        self._put(rates_record(rates, "sim"))

    # ------------------------------------------------------------ reading
    def rates(self, symbol: str) -> ContractRates | None:
        with self._lock:
            return self._rates.get(symbol)

    def contract(self, symbol: str) -> ContractData | None:
        with self._lock:
            return self._contracts.get(symbol)

    def size(self, symbol: str) -> float:
        contract = self.contract(symbol)
        return float(contract.size) if contract and contract.size else self.default_size

    def commission(self, symbol: str, offset: str, price: float, volume: float) -> float | None:
        """A fill's commission from the contract's rates (None while they are unknown)."""
        rates = self.rates(symbol)
        if rates is None or offset not in ("OPEN", "CLOSE", "CLOSETODAY", "CLOSEYESTERDAY"):
            return None
        return rates.commission(cast(OffsetName, offset), price, volume, self.size(symbol))  # checked above


def wire_rates(book: ContractBook, gateway: Any, config: AppConfig) -> None:
    """Where the book's rates come from (call before the gateway connects): the simulated gateway's
    settings, or the CTP gateway's rate queries (its `rates_listener`)."""
    if config.gateway.name == "sim":
        book.use_sim_rates(config.gateway.sim)
    else:
        gateway.rates_listener = book.on_rates


# ---------------------------------------------------------------- the writer's side

UPSERT = (
    f"INSERT INTO contracts ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    " ON DUPLICATE KEY UPDATE "
    + ", ".join(f"{c} = COALESCE(VALUES({c}), {c})" for c in COLUMNS[2:])
)
# Commission of trades recorded while the contract's rates were unknown (CTP: the day's trades
# replayed at login arrive before the rate queries are answered). Same formula as ContractRates.
BACKFILL_TRADES = (
    "UPDATE trades t JOIN contracts c ON c.symbol = t.symbol AND c.exchange = t.exchange"
    " SET t.commission = ROUND(t.volume * CASE t.offset_"
    "  WHEN 'OPEN' THEN c.open_ratio_by_money * t.price * c.size + c.open_ratio_by_volume"
    "  WHEN 'CLOSETODAY' THEN c.close_today_ratio_by_money * t.price * c.size + c.close_today_ratio_by_volume"
    "  ELSE c.close_ratio_by_money * t.price * c.size + c.close_ratio_by_volume END, 2)"
    " WHERE t.symbol = %s AND t.exchange = %s AND t.commission IS NULL AND c.size IS NOT NULL"
    " AND c.open_ratio_by_money IS NOT NULL AND c.open_ratio_by_volume IS NOT NULL"
    " AND c.close_ratio_by_money IS NOT NULL AND c.close_ratio_by_volume IS NOT NULL"
    " AND c.close_today_ratio_by_money IS NOT NULL AND c.close_today_ratio_by_volume IS NOT NULL"
)
BACKFILL_LOTS = (
    "UPDATE position_lots l JOIN trades t ON t.id = l.open_trade_id"
    " SET l.commission = t.commission, l.commission_left = ROUND(t.commission * l.remaining / l.volume, 4)"
    " WHERE l.symbol = %s AND l.exchange = %s AND l.commission IS NULL AND t.commission IS NOT NULL"
)
BACKFILL_CLOSED = (
    "UPDATE positions_closed p JOIN trades c ON c.id = p.close_trade_id"
    " LEFT JOIN trades o ON o.id = p.open_trade_id"
    " SET p.commission = ROUND(c.commission * p.volume / c.volume"
    "   + IF(p.open_trade_id IS NULL, 0, o.commission * p.volume / o.volume), 4)"
    " WHERE p.symbol = %s AND p.exchange = %s AND p.commission IS NULL AND c.commission IS NOT NULL"
    " AND (p.open_trade_id IS NULL OR o.commission IS NOT NULL)"
)


def upsert(cur: Cursor, records: list[dict[str, Any]]) -> None:
    """Merge `contract` records into their rows (one multi-row statement: CTP states thousands of
    contracts at login); those with rates then price the trades still without commission."""
    stated = [r for r in records if r["exchange"]]  # rates before the contract: the book sends them again
    if not stated:
        return
    cur.executemany(UPSERT, [tuple(r[c] for c in COLUMNS) for r in stated])
    for key in dict.fromkeys((r["symbol"], r["exchange"]) for r in stated if r["commission_synced_at"]):
        cur.execute(BACKFILL_TRADES, key)
        if cur.rowcount:
            cur.execute(BACKFILL_LOTS, key)
            cur.execute(BACKFILL_CLOSED, key)
