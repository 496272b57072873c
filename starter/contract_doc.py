"""The generated tables of ``docs/contract.md`` and ``docs/rules.md``, rendered from the code.

The two documents are written by hand, except for regions between marker lines::

    <!-- BEGIN GENERATED actions: ... -->
    ...
    <!-- END GENERATED actions -->

whose bodies this module renders from what the engine itself uses: the contract's names
(`domain.contract`), the payload models (`domain.models`, `domain.inquiry`), who may send what
(`domain.access`), the refusal kinds (`domain.errors`), the organisation directory and the shipped
rulebook. ``hotline schema export --docs`` rewrites the regions; ``--check`` fails when one is
stale, and so does ``tests/starter/test_contract_doc.py``.

What the code holds no words for (what a phase, an outcome, a flag or a search attribute means) is
said once here, next to the generator; a member without its words stops the generation, so a new
phase cannot reach the contract undescribed.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, time, timedelta
from enum import Enum
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from domain.access import ACTION_ROLES
from domain.contract import (
    CALENDAR_CHANGED_SIGNAL,
    DOUBTFUL_ORDER,
    HANDLING_ORDER_QUERY,
    LATE_FLAGS,
    NAMESPACE,
    SEARCH_ATTRIBUTE_TYPES,
    STATUS_QUERY,
    TASK_QUEUE,
    WORK_ORDER,
    Flag,
    SearchAttribute,
    inquiry_workflow_id,
    order_workflow_id,
)
from domain.directory import DISTRICTS, ORGANISATIONS, OrgKind
from domain.errors import INVALID_ORDER, RefusalKind
from domain.inquiry import INQUIRY_ACTIONS, InquiryStatus, NewInquiry
from domain.models import (
    ACTIONS,
    Category,
    DeadlineState,
    HandlingOrder,
    NewOrder,
    OrderStatus,
    Outcome,
    Phase,
    Platform,
    Role,
    UnitAction,
    platform_for,
)
from domain.order import SUPERVISOR
from domain.rulebook import TIANJIN_2021, Rulebook

#: The command that rewrites the regions (named in every begin marker and in stale-document errors).
COMMAND: Final = "hotline schema export --docs"

_REGION: Final = re.compile(
    r"^(?P<begin><!-- BEGIN GENERATED (?P<name>[a-z0-9-]+)\b[^\n]*-->\n)"
    r"(?P<body>.*?)"
    r"^(?P<end><!-- END GENERATED (?P=name) -->)$",
    re.MULTILINE | re.DOTALL,
)
_MARKER: Final = re.compile(r"^<!-- (?:BEGIN|END) GENERATED (?P<name>[a-z0-9-]+)", re.MULTILINE)


class StaleDocument(Exception):
    """A document's generated regions cannot be rendered: a region is missing, unknown or unclosed."""


# -- words the code does not hold -----------------------------------------------------------------

#: What each phase means (``status.phase``, `OrderPhase`).
PHASES: Final[dict[Phase, str]] = {
    Phase.AWAITING_RECEIPT: "transferred by the city hotline; waits for the platform's `receive` (receipt window)",
    Phase.RECEIVED: "checked in; waits for the platform's `propose` or `return_to_hotline` (dispatch reminder); "
    "also after a proposal was sent back or the lead unit returned the order",
    Phase.IN_REVIEW: "a proposal waits for the supervising department's `review`",
    Phase.IN_HANDLING: "dispatched to the units; waits for the lead unit's `submit_result` (completion deadline)",
    Phase.RESULT_REVIEW: "a result waits for the platform's `review_result` (result review window; lifecycle 2)",
    Phase.AWAITING_CALLBACK: "replied to the city hotline; waits for its `callback` (callback wait)",
    Phase.REHANDLING: "a dissatisfied verdict opened a re-handling round; waits for the lead unit's result "
    "(re-handling deadline)",
    Phase.APPEAL_WINDOW: "dissatisfied after the last re-handling round; the platform may `file_appeal` until the "
    "appeal window closes, else the order closes `dissatisfied` (lifecycle 2)",
    Phase.APPEALING: "an appeal waits for the city hotline's `appeal_decision` (appeal wait)",
    Phase.CLOSED: "ended; `outcome` says how",
}

