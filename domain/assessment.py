"""Statistics figures and the monthly assessment computed from them (Articles 4.4, 4.5, 6.4, 6.5).

The commission's supervising department assesses the performance of the hotline work (4.4) and of
the 16 district commissions in particular (4.5); the Assessment Center does the same for its
platform (6.5). This module holds what those assessments are made of, with no I/O:

- `Period`: a range of local (Asia/Shanghai) dates, inclusive, and the instants that bound it;
- `Figures`: the counts of one group of orders in a period (``docs/statistics.md`` defines each);
- `AssessmentVersion`: the weights, versioned as data like the rulebook (``ASSESSMENTS``);
- `assess`: a score per subject, ranked within its group (platforms, district commissions, units).

A score is 100 times the weighted mean of the subject's rates (on-time receipt, on-time completion,
satisfaction, returns), less points per order late at the month's end and per missed training
submission (Article 11). A dissatisfied verdict whose appeal was upheld does not count against
(Articles 5.5, 6.3).

How lifecycle 2 (issues 10, 11) counts, with no weight changed (so no new version; see below):

- an **unanswered appeal** (no decision within the appeal wait) is not an upheld one: the verdicts it
  contested stand, dissatisfied; only an upheld appeal excuses them;
- a **forgiven overdue mark** (an extension asked for in time and approved after the old deadline)
  is not late: the completion is judged against the approved instant, and the order is not counted
  late in between;
- a **late result review** is the platform's: an order whose result waits past its review window is
  late for no unit, so it counts against its platform in ``late_at_end`` and never against the unit,
  whose clock stops while its result waits. It has no rate of its own: the review window is our own
  reading (the measures give no number), and a new rate would be a new weight;
- a **dispatch reminder** is not lateness and counts against nobody.

Versions are bound by month. A new version is needed when the weights change for a month already
assessed; these rules change none: lifecycle 1 orders keep every figure they had (migration 010
derives them as 005 did), and what lifecycle 2 adds (reviews, appeals after re-handling, forgiven
marks) only happens to orders started after its release, in months not assessed yet.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.calendar import SHANGHAI
from domain.errors import DomainError


class AssessmentError(DomainError):
    """No assessment version fits (unknown id, a month before the first version), or bad input."""


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- periods ------------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class Period(_Value):
    """Local dates ``first`` to ``last``, both included (Asia/Shanghai, like every rule)."""

    first: date = Field(description="First local date of the period.")
    last: date = Field(description="Last local date of the period (included).")

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.first > self.last:
            raise ValueError(f"the period starts {self.first} after it ends {self.last}")
        return self

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        """The calendar month ``year``-``month``."""
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(first=first, last=following - timedelta(days=1))

    @classmethod
    def parse_month(cls, text: str) -> Period:
        """``YYYY-MM`` -> that month.

        Raises:
            AssessmentError: ``text`` is not a month in that form.
        """
        m = _MONTH.match(text.strip())
        if m is None or not 1 <= int(m.group(2)) <= 12 or not 1 <= int(m.group(1)) <= 9998:
            raise AssessmentError(f"{text!r} is not a month; allowed: YYYY-MM, e.g. 2026-03")
        return cls.month(int(m.group(1)), int(m.group(2)))

    @property
    def start(self) -> datetime:
        """00:00 local of ``first``: the first instant of the period."""
        return datetime.combine(self.first, time(0), tzinfo=SHANGHAI)

    @property
    def end(self) -> datetime:
        """00:00 local of the day after ``last``: the first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=SHANGHAI)

    @property
    def is_month(self) -> bool:
        """Whether the period is exactly one calendar month."""
        return self.first.day == 1 and self == Period.month(self.first.year, self.first.month)

    def previous_month(self) -> Period:
        """The calendar month before the one ``first`` lies in."""
        before = self.first.replace(day=1) - timedelta(days=1)
        return Period.month(before.year, before.month)

    def label(self) -> str:
        """``2026-03`` for a whole month, else ``2026-03-01..2026-03-15``."""
        if self.is_month:
            return f"{self.first.year:04d}-{self.first.month:02d}"
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


# -- figures ------------------------------------------------------------------------------------


class Grouping(StrEnum):
    """How a statistics report is split."""

    TOTAL = "total"
    PLATFORM = "platform"
    UNIT = "unit"
    DISTRICT = "district"
    TIER = "tier"
    CATEGORY = "category"


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else min(1.0, max(0.0, numerator / denominator))


