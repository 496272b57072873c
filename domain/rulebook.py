"""Rulebook versions as data: every number of ``docs/rules.md`` is a parameter here, not a literal.

The Tianjin measures (津城管巡〔2021〕52号) were issued 2021-04-02 and valid for three years
(Article 14); they will be replaced. A `Rulebook` is one version: an id, the date it takes effect,
its nominal end, and its parameters with per-category overrides. Each version shipped with the
package is a JSON file in ``domain/rulebooks/`` (format: ``docs/rulebook-format.md``); operators
import successors into PostgreSQL (``hotline rulebook import``). An order binds the version in force
at its ``dispatched_at`` when it starts and keeps it for life, so a new version changes new orders
only and running orders replay unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from importlib import resources
from typing import Any, Final, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.calendar import to_local
from domain.errors import RulebookError
from domain.models import Category, Tier

#: The tiers whose completion deadline counts working days (Article 8.5).
DAY_COUNTED_TIERS: Final = (Tier.NORMAL, Tier.URGENT, Tier.VERY_URGENT)


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepWindow(_Value):
    """A window counted with the receipt window's arithmetic (Article 8.1), for a platform's own step.

    The measures give the platforms no number for dispatching a received order or for replying
    with a unit's result, only "第一时间"; the project's reading applies Article 8.1's arithmetic
    to both (``docs/rules.md``). A version may set other numbers here.
    """

    in_working_period: timedelta = Field(description="Window when the step starts in the working period.")
    after_work_start: timedelta = Field(description="Window after the next work start (short wait).")
    after_long_break: timedelta = Field(description="Window after the next work start across a long break.")
    extra_urgent: timedelta = Field(description="Window of `extra_urgent` orders, wall clock.")


class WindowOverrides(_Value):
    """A partial set of window parameters for one category (Articles 5, 8.1, 10).

    Heating, gas and municipal roads and bridges follow their profession's rules; a field left
    `None` keeps the general value.
    """

    receipt_in_working_period: timedelta | None = Field(
        default=None, description="Receipt window when dispatched in the working period."
    )
    receipt_after_work_start: timedelta | None = Field(
        default=None, description="Receipt window after the next work start (short wait)."
    )
    receipt_after_long_break: timedelta | None = Field(
        default=None, description="Receipt window after the next work start across a long break."
    )
    long_break_min_days: int | None = Field(
        default=None, ge=1, description="A holiday break of at least this many days is long."
    )
    extra_urgent_receipt: timedelta | None = Field(
        default=None, description="Receipt window of `extra_urgent` (wall clock)."
    )
    completion_working_days: dict[Tier, int] | None = Field(
        default=None, description="Completion window in working days per tier (partial allowed)."
    )
    extra_urgent_completion: timedelta | None = Field(
        default=None, description="Completion window of `extra_urgent` (wall clock)."
    )
    return_window: timedelta | None = Field(
        default=None, description="How long a unit may return a handling order (wall clock)."
    )
    warning_fraction: float | None = Field(
        default=None, gt=0, lt=1, description="Fraction of a window after which a warning goes out."
    )
    doubtful_reply_working_days: int | None = Field(
        default=None, ge=1, description="Reply window of a doubtful order in working days."
    )
    dispatch_window: StepWindow | None = Field(default=None, description="The platform's dispatch reminder window.")
    result_review_window: StepWindow | None = Field(default=None, description="The platform's result review window.")
    appeal_window_working_days: int | None = Field(default=None, ge=1, description="Appeal window in working days.")
    appeal_wait: timedelta | None = Field(default=None, description="How long an appeal waits for its decision.")


class Rulebook(_Value):
    """One version of the rulebook: the parameters of every deadline and limit.

    Field defaults are the project's reading of the 2021 Tianjin measures (``docs/rules.md``); the file
    format is ``docs/rulebook-format.md``.
    """

    id: str = Field(
        min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Version id, e.g. `tianjin-2021`."
    )
    effective_from: date = Field(description="First local (Asia/Shanghai) date the version governs.")
    nominal_end: date | None = Field(
        default=None,
        description="When the measures' own validity ends (Article 14). The version stays in force past it "
        "until a successor is imported; every explanation after it says so.",
    )
    title: str = Field(default="", max_length=500, description="What the version is, for a person.")

    work_start: time = Field(default=time(9), description="Working period start (Article 8.1).")
    work_end: time = Field(default=time(16), description="Working period end, itself non-working (Article 8.1).")
    receipt_in_working_period: timedelta = Field(
        default=timedelta(hours=3),
        description="Receipt window when dispatched in the working period, wall clock (Art. 8.1).",
    )
    receipt_after_work_start: timedelta = Field(
        default=timedelta(hours=3),
        description="Receipt window after the next work start when no long break is waited out.",
    )
    receipt_after_long_break: timedelta = Field(
        default=timedelta(hours=24),
        description="Receipt window after the next work start when the wait spans a long break.",
    )
    long_break_min_days: int = Field(
        default=5, ge=1, description="A holiday break of at least this many days is long (8.1)."
    )
    extra_urgent_receipt: timedelta = Field(
        default=timedelta(hours=1), description="Receipt window of `extra_urgent`, any time (8.1)."
    )
    completion_working_days: dict[Tier, int] = Field(
        default_factory=lambda: {Tier.NORMAL: 6, Tier.URGENT: 2, Tier.VERY_URGENT: 1},
        description="Completion window in working days for normal/urgent/very_urgent (Art. 8.5).",
    )
    extra_urgent_completion: timedelta = Field(
        default=timedelta(minutes=30), description="Completion window of `extra_urgent` (8.5)."
    )
    return_window: timedelta = Field(
        default=timedelta(hours=8), description="Return window of a handling order, wall clock (7)."
    )
    warning_fraction: float = Field(
        default=0.8, gt=0, lt=1, description="Warning when this fraction of a window has elapsed."
    )
    rehandling_rounds: int = Field(
        default=1, ge=0, description='How many re-handling rounds a dissatisfied order gets ("再次办理": once).'
    )
    callback_wait: timedelta = Field(
        default=timedelta(days=30),
        description="An order waiting longer than this for its callback closes `no_callback`.",
    )
    doubtful_reply_working_days: int = Field(
        default=1, ge=1, description="Reply window of a doubtful order, in working days (7.3)."
    )
    dispatch_window: StepWindow | None = Field(
        default=None,
        description="The platform's dispatch window (first reminder; the escalation one more window later). "
        "None: the receipt window's numbers (our reading of 第一时间派遣).",
    )
    result_review_window: StepWindow | None = Field(
        default=None,
        description="The platform's window to review a unit's result and reply. None: the receipt window's numbers.",
    )
    appeal_window_working_days: int = Field(
        default=3,
        ge=1,
        description="Working days after the last dissatisfied verdict during which the platform may appeal "
        "(our own default; the measures set none).",
    )
    appeal_wait: timedelta = Field(
        default=timedelta(days=30),
        description="An appeal undecided this long closes `appeal_unanswered` (our own default).",
    )
    overdue_reminder_interval: timedelta = Field(
        default=timedelta(days=1),
        description="While a missed deadline stays unmet, a reminder goes out this often (our own default).",
    )
    category_overrides: dict[Category, WindowOverrides] = Field(
        default_factory=dict,
        description="Per-category window overrides (Articles 5, 10); empty: all equal the general.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Rulebook:
        if not self.work_start < self.work_end:
            raise ValueError("work_start must be before work_end")
        missing = [t.value for t in DAY_COUNTED_TIERS if t not in self.completion_working_days]
        if missing:
            raise ValueError(f"completion_working_days lacks tiers: {', '.join(missing)}")
        if Tier.EXTRA_URGENT in self.completion_working_days:
            raise ValueError("extra_urgent completes by extra_urgent_completion, not working days")
        if any(n < 1 for n in self.completion_working_days.values()):
            raise ValueError("completion_working_days must be at least 1")
        for name in (
            "receipt_in_working_period",
            "receipt_after_work_start",
            "receipt_after_long_break",
            "extra_urgent_receipt",
            "extra_urgent_completion",
            "return_window",
            "callback_wait",
            "appeal_wait",
            "overdue_reminder_interval",
        ):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        for name in ("dispatch_window", "result_review_window"):
            window = getattr(self, name)
            if window is not None and any(v <= timedelta(0) for _, v in window):
                raise ValueError(f"{name}: every window must be positive")
        if self.nominal_end is not None and self.nominal_end <= self.effective_from:
            raise ValueError("nominal_end must be after effective_from")
        for category in self.category_overrides:
            # an override must give a valid rulebook once merged, or an order of that category
            # would fail at its start instead of the version being refused when it is entered
            try:
                self.for_category(category)
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(
                    f"category_overrides.{category.value}: {(where + ': ') if where else ''}"
                    + str(first["msg"]).removeprefix("Value error, ")
                ) from None
        return self

    def dispatch(self) -> StepWindow:
        """The dispatch window's numbers (the receipt window's unless set)."""
        return self.dispatch_window or self.receipt_window()

    def result_review(self) -> StepWindow:
        """The result review window's numbers (the receipt window's unless set)."""
        return self.result_review_window or self.receipt_window()

    def receipt_window(self) -> StepWindow:
        """The receipt window's numbers as a `StepWindow` (Article 8.1)."""
        return StepWindow(
            in_working_period=self.receipt_in_working_period,
            after_work_start=self.receipt_after_work_start,
            after_long_break=self.receipt_after_long_break,
            extra_urgent=self.extra_urgent_receipt,
        )

    def past_nominal_end(self, day: date) -> bool:
        """Whether ``day`` lies on or after the version's nominal end (Article 14)."""
        return self.nominal_end is not None and day >= self.nominal_end

    def for_category(self, category: Category) -> Rulebook:
        """The rulebook with ``category``'s overrides applied (Articles 5, 8.1, 10).

        Returns:
            ``self`` when the category has no overrides, else a copy with them merged in.
        """
        over = self.category_overrides.get(category)
        if over is None:
            return self
        update: dict[str, object] = {}
        for name, value in over:
            if value is None:
                continue
            if name == "completion_working_days":
                assert isinstance(value, Mapping)
                update[name] = {**self.completion_working_days, **value}
            else:
                update[name] = value
        return self.model_validate({**self.model_dump(), **update, "category_overrides": {}})

    def working_days_for(self, tier: Tier) -> int:
        """Completion window in working days of a day-counted tier (Article 8.5).

        Raises:
            RulebookError: for `extra_urgent`, whose window is wall clock.
        """
        try:
            return self.completion_working_days[tier]
        except KeyError:
            raise RulebookError(
                f"tier {tier.value} has no working-day completion window; allowed: "
                + ", ".join(t.value for t in DAY_COUNTED_TIERS)
            ) from None