#: How each outcome comes about (``status.outcome``).
OUTCOMES: Final[dict[Outcome, str]] = {
    Outcome.SATISFIED: "`callback` with verdict `satisfied`",
    Outcome.BASICALLY_SATISFIED: "`callback` with verdict `basically_satisfied`",
    Outcome.DISSATISFIED: "dissatisfied after the last re-handling round, and no appeal within the appeal window "
    "(lifecycle 1: at once)",
    Outcome.APPEAL_UPHELD: "`appeal_decision` with `upheld: true`",
    Outcome.APPEAL_REJECTED: "`appeal_decision` with `upheld: false`",
    Outcome.APPEAL_UNANSWERED: "no appeal decision within the appeal wait (lifecycle 2)",
    Outcome.RETURNED_TO_HOTLINE: "the platform's `return_to_hotline`",
    Outcome.WITHDRAWN: "the city hotline's `withdraw`",
    Outcome.NO_CALLBACK: "no callback within the callback wait",
}

#: What each flag marks (``status.flags``, `OrderFlags`).
FLAGS: Final[dict[Flag, str]] = {
    Flag.RECEIPT_LATE: "the receipt deadline was missed (overdue, or met after it); it stays",
    Flag.COMPLETION_LATE: "the completion deadline was missed; it stays, unless an extension asked for before the "
    "deadline is approved (as if in force all along)",
    Flag.REHANDLING_LATE: "a re-handling deadline was missed; it stays (same exception)",
    Flag.RESULT_REVIEW_LATE: "the platform missed its result review window (our own window, lifecycle 2)",
    Flag.EXTENSION_PENDING: "a unit's extension request waits at the platform or at the city hotline",
    Flag.DISSATISFIED: "a callback verdict was `dissatisfied`",
    Flag.APPEALED: "the platform filed an appeal",
    Flag.CALENDAR_UNCONFIRMED: "an open deadline depends on a year the business calendar does not know yet "
    "(Monday-Friday assumed); goes away once the year is imported",
    Flag.REPLY_LATE: "`DoubtfulOrder` only: the reply deadline was missed; it stays",
}

#: What each search attribute holds.
SEARCH_ATTRIBUTES: Final[dict[SearchAttribute, str]] = {
    SearchAttribute.ORDER_TIER: "the tier",
    SearchAttribute.ORDER_CATEGORY: "the category",
    SearchAttribute.ORDER_PLATFORM: "`center` or `utilities`",
    SearchAttribute.ORDER_PHASE: "the current phase (`DoubtfulOrder`: `awaiting_answer` or `answered`)",
    SearchAttribute.ORDER_UNITS: "the units assigned now, lead first (`DoubtfulOrder`: the unit asked)",
    SearchAttribute.ORDER_DISTRICT: "the district id of `location.district`",
    SearchAttribute.RECEIPT_DUE: "the receipt deadline",
    SearchAttribute.COMPLETION_DUE: "the current completion or re-handling deadline (`DoubtfulOrder`: the reply "
    "deadline)",
    SearchAttribute.ORDER_FLAGS: "the flags (below)",
}

#: Who holds each role, in words built from the directory (`ACTION_ROLES` says which role an action needs).
_WHO: Final[dict[Role, str]] = {
    Role.OPERATOR: "the order's platform: "
    + ", ".join(
        f"`{p.value}` for {', '.join(f'`{c.value}`' for c in Category if platform_for(c) is p)}" for p in Platform
    ),
    Role.SUPERVISOR: "the platform's supervising department: "
    + ", ".join(f"`{org}` for `{p.value}` orders" for p, org in SUPERVISOR.items()),
    Role.HANDLER: "a unit assigned to the order",
    Role.HOTLINE: "the city hotline: `hotline`",
}

_KIND_WORDS: Final[dict[OrgKind, str]] = {
    OrgKind.CITY_HOTLINE: "the city hotline",
    OrgKind.PLATFORM: "handling platform",
    OrgKind.DIVISION: "division of the commission",
    OrgKind.COMMISSION_UNIT: "commission unit",
    OrgKind.DISTRICT_COMMISSION: "district commission",
}


def _words(table: Mapping[Any, str], members: Iterable[Enum], what: str) -> dict[str, str]:
    missing = [str(m.value) for m in members if m not in table]
    if missing:
        raise StaleDocument(f"no words for {what} {', '.join(missing)}: say what it means in starter/contract_doc.py")
    return {str(m.value): table[m] for m in members}


