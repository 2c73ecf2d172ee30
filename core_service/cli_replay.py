"""`python -m core_service.cli replay FILE --strategy CLASS`: check one strategy on a recorded tick file.

The file (a CTP-format tick CSV) runs at full speed through the real core (CoreApp: vnpy MainEngine +
CtaEngine + the simulated SHFE gateway + the recorders) into a throwaway MySQL database
`arbig_replay_<8 hex>` and Redis key prefix `arbig:replay:<8 hex>:`; the trades and the statistics
(the same report as the web's /api/performance) are printed, then the database is dropped and the
prefix's keys deleted, also on an error or Ctrl-C (`--keep` keeps both and says where they are).
The live records are never touched.

Every argument is checked before anything is created (exit 2). vnpy picks its folder when it is first
imported, so the runtime folder (a temporary directory) is prepared first and vnpy is imported only
after that: nothing here imports it at module level. Exit codes: 0 the replay finished, 1 it did not
(time limit, interrupted) or the core failed to start (the reason printed), 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import secrets as token
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from common.clock import LIVE, Clock
from common.config import PROJECT_ROOT, AppConfig, ConfigError, CoreConfig, Secrets, load_config, load_secrets
from common.db import Database, migrate
from common.db import connect as db_connect
from core_service import cli_replay_format as fmt
from core_service.cli_replay_format import ReplayFile, ReplayResult

DB_PREFIX = "arbig_replay_"
REDIS_PREFIX = "arbig:replay:{run_id}:"
DEFAULT_MAX_WAIT_S = 1800.0
PROGRESS_EVERY_S = 5.0
DRAIN_TIMEOUT_S = 60.0


class ReplayUsage(ValueError):
    """Bad arguments: exit 2, nothing created."""


class ReplayFailed(RuntimeError):
    """The replay did not finish or the core did not start: exit 1."""


def add_verb(sub: Any) -> None:
    replay = sub.add_parser(
        "replay", help="run a strategy on a recorded tick file (throwaway records; prints trades and statistics)"
    )
    replay.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON object (trades, report, final balance) instead of text")
    replay.add_argument("file", help="a CTP-format tick CSV (e.g. au2206_20220218_L1.csv)")
    replay.add_argument("--strategy", required=True, metavar="CLASS", help="strategy class, e.g. AuDualMaStrategy")
    replay.add_argument("--setting", default="{}", metavar="JSON", help='strategy parameters, e.g. \'{"fast_window": 5}\'')
    replay.add_argument("--capital", type=float, metavar="N", help="starting balance of the simulated account (CNY)")
    replay.add_argument("--keep", action="store_true", help="keep the database and the Redis keys; print where")
    replay.add_argument("--config", metavar="PATH", help="configuration file (default: ARBIG_CONFIG or config/arbig.json)")
    replay.add_argument("--max-wait", type=float, default=DEFAULT_MAX_WAIT_S, metavar="S",
                        help=f"give up when the replay has not finished after S seconds (default {DEFAULT_MAX_WAIT_S:g})")


def run(args: argparse.Namespace, clock: Clock = LIVE) -> int:
    """The `replay` sub-command; the exit code. `clock` times the run (wall time, not the replayed time)."""
    try:
        setting = parse_setting(args.setting)
        if args.capital is not None and not args.capital > 0:
            raise ReplayUsage(f"--capital must be more than 0, got {args.capital:g}")
        if not args.max_wait > 0:
            raise ReplayUsage(f"--max-wait must be more than 0 seconds, got {args.max_wait:g}")
        config = load_config(Path(args.config).resolve() if args.config else None)
        secrets = load_secrets()
    except (ReplayUsage, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = Path(args.file).expanduser().resolve()  # before prepare_runtime changes the directory
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="arbig-replay-") as tmp:
        try:
            return _run_in(Path(tmp), args, path, setting, config, secrets, clock)
        finally:
            os.chdir(cwd)


def parse_setting(text: str) -> dict[str, Any]:
    try:
        setting = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayUsage(f"--setting is not valid JSON: {exc.msg} (column {exc.colno}): {text!r}") from exc
    if not isinstance(setting, dict):
        raise ReplayUsage(f"--setting must be a JSON object like '{{\"window_ticks\": 10}}', got {text!r}")
    return setting


def _run_in(tmp: Path, args: argparse.Namespace, path: Path, setting: dict[str, Any], base: AppConfig,
            secrets: Secrets, clock: Clock) -> int:
    from core_service.runtime import prepare_runtime

    runtime = prepare_runtime(AppConfig(core=CoreConfig(runtime_dir=str(tmp / "runtime"))))  # before vnpy
    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout is for the result (vnpy prints notices)
            replay_file = inspect_file(path)
            effective = check_strategy(args.strategy, setting, f"{replay_file.contract}.SHFE")
    except ReplayUsage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run_id = token.token_hex(4)
    config = replay_config(base, run_id, runtime, replay_file, args.strategy, effective, args.capital)
    config_file = tmp / "arbig.json"
    config_file.write_text(config.model_dump_json(indent=2), encoding="utf-8")
    started = clock.monotonic()
    try:
        with _sigterm_as_interrupt(), contextlib.redirect_stdout(sys.stderr):
            result = execute(config, config_file, secrets, runtime, replay_file, args.strategy, args.keep,
                             args.max_wait, clock)
    except ReplayFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; the replay did not finish", file=sys.stderr)
        return 1
    result.run_id, result.wall_s = run_id, round(clock.monotonic() - started, 1)
    print(fmt.to_json(result) if args.json else fmt.to_text(result))
    return 0


# ---------------------------------------------------------------- checks (vnpy imported from here on)


def inspect_file(path: Path) -> ReplayFile:
    """The file's contract, first/last tick time and tick count; ReplayUsage if it is not a replay file."""
    from core_service.sim.contracts import is_gold_symbol
    from core_service.sim.replay import ReplayError, first_row, read_ticks

    if not path.is_file():
        raise ReplayUsage(f"replay file {path} does not exist or is not a file")
    try:
        contract, first = first_row(path)
        count, last = 0, first
        for _line, tick, _error in read_ticks(path, "SIM"):
            if tick is not None and tick.symbol == contract:
                count, last = count + 1, tick.datetime
    except ReplayError as exc:
        raise ReplayUsage(str(exc)) from exc
    except (UnicodeDecodeError, ValueError) as exc:  # a binary file, a broken CSV
        raise ReplayUsage(f"replay file {path} is not a CTP level-1 CSV: {exc}") from exc
    if not is_gold_symbol(contract):
        raise ReplayUsage(f"replay file {path}: instrument {contract!r} is not an au contract like 'au2206'")
    return ReplayFile(path, contract, first, last, count)