#: An ISO 8601 duration as a rulebook file writes it: weeks, days, hours, minutes, seconds (no
#: years or months, whose length varies), e.g. ``PT3H``, ``PT30M``, ``P1D``, ``P1DT12H``.
_DURATION: Final = re.compile(r"P(?!$)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")
_DURATION_HINT: Final = "allowed: an ISO 8601 duration such as PT3H, PT30M, P1D, P1DT12H"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class inside ``annotation`` (``M``, ``M | None``), if any."""
    for arg in (annotation, *get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _is_duration(annotation: Any) -> bool:
    if annotation is timedelta:
        return True
    return get_origin(annotation) in (Union, types.UnionType) and timedelta in get_args(annotation)


def _duration_problems(model: type[BaseModel], raw: Mapping[str, Any], where: str = "") -> list[str]:
    """Every duration of ``raw`` (a file's object for ``model``) that is not an ISO 8601 string."""
    problems: list[str] = []
    for name, value in raw.items():
        field = model.model_fields.get(name)
        if field is None or value is None:
            continue
        path = f"{where}{name}"
        annotation = field.annotation
        if _is_duration(annotation):
            if not isinstance(value, str) or not _DURATION.fullmatch(value):
                problems.append(f"{path}: {json.dumps(value, ensure_ascii=False)} is not a duration; {_DURATION_HINT}")
        elif get_origin(annotation) is dict and isinstance(value, Mapping):
            inner = _model_of(get_args(annotation)[1])
            if inner is not None:
                for key, sub in value.items():
                    if isinstance(sub, Mapping):
                        problems += _duration_problems(inner, sub, f"{path}.{key}.")
        elif (inner := _model_of(annotation)) is not None and isinstance(value, Mapping):
            problems += _duration_problems(inner, value, f"{path}.")
    return problems


def _describe(error: Mapping[str, Any]) -> str:
    where = ".".join(str(p) for p in error["loc"] if p != "[key]")
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field (the fields are in docs/rulebook-format.md)"
    if error["type"] == "missing":
        return f"{where}: required field is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def parse_rulebook(text: str | bytes, *, source: str = "rulebook") -> Rulebook:
    """A rulebook version from its JSON file (``docs/rulebook-format.md``).

    The file is read as JSON is written: numbers are numbers, dates and times ISO strings,
    durations ISO 8601 strings (``PT3H``), no field beyond the format's.

    Raises:
        RulebookError: one line starting with ``source``: the text is not JSON, or breaks the
            format; naming every wrong field.
    """
    try:
        raw = json.loads(text)
    except UnicodeDecodeError as err:
        raise RulebookError(f"{source}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise RulebookError(f"{source}: not JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    if not isinstance(raw, dict):
        raise RulebookError(f"{source}: a rulebook file is one JSON object")
    problems = _duration_problems(Rulebook, raw)
    try:
        book = Rulebook.model_validate_json(json.dumps(raw), strict=True)
    except ValidationError as err:
        named = {p.split(":", 1)[0] for p in problems}
        problems += [d for d in map(_describe, err.errors()) if d.split(":", 1)[0] not in named]
        raise RulebookError(f"{source}: " + "; ".join(problems)) from None
    if problems:
        raise RulebookError(f"{source}: " + "; ".join(problems))
    return book


def rulebook_document(book: Rulebook) -> dict[str, Any]:
    """``book`` as its file says it (JSON types; `parse_rulebook` reads it back equal)."""
    return book.model_dump(mode="json")


def rulebook_text(book: Rulebook) -> str:
    """``book`` as a rulebook file: JSON, two-space indent, UTF-8 kept, a trailing newline."""
    return json.dumps(rulebook_document(book), ensure_ascii=False, indent=2) + "\n"


def rulebook_digest(book: Rulebook) -> str:
    """The SHA-256 of ``book``'s content (keys sorted): equal versions, equal digests, however written."""
    canonical = json.dumps(rulebook_document(book), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _shipped() -> tuple[tuple[Rulebook, str], ...]:
    folder = resources.files("domain") / "rulebooks"
    books = [
        (parse_rulebook(f.read_bytes(), source=f"domain/rulebooks/{f.name}"), f"domain/rulebooks/{f.name}")
        for f in folder.iterdir()
        if f.name.endswith(".json")
    ]
    return tuple(sorted(books, key=lambda b: b[0].effective_from))


_SHIPPED: Final = _shipped()

#: Every rulebook version shipped with the package, oldest first (``domain/rulebooks/*.json``).
RULEBOOKS: Final[tuple[Rulebook, ...]] = tuple(book for book, _ in _SHIPPED)

#: The file each shipped version comes from, by id (``domain/rulebooks/<file>.json``).
SHIPPED_FILES: Final[Mapping[str, str]] = {book.id: path for book, path in _SHIPPED}

TIANJIN_2021: Final = next(b for b in RULEBOOKS if b.id == "tianjin-2021")

#: `tianjin-2021` as orders started before rulebooks became data were bound to it: two re-handling
#: rounds. Those orders (lifecycle 1) keep it for life (``docs/rules.md``, "Running orders").
LEGACY_TIANJIN_2021: Final = TIANJIN_2021.model_copy(update={"rehandling_rounds": 2})


def _check_registry(books: tuple[Rulebook, ...]) -> None:
    ids = [b.id for b in books]
    if len(set(ids)) != len(ids):
        raise RulebookError(f"duplicate rulebook ids: {ids}")
    starts = [b.effective_from for b in books]
    if starts != sorted(starts) or len(set(starts)) != len(starts):
        raise RulebookError("rulebook versions must be in strictly increasing effective_from order")


_check_registry(RULEBOOKS)
_BY_ID: Final = {b.id: b for b in RULEBOOKS}


def rulebook_for(instant: datetime, *, books: tuple[Rulebook, ...] = RULEBOOKS) -> Rulebook:
    """The version in force at ``instant`` (its local date in Asia/Shanghai).

    Args:
        instant: A timezone-aware datetime, e.g. an order's ``dispatched_at``.
        books: The versions to choose from, oldest first (the registry by default).

    Raises:
        InvalidInstant: ``instant`` is naive.
        RulebookError: ``instant`` lies before the first version took effect.
    """
    day = to_local(instant).date()
    chosen: Rulebook | None = None
    for book in books:
        if book.effective_from <= day:
            chosen = book
        else:
            break
    if chosen is None:
        first = books[0].effective_from.isoformat() if books else "(none)"
        raise RulebookError(f"no rulebook in force on {day.isoformat()}; the first version takes effect on {first}")
    return chosen


def rulebook_by_id(rulebook_id: str) -> Rulebook:
    """The version named ``rulebook_id``.

    Raises:
        RulebookError: no version has that id (the message lists the known ones).
    """
    try:
        return _BY_ID[rulebook_id]
    except KeyError:
        raise RulebookError(f"unknown rulebook {rulebook_id!r}; known: {', '.join(_BY_ID)}") from None
