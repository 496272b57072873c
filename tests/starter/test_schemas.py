"""The checked-in JSON Schemas: current with the models, and saying what the contract says.

`jsonschema` is not a dependency, so payloads are checked against the schemas' structure
(properties, required, enums, additionalProperties) and against the models themselves.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from domain.models import ACTIONS, NewOrder
from starter.cli.schemas import compare
from starter.schemas import DRAFT, generate

ROOT = Path(__file__).parents[2]
SCHEMAS = ROOT / "schemas"
LIFECYCLE = ROOT / "docs" / "lifecycle.md"
EXAMPLE_ORDER = ROOT / "examples" / "new-order.json"


def _load(path: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / path).read_text(encoding="utf-8"))
    return schema


def _doc_examples() -> dict[str, dict[str, Any]]:
    """The `--name ACTION --input '{…}'` examples of docs/lifecycle.md, one per action."""
    text = LIFECYCLE.read_text(encoding="utf-8")
    found: dict[str, dict[str, Any]] = {}
    for name, payload in re.findall(r"--name (\w+) --input '(\{.*?\})'", text):
        found.setdefault(name, json.loads(payload))
    return found


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    assert ref.startswith("#/$defs/"), ref
    resolved: dict[str, Any] = schema["$defs"][ref.removeprefix("#/$defs/")]
    return resolved


def _check_structure(schema: dict[str, Any], node: dict[str, Any], value: Any, where: str) -> None:
    """A small subset of JSON Schema, enough for the contract's payloads: objects and enums."""
    node = _resolve(schema, node)
    if "anyOf" in node and value is not None:
        node = _resolve(schema, next(n for n in node["anyOf"] if n.get("type") != "null"))
    if "enum" in node:
        assert value in node["enum"], f"{where}: {value!r} not in {node['enum']}"
    if node.get("type") == "object":
        assert isinstance(value, dict), where
        missing = set(node.get("required", [])) - set(value)
        assert not missing, f"{where}: missing required {sorted(missing)}"
        if node.get("additionalProperties") is False:
            extra = set(value) - set(node["properties"])
            assert not extra, f"{where}: fields the schema does not allow: {sorted(extra)}"
        for key, sub in value.items():
            if key in node.get("properties", {}):
                _check_structure(schema, node["properties"][key], sub, f"{where}.{key}")


class TestCheckedIn:
    def test_files_equal_generate(self) -> None:
        """schemas/ holds exactly what the models generate; otherwise the message says what to run."""
        stale, missing, extra = compare(SCHEMAS, generate())
        if stale or missing or extra:
            pytest.fail(
                f"schemas/ is out of date with domain/models.py (stale: {stale}, missing: {missing}, "
                f"extra: {extra}); run `hotline schema export` and check in the result"
            )

    def test_one_file_per_payload(self) -> None:
        """NewOrder, each of the 17 actions, OrderStatus, HandlingOrder, the doubtful order's four, the
        rulebook file, a README."""
        expected = {"NewOrder.json", "OrderStatus.json", "HandlingOrder.json", "Rulebook.json", "README.md"}
        expected |= {f"actions/{name}.json" for name in ACTIONS}
        expected |= {f"inquiry/{n}.json" for n in ("NewInquiry", "answer", "reassign", "InquiryStatus")}
        assert len(ACTIONS) == 17
        assert set(generate()) == expected

    def test_deterministic(self) -> None:
        """Two runs give the same bytes, sorted keys, two-space indent, UTF-8 kept, trailing newline."""
        first, second = generate(), generate()
        assert first == second
        text = first["actions/return_to_hotline.json"]
        assert text.endswith("}\n")
        assert text.startswith('{\n  "$defs"')
        assert "\\u" not in first["NewOrder.json"]  # ensure_ascii=False; the docstrings hold Chinese
        assert "查收" in first["actions/receive.json"]