def strategy_classes() -> dict[str, type]:
    """The classes the core can run: vnpy's bundled examples and the project's strategies/ (as CtaEngine finds them)."""
    import vnpy_ctastrategy
    from vnpy_ctastrategy import CtaTemplate, TargetPosTemplate

    folders = ((Path(vnpy_ctastrategy.__file__).parent / "strategies", "vnpy_ctastrategy.strategies"),
               (PROJECT_ROOT / "strategies", "strategies"))
    classes: dict[str, type] = {}
    for folder, package in folders:
        for file in sorted(folder.glob("*.py")):
            try:
                module = importlib.import_module(f"{package}.{file.stem}")
            except Exception:  # noqa: BLE001 - the core skips a file that does not import, so do we
                continue
            for value in vars(module).values():
                if isinstance(value, type) and issubclass(value, CtaTemplate) and value not in {
                        CtaTemplate, TargetPosTemplate}:
                    classes[value.__name__] = value
    return classes


def check_strategy(class_name: str, setting: dict[str, Any], vt_symbol: str) -> dict[str, Any]:
    """The strategy's full parameters with `setting` applied; ReplayUsage for an unknown class or parameter."""
    classes = strategy_classes()
    cls = classes.get(class_name)
    if cls is None:
        raise ReplayUsage(f"unknown strategy class {class_name!r}; known: {', '.join(sorted(classes))}")
    known = list(getattr(cls, "parameters", []))
    unknown = sorted(set(setting) - set(known))
    if unknown:
        raise ReplayUsage(f"--setting: {class_name} has no parameter {', '.join(unknown)};"
                          f" its parameters: {', '.join(known) or '(none)'}")
    try:
        strategy = cls(None, class_name, vt_symbol, setting)  # the strategy's own checks of its values
    except Exception as exc:  # noqa: BLE001 - any refusal of the class is a bad setting
        raise ReplayUsage(f"--setting refused by {class_name}: {type(exc).__name__}: {exc}") from exc
    return dict(strategy.get_parameters())