class Figures(_Value):
    """The figures of one group of orders in one period (exact definitions: docs/statistics.md).

    Counts of events count the events whose instant lies in the period; ``open_now`` and
    ``late_now`` are the running orders at the report's ``as_of`` instant, whatever the period.
    """

    received: int = Field(default=0, description="Orders the city hotline dispatched in the period.")
    received_on_time: int = Field(default=0, description="... whose receipt was met at or before its due.")
    received_late: int = Field(default=0, description="... whose receipt was met late or went overdue.")
    dispatched: int = Field(default=0, description="Orders first dispatched to units (proposal approved).")
    median_dispatch_hours: float | None = Field(
        default=None, description="Median of receipt -> first dispatch, wall-clock hours, of `dispatched`."
    )
    dispatch_reminders: int = Field(
        default=0, description="Dispatch windows passed undispatched: reminders to the platform (not lateness)."
    )
    dispatch_escalations: int = Field(
        default=0, description="... and one more window: escalations to the supervising department."
    )
    assigned: int = Field(default=0, description="Handling orders dispatched to units (lead or assisting).")
    returns: int = Field(default=0, description="Handling orders units returned (Article 8.5).")
    completed: int = Field(
        default=0, description="Orders whose first accepted result (round 0) was submitted in the period."
    )
    completed_on_time: int = Field(
        default=0, description="... by the completion deadline as extended (a forgiven mark is not late)."
    )
    median_handling_hours: float | None = Field(
        default=None, description="Median of the units' clock start -> accepted result, wall-clock hours."
    )
    results_reviewed: int = Field(default=0, description="Results the platform reviewed (Art. 6.2).")
    results_reviewed_late: int = Field(default=0, description="... after their review window.")
    results_sent_back: int = Field(default=0, description="... sent back to the lead unit.")
    median_review_hours: float | None = Field(
        default=None, description="Median of submission -> review, wall-clock hours, of `results_reviewed`."
    )
    extensions_requested: int = Field(default=0, description="Extensions units asked for (Article 8.6).")
    extensions_forwarded: int = Field(default=0, description="... the platform applied for to the city hotline.")
    extensions_declined: int = Field(default=0, description="... the platform declined.")
    extensions_approved: int = Field(default=0, description="Extensions the city hotline approved.")
    extensions_refused: int = Field(default=0, description="Extensions the city hotline refused.")
    extensions_forgiven: int = Field(
        default=0, description="Approvals after the deadline had passed: the overdue mark is lifted."
    )
    extensions_ended: int = Field(
        default=0, description="Requests that ended undecided (a result came first, a return, the close)."
    )
    callbacks: int = Field(default=0, description="Callback verdicts.")
    dissatisfied: int = Field(default=0, description="Dissatisfied verdicts.")
    dissatisfied_excused: int = Field(default=0, description="... of them overturned by an upheld appeal.")
    rehandled: int = Field(default=0, description="Re-handling rounds opened.")
    appeals_filed: int = Field(default=0, description="Appeals filed by the platforms.")
    appeals_upheld: int = Field(default=0, description="Appeals the city hotline upheld.")
    appeals_rejected: int = Field(default=0, description="Appeals the city hotline rejected.")
    appeals_unanswered: int = Field(
        default=0, description="Appeals without a decision within the appeal wait (closed appeal_unanswered)."
    )
    appeals_moot: int = Field(
        default=0, description="Appeals left undecided because the order closed otherwise (a verdict, a withdrawal)."
    )
    appeals_pending: int = Field(
        default=0, description="Appeals waiting for a decision at the period's end (or at as_of, if sooner)."
    )
    late_at_end: int = Field(
        default=0, description="Orders behind a deadline at the period's end (or at as_of, if sooner)."
    )
    open_now: int = Field(default=0, description="Running orders at as_of.")
    late_now: int = Field(default=0, description="Running orders behind a deadline at as_of.")

    @property
    def dissatisfied_counted(self) -> int:
        """Dissatisfied verdicts that count against: those no upheld appeal overturned."""
        return max(0, self.dissatisfied - self.dissatisfied_excused)

    @property
    def receipt_rate(self) -> float | None:
        """On-time receipts among the decided ones (met, or overdue); None when none is decided."""
        return _rate(self.received_on_time, self.received_on_time + self.received_late)

    @property
    def completion_rate(self) -> float | None:
        """On-time completions among the completions; None without any."""
        return _rate(self.completed_on_time, self.completed)

    @property
    def satisfaction_rate(self) -> float | None:
        """Verdicts not counted dissatisfied among all verdicts; None without any."""
        return _rate(self.callbacks - self.dissatisfied_counted, self.callbacks)

    @property
    def return_rate(self) -> float | None:
        """Returns per handling order dispatched (at most 1); None when nothing was dispatched."""
        return _rate(self.returns, self.assigned)

    def is_empty(self) -> bool:
        """Whether nothing at all is counted."""
        return not any(v for v in self.model_dump().values() if v is not None)


