"""Fuzzed action payloads for chaos run R3: hypothesis strategies built from the contract's JSON Schemas.

Every action's schema (`schemas/actions/<action>.json`; one the folder lacks yet comes from the same
generator, `starter.schemas.generate`) becomes a strategy of payloads that fit it, with org ids
from the directory (so that wrong phases and missing standing are reached, not only unknown orgs).
Each payload is then broken in one way: a field of the wrong JSON type, a required field missing, a
naive datetime, an unknown org, a huge string, an unknown field, not an object at all, or left as
it is (then only the order's phase or the actor's standing can refuse it). Which of them the rules
would accept is for the caller to decide (`bench.chaos` asks a local copy of the order).
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from domain.calendar import SHANGHAI
from domain.directory import ORGANISATIONS
from domain.models import ACTIONS
from starter.schemas import generate

ROOT: Final = Path(__file__).resolve().parents[1]
#: Fields whose strings are org ids.
ORG_FIELDS: Final = frozenset({"org", "lead_unit", "unit", "assisting_units"})
#: The ways a payload is broken, each equally likely.
MUTATIONS: Final = (
    "as_is",
    "wrong_type",
    "missing_field",
    "naive_datetime",
    "unknown_org",
    "huge_string",
    "unknown_field",
    "not_an_object",
)


def action_schemas() -> dict[str, dict[str, Any]]:
    """Every action's JSON Schema: the file in `schemas/actions/`, else the generator's."""
    generated: dict[str, str] | None = None
    found = {}
    for name in ACTIONS:
        path = ROOT / "schemas" / "actions" / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text(encoding="utf-8"))
            continue
        generated = generated or generate()
        found[name] = json.loads(generated[f"actions/{name}.json"])
    return found


def from_schema(schema: dict[str, Any], root: dict[str, Any], *, field: str = "") -> SearchStrategy[Any]:
    """Values that fit ``schema`` (the subset of JSON Schema the contract's schemas use)."""
    if "$ref" in schema:
        target = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
        return from_schema({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, root, field=field)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, root, field=field) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, root, field=k) for k, v in props.items() if k in required},
            optional={k: from_schema(v, root, field=k) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        return st.lists(
            from_schema(schema.get("items", {}), root, field=field), max_size=min(3, schema.get("maxItems", 3))
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(-(10**6), 10**6)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "null":
        return st.none()
    if kind == "string":
        if field in ORG_FIELDS:
            return st.sampled_from(sorted(ORGANISATIONS))
        if schema.get("format") == "date-time":
            return st.integers(-3 * 86400, 3 * 86400).map(_instant)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: len(s) <= schema.get("maxLength", 64)
            )
        low = schema.get("minLength", 0)
        return st.text(min_size=low, max_size=max(low, min(40, schema.get("maxLength", 40))))
    return st.just(None)


def _instant(offset_seconds: int) -> str:
    return (datetime.now(SHANGHAI) + timedelta(seconds=offset_seconds)).replace(microsecond=0).isoformat()


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (object keys, list indices)."""
    found = [at] if at else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*at, i))
    return found


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for key in path[:-1]:
        value = value[key]
    value[path[-1]] = new


def _delete(value: Any, path: tuple[Any, ...]) -> None:
    for key in path[:-1]:
        value = value[key]
    del value[path[-1]]


def _other_type(old: Any, rng: random.Random) -> Any:
    choices: list[Any] = [12345, -1.5, True, None, "文字", [1, "a"], {"x": 1}]
    return rng.choice([c for c in choices if type(c) is not type(old)])


def mutate(name: str, payload: dict[str, Any], schema: dict[str, Any], rng: random.Random) -> tuple[str, Any]:
    """``payload`` broken in one of the `MUTATIONS` ways (chosen by ``rng``): (the way, the payload)."""
    way = rng.choice(MUTATIONS)
    p = json.loads(json.dumps(payload))
    paths = _paths(p)
    if way == "wrong_type" and paths:
        path = rng.choice(paths)
        value = p
        for key in path:
            value = value[key]
        _set(p, path, _other_type(value, rng))
    elif way == "missing_field":
        required = schema.get("required", [])
        if required:
            del p[rng.choice(required)]
        else:
            p["actor"].pop(rng.choice(["org", "person", "role"]))
    elif way == "naive_datetime":
        instants = [k for k, v in schema.get("properties", {}).items() if _is_datetime(v, schema)]
        naive = datetime.now().replace(microsecond=0).isoformat()  # noqa: DTZ005 - naive on purpose
        if instants:
            p[rng.choice(instants)] = naive
        else:
            p["at"] = naive  # a field this action does not have, naive at that
    elif way == "unknown_org":
        targets = [k for k in ("lead_unit", "unit") if k in p] + ["actor"]
        target = rng.choice(targets)
        bogus = rng.choice(["district-atlantis", "", "CENTER", "dept-roads ", "hotline\u0000", "a" * 300])
        if target == "actor":
            p["actor"]["org"] = bogus
        else:
            p[target] = bogus
    elif way == "huge_string":
        strings = [path for path in paths if isinstance(_get(p, path), str)]
        path = rng.choice(strings) if strings else ("actor", "person")
        size = rng.choice([5_001, 20_000, 60_000])
        _set(p, path, ("超长" * (size // 2 + 1))[:size] if rng.random() < 0.5 else "x" * size)
    elif way == "unknown_field":
        p[rng.choice(["approve", "Actor", "extra", "order_no", "__proto__"])] = rng.choice([1, "x", None])
    elif way == "not_an_object":
        return way, rng.choice([[payload], "receive", 0, None, True, 3.5])
    return way, p


def _is_datetime(prop: dict[str, Any], root: dict[str, Any]) -> bool:
    if prop.get("format") == "date-time":
        return True
    return any(_is_datetime(s, root) for s in prop.get("anyOf", []))


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def payloads(count: int, *, seed: int) -> list[tuple[str, str, Any]]:
    """``count`` (action, way, payload) triples: schema-fitting payloads broken by `mutate`."""
    schemas = action_schemas()
    strategy = st.sampled_from(sorted(schemas)).flatmap(
        lambda name: st.tuples(st.just(name), from_schema(schemas[name], schemas[name]))
    )
    fitting: list[tuple[str, Any]] = []

    @settings(
        max_examples=min(count, 3000),
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(strategy)
    def collect(example: tuple[str, Any]) -> None:
        fitting.append(example)

    collect()
    rng = random.Random(seed)
    out: list[tuple[str, str, Any]] = []
    while len(out) < count:
        name, payload = fitting[len(out) % len(fitting)]
        way, broken = mutate(name, payload, schemas[name], rng)
        out.append((name, way, broken))
    return out
