"""The project's Temporal connection: the pydantic data converter with payload encryption.

Every client and worker of the project is made here (or with `data_converter`), so nothing reaches
Temporal unencrypted; see `starter.codec` for what is and is not covered.
"""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from starter.codec import EncryptionCodec, KeyRing, load_keyring
from starter.settings import Settings


def data_converter(keyring: KeyRing) -> DataConverter:
    """The pydantic data converter, its payloads encrypted with ``keyring``'s newest key."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keyring))


async def connect(settings: Settings, *, keyring: KeyRing | None = None) -> Client:
    """A client of ``settings``' Temporal with the project's data converter.

    Args:
        settings: Address and namespace.
        keyring: The keys; by default `load_keyring(settings)`.

    Raises:
        KeyRingError: no usable keys (before anything is sent).
        RuntimeError: Temporal does not answer.
    """
    ring = keyring if keyring is not None else load_keyring(settings)
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        data_converter=data_converter(ring),
    )