# -- assessment versions ------------------------------------------------------------------------


class SubjectGroup(StrEnum):
    """Who is assessed, each group ranked on its own."""

    PLATFORM = "platform"
    DISTRICT_COMMISSION = "district_commission"
    UNIT = "unit"


class Weights(_Value):
    """How much each component weighs for one group of subjects.

    The four rate weights are relative (their sum need not be 100); a rate a subject has no
    denominator for (no orders of that kind this month) is left out and the others reweighted.
    """

    on_time_receipt: float = Field(ge=0, description="Weight of the on-time receipt rate (Art. 8.1).")
    on_time_completion: float = Field(ge=0, description="Weight of the on-time completion rate (Art. 8.5).")
    satisfaction: float = Field(ge=0, description="Weight of the satisfaction rate (appeals upheld excused).")
    no_returns: float = Field(ge=0, description="Weight of 1 - the return rate (Art. 8.5).")
    late_points: float = Field(ge=0, description="Points off per order behind a deadline at the month's end.")
    training_points: float = Field(ge=0, description="Points off when the month's training material is missing.")

    @model_validator(mode="after")
    def _some_rate(self) -> Weights:
        if self.on_time_receipt + self.on_time_completion + self.satisfaction + self.no_returns <= 0:
            raise ValueError("at least one rate must have a positive weight")
        return self


#: The components that are rates, in display order: name -> label.
RATE_COMPONENTS: Final[dict[str, str]] = {
    "on_time_receipt": "on-time receipt",
    "on_time_completion": "on-time completion",
    "satisfaction": "satisfaction",
    "no_returns": "no returns",
}


class AssessmentVersion(_Value):
    """One version of the assessment: an id, the first month it applies to, the weights."""

    id: str = Field(min_length=1, description="Version id, e.g. `tianjin-assessment-2021`.")
    effective_from: date = Field(description="First day of the first month assessed under it.")
    title: str = Field(default="", description="What the version is, for a person.")
    weights: dict[SubjectGroup, Weights] = Field(description="Weights per group of subjects.")

    @model_validator(mode="after")
    def _complete(self) -> AssessmentVersion:
        if self.effective_from.day != 1:
            raise ValueError("effective_from must be the first day of a month")
        missing = [g.value for g in SubjectGroup if g not in self.weights]
        if missing:
            raise ValueError(f"weights lack groups: {', '.join(missing)}")
        return self


_UNIT_WEIGHTS: Final = Weights(
    on_time_receipt=0,  # receipt (查收) is the platform's duty (Art. 8.1), not the unit's
    on_time_completion=40,
    satisfaction=40,
    no_returns=20,
    late_points=2,
    training_points=5,
)

TIANJIN_ASSESSMENT_2021: Final = AssessmentVersion(
    id="tianjin-assessment-2021",
    effective_from=date(2021, 4, 1),
    title="Monthly hotline assessment under 津城管巡〔2021〕52号 (Articles 4.4, 4.5, 6.5)",
    weights={
        SubjectGroup.PLATFORM: Weights(
            on_time_receipt=40,
            on_time_completion=30,
            satisfaction=30,
            no_returns=0,  # a unit's return is the unit's right, not the platform's failure
            late_points=1,
            training_points=5,
        ),
        SubjectGroup.DISTRICT_COMMISSION: _UNIT_WEIGHTS,
        SubjectGroup.UNIT: _UNIT_WEIGHTS,
    },
)

#: Every assessment version, oldest first.
ASSESSMENTS: Final[tuple[AssessmentVersion, ...]] = (TIANJIN_ASSESSMENT_2021,)


def weighed_components(version: AssessmentVersion, group: SubjectGroup) -> list[str]:
    """The rate components that weigh for ``group`` under ``version`` (weight above 0), in order."""
    weights = version.weights[group]
    return [c for c in RATE_COMPONENTS if getattr(weights, c) > 0]


def _check_registry(versions: tuple[AssessmentVersion, ...]) -> None:
    ids = [v.id for v in versions]
    if len(set(ids)) != len(ids):
        raise AssessmentError(f"duplicate assessment ids: {ids}")
    starts = [v.effective_from for v in versions]
    if starts != sorted(starts) or len(set(starts)) != len(starts):
        raise AssessmentError("assessment versions must be in strictly increasing effective_from order")


