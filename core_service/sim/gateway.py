"""SimGateway: a vnpy gateway that behaves like a CTP connection to SHFE, without a broker.

connect(setting) keys: main_contract, tick_interval_ms, replay_file, replay_speed (0 = no waiting),
replay_loop, initial_balance, margin_rate, commission_per_lot, close_today_commission_per_lot,
limit_rate, base_price, seed, state_file (absolute), lockstep (default: on in replay mode),
hold_replay (replay waits for `release_replay()`), sessions ("always": the 24 h demo; "shfe": orders
outside the exchange's sessions are rejected with the reason and the random walk is quiet then, by
the sim clock: the replayed time in replay mode, else the wall clock).

At connect, like CTP after login: every contract, then today's orders and trades from the state
file, then positions and the account. Ticks start on subscribe: a random walk per subscribed symbol
(24/7 unless sessions = shfe), or, in replay mode, the replay file's instrument. Extras beyond BaseGateway:
`unsubscribe(symbol)`, `get_contract_symbols()`, `inject_tick(tick)`, `market_now()` and
`session_mode()` (the sim clock and the session rule, for the heartbeat), the attributes `replay_done`
(threading.Event), `status_tracker` and `clock` (both set by the core before connect: `clock` is the
core's Clock; a `SimClock` given there is driven by the replay, so the core that shares it stamps the
replayed time); the order/trade query `query_orders_trades(on_reply)` (as CTP's
ReqQryOrder/ReqQryTrade, answered on a thread of its own);
the drills `drill_lose_pushes(count)` and `drill_external_close(symbol, direction, volume)` (`drills`).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from vnpy.event import EventEngine
from vnpy.trader.constant import Direction, Exchange
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import CancelRequest, OrderData, OrderRequest, SubscribeRequest, TickData, TradeData

from common.clock import LIVE, Clock
from common.contract import GatewayState
from common.trading_calendar import trading_day_str
from common.trading_sessions import SessionMode, session_state
from core_service.gateway_status import GatewayStatusTracker

from .clock import SimClock
from .contracts import contract_symbols, default_main, is_gold_symbol, make_contract
from .drills import external_close
from .exchange import SimExchange
from .feeds import RandomFeed, ReplayFeed
from .ledger import Fees, Ledger
from .lockstep import Lockstep
from .market import RandomWalk, symbol_base_price
from .replay import ReplayError, first_row
from .settings import SettingError, SimSettings, parse_settings
from .state_store import StateError, StateStore

JOIN_TIMEOUT_S = 0.9

OrderTradeReply = Callable[[list[OrderData], list[TradeData], str], None]


class SimGateway(BaseGateway):
    default_name: str = "SIM"
    default_setting: dict[str, str | int | float | bool] = {
        "main_contract": "", "tick_interval_ms": 500, "replay_file": "", "replay_speed": 1.0,
        "replay_loop": False, "initial_balance": 1_000_000.0, "margin_rate": 0.10, "commission_per_lot": 10.0,
        "close_today_commission_per_lot": 0.0, "limit_rate": 0.06, "base_price": 600.0, "seed": "",
        "state_file": "", "sessions": "always",
    }
    exchanges: list[Exchange] = [Exchange.SHFE]

    def __init__(self, event_engine: EventEngine, gateway_name: str) -> None:
        super().__init__(event_engine, gateway_name)
        self.status_tracker: GatewayStatusTracker | None = None
        self.clock: Clock = LIVE  # the core's clock; the sim's own SimClock falls back to it
        self.replay_done = threading.Event()
        self.replay_released = threading.Event()  # closed only when connect(hold_replay=True)
        self.settings: SimSettings | None = None
        self.exchange: SimExchange | None = None
        self.replay_symbol = ""
        self._symbols: list[str] = []
        self._walks: dict[str, RandomWalk] = {}
        self._subscribed: set[str] = set()
        self._sub_lock = threading.Lock()
        self._stop = threading.Event()
        self._feed: threading.Thread | None = None
        self._lockstep: Lockstep | None = None
        self._emitted = 0
        self._emit_lock = threading.Lock()
        self._closed = False
        self._querying = threading.Lock()  # held while an order/trade query is being answered

    # ------------------------------------------------------------ plumbing

    def on_event(self, type: str, data: object = None) -> None:  # noqa: A002 - vnpy's signature
        with self._emit_lock:
            self._emitted += 1
        super().on_event(type, data)

    def _emitted_count(self) -> int:
        with self._emit_lock:
            return self._emitted

    def _set_status(self, state: GatewayState, reason: str = "") -> None:
        if self.status_tracker is None:
            return
        try:
            self.status_tracker.set(state, reason)
        except Exception:
            self.write_log(f"status tracker failed: {traceback.format_exc(limit=3)}")

    def get_contract_symbols(self) -> list[str]:
        return list(self._symbols)

    # ------------------------------------------------------------ connect / close

    def connect(self, setting: dict) -> None:
        if self.exchange is not None:
            self.write_log("sim gateway is already connected; connect ignored")
            return
        self._set_status(GatewayState.CONNECTING)
        try:
            self._connect(parse_settings(setting))
        except (SettingError, ReplayError, StateError) as exc:
            self.write_log(f"sim gateway cannot start: {exc}")
            self._set_status(GatewayState.LOGIN_FAILED, str(exc))
            return
        except Exception as exc:
            self.write_log(f"sim gateway cannot start: {traceback.format_exc(limit=5)}")
            self._set_status(GatewayState.LOGIN_FAILED, f"{type(exc).__name__}: {exc}")
            return
        self._set_status(GatewayState.LOGGED_IN)

    def _connect(self, settings: SimSettings) -> None:
        start: datetime | None = None
        if settings.replay:
            self.replay_symbol, start = first_row(Path(settings.replay_file))
            if not is_gold_symbol(self.replay_symbol):
                raise ReplayError(f"replay file instrument {self.replay_symbol!r} is not an au contract")
        clock = self._sim_clock(settings.replay, start)
        now = clock.now()
        store = StateStore(Path(settings.state_file))
        data = store.load() or {}
        ledger = self._load_ledger(settings, data, now)
        main = settings.main_contract or default_main(now.date())
        held = ledger.symbols()  # keep listing what is held, so it can be closed
        symbols = contract_symbols(now.date(), main, [self.replay_symbol, *held] if self.replay_symbol else held)
        exchange = SimExchange(self, ledger, symbols, clock, store, self._market_state, settings.sessions)
        exchange.load(data)
        self._walks = self._build_walks(settings, symbols, main, data.get("market", {}))
        self.settings, self._symbols, self.exchange = settings, symbols, exchange
        for symbol in symbols:
            self.on_contract(make_contract(symbol, self.gateway_name))
        exchange.start_day(now)
        exchange.publish_all()
        exchange.save()
        self._start_threads(settings)
        mode = f"replay of {settings.replay_file} ({self.replay_symbol})" if settings.replay else "random walk"
        self.write_log(f"sim gateway connected: {mode}, sessions {settings.sessions}, main {main}, "
                       f"{len(symbols)} contracts, trading day {ledger.trading_day}, state {settings.state_file}")

    def _sim_clock(self, replay: bool, start: datetime | None) -> SimClock:
        """The core's clock when it is a SimClock (the replay then drives it), else one over it."""
        clock = self.clock if isinstance(self.clock, SimClock) else SimClock(replay, base=self.clock)
        clock.follow_ticks = replay
        if start is not None:
            clock.advance(start)
        return clock

    @staticmethod
    def _load_ledger(settings: SimSettings, data: dict[str, Any], now: datetime) -> Ledger:
        fees = Fees(settings.margin_rate, settings.commission_per_lot, settings.close_today_commission_per_lot)
        if data:
            return Ledger.from_dict(fees, data["ledger"])
        return Ledger(fees=fees, pre_balance=settings.initial_balance, trading_day=trading_day_str(now))

    def _build_walks(self, settings: SimSettings, symbols: list[str], main: str,
                     saved: dict[str, Any]) -> dict[str, RandomWalk]:
        walks: dict[str, RandomWalk] = {}
        if settings.replay:
            return walks
        for symbol in symbols:
            state = RandomWalk.state_from_dict(saved[symbol]) if symbol in saved else None
            pre_settlement = symbol_base_price(symbol, main, settings.base_price)
            walks[symbol] = RandomWalk(symbol, pre_settlement, settings.limit_rate, settings.seed,
                                       self.gateway_name, state)
        return walks

    def _market_state(self) -> dict[str, Any]:
        return {symbol: walk.to_dict() for symbol, walk in self._walks.items()}

    def _start_threads(self, settings: SimSettings) -> None:
        if settings.lockstep:
            self._lockstep = Lockstep(self.event_engine, f"eSimLockstep.{self.gateway_name}",
                                      self._emitted_count, self._stop, self.write_log, clock=self.clock)
            self._lockstep.start()
        if not settings.hold_replay:
            self.replay_released.set()
        if settings.replay:
            self._feed = ReplayFeed(Path(settings.replay_file), self.replay_symbol, settings.replay_speed,
                                    settings.replay_loop, self.gateway_name, self._is_subscribed,
                                    self._deliver, self._stop, self.replay_done, self.write_log)
        else:
            assert self.exchange is not None
            trading = None if settings.sessions == "always" else self._in_session
            self._feed = RandomFeed(self._walks, self._subscribed_list, settings.tick_interval_ms / 1000,
                                    self._deliver, self.exchange.check_roll, self._stop, self.write_log,
                                    trading, self.exchange.clock.now)
        self._feed.start()

    def _in_session(self, now: datetime) -> bool:
        return session_state(now, self.session_mode()).state == "open"

    def market_now(self) -> datetime | None:
        """The sim's market clock (the replayed time in replay mode, else the wall clock); None before connect."""
        return self.exchange.clock.now() if self.exchange is not None else None

    def session_mode(self) -> SessionMode:
        """The session rule the simulated exchange applies ("always" before connect)."""
        return self.settings.sessions if self.settings is not None else "always"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._feed is not None and self._feed is not threading.current_thread():
            self._feed.join(JOIN_TIMEOUT_S)
        if self._lockstep is not None:
            self._lockstep.close()
        if self.exchange is not None:
            self.exchange.save()
        self._set_status(GatewayState.STOPPED)

    # ------------------------------------------------------------ market data

    def release_replay(self) -> None:
        """Let a replay held by `hold_replay` begin (after the strategies that trade it are running)."""
        self.replay_released.set()

    def _is_subscribed(self, symbol: str) -> bool:
        if not self.replay_released.is_set() and symbol == self.replay_symbol:
            return False
        with self._sub_lock:
            return symbol in self._subscribed

    def _subscribed_list(self) -> list[str]:
        with self._sub_lock:
            return sorted(self._subscribed)

    def subscribe(self, req: SubscribeRequest) -> None:
        if self.exchange is None:
            self.write_log(f"subscribe ignored: sim gateway not connected yet ({req.vt_symbol})")
            return
        if req.symbol not in self._symbols or req.exchange != Exchange.SHFE:
            self.write_log(f"subscribe ignored: unknown contract {req.vt_symbol}")
            return
        if self.replay_symbol and req.symbol != self.replay_symbol:
            self.write_log(f"replay mode: only {self.replay_symbol} has ticks; {req.symbol} gets none")
            return
        with self._sub_lock:
            self._subscribed.add(req.symbol)

    def unsubscribe(self, symbol: str) -> None:
        with self._sub_lock:
            self._subscribed.discard(symbol)
        self.write_log(f"unsubscribed {symbol}")

    def inject_tick(self, tick: TickData) -> None:
        """Feed an outside tick through the same path as the sim's own (tools and tests)."""
        self._deliver(tick)

    def _deliver(self, tick: TickData) -> None:
        exchange = self.exchange
        if exchange is None or self._stop.is_set():
            return
        try:
            exchange.on_tick(tick)
        except Exception:
            self.write_log(f"sim tick handling error (continuing): {traceback.format_exc(limit=5)}")
        if self._lockstep is not None:
            self._lockstep.sync()

    # ------------------------------------------------------------ trading

    def send_order(self, req: OrderRequest) -> str:
        if self.exchange is None or self._closed:
            self.write_log(f"order refused: sim gateway is not connected ({req.vt_symbol})")
            return ""
        return self.exchange.send_order(req)

    def cancel_order(self, req: CancelRequest) -> None:
        if self.exchange is None or self._closed:
            self.write_log(f"cancel refused: sim gateway is not connected ({req.orderid})")
            return
        self.exchange.cancel_order(req.orderid)

    def query_account(self) -> None:
        if self.exchange is not None:
            with self.exchange.lock:
                self.exchange.emit_account()

    def query_position(self) -> None:
        if self.exchange is not None:
            with self.exchange.lock:
                for symbol in self.exchange.ledger.symbols():
                    self.exchange.emit_positions(symbol)

    # ------------------------------------------------------------ order/trade query and drills

    def query_orders_trades(self, on_reply: OrderTradeReply) -> bool:
        """Ask for today's orders and trades; `on_reply(orders, trades, error)` is called once, on a
        thread of its own. False when not connected or a query is already being answered."""
        exchange = self.exchange
        if exchange is None or self._closed or not self._querying.acquire(blocking=False):
            return False
        thread = threading.Thread(target=self._answer_query, args=(exchange, on_reply), daemon=True)
        thread.name = f"sim-query-{self.gateway_name}"
        try:
            thread.start()
        except RuntimeError:
            self._querying.release()
            raise
        return True

    def _answer_query(self, exchange: SimExchange, on_reply: OrderTradeReply) -> None:
        try:
            orders, trades = exchange.orders_and_trades()
            error = ""
        except Exception as exc:
            orders, trades, error = [], [], f"sim order/trade query failed: {type(exc).__name__}: {exc}"
            self.write_log(f"{error}\n{traceback.format_exc(limit=5)}")
        finally:
            self._querying.release()
        try:
            on_reply(orders, trades, error)
        except Exception:
            self.write_log(f"order/trade query reply handler failed: {traceback.format_exc(limit=5)}")

    def drill_lose_pushes(self, count: int) -> None:
        """Drill: the next `count` fills are not pushed (neither the trade nor the order update after
        it); the exchange keeps them, so `query_orders_trades` shows them."""
        if self.exchange is None:
            raise ValueError("drill lose-pushes: the sim gateway is not connected")
        self.exchange.lost.arm(count)
        self.write_log(f"DRILL: the next {count} fill pushes will be lost (kept by the exchange)")

    def drill_external_close(self, symbol: str, direction: Direction, volume: int) -> dict[str, Any]:
        """Drill: the exchange closes `volume` lots of a position behind the core's back (a forced
        liquidation, another terminal): no order or trade, only the new position and account pushed.
        Raises ValueError when it cannot (too few closable lots, no price yet)."""
        if self.exchange is None:
            raise ValueError("drill external-close: the sim gateway is not connected")
        return external_close(self.exchange, symbol, direction, volume)
