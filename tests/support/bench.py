"""Benchmarks' figures for `make bench`'s table: each benchmark test reports what it measured."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: Where `python -m bench` asks the benchmark tests to append their figures (one JSON line each).
REPORT_ENV = "HOTLINE_BENCH_REPORT"


def report(bench: str, **figures: Any) -> None:
    """Append ``figures`` of benchmark ``bench`` to the file `REPORT_ENV` names (nothing when unset)."""
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(json.dumps({"bench": bench, **figures}) + "\n")