_check_registry(ASSESSMENTS)


def assessment_for(month: Period, *, versions: tuple[AssessmentVersion, ...] = ASSESSMENTS) -> AssessmentVersion:
    """The version that assesses ``month``: the last one in force on its first day.

    Raises:
        AssessmentError: ``month`` lies before the first version.
    """
    chosen: AssessmentVersion | None = None
    for v in versions:
        if v.effective_from <= month.first:
            chosen = v
    if chosen is None:
        first = versions[0] if versions else None
        since = f"; the first, {first.id}, applies from {first.effective_from:%Y-%m}" if first else ""
        raise AssessmentError(f"no assessment version applies to {month.label()}{since}")
    return chosen


def assessment_by_id(version_id: str, *, versions: tuple[AssessmentVersion, ...] = ASSESSMENTS) -> AssessmentVersion:
    """The version named ``version_id``.

    Raises:
        AssessmentError: no version has that id (the message lists the known ones).
    """
    for v in versions:
        if v.id == version_id:
            return v
    raise AssessmentError(f"unknown assessment {version_id!r}; known: {', '.join(v.id for v in versions)}")


# -- scoring ------------------------------------------------------------------------------------


class Subject(_Value):
    """One assessed organisation and its month."""

    org: str = Field(description="Org id.")
    name: str = Field(default="", description="Its Chinese name.")
    group: SubjectGroup
    figures: Figures = Field(description="Its figures for the month (late_at_end: at the month's end).")
    training_missed: bool = Field(default=False, description="It missed the month's training material (Art. 11).")


class Score(_Value):
    """A subject's score with every component, as the ranked table shows it."""

    rank: int = Field(description="1 for the best of its group; equal scores share a rank.")
    org: str
    name: str
    group: SubjectGroup
    score: float = Field(description="0-100: base less deductions, rounded to 2 decimals.")
    base: float = Field(description="100 x the weighted mean of the rates with a denominator.")
    rates: dict[str, float | None] = Field(description="Each rate component (None: no denominator).")
    late_deduction: float
    training_deduction: float
    training_missed: bool
    figures: Figures


def rates_of(figures: Figures) -> dict[str, float | None]:
    """The rate components of ``figures``, by component name (`RATE_COMPONENTS`)."""
    return_rate = figures.return_rate
    return {
        "on_time_receipt": figures.receipt_rate,
        "on_time_completion": figures.completion_rate,
        "satisfaction": figures.satisfaction_rate,
        "no_returns": None if return_rate is None else 1.0 - return_rate,
    }


def score_of(subject: Subject, weights: Weights) -> tuple[float, float, float, float]:
    """(score, base, late deduction, training deduction) of one subject.

    The base is 100 x the weighted mean of the rates the subject has a denominator for; with none
    of them (no orders at all) it is 100: nothing went wrong that could be held against it.
    """
    rates = rates_of(subject.figures)
    total_weight = 0.0
    weighted = 0.0
    for name, rate in rates.items():
        w: float = getattr(weights, name)
        if rate is None or w <= 0:
            continue
        total_weight += w
        weighted += w * rate
    base = 100.0 if total_weight == 0 else 100.0 * weighted / total_weight
    late = weights.late_points * subject.figures.late_at_end
    training = weights.training_points if subject.training_missed else 0.0
    score = round(max(0.0, min(100.0, base - late - training)), 2)
    return score, round(base, 2), late, training


def assess(version: AssessmentVersion, subjects: list[Subject]) -> list[Score]:
    """Score every subject and rank it within its group (Articles 4.4, 4.5, 6.5).

    Returns:
        The scores, grouped in `SubjectGroup` order, best first within a group; equal scores share
        a rank (1, 2, 2, 4) and are listed by org id.
    """
    out: list[Score] = []
    for group in SubjectGroup:
        scored = []
        for s in (s for s in subjects if s.group is group):
            score, base, late, training = score_of(s, version.weights[group])
            scored.append((score, base, late, training, s))
        scored.sort(key=lambda x: (-x[0], x[4].org))
        rank = 0
        previous: float | None = None
        for i, (score, base, late, training, s) in enumerate(scored, start=1):
            if score != previous:
                rank, previous = i, score
            out.append(
                Score(
                    rank=rank,
                    org=s.org,
                    name=s.name,
                    group=group,
                    score=score,
                    base=base,
                    rates=rates_of(s.figures),
                    late_deduction=late,
                    training_deduction=training,
                    training_missed=s.training_missed,
                    figures=s.figures,
                )
            )
    return out