# -- cells -----------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _code(values: Iterable[str]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def _type(schema: Mapping[str, Any], node: Mapping[str, Any]) -> str:
    """A JSON Schema node in words: `text`, `instant`, one of `a`, `b`, list of …, `Model`."""
    ref = node.get("$ref")
    if ref is not None:
        target = schema["$defs"][ref.removeprefix("#/$defs/")]
        if "enum" in target:
            return "one of " + _code(target["enum"])
        return f"`{target.get('title', ref.rsplit('/', 1)[-1])}`"
    if "enum" in node:
        return "one of " + _code(node["enum"])
    if "anyOf" in node:
        kinds = [n for n in node["anyOf"] if n.get("type") != "null"]
        nullable = len(kinds) < len(node["anyOf"])
        text = " or ".join(_type(schema, n) for n in kinds)
        return f"{text} or null" if nullable else text
    kind = node.get("type")
    if kind == "string":
        return {"date-time": "instant", "date": "date", "time": "time", "duration": "duration"}.get(
            node.get("format", ""), "text"
        )
    if kind == "array":
        return "list of " + _type(schema, node.get("items", {}))
    if kind == "object":
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return "object of " + _type(schema, extra)
        return "object"
    return {"boolean": "bool", "integer": "integer", "number": "number"}.get(str(kind), str(kind))


def _description(node: Mapping[str, Any]) -> str:
    text = node.get("description")
    if text is None and "anyOf" in node:
        text = next((n["description"] for n in node["anyOf"] if "description" in n), None)
    return str(text or "")


def _fields(
    model: type[BaseModel], *, mode: JsonSchemaMode, skip: Iterable[str] = ()
) -> list[tuple[str, str, bool, str]]:
    """(field, type in words, required, description) of a model's JSON Schema, in its order."""
    schema = model.model_json_schema(mode=mode)
    required = set(schema.get("required", []))
    return [
        (name, _type(schema, node), name in required, _description(node))
        for name, node in schema["properties"].items()
        if name not in set(skip)
    ]


def _field_table(model: type[BaseModel], *, mode: JsonSchemaMode = "validation", skip: Iterable[str] = ()) -> str:
    rows = _fields(model, mode=mode, skip=skip)
    if mode == "serialization":  # every field of an answer is always sent
        return _table(["field", "type", "what it is"], [(f"`{f}`", t, d) for f, t, _r, d in rows])
    return _table(
        ["field", "type", "required", "what it is"],
        [(f"`{f}`", t, "yes" if r else "no", d) for f, t, r, d in rows],
    )


# -- the regions of docs/contract.md ---------------------------------------------------------------

_COMMON: Final = ("actor", "request_id", "handler")


def _workflows() -> str:
    rows = [
        ("workflow type", f"`{WORK_ORDER}`", f"`{DOUBTFUL_ORDER}` (Article 7.3)"),
        ("task queue", f"`{TASK_QUEUE}` (setting `HOTLINE_TASK_QUEUE`)", "the same"),
        ("namespace", f"`{NAMESPACE}` (setting `HOTLINE_NAMESPACE`)", "the same"),
        ("workflow id", f"`{order_workflow_id('<order_no>')}`", f"`{inquiry_workflow_id('<inquiry_no>')}`"),
        ("input", f"one `{NewOrder.__name__}`", f"one `{NewInquiry.__name__}`"),
        ("result", f"the final `{OrderStatus.__name__}`", f"the final `{InquiryStatus.__name__}`"),
        ("actions (each an Update and a Signal)", _code(ACTIONS), _code(INQUIRY_ACTIONS)),
        (
            "queries",
            f"`{STATUS_QUERY}` → `{OrderStatus.__name__}`, `{HANDLING_ORDER_QUERY}` (a unit's org id) → "
            f"`{HandlingOrder.__name__}`",
            f"`{STATUS_QUERY}` → `{InquiryStatus.__name__}`",
        ),
        ("other signals", f"`{CALENDAR_CHANGED_SIGNAL}` (sent by the engine's own calendar import)", "—"),
        ("start refused", f"`ApplicationError` type `{INVALID_ORDER}`, naming the field", "the same"),
    ]
    return _table(["", "order", "doubtful order"], rows)


