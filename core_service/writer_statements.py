"""The MySQL writer's statements: one parameterised statement per record kind, and the order kinds
are written in within a batch. Every statement is idempotent (unique keys + upserts), so a batch
written twice (a spool replayed after a partial failure) changes nothing.

A statement's parameters are named by the fields of its kind's model (`core_service.records`);
`check_statements` (run at import) refuses a name the model does not have, so the two cannot drift.
"""

from __future__ import annotations

import json
from typing import Any

from core_service.contracts_table import COLUMNS as CONTRACT_COLUMNS
from core_service.pnl_ledger import SETTLEMENT_STATEMENT, SETTLEMENT_STATEMENT_FIELDS
from core_service.records import MODELS

FINAL = "('ALLTRADED','CANCELLED','REJECTED')"
# A row already there (same trade identity or uid) is left as it is. Unlike INSERT IGNORE this
# still raises on bad data instead of silently storing a zero date.
NOOP = " ON DUPLICATE KEY UPDATE id = id"

STATEMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "trade": (
        "INSERT INTO trades (gateway, exchange, tradeid, direction, trading_day, symbol, orderid,"
        " offset_, price, volume, commission, strategy, ts, recorded_at, raw, confidence, tool_call_id) VALUES"
        " (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)" + NOOP,
        ("gateway", "exchange", "tradeid", "direction", "trading_day", "symbol", "orderid", "offset",
         "price", "volume", "commission", "strategy", "ts", "recorded_at", "raw", "confidence", "tool_call_id"),
    ),
    "order": (
        "INSERT INTO orders (gateway, orderid, trading_day, symbol, exchange, direction, offset_, order_type,"
        " price, volume, traded, status, reference, strategy, reason, ts, updated_at, raw, confidence,"
        " tool_call_id) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        " ON DUPLICATE KEY UPDATE"
        f" status = IF(status IN {FINAL} AND VALUES(status) NOT IN {FINAL}, status, VALUES(status)),"
        " traded = GREATEST(traded, VALUES(traded)),"
        " reason = IF(VALUES(reason) <> '', VALUES(reason), reason),"
        " strategy = COALESCE(strategy, VALUES(strategy)),"
        # Like the reference (vnpy states it on an order's first update only): a value stored stays;
        # a later update without it (NULL) never wipes it.
        " confidence = COALESCE(confidence, VALUES(confidence)),"
        " tool_call_id = COALESCE(tool_call_id, VALUES(tool_call_id)),"
        " updated_at = VALUES(updated_at), raw = VALUES(raw)",
        ("gateway", "orderid", "trading_day", "symbol", "exchange", "direction", "offset", "type", "price",
         "volume", "traded", "status", "reference", "strategy", "reason", "ts", "updated_at", "raw", "confidence",
         "tool_call_id"),
    ),
    "position": (
        "INSERT INTO positions (gateway, symbol, exchange, direction, volume, yd_volume, frozen, price, pnl,"
        " margin, trading_day, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        " ON DUPLICATE KEY UPDATE volume=VALUES(volume), yd_volume=VALUES(yd_volume), frozen=VALUES(frozen),"
        " price=VALUES(price), pnl=VALUES(pnl), margin=VALUES(margin), trading_day=VALUES(trading_day),"
        " updated_at=VALUES(updated_at)",
        ("gateway", "symbol", "exchange", "direction", "volume", "yd_volume", "frozen", "price", "pnl",
         "margin", "trading_day", "updated_at"),
    ),
    "account": (
        "INSERT INTO accounts (gateway, accountid, balance, available, frozen, margin, commission,"
        " realized_pnl, unrealized_pnl, trading_day, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
        " ON DUPLICATE KEY UPDATE balance=VALUES(balance), available=VALUES(available), frozen=VALUES(frozen),"
        " margin=VALUES(margin), commission=VALUES(commission), realized_pnl=VALUES(realized_pnl),"
        " unrealized_pnl=VALUES(unrealized_pnl), trading_day=VALUES(trading_day), updated_at=VALUES(updated_at)",
        ("gateway", "accountid", "balance", "available", "frozen", "margin", "commission", "realized_pnl",
         "unrealized_pnl", "trading_day", "updated_at"),
    ),
    "snapshot": (
        "INSERT INTO account_snapshots (uid, ts, reason, recorded_at, trading_day, gateway, accountid, balance,"
        " available, frozen, margin, commission, realized_pnl, unrealized_pnl)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)" + NOOP,
        ("uid", "ts", "reason", "recorded_at", "trading_day", "gateway", "accountid", "balance", "available",
         "frozen", "margin", "commission", "realized_pnl", "unrealized_pnl"),
    ),
    "trigger": (
        "INSERT INTO strategy_triggers (uid, ts, trading_day, strategy, vt_symbol, condition_, price,"
        " volume, action, result, vt_orderids, error) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)" + NOOP,
        ("uid", "ts", "trading_day", "strategy", "vt_symbol", "condition", "price", "volume", "action",
         "result", "vt_orderids", "error"),
    ),
    "trigger_result": (
        "UPDATE strategy_triggers SET result=%s, error=%s WHERE uid=%s",
        ("result", "error", "uid"),
    ),
    "system_event": (
        "INSERT INTO system_events (uid, ts, level, kind, message, detail) VALUES (%s,%s,%s,%s,%s,%s)" + NOOP,
        ("uid", "ts", "level", "event_kind", "message", "detail"),
    ),
    "audit": (
        "INSERT INTO command_audit (uid, command_id, type, params, source, operator, issued_at,"
        " received_at, status, reason, result, replied_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)" + NOOP,
        ("uid", "command_id", "type", "params", "source", "operator", "issued_at", "received_at", "status",
         "reason", "result", "replied_at"),
    ),
    "strategy_config": (
        "INSERT INTO strategy_configs (name, class_name, vt_symbol, setting, updated_at) VALUES (%s,%s,%s,%s,%s)"
        " ON DUPLICATE KEY UPDATE class_name=VALUES(class_name), vt_symbol=VALUES(vt_symbol),"
        " setting=VALUES(setting), updated_at=VALUES(updated_at)",
        ("name", "class_name", "vt_symbol", "setting", "updated_at"),
    ),
    "broker_reply": (
        "INSERT INTO broker_replies (uid, received_at, gateway, kind, key_, raw) VALUES (%s,%s,%s,%s,%s,%s)" + NOOP,
        ("uid", "received_at", "gateway", "reply_kind", "key", "raw"),
    ),
    "settlement_statement": (SETTLEMENT_STATEMENT, SETTLEMENT_STATEMENT_FIELDS),
    "risk_event": (
        "INSERT INTO risk_events (uid, ts, trading_day, type, severity, key_, symbol, message, detail)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)" + NOOP,
        ("uid", "ts", "trading_day", "type", "severity", "key", "symbol", "message", "detail"),
    ),
    "risk_cleared": (
        "UPDATE risk_events SET cleared_at=%s WHERE uid=%s AND cleared_at IS NULL",
        ("cleared_at", "uid"),
    ),
    "risk_ack": (
        "UPDATE risk_events SET acknowledged_by=%s, acknowledged_at=%s WHERE uid=%s AND acknowledged_at IS NULL",
        ("acknowledged_by", "acknowledged_at", "uid"),
    ),
    "execution_report": (
        "INSERT INTO execution_reports (uid, ts, trading_day, execution_id, source, vt_symbol, direction, offset_,"
        " step, vt_orderid, price, volume, traded, attempt, message) VALUES"
        " (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)" + NOOP,
        ("uid", "ts", "trading_day", "execution_id", "source", "vt_symbol", "direction", "offset", "step",
         "vt_orderid", "price", "volume", "traded", "attempt", "message"),
    ),
}
UPDATES = ("trigger_result", "risk_cleared", "risk_ack")
# The order kinds are written in within one batch (one transaction); "settlement", "contract" and
# "ledger" are written by code (closed_positions, contracts_table, pnl_ledger). Orders before the trades that
# fill them (a closing fill reads its order's reference), settlement prices before the closes they
# price, contracts (whose rates price trades recorded without commission) after the trades, the
# ledger after everything it sums, and updates after the inserts they update.
KIND_ORDER = ["settlement", "order", "trade",
              *[k for k in STATEMENTS if k not in ("order", "trade", *UPDATES)],
              "contract", "position_adopt", "external_close", "ledger", *UPDATES]


def check_statements() -> None:
    """Every parameter of a statement is a field of its kind's model, and every kind has its place in
    a batch; ValueError naming the first that is not."""
    for kind, (_, columns) in {**STATEMENTS, "contract": ("", CONTRACT_COLUMNS)}.items():
        model = MODELS.get(kind)
        if model is None:
            raise ValueError(f"statement for {kind!r}: no record model of that kind")
        missing = [c for c in columns if c not in model.model_fields]
        if missing:
            raise ValueError(f"statement for {kind!r}: {missing} not fields of {model.__name__}")
    if sorted(KIND_ORDER) != sorted(MODELS):
        raise ValueError(f"KIND_ORDER {sorted(KIND_ORDER)} does not list every record kind {sorted(MODELS)}")


check_statements()


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def row_of(record: dict[str, Any]) -> tuple[Any, ...]:
    """A statement's parameters from a record as the writer keeps it (a record's JSON-safe dump, every
    field present): KeyError, never a silent NULL, for a field it does not have."""
    _, columns = STATEMENTS[record["kind"]]
    return tuple(_cell(record[column]) for column in columns)
