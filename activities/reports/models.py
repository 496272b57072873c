"""The reports' data: statistics, assessment, bulletin and doubtful-order figures, as pure models.

`activities.store.stats` reads them from PostgreSQL; `activities.reports.bulletin` and the
`hotline stats|assess|bulletin` commands render them. Nothing here does I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from domain.assessment import Figures, Grouping, Period, Score

#: The key of facts that count for no unit (before dispatch, or the platform's own duty).
NO_UNIT: Final = "-"

#: Most rows a bulletin lists in its late and dissatisfied tables (the counts cover them all).
LIST_LIMIT: Final = 100


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class StatsRow(_Model):
    """The figures of one group."""

    key: str = Field(description="The group: a platform, unit (`-`: none), district, tier or category.")
    figures: Figures


class StatsReport(_Model):
    """`hotline stats`: the figures of a period, per group and in total."""

    period: Period
    by: Grouping
    as_of: datetime = Field(description="The instant open_now and late_now refer to.")
    rows: list[StatsRow] = Field(description="One per group with anything counted; none for `total`.")
    total: Figures


class AssessmentReport(_Model):
    """`hotline assess`: the month's scores, ranked within each group."""

    month: Period
    version: str = Field(description="The assessment version's id.")
    as_of: datetime
    scores: list[Score]


class LateOrder(_Model):
    """An order that was behind one of its deadlines during the month."""

    order_no: str
    subject: str
    unit: str = Field(description="The unit it counts for; `-` for the platform's receipt and result review.")
    platform: str
    district: str
    deadline: str = Field(description="`receipt`, `completion`, `rehandling_<n>`, `result_review_<n>`.")
    since: datetime = Field(description="When it became late.")
    until: datetime | None = Field(description="When it was met or stopped mattering; None: still late.")


class LateByUnit(_Model):
    """How many orders were late, per unit, during the month and at its end."""

    unit: str
    during: int = Field(description="Orders behind a deadline at some instant of the month.")
    at_end: int = Field(description="... still behind one at the month's end (or as_of, if sooner).")


class DissatisfiedOrder(_Model):
    """A dissatisfied callback verdict of the month, with the reporter's words."""

    order_no: str
    subject: str
    unit: str
    district: str
    at: datetime
    round: int = Field(description="0: the first reply; n: the reply of re-handling round n.")
    note: str = Field(
        description="The callback note: why the reporter was dissatisfied (a confidential reporter's name and "
        "phone redacted, as in the subject)."
    )
    appeal: str = Field(
        description="The order's appeal: `` none, `filed` (waiting for the decision), `upheld`, `rejected`, "
        "`unanswered` (no decision within the appeal wait) or `moot` (the order closed otherwise)."
    )
    excused: bool = Field(description="An upheld appeal overturned this verdict: it does not count against.")


class BulletinData(_Model):
    """Everything a month's bulletin shows (Article 13)."""

    month: Period
    previous: Period
    as_of: datetime
    current: Figures = Field(description="The month's totals.")
    before: Figures = Field(description="The previous month's totals.")
    by_platform: list[StatsRow]
    by_unit: list[StatsRow]
    late_by_unit: list[LateByUnit]
    late_orders: list[LateOrder] = Field(description=f"At most {LIST_LIMIT}, the longest late first.")
    late_orders_total: int
    dissatisfied: list[DissatisfiedOrder] = Field(description=f"At most {LIST_LIMIT}, in time order.")
    dissatisfied_total: int
    assessment: AssessmentReport
    names: dict[str, str] = Field(description="Chinese names of the orgs, by id.")


class InquiryRow(_Model):
    """The doubtful orders (Article 7.3) of one unit in a period."""

    unit: str
    asked: int = Field(description="Inquiries asked in the period (by asked_at).")
    answered: int = Field(description="Inquiries answered in the period (by answered_at).")
    answered_on_time: int = Field(description="... answered at or before the reply deadline.")
    open_now: int = Field(description="Not answered at `as_of`, whenever asked.")
    late_now: int = Field(description="... whose reply deadline has passed at `as_of`.")
