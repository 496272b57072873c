"""The project's Temporal connection: which cluster (as the `temporal` CLI finds it), the pydantic data
converter with payload encryption, and one-line answers when the cluster cannot be used.

Which cluster. Temporal's environment configuration (`temporalio.envconfig`: ``TEMPORAL_ADDRESS``,
``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``, ``TEMPORAL_TLS``, ``TEMPORAL_TLS_SERVER_CA_CERT_PATH``,
``TEMPORAL_TLS_CLIENT_CERT_PATH``, ``TEMPORAL_TLS_CLIENT_KEY_PATH``, ``TEMPORAL_TLS_SERVER_NAME``,
``TEMPORAL_GRPC_META_*``, ``TEMPORAL_PROFILE`` and the profiles of ``temporal.toml``), so an operator
configures a cluster once for the CLI and for us; ``HOTLINE_TEMPORAL_ADDRESS`` and
``HOTLINE_NAMESPACE`` win where they are set. Nothing set: the embedded stack's ``127.0.0.1:7233``.

Every client and worker of the project is made here (or with `data_converter`), so nothing reaches
Temporal unencrypted; see `starter.codec` for what is and is not covered.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from starter import telemetry
from starter.codec import EncryptionCodec, KeyRing, load_keyring
from starter.errors import TemporalConfigError, TemporalConnectError
from starter.settings import SETTINGS_DOC, Settings

#: The address when neither HOTLINE_TEMPORAL_ADDRESS nor Temporal's configuration names one.
DEFAULT_ADDRESS: Final = SETTINGS_DOC["HOTLINE_TEMPORAL_ADDRESS"][0]

#: Each certificate of a profile's TLS: its field, its variables' stem, its key in temporal.toml.
_TLS_FILES: Final = (
    ("server_root_ca_cert", "TEMPORAL_TLS_SERVER_CA_CERT", "server_ca_cert", "CA certificate"),
    ("client_cert", "TEMPORAL_TLS_CLIENT_CERT", "client_cert", "client certificate"),
    ("client_private_key", "TEMPORAL_TLS_CLIENT_KEY", "client_key", "client key"),
)


def data_converter(keyring: KeyRing) -> DataConverter:
    """The pydantic data converter, its payloads encrypted with ``keyring``'s newest key."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keyring))


@dataclass(frozen=True)
class TemporalTarget:
    """The cluster a process connects to, and which setting said each part of it."""

    address: str
    namespace: str
    tls: bool | TLSConfig = False
    api_key: str | None = None
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)
    #: the setting each part came from: address, namespace, tls, api_key, and the certificates
    #: (server_ca_cert, client_cert, client_key, server_name)
    sources: Mapping[str, str] = field(default_factory=dict)

    def source(self, part: str) -> str:
        return self.sources.get(part, "the default")

    def describe(self) -> str:
        """One line for a log: where, and how (never a secret)."""
        how = "plaintext"
        if self.tls is not False:
            how = "TLS" + (" with a client certificate" if "client_cert" in self.sources else "")
        if self.api_key:
            how += " and an API key"
        return f"{self.address} ({self.source('address')}), namespace {self.namespace}, {how}"


def _config_file(env: Mapping[str, str]) -> str:
    if env.get("TEMPORAL_CONFIG_FILE"):
        return env["TEMPORAL_CONFIG_FILE"]
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return str(Path(base) / "temporalio" / "temporal.toml")