def replay_config(base: AppConfig, run_id: str, runtime: Path, replay_file: ReplayFile, class_name: str,
                  setting: dict[str, Any], capital: float | None) -> AppConfig:
    """The configured servers with a throwaway database and prefix, the sim replaying the file, one strategy."""
    raw = base.model_dump(mode="json")
    raw["market_data"].update(main_contract=replay_file.contract, auto_subscribe=True)
    raw["mysql"]["database"] = f"{DB_PREFIX}{run_id}"
    raw["redis"]["key_prefix"] = REDIS_PREFIX.format(run_id=run_id)
    raw["core"]["runtime_dir"] = str(runtime)
    raw["gateway"]["name"] = "sim"
    raw["gateway"]["sim"].update(replay_file=str(replay_file.path), replay_speed=0, replay_loop=False,
                                 state_file="sim_state.json")
    if capital is not None:
        raw["gateway"]["sim"]["initial_balance"] = capital
    raw["strategies"] = [{"name": class_name, "class_name": class_name, "auto_init": True, "auto_start": True,
                          "setting": setting}]
    return AppConfig.model_validate(raw)


# ---------------------------------------------------------------- the run


def execute(config: AppConfig, config_file: Path, secrets: Secrets, runtime: Path, replay_file: ReplayFile,
            class_name: str, keep: bool, max_wait_s: float, clock: Clock = LIVE) -> ReplayResult:
    """Create the database, run the core on the replay, read the results; drop everything unless `keep`."""
    where = f"database {config.mysql.database}, Redis prefix {config.redis.key_prefix}"
    print(f"replay: {where}" + ("" if keep else " (removed afterwards)"), file=sys.stderr)
    created: list[str] = []  # what to remove afterwards
    try:
        _check_redis(config, secrets)
        created.append("redis")
        _create_database(config, secrets)
        created.append("mysql")
        with _running_core(config, config_file, secrets, runtime) as app:
            _wait_replay(app, replay_file, max_wait_s, clock)
            _check_strategy_ran(app, class_name)
            _drain(app, clock)
        result = read_result(config, secrets, replay_file, class_name)
    finally:
        if not keep:
            _cleanup(config, secrets, created)
    if keep:
        result.database, result.redis_prefix = config.mysql.database, config.redis.key_prefix
    return result


def _create_database(config: AppConfig, secrets: Secrets) -> None:
    try:
        migrate(config.mysql, secrets)
    except (pymysql.MySQLError, RuntimeError) as exc:
        with contextlib.suppress(pymysql.MySQLError):  # created but not migrated: remove it
            _drop_database(config, secrets)
        raise ReplayFailed(f"cannot create the replay database {config.mysql.database} on MySQL"
                           f" {config.mysql.host}:{config.mysql.port} (user {config.mysql.user}): {exc}") from exc


def _redis(config: AppConfig, secrets: Secrets) -> redis.Redis:
    return redis.Redis(host=config.redis.host, port=config.redis.port, db=config.redis.db,
                       password=secrets.redis_password.get_secret_value() or None, decode_responses=True,
                       socket_connect_timeout=3, socket_timeout=10, retry=Retry(NoBackoff(), 0))


def _check_redis(config: AppConfig, secrets: Secrets) -> None:
    client = _redis(config, secrets)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ReplayFailed(f"Redis {config.redis.host}:{config.redis.port} unavailable: {exc}") from exc
    finally:
        client.close()


@contextlib.contextmanager
def _running_core(config: AppConfig, config_file: Path, secrets: Secrets, runtime: Path) -> Iterator[Any]:
    from core_service.app import CoreApp  # imports vnpy: after prepare_runtime

    try:
        app = CoreApp(config, config_file, secrets, runtime)  # builds the whole core (and takes the lock)
    except Exception as exc:
        raise ReplayFailed(f"the core failed to start: {type(exc).__name__}: {exc}") from exc
    try:
        try:
            app.start()
        except Exception as exc:
            raise ReplayFailed(f"the core failed to start: {type(exc).__name__}: {exc}") from exc
        yield app
    finally:
        app.stop("asked to stop: the replay is over")


