"""The metrics endpoint: the SDK's own metrics and the business's, on one Prometheus endpoint of the
worker's runtime; the workflows' counters are not counted again when a history replays.

A real worker (the project's activities on PostgreSQL) on the tests' dev server, with a runtime
whose Prometheus endpoint is on a free port, as `hotline worker` makes it with HOTLINE_METRICS_PORT.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.worker import Replayer

from domain.models import NewOrder, Receive, Withdraw
from starter import connection, telemetry
from starter.client import ActionRefused, HotlineClient
from starter.codec import KeyRing
from starter.settings import Settings
from tests.support.ports import free_port
from tests.support.prometheus import Sample, names, scrape, total
from tests.support.workflows import HOTLINE, PLATFORM, new_order, running_worker, unit
from workers.codec_server import create_app
from workers.dev import TemporalDevServer
from workers.metrics import watch_outboxes
from workers.worker import WORKFLOWS

#: What the SDK's runtime shows of a worker that ran: task latencies, slots, the sticky cache, polls.
SDK_METRICS = {
    "temporal_workflow_task_execution_latency_count",
    "temporal_activity_execution_latency_count",
    "temporal_worker_task_slots_available",
    "temporal_worker_task_slots_used",
    "temporal_sticky_cache_size",
    "temporal_num_pollers",
    "temporal_workflow_task_queue_poll_succeed",
    "temporal_request",
}

BUSINESS = (
    "hotline_orders_started_total",
    "hotline_orders_closed_total",
    "hotline_actions_accepted_total",
    "hotline_actions_refused_total",
    "hotline_deadline_warnings_total",
    "hotline_escalations_total",
    "hotline_deadlines_missed_total",
)


def metrics_settings(dev_server: TemporalDevServer) -> Settings:
    return Settings.from_env({"HOTLINE_METRICS_PORT": str(free_port()), "HOTLINE_TEMPORAL_ADDRESS": dev_server.address})


async def eventually(url: str, ready: Any, seconds: float = 20) -> list[Sample]:
    """Scrape until ``ready(samples)`` holds (the runtime exports as it records, within a moment)."""
    samples: list[Sample] = []
    for _ in range(int(seconds * 10)):
        samples = await asyncio.to_thread(scrape, url)
        if ready(samples):
            return samples
        await asyncio.sleep(0.1)
    raise AssertionError(f"never ready; last scrape had {sorted(names(samples))}")


@pytest.mark.integration
async def test_one_endpoint_shows_the_sdks_and_the_business_metrics_and_replay_adds_nothing(
    dev_server: TemporalDevServer, keyring: KeyRing, pool: asyncpg.Pool, task_queue: str
) -> None:
    """An order transferred long ago (its receipt window warned and missed at once), refused twice (an
    update for want of standing, a signal in the wrong phase once received), withdrawn: every business
    counter moves by what happened, beside the SDK's metrics; replaying its history with the same
    runtime's meter counts nothing more."""
    settings = metrics_settings(dev_server)
    runtime = telemetry.runtime(settings)
    url = telemetry.metrics_url(settings)
    assert url is not None
    assert url.endswith("/metrics")
    client = await connection.connect(settings, keyring=keyring, runtime=runtime)
    hotline = HotlineClient(client, task_queue=task_queue)
    no = f"MET{uuid.uuid4().hex[:8].upper()}"
    async with running_worker(client, pool, task_queue):
        await hotline.start_order(NewOrder.model_validate(new_order(no)))
        with pytest.raises(ActionRefused) as refused:
            await hotline.act(no, "receive", Receive.model_validate({"actor": unit("dept-roads")}))
        assert refused.value.kind.value == "no_standing"
        await hotline.act(no, "receive", Receive.model_validate({"actor": PLATFORM}))
        await hotline.signal(no, "receive", Receive.model_validate({"actor": PLATFORM}))
        await hotline.act(no, "withdraw", Withdraw.model_validate({"actor": HOTLINE, "reason": "市民撤诉"}))
        await hotline.handle(no).result()
        mine = {"task_queue": task_queue, "workflow_type": "WorkOrder"}
        samples = await eventually(url, lambda s: total(s, "hotline_orders_closed_total", **mine) >= 1)

    assert names(samples) >= SDK_METRICS, sorted(SDK_METRICS - names(samples))
    assert total(samples, "hotline_orders_started_total", **mine) == 1
    assert total(samples, "hotline_orders_closed_total", outcome="withdrawn", **mine) == 1
    assert total(samples, "hotline_actions_accepted_total", action="receive", via="update", **mine) == 1
    assert total(samples, "hotline_actions_accepted_total", action="withdraw", via="update", **mine) == 1
    assert total(samples, "hotline_actions_refused_total", action="receive", kind="no_standing", **mine) == 1
    assert (
        total(samples, "hotline_actions_refused_total", action="receive", via="signal", kind="wrong_phase", **mine) == 1
    )
    assert total(samples, "hotline_deadline_warnings_total", deadline="receipt", **mine) == 1
    assert total(samples, "hotline_deadlines_missed_total", deadline="receipt", **mine) == 1
    assert total(samples, "hotline_escalations_total", deadline="receipt", **mine) == 1

    before = {name: total(samples, name, **mine) for name in BUSINESS}
    history = await hotline.handle(no).fetch_history()
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=connection.data_converter(keyring), runtime=runtime)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None
    await asyncio.sleep(0.5)
    after = await asyncio.to_thread(scrape, url)
    assert {name: total(after, name, **mine) for name in BUSINESS} == before


