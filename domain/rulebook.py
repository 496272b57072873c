"""Rulebook versions as data: every number of ``rulebook.md`` is a parameter here, not a literal.

The Tianjin measures (津城管巡〔2021〕52号) were issued 2021-04-02 and valid for three years
(Article 14); they will be replaced. A `Rulebook` is one version: an id, the date it takes effect
and its parameters. An order binds the version in force at its ``dispatched_at`` and keeps it for
life, so a new version changes new orders only and running orders replay unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.calendar import to_local
from domain.errors import RulebookError
from domain.models import Category, Tier

#: The tiers whose completion deadline counts working days (Article 8.5).
DAY_COUNTED_TIERS: Final = (Tier.NORMAL, Tier.URGENT, Tier.VERY_URGENT)


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


class Rulebook(_Value):
    """One version of the rulebook: the parameters of every deadline and limit.

    Field defaults are the project's reading of the 2021 Tianjin measures (``rulebook.md``).
    """

    id: str = Field(min_length=1, description="Version id, e.g. `tianjin-2021`.")
    effective_from: date = Field(description="First local (Asia/Shanghai) date the version governs.")
    title: str = Field(default="", description="What the version is, for a person.")

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
        default=2, ge=0, description="How many re-handling rounds a dissatisfied order may get."
    )
    callback_wait: timedelta = Field(
        default=timedelta(days=30),
        description="An order waiting longer than this for its callback closes `no_callback`.",
    )
    doubtful_reply_working_days: int = Field(
        default=1, ge=1, description="Reply window of a doubtful order, in working days (7.3)."
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
        ):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        return self

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


TIANJIN_2021: Final = Rulebook(
    id="tianjin-2021",
    effective_from=date(2021, 4, 2),
    title="Tianjin City Management Commission hotline measures, 津城管巡〔2021〕52号",
)

#: Every rulebook version, oldest first.
RULEBOOKS: Final[tuple[Rulebook, ...]] = (TIANJIN_2021,)


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
