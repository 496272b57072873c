"""The production topology (docker-compose.yml, Dockerfile), checked without Docker.

Docker cannot run in CI here, so these tests read the files and check what a reviewer would:
pinned images, the start order, the contract's search attributes, no secrets in the repository,
health checks and restart policies, a worker that scales, and the metrics stack (Prometheus
scraping every process, Grafana with the dashboard) honest about the metrics the code emits.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.contract import SEARCH_ATTRIBUTE_TYPES, TASK_QUEUE

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# The contract's table "What operators see in the Web UI": name → type.
CONTRACT_SEARCH_ATTRIBUTES = {name.value: typ for name, typ in SEARCH_ATTRIBUTE_TYPES.items()}

REQUIRED_SERVICES = {
    "postgresql",
    "temporal-schema",
    "temporal",
    "temporal-setup",
    "temporal-ui",
    "worker",
    "gateway",
    "codec-server",
    "prometheus",
    "grafana",
}

#: The services that expose a metrics endpoint (HOTLINE_METRICS_PORT), and so are scraped.
METRICS_SERVICES = ("worker", "gateway", "codec-server")

# Who waits for whom, and for what.
EXPECTED_DEPENDENCIES = {
    "temporal-schema": {"postgresql": "service_healthy"},
    "temporal": {"temporal-schema": "service_completed_successfully"},
    "temporal-setup": {"temporal": "service_healthy"},
    "temporal-ui": {"temporal": "service_healthy"},
    "worker": {
        "temporal-setup": "service_completed_successfully",
        "postgresql": "service_healthy",
    },
    "codec-server": {"postgresql": "service_healthy"},
    "gateway": {
        "temporal-setup": "service_completed_successfully",
        "postgresql": "service_healthy",
    },
    "grafana": {"prometheus": "service_healthy"},
}

ONE_SHOT_JOBS = {"temporal-schema", "temporal-setup"}

SECRET_KEY = re.compile(r"PASSWORD|PWD|SECRET|TOKEN|API_KEY", re.IGNORECASE)
# A whole value that is one required variable: ${NAME:?message} or ${NAME?message}.
REQUIRED_VARIABLE = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*:?\?[^}]*\}$")
# A URL with credentials: scheme://USERINFO@host...
URL_USERINFO = re.compile(r"^[a-z][a-z0-9+.-]*://(?P<userinfo>.+)@[^@]+$")
SEARCH_ATTRIBUTE_CALL = re.compile(r"^\s*search_attribute\s+(\w+)\s+(\w+)\s*$", re.MULTILINE)
NAME_TYPE_FLAGS = re.compile(r"--name[ =](\w+)\s+--type[ =](\w+)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The parsed docker-compose.yml."""
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), "docker-compose.yml is not a mapping"
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services of docker-compose.yml by name."""
    found = compose.get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services"
    return found


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    joined = re.sub(r"\\\n", " ", text)
    instructions: list[tuple[str, str]] = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _image_parts(image: str) -> tuple[str, str | None]:
    """Splits `repo[:tag][@digest]` into the repository and the tag (None when untagged)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return name, None
    repo, tag = name.rsplit(":", 1)
    return repo, tag


