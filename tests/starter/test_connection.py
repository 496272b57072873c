"""Which Temporal a process connects to: Temporal's own configuration, the HOTLINE_* settings that win,
and one line naming the setting when the configuration cannot be used. No server needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from starter.connection import explain, resolve
from starter.errors import TemporalConfigError
from starter.settings import Settings
from tests.support.tls import Authority


def settings(**env: str) -> Settings:
    return Settings.from_env(env)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("ca"))


class TestWhere:
    def test_nothing_set_is_the_embedded_stack(self) -> None:
        target = resolve(settings())
        assert (target.address, target.namespace, target.tls, target.api_key) == (
            "127.0.0.1:7233",
            "default",
            False,
            None,
        )

    def test_temporal_variables(self) -> None:
        target = resolve(settings(TEMPORAL_ADDRESS="temporal.example:7233", TEMPORAL_NAMESPACE="tianjin"))
        assert (target.address, target.namespace) == ("temporal.example:7233", "tianjin")
        assert target.source("address") == "TEMPORAL_ADDRESS"

    def test_hotline_settings_win_where_set(self) -> None:
        both = settings(
            TEMPORAL_ADDRESS="temporal.example:7233",
            TEMPORAL_NAMESPACE="tianjin",
            HOTLINE_TEMPORAL_ADDRESS="10.0.0.5:7233",
        )
        target = resolve(both)
        assert (target.address, target.namespace) == ("10.0.0.5:7233", "tianjin")
        assert target.source("address") == "HOTLINE_TEMPORAL_ADDRESS"
        target = resolve(settings(TEMPORAL_NAMESPACE="tianjin", HOTLINE_NAMESPACE="hotline"))
        assert target.namespace == "hotline"

    def test_a_profile_of_temporal_toml(self, tmp_path: Path, ca: Authority) -> None:
        """TEMPORAL_PROFILE picks a profile of the file TEMPORAL_CONFIG_FILE names, TLS and metadata included."""
        toml = tmp_path / "temporal.toml"
        toml.write_text(
            f"""
[profile.default]
address = "127.0.0.1:7233"

[profile.prod]
address = "temporal.prod:7233"
namespace = "hotline-prod"
[profile.prod.tls]
server_ca_cert_path = "{ca.ca_cert}"
server_name = "temporal.prod"
[profile.prod.grpc_meta]
x-tenant = "tianjin"
""",
            encoding="utf-8",
        )
        target = resolve(settings(TEMPORAL_CONFIG_FILE=str(toml), TEMPORAL_PROFILE="prod"))
        assert (target.address, target.namespace) == ("temporal.prod:7233", "hotline-prod")
        assert isinstance(target.tls, TLSConfig)
        assert target.tls.server_root_ca_cert == ca.ca_cert.read_bytes()
        assert target.tls.domain == "temporal.prod"
        assert target.rpc_metadata == {"x-tenant": "tianjin"}
        assert "profile 'prod'" in target.source("address")

    def test_an_api_key_means_tls(self) -> None:
        target = resolve(settings(TEMPORAL_ADDRESS="ns.acct.tmprl.cloud:7233", TEMPORAL_API_KEY="k"))
        assert target.api_key == "k"
        assert target.tls is True
        assert "API key" in target.describe()
        assert "k" not in target.describe().replace("key", "")

    def test_mutual_tls_reads_every_file(self, ca: Authority) -> None:
        client = ca.issue("worker", "worker", server=False)
        target = resolve(
            settings(
                TEMPORAL_ADDRESS="127.0.0.1:7233",
                TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(ca.ca_cert),
                TEMPORAL_TLS_CLIENT_CERT_PATH=str(client.cert),
                TEMPORAL_TLS_CLIENT_KEY_PATH=str(client.key),
            )
        )
        assert isinstance(target.tls, TLSConfig)
        assert target.tls.client_cert == client.cert_pem
        assert target.tls.client_private_key == client.key_pem
        assert "with a client certificate" in target.describe()

    def test_the_dev_stack_ignores_the_shells_cluster(self) -> None:
        """`hotline dev`'s worker talks to its own server plainly, whatever TEMPORAL_* says."""
        shell = settings(TEMPORAL_ADDRESS="ns.acct.tmprl.cloud:7233", TEMPORAL_API_KEY="k", TEMPORAL_TLS="true")
        target = resolve(shell.plain_temporal("127.0.0.1:17233"))
        assert (target.address, target.tls, target.api_key) == ("127.0.0.1:17233", False, None)