def _new_order() -> str:
    return _field_table(NewOrder)


def _directory() -> str:
    rows = [
        (f"`{org}`", _KIND_WORDS[kind], name)
        for org, (kind, name) in ORGANISATIONS.items()
        if kind is not OrgKind.DISTRICT_COMMISSION
    ]
    rows.append(("`district-<district id>`", _KIND_WORDS[OrgKind.DISTRICT_COMMISSION], "one per district, below"))
    return _table(["org id", "what it is", "name"], rows)


def _districts() -> str:
    return _table(
        ["`location.district`", "district", "its district commission"],
        [(f"`{d}`", name, f"`district-{d}`") for d, name in DISTRICTS.items()],
    )


def _actions() -> str:
    rows = []
    for name, model in ACTIONS.items():
        role = ACTION_ROLES[name]
        fields = _fields(model, mode="validation", skip=_COMMON)
        payload = ", ".join(f"`{f}`" + ("" if r else " (optional)") for f, _t, r, _d in fields) or "—"
        rows.append(
            (
                f"`{name}`",
                f"`{role.value}`",
                _WHO[role],
                payload,
                "yes" if issubclass(model, UnitAction) else "—",
            )
        )
    return _table(["action", "role", "sent by", "payload besides `actor`", "may name `handler`"], rows)


def _action_fields() -> str:
    rows = []
    for name, model in ACTIONS.items():
        for field, kind, required, what in _fields(model, mode="validation", skip=_COMMON):
            rows.append((f"`{name}`", f"`{field}`", kind, "yes" if required else "no", what))
    return _table(["action", "field", "type", "required", "what it is"], rows)


def _common_fields() -> str:
    schema = UnitAction.model_json_schema()
    props = schema["properties"]
    rows = [
        ("`actor`", _type(schema, props["actor"]), "every action", "yes", _description(props["actor"])),
        ("`request_id`", _type(schema, props["request_id"]), "every action", "no", _description(props["request_id"])),
        (
            "`handler`",
            _type(schema, props["handler"]),
            "the actions of an assigned unit",
            "no",
            _description(props["handler"]),
        ),
    ]
    actor = schema["$defs"]["Actor"]
    rows += [(f"`actor.{f}`", _type(schema, n), "", "yes", _description(n)) for f, n in actor["properties"].items()]
    handler = schema["$defs"]["Handler"]
    rows += [
        (f"`handler.{f}`", _type(schema, n), "", "yes" if f in handler.get("required", []) else "no", _description(n))
        for f, n in handler["properties"].items()
    ]
    return _table(["field", "type", "on", "required", "what it is"], rows)


def _phases() -> str:
    words = _words(PHASES, Phase, "phase")
    return _table(["phase", "what the order waits for"], [(f"`{p}`", w) for p, w in words.items()])


def _outcomes() -> str:
    words = _words(OUTCOMES, Outcome, "outcome")
    return _table(["outcome", "how it comes about"], [(f"`{o}`", w) for o, w in words.items()])


def _flags() -> str:
    words = _words(FLAGS, Flag, "flag")
    late = {f.value for f in LATE_FLAGS}
    return _table(
        ["flag", "what it marks", "late (`hotline order list --late`)"],
        [(f"`{f}`", w, "yes" if f in late else "—") for f, w in words.items()],
    )


def _search_attributes() -> str:
    words = _words(SEARCH_ATTRIBUTES, SearchAttribute, "search attribute")
    return _table(
        ["name", "type", "what it holds"],
        [(f"`{a.value}`", SEARCH_ATTRIBUTE_TYPES[a], words[a.value]) for a in SearchAttribute],
    )


def _member_comments(cls: type[Enum]) -> dict[str, str]:
    """The ``#:`` comment above each member of an enum, by member name (as Sphinx reads them)."""
    found: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        member = re.match(r"([A-Z][A-Z0-9_]*)\s*=", stripped)
        if member and pending:
            found[member.group(1)] = " ".join(pending)
        pending = []
    return found


def _refusals() -> str:
    comments = _member_comments(RefusalKind)
    missing = [k.value for k in RefusalKind if k.name not in comments]
    if missing:
        raise StaleDocument(f"refusal kinds without a `#:` comment in domain/errors.py: {', '.join(missing)}")
    return _table(
        ["`ApplicationError` type", "what it means"], [(f"`{k.value}`", comments[k.name]) for k in RefusalKind]
    )


