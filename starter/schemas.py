"""JSON Schemas of the contract's payloads and the rulebook file, generated from the pydantic models.

The files in ``schemas/`` are this module's output, checked in so that integrators who never run
our Python can read and validate against them; ``tests/starter/test_schemas.py`` fails when they
are out of date. Regenerate with ``hotline schema export``.
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from domain.inquiry import Answer, InquiryStatus, NewInquiry, Reassign
from domain.models import ACTIONS, HandlingOrder, NewOrder, OrderStatus, UnitAction
from domain.rulebook import Rulebook

DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
#: Prefix of every schema's ``$id``: an identifier, not a place to download from.
ID_PREFIX: Final = "urn:tianjin-hotline:schema:"

Mode = Literal["validation", "serialization"]


class _Generator(GenerateJsonSchema):
    """Pydantic's generator, with every field of an output required.

    The data converter serializes every field, defaults included (``exclude_unset`` is off), so a
    reader of `OrderStatus` can count on each key being there; a nullable field says so with
    ``null``. Inputs keep their defaults optional.
    """

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization":
            return field.get("serialization_exclude_if") is None and not field.get("serialization_exclude")
        return super().field_is_required(field, total)


def _schema(model: type[BaseModel], *, mode: Mode, path: str, title: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode=mode, schema_generator=_Generator)
    return {"$schema": DRAFT, "$id": ID_PREFIX + path, **schema, "title": title}


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _entries() -> list[tuple[str, type[BaseModel], Mode, str, str]]:
    """(path, model, mode, title, what it is) for every payload of the contract."""
    entries: list[tuple[str, type[BaseModel], Mode, str, str]] = [
        ("NewOrder.json", NewOrder, "validation", "NewOrder", "input of the `WorkOrder` workflow"),
    ]
    for name, model in ACTIONS.items():
        entries.append(
            (f"actions/{name}.json", model, "validation", name, f"payload of the `{name}` update and signal")
        )
    entries += [
        (
            "OrderStatus.json",
            OrderStatus,
            "serialization",
            "OrderStatus",
            "answer of the `status` query and result of the `WorkOrder` workflow",
        ),
        (
            "HandlingOrder.json",
            HandlingOrder,
            "serialization",
            "HandlingOrder",
            "answer of the `handling_order` query (its argument is the unit's org id as a JSON string)",
        ),
        ("inquiry/NewInquiry.json", NewInquiry, "validation", "NewInquiry", "input of the `DoubtfulOrder` workflow"),
        ("inquiry/answer.json", Answer, "validation", "answer", "payload of the `DoubtfulOrder` `answer` action"),
        (
            "inquiry/reassign.json",
            Reassign,
            "validation",
            "reassign",
            "payload of the `DoubtfulOrder` `reassign` action",
        ),
        (
            "inquiry/InquiryStatus.json",
            InquiryStatus,
            "serialization",
            "InquiryStatus",
            "answer of the `DoubtfulOrder` `status` query and the workflow's result",
        ),
        (
            "Rulebook.json",
            Rulebook,
            "validation",
            "Rulebook",
            "a rulebook version's file, for `hotline rulebook import` (`docs/rulebook-format.md`)",
        ),
    ]
    return entries


def _readme(entries: list[tuple[str, type[BaseModel], Mode, str, str]]) -> str:
    lines = [
        "# JSON Schemas of the contract's payloads",
        "",
        "Generated from the pydantic models in `domain/models.py` by `starter/schemas.py`; do not edit",
        "by hand. The contract's names (workflow types, actions, queries, search attributes) are in",
        "`domain/contract.py`; who may send what, and when: `docs/lifecycle.md`.",
        "",
        "Every file is JSON Schema draft 2020-12 with an `$id` of the form",
        f"`{ID_PREFIX}<path>`. Inputs (what you send) are the models' validation schemas;",
        "outputs (what queries and the workflow return) are their serialization schemas, in which every",
        "field is required because every field is always sent (`null` where the schema allows it). Instants are",
        "aware ISO-8601 strings (`format: date-time`, with an offset). A schema cannot say everything",
        "the engine checks (known org ids and districts, who may act when): the engine refuses with a",
        "message naming the field.",
        "",
        "| file | what it is | sent | model |",
        "|---|---|---|---|",
    ]
    for path, model, mode, _title, what in entries:
        sent = "to the engine" if mode == "validation" else "by the engine"
        lines.append(f"| `{path}` | {what} | {sent} | `{model.__name__}` |")
    lines += [
        "",
        "Every action carries `actor` (`org`, `person`, `role`) and may carry `request_id`. Every action of an",
        "assigned unit (" + ", ".join(f"`{n}`" for n, m in ACTIONS.items() if issubclass(m, UnitAction)) + ")",
        "may carry `handler` (`person`, `phone`): the unit's named handler (Art. 8.4).",
        "",
        "## Regenerate",
        "",
        "```sh",
        ".venv/bin/hotline schema export            # rewrites schemas/ from the models",
        ".venv/bin/hotline schema export --check    # exits 1, listing stale, missing or extra files",
        "```",
        "",
        "`tests/starter/test_schemas.py` fails when a model changed and these files were not",
        "regenerated. The contract's rule holds here too: add, don't break.",
        "",
    ]
    return "\n".join(lines)


def generate() -> dict[str, str]:
    """Every schema file and the folder's README, by path relative to ``schemas/``.

    Deterministic: keys sorted, indent 2, UTF-8 kept as is, a trailing newline.

    Returns:
        ``{"NewOrder.json": "...", "actions/receive.json": "...", ..., "README.md": "..."}``.
    """
    entries = _entries()
    files = {
        path: _dump(_schema(model, mode=mode, path=path, title=title)) for path, model, mode, title, _what in entries
    }
    files["README.md"] = _readme(entries)
    return files
