"""HOTLINE_BUILD_ID makes the worker a Worker Deployment version; made current, it runs new orders,
with the behaviour HOTLINE_VERSIONING_BEHAVIOR names."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import asyncpg
import pytest
from temporalio.api.enums.v1 import VersioningBehavior
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client

from domain.calendar import SHANGHAI
from domain.models import NewOrder
from starter.client import HotlineClient
from starter.settings import Settings
from tests.support.workflows import new_order
from workers.worker import build_worker, deployment_config

pytestmark = pytest.mark.integration


def test_no_build_id_no_versioning() -> None:
    assert deployment_config(Settings.from_env({})) is None
    pinned = deployment_config(
        Settings.from_env({"HOTLINE_BUILD_ID": "2026.12.1", "HOTLINE_VERSIONING_BEHAVIOR": "pinned"})
    )
    assert pinned is not None
    assert pinned.version.to_canonical_string() == "hotline.2026.12.1"
    with pytest.raises(SystemExit, match=r"HOTLINE_DEPLOYMENT_NAME='a\.b' must be a non-empty name without '\.'"):
        deployment_config(Settings.from_env({"HOTLINE_BUILD_ID": "x", "HOTLINE_DEPLOYMENT_NAME": "a.b"}))
    with pytest.raises(SystemExit, match="HOTLINE_VERSIONING_BEHAVIOR='sticky' is not a versioning behaviour"):
        Settings.from_env({"HOTLINE_VERSIONING_BEHAVIOR": "sticky"})


async def test_a_versioned_worker_runs_orders_once_current(
    dev_client: Client, pool: asyncpg.Pool, task_queue: str
) -> None:
    name = f"hotline-{uuid.uuid4().hex[:6]}"
    settings = Settings.from_env({"HOTLINE_BUILD_ID": "b1", "HOTLINE_DEPLOYMENT_NAME": name})
    deployment = deployment_config(settings)
    assert deployment is not None
    service = dev_client.workflow_service
    async with build_worker(dev_client, pool, task_queue=task_queue, deployment=deployment):
        for _ in range(100):
            try:
                described = await service.describe_worker_deployment(
                    DescribeWorkerDeploymentRequest(namespace=dev_client.namespace, deployment_name=name)
                )
                if described.worker_deployment_info.version_summaries:
                    break
            except Exception:  # not there until the worker's first poll
                pass
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the worker's version never showed")
        assert [v.version for v in described.worker_deployment_info.version_summaries] == [f"{name}.b1"]
        await service.set_worker_deployment_current_version(
            SetWorkerDeploymentCurrentVersionRequest(
                namespace=dev_client.namespace,
                deployment_name=name,
                build_id="b1",
                conflict_token=described.conflict_token,
            )
        )
        hotline = HotlineClient(dev_client, task_queue=task_queue)
        no = f"VER{uuid.uuid4().hex[:8].upper()}"
        await hotline.start_order(
            NewOrder.model_validate(new_order(no, dispatched_at=datetime.now(SHANGHAI).isoformat()))
        )
        for _ in range(100):
            info = (await hotline.handle(no).describe()).raw_description.workflow_execution_info.versioning_info
            if info.deployment_version.build_id:
                break
            await asyncio.sleep(0.1)
        assert (info.deployment_version.deployment_name, info.deployment_version.build_id) == (name, "b1")
        assert info.behavior == VersioningBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE
        await hotline.handle(no).terminate("test over")