def _wait_replay(app: Any, replay_file: ReplayFile, max_wait_s: float, clock: Clock) -> None:
    """Until the gateway has sent the last tick; progress (the replayed time) on stderr."""
    gateway = app.main_engine.get_gateway("SIM")
    deadline = clock.monotonic() + max_wait_s
    next_report = clock.monotonic() + PROGRESS_EVERY_S
    while not gateway.replay_done.wait(0.2):
        if clock.monotonic() > deadline:
            raise ReplayFailed(f"the replay did not finish within {max_wait_s:g} s"
                               f" ({fmt.progress(replay_file, app.recorder.last_tick_ms)})")
        if clock.monotonic() >= next_report:
            next_report += PROGRESS_EVERY_S
            print(f"replay: {fmt.progress(replay_file, app.recorder.last_tick_ms)}", file=sys.stderr, flush=True)


def _check_strategy_ran(app: Any, class_name: str) -> None:
    if class_name not in app.cta.started_once:
        raise ReplayFailed(f"the strategy {class_name} was never started (see the core's errors:"
                           " rerun with --keep and read system_events)")


def _drain(app: Any, clock: Clock) -> None:
    """Every event of the replay handled by vnpy's event thread and written to MySQL and Redis."""
    app.runner.run(lambda: {}, DRAIN_TIMEOUT_S)  # the event queue is FIFO: all earlier events are handled
    deadline = clock.monotonic() + DRAIN_TIMEOUT_S
    while app.recorder.backlog or app.writer.backlog or app.publisher.backlog:
        if clock.monotonic() > deadline:
            raise ReplayFailed(f"the records were not written within {DRAIN_TIMEOUT_S:g} s")
        time.sleep(0.05)


def read_result(config: AppConfig, secrets: Secrets, replay_file: ReplayFile, class_name: str) -> ReplayResult:
    from common.performance.report import FillLedger, performance_report

    db = Database(config.mysql, secrets, max_connections=2)
    try:
        trades = db.query("SELECT ts, symbol, direction, offset_, price, volume, commission, strategy FROM trades"
                          " ORDER BY ts, id")
        snapshot = db.query("SELECT balance FROM account_snapshots ORDER BY ts DESC, id DESC LIMIT 1")
        errors = db.query("SELECT ts, kind, message FROM system_events WHERE level = 'ERROR' ORDER BY ts, id")
        report = performance_report(db, FillLedger(), "all")
    finally:
        db.close()
    strategy = config.strategies[0]
    return ReplayResult(
        file=replay_file, strategy=class_name, setting=dict(strategy.setting),
        capital=config.gateway.sim.initial_balance, trades=[fmt.trade_row(r) for r in trades], report=report,
        final_balance=float(snapshot[0]["balance"]) if snapshot else None,
        errors=[f"{r['kind']}: {r['message']}" for r in errors],
    )


def _drop_database(config: AppConfig, secrets: Secrets) -> None:
    name = config.mysql.database
    assert name.startswith(DB_PREFIX), name  # never anything but a replay's own database
    with db_connect(config.mysql, secrets, database=None) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _cleanup(config: AppConfig, secrets: Secrets, created: list[str]) -> None:
    """Drop the throwaway database and delete the prefix's keys (only ours: the prefix is this run's)."""
    if "mysql" in created:
        try:
            _drop_database(config, secrets)
        except pymysql.MySQLError as exc:
            print(f"warning: could not drop the replay database {config.mysql.database}: {exc}; drop it by hand",
                  file=sys.stderr)
    if "redis" in created:
        _delete_keys(config, secrets)


def _delete_keys(config: AppConfig, secrets: Secrets) -> None:
    prefix = config.redis.key_prefix
    assert prefix.startswith("arbig:replay:"), prefix
    client = _redis(config, secrets)
    try:
        found = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(found), 500):
            client.delete(*found[start:start + 500])
    except redis.RedisError as exc:
        print(f"warning: could not delete the Redis keys {prefix}*: {exc}", file=sys.stderr)
    finally:
        client.close()


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM cleans up like Ctrl-C does."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
