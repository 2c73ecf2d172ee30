"""What the config watcher treats as a change: a rollover (main contract + its last_update) is applied
live on its own; any other market_data edit is reported as needing a restart."""

from __future__ import annotations

from datetime import date

from common.config import load_config
from core_service.config_watcher import changed_sections


def _with_market_data(**update: object):
    config = load_config()
    return config.model_copy(update={"market_data": config.market_data.model_copy(update=update)})


def test_a_rollover_with_its_last_update_is_the_main_contract_change_only() -> None:
    old = load_config()
    new = _with_market_data(main_contract="au2912", last_update=date(2026, 12, 7))
    assert changed_sections(old, new) == ["market_data.main_contract"]


def test_another_market_data_edit_is_reported_beside_the_rollover() -> None:
    old = load_config()
    new = _with_market_data(main_contract="au2912", last_update=date(2026, 12, 7),
                            auto_subscribe=not old.market_data.auto_subscribe)
    assert changed_sections(old, new) == ["market_data.main_contract", "market_data"]