@pytest.mark.integration
async def test_the_outbox_gauges_read_the_database(dev_server: TemporalDevServer, pool: asyncpg.Pool) -> None:
    """Backlog and oldest pending message of each box, as `hotline outbox list --state pending` sees them."""
    settings = metrics_settings(dev_server)
    runtime = telemetry.runtime(settings)
    url = telemetry.metrics_url(settings)
    assert url is not None
    run_id = f"gauge-{uuid.uuid4().hex}"
    await pool.execute(
        """INSERT INTO hotline_outbox (run_id, seq, order_no, kind, body, payload, event_at, created_at)
           VALUES ($1, 0, 'GAUGE1', 'reply', 'x', '{}'::jsonb, now(), now() - interval '90 seconds')""",
        run_id,
    )
    stop = asyncio.Event()
    try:
        pending = await pool.fetchval("SELECT count(*) FROM hotline_outbox WHERE acked_at IS NULL")
        task = asyncio.create_task(watch_outboxes(pool, runtime.metric_meter, stop, interval=0.2))
        try:
            samples = await eventually(url, lambda s: total(s, "hotline_outbox_backlog", box="hotline") > 0)
        finally:
            stop.set()
            await task
    finally:  # other tests claim from this box: leave nothing of ours in it
        await pool.execute("DELETE FROM hotline_outbox WHERE run_id = $1", run_id)
    assert total(samples, "hotline_outbox_backlog", box="hotline") == pending
    assert total(samples, "hotline_outbox_oldest_pending_seconds", box="hotline") >= 90
    assert "hotline_outbox_backlog" in {s.name for s in samples if s.labels.get("box") == "notifications"}


async def test_the_codec_server_counts_its_requests(keyring: KeyRing) -> None:
    """Every request counted by operation and answer; the payloads it decoded counted too."""
    settings = Settings.from_env({"HOTLINE_METRICS_PORT": str(free_port())})
    runtime = telemetry.runtime(settings)
    url = telemetry.metrics_url(settings)
    assert url is not None
    app = create_app(keyring, ui_origin="http://localhost:8233", require_token=False, meter=runtime.metric_meter)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as http:
        ok = await http.post(
            "/encode", json={"payloads": [{"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "eA=="}]}
        )
        assert ok.status_code == 200
        bad = await http.post("/decode", content=b"not json")
        assert bad.status_code == 400
    samples = await eventually(url, lambda s: total(s, "hotline_codec_requests_total") >= 2)
    assert total(samples, "hotline_codec_requests_total", op="encode", status="200") == 1
    assert total(samples, "hotline_codec_requests_total", op="decode", status="400") == 1
    assert total(samples, "hotline_codec_payloads_total", op="encode") == 1


def test_a_taken_metrics_port_is_one_line_naming_the_setting() -> None:
    """The endpoint cannot listen: one line naming HOTLINE_METRICS_PORT."""
    port = free_port()
    first = Settings.from_env({"HOTLINE_METRICS_PORT": str(port)})
    telemetry.runtime(first)
    with contextlib.ExitStack():
        other_host = Settings.from_env({"HOTLINE_METRICS_PORT": str(port), "HOTLINE_METRICS_HOST": "0.0.0.0"})
        with pytest.raises(telemetry.TelemetryError) as err:
            telemetry.runtime(other_host)
    assert f"cannot listen on 0.0.0.0:{port}" in str(err.value)
    assert "set HOTLINE_METRICS_PORT" in str(err.value)
    assert "\n" not in str(err.value)
