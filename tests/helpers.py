"""Test helpers: `eventually` instead of sleeps, and throwaway config builders."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, what: str = "") -> T:
    """Call `check` until it returns a truthy value without raising; return that value.

    An AssertionError, or a LookupError (`rows[0]` or `data["key"]` of a record not written yet), means
    "not yet"; the last one is reported if the time runs out. Anything else fails at once."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except (AssertionError, LookupError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            detail = f": {type(last_error).__name__}: {last_error}" if last_error else ""
            raise AssertionError(f"condition not met within {timeout}s {what}{detail}")
        time.sleep(interval)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