def resolve(settings: Settings) -> TemporalTarget:
    """Where and how to connect, from the settings and Temporal's environment configuration.

    Raises:
        TemporalConfigError: the configuration cannot be used (a profile that is not there, a
            certificate file that cannot be read, a file that is no PEM): one line naming the setting.
    """
    explicit = settings.explicit
    if settings.temporal_env is None:  # the dev stack's own server: plain, whatever the shell holds
        return TemporalTarget(
            address=settings.temporal_address,
            namespace=settings.namespace,
            sources={"address": "the dev stack", "namespace": "HOTLINE_NAMESPACE"},
        )
    env = dict(settings.temporal_env)
    profile_name = env.get("TEMPORAL_PROFILE") or "default"
    config_file = _config_file(env)
    in_profile = f"profile {profile_name!r} of {config_file}"
    if env.get("TEMPORAL_CONFIG_FILE") and not Path(config_file).is_file():
        raise TemporalConfigError(f"TEMPORAL_CONFIG_FILE={config_file}: no such file")
    try:
        profile = ClientConfigProfile.load(override_env_vars=env)
    except Exception as err:  # the core's ConfigError: a missing profile, bad TOML, both _PATH and _DATA
        raise TemporalConfigError(
            f"Temporal's configuration ({in_profile}, TEMPORAL_* variables): {str(err).splitlines()[0]}"
        ) from None

    def origin(variable: str) -> str:
        return variable if env.get(variable) else in_profile

    sources: dict[str, str] = {}
    if "HOTLINE_TEMPORAL_ADDRESS" in explicit or not profile.address:
        address = settings.temporal_address
        sources["address"] = "HOTLINE_TEMPORAL_ADDRESS" if "HOTLINE_TEMPORAL_ADDRESS" in explicit else "the default"
    else:
        address = profile.address
        sources["address"] = origin("TEMPORAL_ADDRESS")
    if "HOTLINE_NAMESPACE" in explicit or profile.namespace is None:
        namespace = settings.namespace
        sources["namespace"] = "HOTLINE_NAMESPACE"
    else:
        namespace = profile.namespace
        sources["namespace"] = origin("TEMPORAL_NAMESPACE")
    tls: bool | TLSConfig = False
    if profile.api_key is not None:
        sources["api_key"] = origin("TEMPORAL_API_KEY")
        tls = True  # an API key travels over TLS only (as the SDK's own configuration does it)
        sources["tls"] = sources["api_key"]
    if profile.tls is not None:
        tls = _tls_config(profile.tls, env, in_profile, sources)
        sources.setdefault("tls", origin("TEMPORAL_TLS"))
    return TemporalTarget(
        address=address,
        namespace=namespace,
        tls=tls,
        api_key=profile.api_key,
        rpc_metadata=dict(profile.grpc_meta),
        sources=sources,
    )


def _tls_config(
    tls: ClientConfigTLS, env: Mapping[str, str], in_profile: str, sources: dict[str, str]
) -> bool | TLSConfig:
    """The TLS settings with every certificate read now, so a bad file is named before connecting."""
    if tls.disabled is True:
        return False
    data: dict[str, bytes | None] = {}
    for attr, stem, key, what in _TLS_FILES:
        value = getattr(tls, attr)
        if value is None:
            data[attr] = None
            continue
        if isinstance(value, Path):
            setting = f"{stem}_PATH" if env.get(f"{stem}_PATH") else f"tls.{key}_path of {in_profile}"
            try:
                raw = value.read_bytes()
            except OSError as err:
                raise TemporalConfigError(f"{setting}={value}: cannot read the {what}: {err.strerror}") from None
            if b"-----BEGIN " not in raw:
                raise TemporalConfigError(f"{setting}={value}: not a PEM {what} (no -----BEGIN line)")
        else:
            setting = f"{stem}_DATA" if env.get(f"{stem}_DATA") else f"tls.{key}_data of {in_profile}"
            raw = value.encode() if isinstance(value, str) else value
            if b"-----BEGIN " not in raw:
                raise TemporalConfigError(f"{setting}: not a PEM {what} (no -----BEGIN line)")
        sources[key] = setting
        data[attr] = raw
    if (data["client_cert"] is None) != (data["client_private_key"] is None):
        given, missing = (
            ("client_cert", "TEMPORAL_TLS_CLIENT_KEY_PATH")
            if data["client_private_key"] is None
            else ("client_key", "TEMPORAL_TLS_CLIENT_CERT_PATH")
        )
        raise TemporalConfigError(f"{sources[given]} is set but {missing} is not: mutual TLS needs both")
    if tls.server_name:
        sources["server_name"] = "TEMPORAL_TLS_SERVER_NAME" if env.get("TEMPORAL_TLS_SERVER_NAME") else in_profile
    return TLSConfig(
        server_root_ca_cert=data["server_root_ca_cert"],
        domain=tls.server_name,
        client_cert=data["client_cert"],
        client_private_key=data["client_private_key"],
    )


