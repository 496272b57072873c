"""A worker configured with Temporal's own variables alone (TEMPORAL_*), behind TLS, mutual TLS and an
API key, connects and runs orders; a bad certificate path, a refused handshake or a wrong API key stops
it with one line naming the setting.

The cluster is the tests' dev server behind a TLS front (`tests.support.grpc_front`) with a CA made
here (`tests.support.tls`): what a self-hosted cluster with TLS, or Temporal Cloud with an API key,
looks like to the worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from domain.models import NewOrder, Receive
from starter.client import HotlineClient
from starter.errors import TemporalConnectError
from starter.settings import Settings
from tests.support.grpc_front import GrpcFront, grpc_front
from tests.support.tls import Authority
from tests.support.workflows import PLATFORM, new_order
from workers.dev import TemporalDevServer

BIN = Path(sys.executable).parent / "hotline"
API_KEY = "hl-test-api-key-" + uuid.uuid4().hex

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def fronts(dev_server: TemporalDevServer, ca: Authority) -> Iterator[dict[str, GrpcFront]]:
    """The dev server behind TLS, behind mutual TLS, and behind TLS with an API key."""
    server = ca.issue("server", "localhost", server=True)
    with (
        grpc_front(dev_server.address, server=server) as tls,
        grpc_front(dev_server.address, server=server, client_ca=ca.ca_cert.read_bytes()) as mtls,
        grpc_front(dev_server.address, server=server, api_key=API_KEY) as keyed,
    ):
        yield {"tls": tls, "mtls": mtls, "api_key": keyed}


def temporal_env(kind: str, front: GrpcFront, ca: Authority) -> dict[str, str]:
    """The TEMPORAL_* variables an operator would set for this kind of cluster."""
    env = {"TEMPORAL_ADDRESS": front.address, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ca.ca_cert)}
    if kind == "mtls":
        client = ca.issue("worker", "hotline-worker", server=False)
        env |= {"TEMPORAL_TLS_CLIENT_CERT_PATH": str(client.cert), "TEMPORAL_TLS_CLIENT_KEY_PATH": str(client.key)}
    if kind == "api_key":
        env["TEMPORAL_API_KEY"] = API_KEY
    return env


def worker_env(temporal: dict[str, str], database_url: str, task_queue: str) -> dict[str, str]:
    """The process's environment: no HOTLINE_TEMPORAL_ADDRESS or HOTLINE_NAMESPACE, only TEMPORAL_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    for name in ("HOTLINE_TEMPORAL_ADDRESS", "HOTLINE_NAMESPACE", "HOTLINE_METRICS_PORT", "HOTLINE_OTLP_ENDPOINT"):
        env.pop(name, None)
    return (
        env
        | temporal
        | {
            "HOTLINE_DATABASE_URL": database_url,
            "HOTLINE_TASK_QUEUE": task_queue,
            "HOTLINE_LOG_FORMAT": "json",
            "GRPC_VERBOSITY": "NONE",
        }
    )


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen([str(BIN), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "worker.started" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the worker did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.mark.parametrize("kind", ["tls", "mtls", "api_key"])
async def test_a_worker_with_only_temporal_variables_runs_orders(
    kind: str,
    fronts: dict[str, GrpcFront],
    ca: Authority,
    dev_client: Client,
    pool: asyncpg.Pool,
    database_url: str,
    tmp_path: Path,
) -> None:
    """`hotline worker` with TEMPORAL_* alone polls through the front; an order starts, takes an action
    and is recorded in PostgreSQL by that worker."""
    front = fronts[kind]
    task_queue = f"tq-{kind}-{uuid.uuid4().hex[:8]}"
    env = worker_env(temporal_env(kind, front, ca), database_url, task_queue)
    log = tmp_path / "worker.log"
    proc = await asyncio.to_thread(start_worker, env, log)
    try:
        started = next(json.loads(line) for line in log.read_text().splitlines() if '"worker.started"' in line)
        assert started["temporal"].startswith(f"{front.address} (TEMPORAL_ADDRESS), namespace default, TLS")
        client = HotlineClient(dev_client, task_queue=task_queue)
        order_no = f"TLS{kind.upper().replace('_', '')}{uuid.uuid4().hex[:6].upper()}"
        await client.start_order(NewOrder.model_validate(new_order(order_no)))
        status = await client.act(order_no, "receive", Receive.model_validate({"actor": PLATFORM}))
        assert status.phase.value == "received"
        for _ in range(100):
            row = await pool.fetchrow("SELECT phase FROM orders WHERE order_no = $1", order_no)
            if row is not None and row["phase"] == "received":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the worker behind {kind} never recorded the order")
        assert "PollWorkflowTaskQueue" in front.calls
        assert "PollActivityTaskQueue" in front.calls
    finally:
        await asyncio.to_thread(stop, proc)


def _refusals(fronts: dict[str, GrpcFront], ca: Authority, tmp: Path) -> list[tuple[str, dict[str, str], int, str]]:
    other = Authority(tmp / "other", "another CA")
    stranger = other.issue("stranger", "stranger", server=False)
    tls, mtls, keyed = fronts["tls"].address, fronts["mtls"].address, fronts["api_key"].address
    ca_path = str(ca.ca_cert)
    return [
        (
            "a certificate path that is not there",
            {"TEMPORAL_ADDRESS": tls, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(tmp / "missing.pem")},
            2,
            f"TEMPORAL_TLS_SERVER_CA_CERT_PATH={tmp / 'missing.pem'}: cannot read the CA certificate",
        ),
        (
            "a server certificate of a CA it does not trust",
            {"TEMPORAL_ADDRESS": tls, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(other.ca_cert)},
            1,
            "its certificate is not signed by the CA of TEMPORAL_TLS_SERVER_CA_CERT_PATH",
        ),
        (
            "mutual TLS without a client certificate",
            {"TEMPORAL_ADDRESS": mtls, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": ca_path},
            1,
            "it asks for a client certificate (mutual TLS); set TEMPORAL_TLS_CLIENT_CERT_PATH",
        ),
        (
            "mutual TLS with a certificate of another CA",
            {
                "TEMPORAL_ADDRESS": mtls,
                "TEMPORAL_TLS_SERVER_CA_CERT_PATH": ca_path,
                "TEMPORAL_TLS_CLIENT_CERT_PATH": str(stranger.cert),
                "TEMPORAL_TLS_CLIENT_KEY_PATH": str(stranger.key),
            },
            1,
            "it refused the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH)",
        ),
        (
            "a wrong API key",
            {"TEMPORAL_ADDRESS": keyed, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": ca_path, "TEMPORAL_API_KEY": "wrong"},
            1,
            "refused the API key (TEMPORAL_API_KEY)",
        ),
    ]


async def test_what_stops_a_worker_is_one_line_naming_the_setting(
    fronts: dict[str, GrpcFront], ca: Authority, database_url: str, tmp_path: Path
) -> None:
    """Each fault: the worker exits at once (2: a setting is wrong; 1: the cluster refused), with one
    line on stderr naming the setting, and no traceback."""
    cases = _refusals(fronts, ca, tmp_path)

    def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        full = worker_env(env, database_url, "tq-refused")
        return subprocess.run([str(BIN), "worker"], env=full, capture_output=True, text=True, timeout=60)

    results = await asyncio.gather(*(asyncio.to_thread(run, env) for _, env, _, _ in cases))
    for (what, _, code, says), r in zip(cases, results, strict=True):
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert r.returncode == code, f"{what}: exit {r.returncode}\n{r.stderr}"
        assert "Traceback" not in r.stderr, f"{what}: {r.stderr}"
        assert len(lines) == 1, f"{what}: {r.stderr}"
        assert lines[0].startswith("hotline worker: "), f"{what}: {r.stderr}"
        assert says in lines[0], f"{what}: {lines[0]}"


async def test_the_client_library_says_the_same(fronts: dict[str, GrpcFront], ca: Authority) -> None:
    """`HotlineClient.connect` raises `TemporalConnectError` with the same line (the CLI prints it)."""
    env = {
        "TEMPORAL_ADDRESS": fronts["api_key"].address,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ca.ca_cert),
        "TEMPORAL_API_KEY": "wrong",
    }
    with pytest.raises(TemporalConnectError, match=r"refused the API key \(TEMPORAL_API_KEY\)"):
        await HotlineClient.connect(Settings.from_env({**os.environ, **env}))