class TestOneLine:
    @pytest.mark.parametrize(
        ("variable", "what"),
        [
            ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "CA certificate"),
            ("TEMPORAL_TLS_CLIENT_CERT_PATH", "client certificate"),
        ],
    )
    def test_a_bad_certificate_path_names_its_variable(self, tmp_path: Path, variable: str, what: str) -> None:
        missing = tmp_path / "nope.pem"
        with pytest.raises(TemporalConfigError) as err:
            resolve(settings(**{variable: str(missing)}, TEMPORAL_TLS_CLIENT_KEY_PATH=str(missing)))
        assert str(err.value).startswith(f"{variable}={missing}: cannot read the {what}")
        assert "\n" not in str(err.value)

    def test_a_file_that_is_no_certificate(self, tmp_path: Path) -> None:
        junk = tmp_path / "ca.pem"
        junk.write_text("not a certificate", encoding="utf-8")
        with pytest.raises(
            TemporalConfigError, match=r"^TEMPORAL_TLS_SERVER_CA_CERT_PATH=.*: not a PEM CA certificate"
        ):
            resolve(settings(TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(junk)))

    def test_a_client_certificate_without_its_key(self, ca: Authority) -> None:
        client = ca.issue("lonely", "lonely", server=False)
        with pytest.raises(TemporalConfigError, match="TEMPORAL_TLS_CLIENT_KEY_PATH is not: mutual TLS needs both"):
            resolve(settings(TEMPORAL_TLS_CLIENT_CERT_PATH=str(client.cert)))

    def test_a_missing_profile_or_file(self, tmp_path: Path) -> None:
        with pytest.raises(TemporalConfigError, match="Profile 'prod' not found"):
            resolve(settings(TEMPORAL_PROFILE="prod"))
        with pytest.raises(TemporalConfigError, match=r"^TEMPORAL_CONFIG_FILE=.*nope.toml: no such file$"):
            resolve(settings(TEMPORAL_CONFIG_FILE=str(tmp_path / "nope.toml")))

    @pytest.mark.parametrize(
        ("env", "core_error", "says"),
        [
            (
                {"TEMPORAL_API_KEY": "wrong"},
                'Status { code: Unauthenticated, message: "the API key is not accepted", metadata: x }',
                "refused the API key (TEMPORAL_API_KEY): the API key is not accepted",
            ),
            (
                {"TEMPORAL_TLS": "true"},
                "ConnectError(Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) })",
                "not signed by a CA this machine trusts; give the cluster's CA in TEMPORAL_TLS_SERVER_CA_CERT_PATH",
            ),
            (
                {"TEMPORAL_TLS": "true"},
                'InvalidCertificate(NotValidForNameContext { expected: DnsName("a.example"), presented: [] })',
                "not valid for a.example; set TEMPORAL_TLS_SERVER_NAME",
            ),
            (
                {"TEMPORAL_TLS": "true"},
                'hyper::Error(Io, Custom { kind: UnexpectedEof, error: "peer closed without close_notify" })',
                "it asks for a client certificate (mutual TLS); set TEMPORAL_TLS_CLIENT_CERT_PATH",
            ),
            (
                {"TEMPORAL_TLS": "true"},
                "ConnectError(Custom { kind: InvalidData, error: InvalidMessage(InvalidContentType) })",
                "does not speak TLS, but TLS is on (TEMPORAL_TLS)",
            ),
            (
                {},
                'ConnectError("tcp connect error", Os { code: 111, kind: ConnectionRefused })',
                "cannot reach Temporal at 127.0.0.1:7233 (the default): connection refused",
            ),
        ],
    )
    def test_what_went_wrong_in_words(self, env: dict[str, str], core_error: str, says: str) -> None:
        """The SDK's connection errors become one line naming the setting to look at."""
        line = explain(resolve(settings(**env)), RuntimeError(f"Failed client connect: {core_error}"))
        assert says in line
        assert "\n" not in line
