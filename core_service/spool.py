"""A durable, append-only spool of records that could not be written to MySQL yet.

One JSON record per line, fsynced on every append, so a record accepted here survives a crash
or a restart of the core. Writes to MySQL are idempotent, so replaying the spool twice is safe.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._count = self._count_lines()

    def _count_lines(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())

    def __len__(self) -> int:
        return self._count

    def append(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        data = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            self._count += len(records)

    def read_all(self) -> list[dict[str, Any]]:
        """Every record, in order. A torn last line (crash mid-write) is skipped."""
        with self._lock:
            if not self.path.exists():
                return []
            records = []
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError:
                        continue
            return records

    def clear(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)
            self._count = 0
