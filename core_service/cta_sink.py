"""Where the CtaEngine's signals and strategy states go: MySQL (through the writer) and the pages.

`RecordingSink` implements `core_service.cta.CtaSink`: every strategy signal (trigger) and its
result, every strategy state (Redis hash + event; `strategy_configs` when its configuration changed), every strategy that raised.
All calls only enqueue (vnpy's event thread runs them).
"""

from __future__ import annotations

from common.contract import Keys, StrategyState, TriggerRecord
from core_service import serializers as ser
from core_service.mysql_writer import MysqlWriter
from core_service.recorder import Recorder
from core_service.records import StrategyConfigRecord, StrategyTriggerRecord, TriggerResultRecord
from core_service.redis_publisher import RedisPublisher


class RecordingSink:
    def __init__(self, recorder: Recorder, writer: MysqlWriter, publisher: RedisPublisher, keys: Keys) -> None:
        self.recorder = recorder
        self.writer = writer
        self.publisher = publisher
        self.keys = keys
        self._configs: dict[str, tuple[str, str, dict]] = {}  # the last configuration recorded per strategy

    def on_trigger(self, record: TriggerRecord) -> None:
        self.writer.put(StrategyTriggerRecord(
            uid=record.uid, ts=ser.ms_to_db(record.ts_ms), trading_day=ser.day_to_db(record.trading_day),
            strategy=record.strategy, vt_symbol=record.vt_symbol, condition=record.condition, price=record.price,
            volume=record.volume, action=record.action, result=record.result,
            vt_orderids=",".join(record.vt_orderids), error=record.error))
        self.recorder.publish_event("trigger", record.model_dump())

    def on_trigger_result(self, uid: str, result: str, error: str) -> None:
        self.writer.put(TriggerResultRecord(uid=uid, result=result, error=error))
        self.recorder.publish_event("trigger", {"uid": uid, "result": result, "error": error, "update": True})

    def on_strategy(self, state: StrategyState) -> None:
        self.publisher.hset_state(self.keys.strategies, state.name, state.to_json())
        self.recorder.publish_event("strategy", state.model_dump())
        config = (state.class_name, state.vt_symbol, state.parameters)
        if self._configs.get(state.name) == config:
            return  # variables moved, the configuration did not: no new row (this runs on every strategy event)
        self._configs[state.name] = config
        self.writer.put(StrategyConfigRecord(name=state.name, class_name=state.class_name, vt_symbol=state.vt_symbol,
                                             setting=state.parameters, updated_at=ser.ms_to_db(state.ts_ms)))

    def on_strategy_error(self, name: str, error: str) -> None:
        self.recorder.system_event("strategy_error", f"strategy {name} raised and was stopped: {error}",
                                   "ERROR", strategy=name)
