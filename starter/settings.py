"""Settings: environment variables with the `HOTLINE_` prefix, defaults that run the embedded stack."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from domain.contract import NAMESPACE, TASK_QUEUE, WORK_ORDER

#: Every setting, its default and what it does; the README's settings table is this table.
SETTINGS_DOC: dict[str, tuple[str, str]] = {
    "HOTLINE_TEMPORAL_ADDRESS": (
        "127.0.0.1:7233",
        "Temporal front end (host:port) for workers and the CLI",
    ),
    "HOTLINE_NAMESPACE": (NAMESPACE, "Temporal namespace"),
    "HOTLINE_TASK_QUEUE": (
        TASK_QUEUE,
        f"task queue of the {WORK_ORDER} workflows and their activities",
    ),
    "HOTLINE_DATABASE_URL": (
        "postgresql://postgres@127.0.0.1:5433/hotline",
        "PostgreSQL for projection, timeline, outboxes, archive, reference data",
    ),
    "HOTLINE_DATA_DIR": (
        ".data",
        "`hotline dev`: where embedded PostgreSQL and the Temporal SQLite file live",
    ),
    "HOTLINE_PG_PORT": ("5433", "`hotline dev`: port of the embedded PostgreSQL (127.0.0.1)"),
    "HOTLINE_TEMPORAL_PORT": ("7233", "`hotline dev`: gRPC port of the Temporal dev server"),
    "HOTLINE_UI_PORT": ("8233", "`hotline dev`: port of the Temporal Web UI"),
    "HOTLINE_CODEC_KEYS": (
        "",
        "payload encryption keys `id:base64(32 bytes)`, comma-separated, newest last (overrides the key file)",
    ),
    "HOTLINE_CODEC_KEY_FILE": (
        ".data/codec-keys.json",
        "JSON key ring file (default: in HOTLINE_DATA_DIR); `hotline dev` creates it on first start, "
        "`hotline codec rotate-key` adds a key",
    ),
    "HOTLINE_CODEC_PORT": ("8234", "port of the codec server the Web UI decrypts through"),
    "HOTLINE_CODEC_HOST": (
        "127.0.0.1",
        "address `hotline codec-server` binds; off loopback it demands operator tokens",
    ),
    "HOTLINE_GATEWAY_PORT": ("8235", "port of the handler gateway (`hotline gateway`)"),
    "HOTLINE_GATEWAY_HOST": ("127.0.0.1", "address the handler gateway binds"),
    "HOTLINE_LOG_FORMAT": (
        "auto",
        "`json`, `console`, or `auto` (console on a terminal, JSON otherwise)",
    ),
    "HOTLINE_LOG_LEVEL": ("info", "debug, info, warning, error"),
    "HOTLINE_MAX_CACHED_WORKFLOWS": (
        "500",
        "worker: order runs kept in memory, about 230 kB each; the others replay their history on their next "
        "task, about 40 ms (`docs/performance.md`, P2: 500 keeps a worker near 230 MB)",
    ),
    "HOTLINE_MAX_CONCURRENT_WORKFLOW_TASKS": (
        "100",
        "worker: workflow tasks a worker process runs at once (at least 2; the SDK's default, measured in P1)",
    ),
    "HOTLINE_MAX_CONCURRENT_ACTIVITIES": (
        "100",
        "worker: activities (database writes) a worker process runs at once (the SDK's default, measured in P1)",
    ),
    "HOTLINE_DB_POOL_SIZE": (
        "10",
        "worker: PostgreSQL connections a worker process keeps at most",
    ),
}


@dataclass(frozen=True)
class Settings:
    """The process's settings, read once from the environment."""

    temporal_address: str
    namespace: str
    task_queue: str
    database_url: str
    data_dir: Path
    pg_port: int
    temporal_port: int
    ui_port: int
    codec_keys: str
    codec_key_file: Path
    codec_port: int
    codec_host: str
    gateway_port: int
    gateway_host: str
    log_format: str
    log_level: str
    max_cached_workflows: int
    max_concurrent_workflow_tasks: int
    max_concurrent_activities: int
    db_pool_size: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read every `HOTLINE_*` setting, falling back to the embedded defaults."""
        src = dict(os.environ if env is None else env)

        def get(name: str) -> str:
            return src.get(name) or SETTINGS_DOC[name][0]

        values: dict[str, object] = {}
        for f in fields(cls):
            key = f"HOTLINE_{f.name.upper()}"
            raw = get(key)
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise SystemExit(f"{key}={raw!r} is not a whole number") from None
            elif f.type in ("Path", Path):
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """These settings as `HOTLINE_*` environment variables: what a child process needs to read
        the same settings with `from_env` (`hotline dev` hands them to its worker processes)."""
        return {f"HOTLINE_{f.name.upper()}": str(getattr(self, f.name)) for f in fields(self)}
