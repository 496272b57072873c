"""Settings: environment variables with the `HOTLINE_` prefix, defaults that run the embedded stack.

Which Temporal to use also follows Temporal's own environment configuration (``TEMPORAL_ADDRESS``,
``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``, ``TEMPORAL_TLS_*``, ``TEMPORAL_PROFILE`` and the
``temporal.toml`` profiles, as the `temporal` CLI reads them); the settings keep what the
environment held of it, and `starter.connection` resolves it, ``HOTLINE_TEMPORAL_ADDRESS`` and
``HOTLINE_NAMESPACE`` winning where they are set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from domain.contract import NAMESPACE, TASK_QUEUE, WORK_ORDER

#: The metrics port of `hotline dev` when HOTLINE_METRICS_PORT is empty.
DEV_METRICS_PORT = 8236
#: Set by `hotline dev` for its worker processes (not a user's setting): Temporal is the stack's
#: own server, reached plainly whatever `TEMPORAL_*` configuration the shell holds.
PLAIN_TEMPORAL = "HOTLINE_TEMPORAL_PLAIN"
#: What ``HOTLINE_VERSIONING_BEHAVIOR`` may say.
VERSIONING_BEHAVIORS = ("auto_upgrade", "pinned")

#: Every setting, its default and what it does; the README's settings table is this table.
SETTINGS_DOC: dict[str, tuple[str, str]] = {
    "HOTLINE_TEMPORAL_ADDRESS": (
        "127.0.0.1:7233",
        "Temporal front end (host:port) for workers and the CLI; set, it wins over `TEMPORAL_ADDRESS` and the "
        "`temporal.toml` profile (TLS and API key: `TEMPORAL_*`, docs/operations.md)",
    ),
    "HOTLINE_NAMESPACE": (NAMESPACE, "Temporal namespace; set, it wins over `TEMPORAL_NAMESPACE` and the profile"),
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
    "HOTLINE_METRICS_PORT": (
        "",
        "port of the Prometheus endpoint `/metrics` of the worker, gateway and codec server (the SDK's and the "
        f"business's metrics); empty: none (`hotline dev`: {DEV_METRICS_PORT} its own, each worker process one "
        "port above)",
    ),
    "HOTLINE_METRICS_HOST": ("127.0.0.1", "address the metrics endpoint binds (`0.0.0.0` in a container)"),
    "HOTLINE_OTLP_ENDPOINT": (
        "",
        "OpenTelemetry collector for traces (OTLP over HTTP, e.g. `http://otel-collector:4318`); empty: no tracing",
    ),
    "HOTLINE_DEPLOYMENT_NAME": ("hotline", "Worker Deployment the worker belongs to (with HOTLINE_BUILD_ID)"),
    "HOTLINE_BUILD_ID": (
        "",
        "this release's build id: set, the worker runs as Worker Deployment version "
        "`<HOTLINE_DEPLOYMENT_NAME>.<build id>`; empty: an unversioned worker",
    ),
    "HOTLINE_VERSIONING_BEHAVIOR": (
        "auto_upgrade",
        "versioned workers: `auto_upgrade` (running orders move to the current version) or `pinned`",
    ),
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
    metrics_port: int | None
    metrics_host: str
    otlp_endpoint: str
    deployment_name: str
    build_id: str
    versioning_behavior: str
    #: Temporal's environment configuration (the `TEMPORAL_*` variables) as read with the settings;
    #: None: none at all, not even a `temporal.toml` (the dev stack's own server).
    temporal_env: tuple[tuple[str, str], ...] | None = field(default=(), metadata={"env": False})
    #: The `HOTLINE_*` settings the environment set (the others hold their defaults).
    explicit: frozenset[str] = field(default=frozenset(), metadata={"env": False})

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read every `HOTLINE_*` setting, falling back to the embedded defaults."""
        src = dict(os.environ if env is None else env)

        def get(name: str) -> str:
            return src.get(name) or SETTINGS_DOC[name][0]

        values: dict[str, object] = {}
        for f in fields(cls):
            if not f.metadata.get("env", True):
                continue
            key = f"HOTLINE_{f.name.upper()}"
            raw = get(key)
            if f.type == "int | None":
                try:
                    values[f.name] = int(raw) if raw.strip() else None
                except ValueError:
                    raise SystemExit(f"{key}={raw!r} is not a port number") from None
            elif f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise SystemExit(f"{key}={raw!r} is not a whole number") from None
            elif f.type in ("Path", Path):
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw
        behavior = str(values["versioning_behavior"]).strip().lower()
        if behavior not in VERSIONING_BEHAVIORS:
            raise SystemExit(
                f"HOTLINE_VERSIONING_BEHAVIOR={behavior!r} is not a versioning behaviour; "
                f"allowed: {', '.join(VERSIONING_BEHAVIORS)}"
            )
        values["versioning_behavior"] = behavior
        values["temporal_env"] = (
            None
            if src.get(PLAIN_TEMPORAL) == "1"
            else tuple(sorted((k, v) for k, v in src.items() if k.startswith("TEMPORAL_")))
        )
        values["explicit"] = frozenset(k for k in SETTINGS_DOC if src.get(k))
        return cls(**values)  # type: ignore[arg-type]

    def plain_temporal(self, address: str) -> Settings:
        """These settings on a local server at ``address``: no TLS, no API key, no profile (`hotline dev`)."""
        return replace(
            self,
            temporal_address=address,
            temporal_env=None,
            explicit=self.explicit | {"HOTLINE_TEMPORAL_ADDRESS", "HOTLINE_NAMESPACE"},
        )

    def to_env(self) -> dict[str, str]:
        """These settings as `HOTLINE_*` environment variables: what a child process needs to read
        the same settings with `from_env` (`hotline dev` hands them to its worker processes).

        Settings on a local server (`plain_temporal`) say so with ``HOTLINE_TEMPORAL_PLAIN=1``: the
        child then ignores Temporal's environment configuration as this process does.
        """
        env: dict[str, str] = {}
        for f in fields(self):
            if not f.metadata.get("env", True):
                continue
            value = getattr(self, f.name)
            env[f"HOTLINE_{f.name.upper()}"] = "" if value is None else str(value)
        if self.temporal_env is None:
            env[PLAIN_TEMPORAL] = "1"
        return env