def _image_of(services: dict[str, dict[str, Any]], repo: str) -> list[str]:
    return [svc["image"] for svc in services.values() if "image" in svc and _image_parts(svc["image"])[0] == repo]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two compose forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _argv(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def _host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """The repository file that a bind mount of the service shows at container_path."""
    for volume in service.get("volumes") or []:
        if not isinstance(volume, str):
            continue
        source, _, rest = volume.partition(":")
        target = rest.split(":", 1)[0]
        if not source.startswith("."):
            continue
        if container_path == target:
            return (ROOT / source).resolve()
        if container_path.startswith(target.rstrip("/") + "/"):
            return (ROOT / source / container_path[len(target.rstrip("/")) + 1 :]).resolve()
    return None


def _job_script(service: dict[str, Any]) -> tuple[Path, list[str]]:
    """The mounted script a one-shot job runs, with the arguments it gets."""
    argv = _argv(service.get("entrypoint")) + _argv(service.get("command"))
    for index, arg in enumerate(argv):
        host = _host_path(service, arg)
        if host is not None:
            return host, argv[index + 1 :]
    raise AssertionError(f"no mounted script in {argv}")


def _url_password(value: str) -> str | None:
    """The password part of a `scheme://user:password@host` value; ${...} count as one token."""
    match = URL_USERINFO.match(value)
    if match is None:
        return None
    userinfo = match.group("userinfo")
    depth = 0
    for index, char in enumerate(userinfo):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == ":" and depth == 0:
            return userinfo[index + 1 :]
    return None


def _strings(node: Any) -> list[str]:
    """Every string in a parsed YAML tree, keys included."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in _strings(key) + _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


class TestImages:
    def test_every_image_is_pinned(self, services: dict[str, dict[str, Any]]) -> None:
        """Every service image names a fixed version tag: none untagged, none `latest`, none variable.

        Tags, not digests: a digest can only be read from the registry, which these machines do not
        reach. A digest is welcome where one is at hand (`name:tag@sha256:` + 64 hex digits).
        """
        for name, service in services.items():
            assert "image" in service or "build" in service, f"{name} has neither image nor build"
            if "image" not in service:
                continue
            image = service["image"]
            _, tag = _image_parts(image)
            assert tag is not None, f"{name}: image {image} has no tag"
            assert tag != "latest", f"{name}: image {image} is not pinned"
            assert "$" not in image, f"{name}: image {image} is chosen at run time"
            assert re.search(r"\d", tag), f"{name}: tag {tag} is not a version"
            if "@" in image:
                assert re.fullmatch(r"sha256:[0-9a-f]{64}", image.split("@", 1)[1]), f"{name}: {image}"

    def test_no_auto_setup_image(self, compose: dict[str, Any]) -> None:
        """The deprecated temporalio/auto-setup image appears nowhere."""
        assert not [s for s in _strings(compose) if "auto-setup" in s]

    def test_temporal_server_is_1_32(self, services: dict[str, dict[str, Any]]) -> None:
        """The Temporal service runs temporalio/server 1.32.x, the dev server's release."""
        repo, tag = _image_parts(services["temporal"]["image"])
        assert repo == "temporalio/server"
        assert tag is not None
        assert re.fullmatch(r"1\.32\.\d+", tag)

    def test_admin_tools_match_the_server(self, services: dict[str, dict[str, Any]]) -> None:
        """Both one-shot jobs use admin-tools of the server's exact release (same schema files)."""
        _, server_tag = _image_parts(services["temporal"]["image"])
        for job in sorted(ONE_SHOT_JOBS):
            repo, tag = _image_parts(services[job]["image"])
            assert repo == "temporalio/admin-tools", job
            assert tag is not None
            assert server_tag is not None
            assert re.split(r"[-_]", tag)[0] == server_tag, f"{job}: {tag} vs server {server_tag}"

    def test_ui_is_2_54(self, services: dict[str, dict[str, Any]]) -> None:
        """The Web UI runs temporalio/ui 2.54.x, the release bundled with the dev server."""
        repo, tag = _image_parts(services["temporal-ui"]["image"])
        assert repo == "temporalio/ui"
        assert tag is not None
        assert re.fullmatch(r"2\.54\.\d+", tag)

    def test_postgres_is_16(self, services: dict[str, dict[str, Any]]) -> None:
        """PostgreSQL is the official postgres image, 16 with a pinned minor release."""
        repo, tag = _image_parts(services["postgresql"]["image"])
        assert repo == "postgres"
        assert tag is not None
        assert re.fullmatch(r"16\.\d+(-\w+)?", tag)


class TestStartOrder:
    def test_required_services_present(self, services: dict[str, dict[str, Any]]) -> None:
        """PostgreSQL, both Temporal jobs, the server, the UI and the worker are all there."""
        assert services.keys() >= REQUIRED_SERVICES

    @pytest.mark.parametrize(("service", "expected"), sorted(EXPECTED_DEPENDENCIES.items()))
    def test_dependency_conditions(
        self,
        services: dict[str, dict[str, Any]],
        service: str,
        expected: dict[str, str],
    ) -> None:
        """Each service waits for its dependencies with the right condition."""
        depends_on = services[service].get("depends_on")
        assert isinstance(depends_on, dict), f"{service}: depends_on needs conditions"
        actual = {dep: spec.get("condition") for dep, spec in depends_on.items()}
        for dependency, condition in expected.items():
            assert actual.get(dependency) == condition, f"{service} → {dependency}"

    def test_every_dependency_can_satisfy_its_condition(self, services: dict[str, dict[str, Any]]) -> None:
        """A waited-for service has a healthcheck, or is a one-shot job that runs to completion."""
        for name, service in services.items():
            depends_on = service.get("depends_on") or {}
            assert isinstance(depends_on, dict), f"{name}: short depends_on form has no condition"
            for dependency, spec in depends_on.items():
                condition = (spec or {}).get("condition")
                target = services[dependency]
                if condition == "service_healthy":
                    check = target.get("healthcheck") or {}
                    assert check.get("test"), f"{name} waits for {dependency}'s health"
                    assert not check.get("disable", False), dependency
                elif condition == "service_completed_successfully":
                    assert dependency in ONE_SHOT_JOBS, f"{dependency} is not a one-shot job"
                    assert target.get("restart", "no") == "no", f"{dependency} would restart"
                else:
                    pytest.fail(f"{name} → {dependency}: condition {condition!r}")

    def test_every_long_running_service_has_a_health_check(self, services: dict[str, dict[str, Any]]) -> None:
        """A health check on every service but the one-shot jobs (which run to completion instead)."""
        for name, service in services.items():
            if name in ONE_SHOT_JOBS:
                assert "healthcheck" not in service, f"{name} runs once; it has nothing to be healthy for"
                continue
            check = service.get("healthcheck") or {}
            assert _argv(check.get("test")), f"{name} has no health check"
            assert not check.get("disable", False), f"{name} disables its health check"
            assert check.get("interval"), f"{name}: a health check needs its interval"
            assert check.get("retries"), f"{name}: a health check needs its retries"

    def test_one_shot_jobs_do_not_restart(self, services: dict[str, dict[str, Any]]) -> None:
        """The schema and setup jobs run once per `up`; long-running services restart."""
        for name, service in services.items():
            if name in ONE_SHOT_JOBS:
                assert service.get("restart", "no") == "no", name
            else:
                assert service.get("restart") == "unless-stopped", name

    def test_postgres_health_and_volume(self, compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
        """PostgreSQL reports ready through pg_isready and keeps its data in a named volume."""
        postgres = services["postgresql"]
        assert "pg_isready" in " ".join(_argv(postgres["healthcheck"]["test"]))
        named = set(compose.get("volumes") or {})
        mounts = [v.split(":", 1) for v in postgres["volumes"]]
        assert any(src in named and dst.startswith("/var/lib/postgresql") for src, dst in mounts)


class TestTemporal:
    def test_server_runs_on_postgres(self, services: dict[str, dict[str, Any]]) -> None:
        """The server uses the postgres12 plugin against the postgresql service."""
        env = _environment(services["temporal"])
        assert env["DB"] == "postgres12"
        assert env["POSTGRES_SEEDS"] == "postgresql"
        assert env["DB_PORT"] == "5432"
        assert env["POSTGRES_USER"]
        assert env["POSTGRES_PWD"]

    def test_dynamic_config_is_mounted(self, services: dict[str, dict[str, Any]]) -> None:
        """DYNAMIC_CONFIG_FILE_PATH points at a YAML file of the repository, mounted in."""
        server = services["temporal"]
        path = _environment(server)["DYNAMIC_CONFIG_FILE_PATH"]
        host = _host_path(server, path)
        assert host is not None, f"{path} is not mounted from the repository"
        assert host.is_file(), host
        assert isinstance(yaml.safe_load(host.read_text(encoding="utf-8")), dict)

    def test_schema_job_creates_both_databases(self, services: dict[str, dict[str, Any]]) -> None:
        """The schema job applies the postgres12 temporal and visibility schemas."""
        job = services["temporal-schema"]
        script, args = _job_script(job)
        text = script.read_text(encoding="utf-8")
        assert args == ["schema"]
        assert _environment(job)["SQL_PLUGIN"] == "postgres12"
        assert "temporal-sql-tool" in text
        assert "/etc/temporal/schema/postgresql/v12" in text
        assert "/temporal/versioned" in text
        assert "/visibility/versioned" in text
        assert "temporal_visibility" in text

    def test_setup_job_registers_the_contract_search_attributes(self, services: dict[str, dict[str, Any]]) -> None:
        """The setup job registers exactly the contract's nine search attributes, typed."""
        job = services["temporal-setup"]
        script, args = _job_script(job)
        text = script.read_text(encoding="utf-8")
        assert args == ["namespace"]
        assert "temporal operator search-attribute create" in text
        # Either `search_attribute Name Type` lines of the script or literal --name/--type flags
        # (in the script or inline in the job's command).
        inline = " ".join(_argv(job.get("entrypoint")) + _argv(job.get("command")))
        found = SEARCH_ATTRIBUTE_CALL.findall(text)
        found += NAME_TYPE_FLAGS.findall(text) + NAME_TYPE_FLAGS.findall(inline)
        assert len(found) == len(dict(found)), "a search attribute is registered twice"
        assert dict(found) == CONTRACT_SEARCH_ATTRIBUTES

    def test_setup_job_creates_the_namespace(self, services: dict[str, dict[str, Any]]) -> None:
        """The setup job creates ${HOTLINE_NAMESPACE:-default} at temporal:7233."""
        job = services["temporal-setup"]
        env = _environment(job)
        text = _job_script(job)[0].read_text(encoding="utf-8")
        assert "temporal operator namespace create" in text
        assert env["HOTLINE_NAMESPACE"] == "${HOTLINE_NAMESPACE:-default}"
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"

    def test_setup_job_tolerates_already_exists(self, services: dict[str, dict[str, Any]]) -> None:
        """Re-running the setup job on an existing namespace counts "already exists" as done."""
        text = _job_script(services["temporal-setup"])[0].read_text(encoding="utf-8")
        assert "already exist" in text
        assert re.search(r"^set -eu", text, re.MULTILINE)

    def test_ui_reaches_the_frontend(self, services: dict[str, dict[str, Any]]) -> None:
        """The UI talks to temporal:7233 and publishes its port 8080."""
        ui = services["temporal-ui"]
        assert _environment(ui)["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert any(str(port).endswith(":8080") for port in ui.get("ports", []))


class TestWorker:
    def test_worker_is_built_from_the_dockerfile(self, services: dict[str, dict[str, Any]]) -> None:
        """The worker image is built from the repository's Dockerfile."""
        build = services["worker"]["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (ROOT / context).resolve() == ROOT
        assert (ROOT / context / dockerfile).resolve() == DOCKERFILE

    def test_worker_runs_hotline_worker(self, services: dict[str, dict[str, Any]]) -> None:
        """The worker container runs `hotline worker`."""
        assert _argv(services["worker"]["command"]) == ["hotline", "worker"]

    def test_worker_settings(self, services: dict[str, dict[str, Any]]) -> None:
        """The worker gets the contract's task queue and namespace and the compose addresses."""
        env = _environment(services["worker"])
        assert env["HOTLINE_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["HOTLINE_TASK_QUEUE"] == TASK_QUEUE
        assert env["HOTLINE_NAMESPACE"] == "${HOTLINE_NAMESPACE:-default}"
        assert re.match(r"postgres(ql)?://[^@]+@postgresql:5432/", env["HOTLINE_DATABASE_URL"])


class TestScaling:
    def test_the_worker_scales(self, services: dict[str, dict[str, Any]]) -> None:
        """`docker compose up --scale worker=3` works: no fixed name, no host port, no hostname."""
        worker = services["worker"]
        assert "container_name" not in worker
        assert "hostname" not in worker
        # a published host port would let one replica start and the next fail on it
        assert not worker.get("ports"), "the worker serves nothing outside the compose network"

    def test_no_container_names(self, services: dict[str, dict[str, Any]]) -> None:
        """Compose names containers itself (a fixed name would forbid a second replica or stack)."""
        assert not [name for name, service in services.items() if "container_name" in service]


@pytest.fixture(scope="module")
def prometheus() -> dict[str, Any]:
    """The parsed Prometheus configuration the compose file mounts."""
    loaded = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


class TestMetricsStack:
    def test_prometheus_reads_the_config_of_the_repository(self, services: dict[str, dict[str, Any]]) -> None:
        prom = services["prometheus"]
        config = next(a.split("=", 1)[1] for a in _argv(prom["command"]) if a.startswith("--config.file="))
        assert _host_path(prom, config) == PROMETHEUS_CONFIG.resolve()

    @pytest.mark.parametrize("service", METRICS_SERVICES)
    def test_every_process_exposes_metrics_and_is_scraped(
        self, services: dict[str, dict[str, Any]], prometheus: dict[str, Any], service: str
    ) -> None:
        """Each process binds its endpoint on all interfaces, and Prometheus scrapes that port, the
        worker by DNS (every replica of `--scale`), the others by name."""
        env = _environment(services[service])
        assert env["HOTLINE_METRICS_HOST"] == "0.0.0.0"
        port = int(env["HOTLINE_METRICS_PORT"])
        targets: set[str] = set()
        for job in prometheus["scrape_configs"]:
            for sd in job.get("dns_sd_configs", []):
                targets.update(f"{name}:{sd['port']}" for name in sd["names"])
            for static in job.get("static_configs", []):
                targets.update(static["targets"])
        assert f"{service}:{port}" in targets
        if service == "worker":
            assert any(
                service in sd["names"] for job in prometheus["scrape_configs"] for sd in job.get("dns_sd_configs", [])
            ), "the worker's replicas are found by DNS, not one static target"

    def test_grafana_provisions_prometheus_and_the_dashboards(self, services: dict[str, dict[str, Any]]) -> None:
        grafana = services["grafana"]
        assert _host_path(grafana, "/etc/grafana/provisioning") == GRAFANA_PROVISIONING.resolve()
        assert _host_path(grafana, "/var/lib/grafana/dashboards") == DASHBOARDS.resolve()
        [source] = yaml.safe_load((GRAFANA_PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"]
        assert source["url"] == "http://prometheus:9090"
        for dashboard in DASHBOARDS.glob("*.json"):
            uids = {
                target["datasource"]["uid"]
                for panel in json.loads(dashboard.read_text(encoding="utf-8"))["panels"]
                for target in panel.get("targets", [])
            }
            assert uids == {source["uid"]}, dashboard.name

    def test_the_dashboard_shows_both_sets_and_only_metrics_the_code_emits(self) -> None:
        """Business (hotline_*) and SDK (temporal_*) panels; every hotline_* metric is one the product
        records, and every one the product records is on a panel."""
        exprs = " ".join(
            target["expr"]
            for dashboard in DASHBOARDS.glob("*.json")
            for panel in json.loads(dashboard.read_text(encoding="utf-8"))["panels"]
            for target in panel.get("targets", [])
        )
        shown = set(re.findall(r"\b(hotline_[a-z_]+?)(?:_bucket)?\b", exprs))
        source = " ".join(
            p.read_text(encoding="utf-8") for top in ("workflows", "workers") for p in (ROOT / top).rglob("*.py")
        )
        emitted = set(re.findall(r'"(hotline_[a-z_]+)"', source))
        assert shown == emitted, f"not emitted: {sorted(shown - emitted)}; not shown: {sorted(emitted - shown)}"
        sdk = set(re.findall(r"\b(temporal_[a-z_]+)\b", exprs))
        for name in (
            "temporal_workflow_task_execution_latency_bucket",
            "temporal_worker_task_slots_available",
            "temporal_sticky_cache_size",
            "temporal_num_pollers",
            "temporal_activity_execution_latency_bucket",
        ):
            assert name in sdk, name


class TestCodecServer:
    def test_built_from_the_dockerfile_running_hotline_codec_server(self, services: dict[str, dict[str, Any]]) -> None:
        """The codec server is the project's image running `hotline codec-server`."""
        codec = services["codec-server"]
        build = codec["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        assert (ROOT / context).resolve() == ROOT
        assert _argv(codec["command"])[:2] == ["hotline", "codec-server"]

    def test_listens_for_the_browser_and_checks_tokens(self, services: dict[str, dict[str, Any]]) -> None:
        """It binds 0.0.0.0 (so it demands tokens), publishes its port, and reaches the token store."""
        codec = services["codec-server"]
        env = _environment(codec)
        assert env["HOTLINE_CODEC_HOST"] == "0.0.0.0"
        port = env["HOTLINE_CODEC_PORT"]
        assert any(str(p).endswith(f":{port}") for p in codec.get("ports", []))
        assert re.match(r"postgres(ql)?://[^@]+@postgresql:5432/", env["HOTLINE_DATABASE_URL"])
        assert "/health" in " ".join(_argv(codec["healthcheck"]["test"]))

    def test_the_ui_decrypts_through_it(self, services: dict[str, dict[str, Any]]) -> None:
        """TEMPORAL_CODEC_ENDPOINT is the codec server's public URL, by default on its published port."""
        env = _environment(services["temporal-ui"])
        port = _environment(services["codec-server"])["HOTLINE_CODEC_PORT"]
        endpoint = env["TEMPORAL_CODEC_ENDPOINT"]
        assert re.fullmatch(r"\$\{HOTLINE_CODEC_PUBLIC_URL:-https?://[^}]+\}", endpoint), endpoint
        assert endpoint.rstrip("}").endswith(f":{port}")
        assert env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"

    def test_the_ui_origin_is_the_only_cors_origin(self, services: dict[str, dict[str, Any]]) -> None:
        """The codec server's CORS origin is the UI's, configurable, by default the published UI port."""
        argv = _argv(services["codec-server"]["command"])
        origin = argv[argv.index("--ui-origin") + 1]
        ui_port = str(services["temporal-ui"]["ports"][0]).split(":")[0]
        assert origin == f"${{HOTLINE_UI_ORIGIN:-http://localhost:{ui_port}}}"

    @pytest.mark.parametrize("service", ["worker", "codec-server"])
    def test_keys_are_a_required_reference(self, services: dict[str, dict[str, Any]], service: str) -> None:
        """The worker and the codec server take the key ring from ${HOTLINE_CODEC_KEYS:?…}, never a value."""
        value = _environment(services[service])["HOTLINE_CODEC_KEYS"]
        assert REQUIRED_VARIABLE.match(value), f"{service}: HOTLINE_CODEC_KEYS is not a required reference"
        assert value.startswith("${HOTLINE_CODEC_KEYS:?")

    def test_no_key_material_anywhere(self, compose: dict[str, Any]) -> None:
        """No string of the file holds what looks like a key (`id:` + base64 of 32 bytes)."""
        key = re.compile(r"[A-Za-z0-9._-]+:[A-Za-z0-9+/]{43}=")
        assert not [s for s in _strings(compose) if key.search(s)]


class TestSecrets:
    def test_no_literal_secrets(self, services: dict[str, dict[str, Any]]) -> None:
        """Passwords are required ${VAR:?...} references, never values in the file."""
        checked = 0
        for name, service in services.items():
            for key, value in _environment(service).items():
                if SECRET_KEY.search(key):
                    assert REQUIRED_VARIABLE.match(value), f"{name}: {key} is not a reference"
                    checked += 1
                password = _url_password(value)
                if password is not None:
                    assert REQUIRED_VARIABLE.match(password), f"{name}: {key} embeds a password"
                    checked += 1
        assert checked >= 4, "expected the password in postgres, both Temporal users and the URL"

    def test_one_password_variable(self, services: dict[str, dict[str, Any]]) -> None:
        """Every service takes the database password from the same variable; Grafana's admin password
        is its own required variable."""
        references = set()
        for service in services.values():
            for key, value in _environment(service).items():
                if key != "GF_SECURITY_ADMIN_PASSWORD":
                    references.update(re.findall(r"\$\{(\w*PASSWORD\w*)", value))
        assert references == {"POSTGRES_PASSWORD"}
        admin = _environment(services["grafana"])["GF_SECURITY_ADMIN_PASSWORD"]
        assert admin.startswith("${GRAFANA_ADMIN_PASSWORD:?")

    def test_optional_settings_carry_no_value(self, services: dict[str, dict[str, Any]]) -> None:
        """A setting passed through from the operator's environment defaults to nothing in the file."""
        for name, service in services.items():
            for key, value in _environment(service).items():
                if key in {"HOTLINE_OTLP_ENDPOINT", "HOTLINE_BUILD_ID"}:
                    assert value == f"${{{key}:-}}", f"{name}: {key}"

    def test_no_secret_in_the_mounted_configuration(self) -> None:
        """The files mounted into Prometheus and Grafana hold no credential."""
        secret = re.compile(r"(password|secret|token|api_?key|bearer|basic_auth)\s*[:=]", re.IGNORECASE)
        for path in (ROOT / "deploy").rglob("*"):
            if path.is_file() and path.suffix in {".yml", ".yaml", ".json"}:
                assert not secret.search(path.read_text(encoding="utf-8")), path


class TestDockerfile:
    def test_base_image_is_pinned_python_311_slim(self, dockerfile: list[tuple[str, str]]) -> None:
        """Every FROM names a pinned python:3.11.x-slim image."""
        bases = [args.split()[0] for keyword, args in dockerfile if keyword == "FROM"]
        assert bases
        for base in bases:
            assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base

    def test_runs_as_non_root(self, dockerfile: list[tuple[str, str]]) -> None:
        """The final USER is an unprivileged account."""
        users = [args for keyword, args in dockerfile if keyword == "USER"]
        assert users, "no USER instruction: the container would run as root"
        assert users[-1].split(":")[0] not in {"root", "0"}

    def test_installs_the_distribution(self, dockerfile: list[tuple[str, str]]) -> None:
        """The image copies pyproject.toml, README.md and the five packages and pip-installs."""
        copied = {
            source.rstrip("/")
            for keyword, args in dockerfile
            if keyword == "COPY"
            for source in args.split()[:-1]
            if not source.startswith("--")
        }
        assert {"pyproject.toml", "README.md"} <= copied
        assert {"domain", "workflows", "activities", "workers", "starter"} <= copied
        runs = " ".join(args for keyword, args in dockerfile if keyword == "RUN")
        assert re.search(r"pip install --no-cache-dir \.(\s|$)", runs)

    def test_copied_files_exist(self, dockerfile: list[tuple[str, str]]) -> None:
        """Everything the Dockerfile copies is in the repository, so `docker build` can work."""
        for keyword, args in dockerfile:
            if keyword == "COPY":
                for source in args.split()[:-1]:
                    if not source.startswith("--"):
                        assert (ROOT / source).exists(), f"COPY {source}: missing"

    def test_default_command_is_hotline_worker(self, dockerfile: list[tuple[str, str]]) -> None:
        """Without arguments the image runs `hotline worker`."""
        entry = [args for keyword, args in dockerfile if keyword in {"ENTRYPOINT", "CMD"}]
        assert entry
        argv = [part for args in entry for part in yaml.safe_load(args)]
        assert argv == ["hotline", "worker"]

    def test_dockerignore_keeps_local_state_out(self, dockerfile: list[tuple[str, str]]) -> None:
        """.dockerignore excludes the venv, .data, .git and caches, but nothing the image needs."""
        patterns = [
            line.strip().rstrip("/")
            for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        for required in (".venv", ".data", ".git", ".pytest_cache", "**/__pycache__"):
            assert required in patterns, required
        copied = [
            source.rstrip("/") for keyword, args in dockerfile if keyword == "COPY" for source in args.split()[:-1]
        ]
        for source in copied:
            assert not [p for p in patterns if fnmatch.fnmatch(source, p)], source
