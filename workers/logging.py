"""structlog, configured once per process: console on a terminal, JSON otherwise."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

#: Keys whose values are personal data wherever they appear in a log event (Article 8.2).
PERSONAL_KEYS = frozenset(
    {"name", "reporter", "reporter_name", "phone", "reporter_phone", "address", "description", "demands", "person"}
)

# Mainland mobile numbers (optionally +86) and landlines with an area code, standing alone: not
# digits inside an order number, a date or an id.
_PHONE = re.compile(r"(?<![A-Za-z0-9])(?:(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d){8}|0\d{2,3}-?\d{7,8})(?![A-Za-z0-9])")


def mask_text(text: str) -> str:
    """``text`` with every phone-like number masked (first 3 digits kept)."""
    return _PHONE.sub(lambda m: m.group(0)[:3] + "****", text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: ("***" if k in PERSONAL_KEYS else _mask(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask(v) for v in value)
    return value


def mask_personal_data(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: personal keys become `***`, phone numbers anywhere are masked.

    Our code never logs a reporter's name or phone on purpose; this is the net under that rule.
    """
    for key in list(event):
        event[key] = "***" if key in PERSONAL_KEYS else _mask(event[key])
    return event


class _MaskingFilter(logging.Filter):
    """The same net for the stdlib loggers (Temporal's, asyncpg's, uvicorn's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(str(record.msg))
        if record.args:
            record.args = (
                tuple(_mask(a) if isinstance(a, str) else a for a in record.args)
                if isinstance(record.args, tuple)
                else record.args
            )
        return True


def configure(*, fmt: str = "auto", level: str = "info") -> None:
    """Set up structlog (and the stdlib loggers Temporal uses) for this process."""
    lvl = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler = _Handler(sys.stderr)
    handler.addFilter(_MaskingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(max(lvl, logging.WARNING))


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure` installs (so a second call replaces it instead of adding one)."""