def _status_fields() -> str:
    return _field_table(OrderStatus, mode="serialization")


def _deadline_fields() -> str:
    return _field_table(DeadlineState, mode="serialization")


def _handling_order_fields() -> str:
    return _field_table(HandlingOrder, mode="serialization")


def _new_inquiry() -> str:
    return _field_table(NewInquiry)


def _inquiry_actions() -> str:
    rows = []
    for name, model in INQUIRY_ACTIONS.items():
        for field, kind, required, what in _fields(model, mode="validation", skip=_COMMON):
            rows.append((f"`{name}`", f"`{field}`", kind, "yes" if required else "no", what))
    return _table(["action", "field", "type", "required", "what it is"], rows)


# -- the regions of docs/rules.md ------------------------------------------------------------------


def _value(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, timedelta):
        secs = int(v.total_seconds())
        if secs >= 2 * 86400 and secs % 86400 == 0:
            return f"{secs // 86400} d"
        if secs % 3600 == 0:
            return f"{secs // 3600} h"
        return f"{secs // 60} min"
    if isinstance(v, time):
        return v.strftime("%H:%M")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Enum):
        return str(v.value)
    if isinstance(v, Mapping):
        return ", ".join(f"{_value(k)} {_value(x)}" for k, x in v.items()) or "none"
    if isinstance(v, BaseModel):
        return "; ".join(f"{k} {_value(x)}" for k, x in v)
    return str(v)


def _rulebook_parameters(book: Rulebook = TIANJIN_2021) -> str:
    rows = [
        (f"`{name}`", _value(getattr(book, name)), field.description or "")
        for name, field in Rulebook.model_fields.items()
        if name not in {"id", "title"}
    ]
    return _table(["parameter", f"`{book.id}`", "what it is"], rows)


#: Every generated region of each document (file name in ``docs/``), by region name.
REGIONS: Final[dict[str, dict[str, Callable[[], str]]]] = {
    "contract.md": {
        "workflows": _workflows,
        "new-order": _new_order,
        "directory": _directory,
        "districts": _districts,
        "actions": _actions,
        "common-fields": _common_fields,
        "action-fields": _action_fields,
        "status-fields": _status_fields,
        "deadline-fields": _deadline_fields,
        "handling-order-fields": _handling_order_fields,
        "phases": _phases,
        "outcomes": _outcomes,
        "flags": _flags,
        "search-attributes": _search_attributes,
        "refusals": _refusals,
        "new-inquiry": _new_inquiry,
        "inquiry-actions": _inquiry_actions,
    },
    "rules.md": {"rulebook-parameters": _rulebook_parameters},
}


def render(text: str, regions: Mapping[str, Callable[[], str]], *, source: str) -> str:
    """``text`` with the body of every generated region rendered anew; everything else kept.

    Raises:
        StaleDocument: a region of ``regions`` has no markers in ``text``, ``text`` marks a region
            nobody renders, or a marker is unpaired (naming ``source`` and the region).
    """
    marked = [m.group("name") for m in _MARKER.finditer(text)]
    found: list[str] = []

    def body(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in regions:
            raise StaleDocument(f"{source}: no generator for the region {name!r}; known: {', '.join(regions)}")
        found.append(name)
        return match.group("begin") + regions[name]() + match.group("end")

    out = _REGION.sub(body, text)
    unpaired = sorted({n for n in marked if marked.count(n) != 2 * found.count(n)})
    if unpaired:
        raise StaleDocument(f"{source}: unpaired or nested markers of region(s) {', '.join(unpaired)}")
    missing = [n for n in regions if n not in found]
    if missing:
        raise StaleDocument(
            f"{source}: no region {', '.join(missing)}; add `<!-- BEGIN GENERATED NAME -->` and "
            "`<!-- END GENERATED NAME -->` lines where the table goes"
        )
    return out


def render_docs(read: Callable[[str], str]) -> dict[str, str]:
    """Every document with its regions rendered, by file name in ``docs/``.

    Args:
        read: The current text of a document, by file name (``contract.md``, ``rules.md``).

    Raises:
        StaleDocument: as `render`.
    """
    return {name: render(read(name), regions, source=f"docs/{name}") for name, regions in REGIONS.items()}