class TestContent:
    @pytest.mark.parametrize("path", [p for p in generate() if p.endswith(".json")])
    def test_draft_id_and_title(self, path: str) -> None:
        """Every schema names draft 2020-12, a unique $id ending in its path, and a title."""
        schema = _load(path)
        assert schema["$schema"] == DRAFT
        assert schema["$id"].endswith(path)
        assert schema["title"]
        assert schema["type"] == "object"

    @pytest.mark.parametrize("action", list(ACTIONS))
    def test_every_action_requires_actor(self, action: str) -> None:
        """`actor` is required, with org, person and a role from the contract's four."""
        schema = _load(f"actions/{action}.json")
        assert schema["title"] == action
        assert "actor" in schema["required"]
        assert "request_id" in schema["properties"]
        assert "request_id" not in schema["required"]
        actor = _resolve(schema, schema["properties"]["actor"])
        assert set(actor["required"]) == {"org", "person", "role"}
        role = _resolve(schema, actor["properties"]["role"])
        assert role["enum"] == ["operator", "supervisor", "handler", "hotline"]

    def test_new_order_fields(self) -> None:
        """NewOrder's required fields and enums are the contract's words."""
        schema = _load("NewOrder.json")
        assert set(schema["required"]) == {
            "order_no",
            "tier",
            "category",
            "dispatched_at",
            "reporter",
            "location",
            "subject",
        }
        props = schema["properties"]
        assert props["order_no"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
        assert props["dispatched_at"]["format"] == "date-time"
        assert _resolve(schema, props["tier"])["enum"] == ["normal", "urgent", "very_urgent", "extra_urgent"]
        assert _resolve(schema, props["category"])["enum"] == ["general", "heating", "gas", "road_bridge"]
        assert schema["additionalProperties"] is False

    def test_rulebook_file(self) -> None:
        """The rulebook file's schema: its required fields, durations as ISO 8601, no unknown field; the
        shipped tianjin-2021 fits it."""
        schema = _load("Rulebook.json")
        assert set(schema["required"]) == {"id", "effective_from"}
        assert schema["additionalProperties"] is False
        assert schema["properties"]["receipt_in_working_period"]["format"] == "duration"
        shipped = json.loads((ROOT / "domain" / "rulebooks" / "tianjin-2021.json").read_text(encoding="utf-8"))
        _check_structure(schema, schema, shipped, "tianjin-2021")

    def test_outputs_are_serialization_schemas(self) -> None:
        """OrderStatus lists every field it returns as required (serialization mode) and the phases."""
        schema = _load("OrderStatus.json")
        assert {"order_no", "phase", "deadlines", "timeline", "rejected_actions"} <= set(schema["required"])
        assert _resolve(schema, schema["properties"]["phase"])["enum"][-1] == "closed"
        handling = _load("HandlingOrder.json")
        assert {"reporter_name", "reporter_phone", "confidential"} <= set(handling["required"])

    def test_readme_lists_every_file(self) -> None:
        """The README names each schema file and how to regenerate."""
        readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
        for path in generate():
            if path != "README.md":
                assert f"`{path}`" in readme
        assert "hotline schema export" in readme


class TestSamplePayloads:
    def test_docs_show_every_action(self) -> None:
        """docs/lifecycle.md has an example of each of the 17 actions."""
        assert set(_doc_examples()) == set(ACTIONS)

    @pytest.mark.parametrize(("action", "payload"), sorted(_doc_examples().items()))
    def test_doc_example_fits_schema_and_model(self, action: str, payload: dict[str, Any]) -> None:
        """The documented example has every required field, no unknown one, valid enums; the model takes it."""
        _check_structure(_load(f"actions/{action}.json"), _load(f"actions/{action}.json"), payload, action)
        ACTIONS[action].model_validate(payload)

    def test_example_new_order_fits(self) -> None:
        """examples/new-order.json fits the NewOrder schema and the model."""
        payload = json.loads(EXAMPLE_ORDER.read_text(encoding="utf-8"))
        schema = _load("NewOrder.json")
        _check_structure(schema, schema, payload, "NewOrder")
        NewOrder.model_validate(payload)

    def test_structure_check_catches_a_missing_actor(self) -> None:
        """The structure check fails a payload without `actor` or with an unknown field."""
        schema = _load("actions/withdraw.json")
        with pytest.raises(AssertionError, match="missing required"):
            _check_structure(schema, schema, {"reason": "x"}, "withdraw")
        actor = {"org": "hotline", "person": "p", "role": "hotline"}
        with pytest.raises(AssertionError, match="does not allow"):
            _check_structure(schema, schema, {"actor": actor, "reason": "x", "extra": 1}, "withdraw")


class TestExportCommand:
    def _hotline(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "starter.cli", "schema", "export", *args],
            cwd=ROOT,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def test_export_then_check(self, tmp_path: Path) -> None:
        """Export writes every file; --check then passes; a changed, removed or extra file fails it."""
        folder = tmp_path / "schemas"
        r = self._hotline("--dir", str(folder), "--check")
        assert r.returncode == 1
        assert "missing:" in r.stderr
        assert "hotline schema export" in r.stderr
        assert not folder.exists()  # --check writes nothing

        r = self._hotline("--dir", str(folder))
        assert r.returncode == 0, r.stderr
        total = len(generate())
        assert f"wrote {total} file(s)" in r.stdout
        assert self._hotline("--dir", str(folder), "--check").returncode == 0

        (folder / "actions" / "receive.json").write_text("{}\n", encoding="utf-8")
        (folder / "OrderStatus.json").unlink()
        (folder / "actions" / "old.json").write_text("{}\n", encoding="utf-8")
        r = self._hotline("--dir", str(folder), "--check")
        assert r.returncode == 1
        assert f"stale: {folder / 'actions' / 'receive.json'}" in r.stderr
        assert f"missing: {folder / 'OrderStatus.json'}" in r.stderr
        assert f"extra: {folder / 'actions' / 'old.json'}" in r.stderr
        assert (folder / "actions" / "receive.json").read_text(encoding="utf-8") == "{}\n"

        r = self._hotline("--dir", str(folder))
        assert r.returncode == 0
        assert f"wrote 2 file(s), {total - 2} unchanged" in r.stdout
        assert "old.json is not generated" in r.stderr
        assert (folder / "actions" / "old.json").exists()  # never deleted
        assert (folder / "actions" / "receive.json").read_text(encoding="utf-8") == generate()["actions/receive.json"]