def explain(target: TemporalTarget, err: BaseException) -> str:
    """One line for a failed connection: what went wrong, and the setting to look at."""
    text = str(err)
    where = f"Temporal at {target.address} ({target.source('address')})"
    tls_on = target.tls is not False
    if "NotValidForName" in text:
        expected = re.search(r'expected: \w+\("?([^")]+)"?\)', text)
        name = expected.group(1) if expected else "the address's host"
        hint = f" (from {target.source('server_name')})" if "server_name" in target.sources else ""
        return (
            f"the TLS handshake with {where} failed: its certificate is not valid for {name}{hint}; "
            "set TEMPORAL_TLS_SERVER_NAME to a name the certificate holds"
        )
    if "UnknownIssuer" in text or "InvalidCertificate" in text or "certificate verify failed" in text:
        if "server_ca_cert" in target.sources:
            trusted = f"the CA of {target.source('server_ca_cert')}"
            fix = "is it the cluster's CA?"
        else:
            trusted = "a CA this machine trusts"
            fix = "give the cluster's CA in TEMPORAL_TLS_SERVER_CA_CERT_PATH"
        return f"the TLS handshake with {where} failed: its certificate is not signed by {trusted}; {fix}"
    if tls_on and ("InvalidContentType" in text or "InvalidMessage" in text or "WRONG_VERSION" in text):
        return (
            f"{where} does not speak TLS, but TLS is on ({target.source('tls')}); "
            "unset it, or use the cluster's TLS port"
        )
    if "Unauthenticated" in text or "PermissionDenied" in text:
        detail = re.search(r'message: "([^"]*)"', text)
        said = f": {detail.group(1)}" if detail and detail.group(1) else ""
        if target.api_key:
            return f"{where} refused the API key ({target.source('api_key')}){said}"
        return f"{where} asks for credentials{said}; set TEMPORAL_API_KEY (or a client certificate for mutual TLS)"
    # with TLS 1.3 a refused client certificate reaches the client after its handshake, as the
    # connection ending in one of these ways
    ended = (
        "UnexpectedEof",
        "close_notify",
        "HandshakeFailure",
        "BrokenPipe",
        "broken pipe",
        "transport error",
        "connection closed",
        "Canceled",
        "Cancelled",
    )
    if tls_on and any(word in text for word in ended):
        if "client_cert" in target.sources:
            return (
                f"{where} ended the TLS handshake: it refused the client certificate "
                f"({target.source('client_cert')}); is it signed by the CA the cluster trusts?"
            )
        return (
            f"{where} ended the TLS handshake: it asks for a client certificate (mutual TLS); "
            "set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH"
        )
    if "ConnectionRefused" in text or "Connection refused" in text:
        return f"cannot reach {where}: connection refused; is it up (`make run`, or the cluster)?"
    if "lookup address" in text or "Name or service not known" in text or "dns error" in text:
        return f"cannot reach {where}: the host name does not resolve"
    if not tls_on and ("Cancelled" in text or "connection closed" in text or "transport error" in text):
        return (
            f"{where} closed the connection; does it want TLS? set TEMPORAL_TLS=true "
            "(and TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA)"
        )
    reason = re.sub(r"\s+", " ", text.removeprefix("Failed client connect: "))[:240]
    return f"cannot connect to {where}: {reason}"


async def connect(
    settings: Settings,
    *,
    keyring: KeyRing | None = None,
    runtime: Runtime | None = None,
    interceptors: Sequence[Any] = (),
) -> Client:
    """A client of ``settings``' Temporal with the project's data converter.

    Args:
        settings: The cluster (`resolve`).
        keyring: The keys; by default `load_keyring(settings)`.
        runtime: The SDK runtime (a process's metrics endpoint: `starter.telemetry.runtime`); by
            default the SDK's default runtime.
        interceptors: More interceptors, after the tracing ones of `starter.telemetry.interceptors`.

    Raises:
        KeyRingError: no usable keys (before anything is sent).
        TemporalConfigError: Temporal's configuration is wrong (a profile, a certificate file): one
            line naming the setting; nothing was sent.
        TemporalConnectError: Temporal refused the connection (the TLS handshake, the API key) or
            does not answer: one line naming the setting to look at.
    """
    ring = keyring if keyring is not None else load_keyring(settings)
    target = resolve(settings)
    try:
        return await Client.connect(
            target.address,
            namespace=target.namespace,
            api_key=target.api_key,
            tls=target.tls,
            rpc_metadata=target.rpc_metadata,
            data_converter=data_converter(ring),
            runtime=runtime,
            interceptors=[*telemetry.interceptors(), *interceptors],
        )
    except (RuntimeError, OSError) as err:
        raise TemporalConnectError(explain(target, err)) from None
