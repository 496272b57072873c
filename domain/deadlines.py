"""Deadline arithmetic: pure functions of (rulebook, calendar, instant), each explaining itself.

Every function takes the instant the clock starts at (any offset; converted to Asia/Shanghai),
computes the due instant from the bound `Rulebook`'s parameters and the `BusinessCalendar`, and
returns a `ComputedDeadline` whose explanation an operator can check by hand (``docs/rules.md``,
"Every deadline explains itself"). A deadline that depends on a day in a year without calendar data
is flagged ``calendar_confirmed=False``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.calendar import SHANGHAI, BusinessCalendar, HolidayBreak, day_name, to_local
from domain.models import Category, Tier
from domain.rulebook import Rulebook, StepWindow

RECEIPT: Final = "receipt"
COMPLETION: Final = "completion"
REHANDLING: Final = "rehandling"
RETURN: Final = "return"
DOUBTFUL_REPLY: Final = "doubtful_reply"
DISPATCH: Final = "dispatch"
RESULT_REVIEW: Final = "result_review"
APPEAL_WINDOW: Final = "appeal_window"
WARNING_SUFFIX: Final = "_warning"

#: Counted days listed one by one in an explanation; longer periods show the first and last.
_LIST_DAYS_UP_TO: Final = 10


class ComputedDeadline(BaseModel):
    """A deadline with the rule that produced it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(description="`receipt`, `completion`, `rehandling`, `return`, ….")
    start: AwareDatetime = Field(description="Clock start, Asia/Shanghai (+08:00).")
    due: AwareDatetime = Field(description="The deadline, Asia/Shanghai (+08:00).")
    explanation: str = Field(description="The rule applied, in words an operator can check.")
    calendar_confirmed: bool = Field(
        description="False when a day the result depends on lies in a year without calendar data."
    )
    rulebook: str = Field(description="Id of the rulebook version applied.")


# -- formatting --------------------------------------------------------------------------------


def _fmt(instant: datetime) -> str:
    """`Wed 2026-09-30 16:30` (seconds only when not zero)."""
    out = f"{_fmt_day(instant.date())} {instant.hour:02d}:{instant.minute:02d}"
    if instant.second or instant.microsecond:
        out += f":{instant.second:02d}"
        if instant.microsecond:
            out += f".{instant.microsecond:06d}"
    return out


@lru_cache(maxsize=8192)
def _fmt_day(d: date) -> str:
    return f"{day_name(d)} {d.isoformat()}"


@lru_cache(maxsize=256)
def _fmt_delta(delta: timedelta) -> str:
    """`24h`, `30min`, `1h30min`, `30d` (whole days from two days up)."""
    secs = int(delta.total_seconds())
    if secs >= 2 * 86400 and secs % 86400 == 0:
        return f"{secs // 86400}d"
    hours, secs = divmod(secs, 3600)
    minutes, secs = divmod(secs, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}min" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts) or "0s"


def _confirmation(calendar: BusinessCalendar, first: date, last: date) -> tuple[bool, str]:
    """Whether every day in [first, last] is known, and the note saying what was assumed."""
    years = calendar.unknown_years_between(first, last)
    if not years:
        return True, ""
    listed = ", ".join(str(y) for y in years)
    return False, f"; calendar for {listed} not confirmed: Monday-Friday assumed"


def _category_note(rulebook: Rulebook, category: Category) -> str:
    return f" [{category.value} rules]" if category in rulebook.category_overrides else ""


def _make(
    kind: str,
    start: datetime,
    due: datetime,
    explanation: str,
    *,
    confirmed: bool,
    rulebook: Rulebook,
) -> ComputedDeadline:
    if rulebook.past_nominal_end(to_local(start).date()):
        assert rulebook.nominal_end is not None
        explanation += (
            f" [rulebook {rulebook.id}: past its nominal end {rulebook.nominal_end.isoformat()} "
            "(Article 14), in force until a successor is imported]"
        )
    return ComputedDeadline(
        kind=kind,
        start=start,
        due=due,
        explanation=explanation,
        calendar_confirmed=confirmed,
        rulebook=rulebook.id,
    )


# -- Article 8.1: receipt ----------------------------------------------------------------------


def receipt_deadline(
    rulebook: Rulebook,
    calendar: BusinessCalendar,
    dispatched_at: datetime,
    *,
    tier: Tier,
    category: Category = Category.GENERAL,
) -> ComputedDeadline:
    """The receipt (查收) deadline of an order (Article 8.1).

    - `extra_urgent`: ``t + extra_urgent_receipt`` (1h), any time of day, any day.
    - other tiers, ``t`` in the working period: ``t + receipt_in_working_period`` (3h, wall clock,
      may pass 16:00).
    - other tiers, ``t`` in the non-working period: ``W = next_work_start(t)``; if any day in
      ``[t, W)`` belongs to a holiday break of at least ``long_break_min_days`` (5) days,
      ``W + receipt_after_long_break`` (24h), else ``W + receipt_after_work_start`` (3h).

    Args:
        rulebook: The version bound to the order.
        calendar: The business calendar.
        dispatched_at: When the city hotline transferred the order (aware).
        tier: The urgency tier.
        category: The order's category (per-category overrides, Articles 5 and 10).

    Raises:
        InvalidInstant: ``dispatched_at`` is naive.
    """
    rb = rulebook.for_category(category)
    head = f"receipt{_category_note(rulebook, category)}: dispatched"
    return _step(RECEIPT, rulebook, rb, rb.receipt_window(), calendar, dispatched_at, tier=tier, head=head)


def _step(
    kind: str,
    rulebook: Rulebook,
    rb: Rulebook,
    window: StepWindow,
    calendar: BusinessCalendar,
    start: datetime,
    *,
    tier: Tier,
    head: str,
) -> ComputedDeadline:
    """Article 8.1's arithmetic with ``window``'s numbers (``rb``: the category's parameters)."""
    t = to_local(start)
    head = f"{head} {_fmt(t)}"
    if tier is Tier.EXTRA_URGENT:
        due = t + window.extra_urgent
        text = f"{head}; extra_urgent: +{_fmt_delta(window.extra_urgent)} at any time"
        return _make(kind, t, due, f"{text} = {_fmt(due)}", confirmed=True, rulebook=rulebook)

    d = t.date()
    if rb.work_start <= t.time() < rb.work_end and calendar.is_working_day(d):
        due = t + window.in_working_period
        confirmed, note = _confirmation(calendar, d, d)
        text = f"{head} (working period) -> +{_fmt_delta(window.in_working_period)} = {_fmt(due)}{note}"
        return _make(kind, t, due, text, confirmed=confirmed, rulebook=rulebook)

    w, long_break, why, confirmed, note = _after_the_wait(
        calendar, rb.work_start, rb.long_break_min_days, d, t.time() < rb.work_start
    )
    delta = window.after_long_break if long_break else window.after_work_start
    due = w + delta
    text = f"{head} (non-working period); work resumes {_fmt(w)}; {why} -> +{_fmt_delta(delta)} = {_fmt(due)}{note}"
    return _make(kind, t, due, text, confirmed=confirmed, rulebook=rulebook)


@lru_cache(maxsize=65536)
def _after_the_wait(
    calendar: BusinessCalendar, work_start: time, long_break_min_days: int, d: date, before_work_start: bool
) -> tuple[datetime, bool, str, bool, str]:
    """Work resumption after a non-working-period start on day ``d``, and whether the wait is long.

    Depends only on the day and on whether the start was before the day's work start: computed
    once per (day, side) and reused.

    Returns:
        The work start, whether the wait spans a long holiday break, the reason in words, whether
        the calendar is confirmed for it, and the note saying what was assumed.
    """
    probe = datetime.combine(d, time(0) if before_work_start else time(23, 59, 59), tzinfo=SHANGHAI)
    w = calendar.next_work_start(probe, start=work_start)
    waited = calendar.breaks_between(d, w.date() - timedelta(days=1)) if w.date() > d else ()
    long_break: HolidayBreak | None = next((b for b in waited if b.days >= long_break_min_days), None)
    first_day, last_day = d, w.date()
    if long_break is not None:
        why = f"the wait spans the {long_break.days}-day {long_break.name} break (>= {long_break_min_days} days)"
    elif waited:
        b = waited[0]
        why = f"the wait spans the {b.days}-day {b.name} break (< {long_break_min_days} days)"
    else:
        why = "no holiday break in the wait"
    for b in waited:  # a break's length depends on the day before and the day after it too
        first_day = min(first_day, b.start - timedelta(days=1))
        last_day = max(last_day, b.end + timedelta(days=1))
    confirmed, note = _confirmation(calendar, first_day, last_day)
    return w, long_break is not None, why, confirmed, note


# -- Article 8.5: completion (and re-handling, doubtful-order replies) --------------------------


def _working_days_deadline(
    kind: str,
    rulebook: Rulebook,
    calendar: BusinessCalendar,
    start: datetime,
    *,
    days: int,
    what: str,
    started: str,
    label: str,
) -> ComputedDeadline:
    """N working days counted as the Civil Code counts periods in days (Arts. 201-203)."""
    t = to_local(start)
    due, counted, confirmed = _counted_days(calendar, t.date(), days)
    text = (
        f"{label}: {started} {_fmt(t)}; {what}: {days} working day{'s' if days != 1 else ''}, "
        f"the day of the start not counted (Civil Code Arts. 201-203): {counted}"
    )
    return _make(kind, t, due, text, confirmed=confirmed, rulebook=rulebook)


@lru_cache(maxsize=65536)
def _counted_days(calendar: BusinessCalendar, d: date, days: int) -> tuple[datetime, str, bool]:
    """The due instant of N working days after day ``d``, the counted days in words, confirmed.

    Depends only on the calendar, the start's date and N: precomputed once per date, so a year
    of orders costs one computation per day.
    """
    last = calendar.add_working_days(d, days)
    due = datetime.combine(last + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    first_counted = d + timedelta(days=1)
    if days <= _LIST_DAYS_UP_TO:
        counted = calendar.working_days_after(d, days)
        listed = ", ".join(
            f"{_fmt_day(c)}{' (make-up working day)' if calendar.is_makeup_day(c) else ''}" for c in counted
        )
    else:
        listed = f"{_fmt_day(calendar.next_working_day(first_counted))} .. {_fmt_day(last)}"
    skipped = calendar.breaks_between(first_counted, last)
    skip_note = "; skipping the " + ", ".join(f"{b.days}-day {b.name} break" for b in skipped) if skipped else ""
    confirmed, note = _confirmation(calendar, first_counted, last)
    text = f"{listed}{skip_note}; due at the end of {_fmt_day(last)} = {_fmt(due)}{note}"
    return due, text, confirmed


def completion_deadline(
    rulebook: Rulebook,
    calendar: BusinessCalendar,
    dispatched_at: datetime,
    *,
    tier: Tier,
    category: Category = Category.GENERAL,
    kind: str = COMPLETION,
    started: str = "dispatched",
) -> ComputedDeadline:
    """The completion (办结) deadline of an order (Article 8.5).

    - `extra_urgent`: ``t + extra_urgent_completion`` (30 min), wall clock.
    - `normal` / `urgent` / `very_urgent`: ``completion_working_days`` (6 / 2 / 1) working days
      counted as the Civil Code counts periods in days (Arts. 201-203): the day of ``t`` is not
      counted, only working days count, and the deadline is the end (24:00) of the last counted
      day, i.e. 00:00 of the following calendar day.

    Args:
        rulebook: The version bound to the order.
        calendar: The business calendar.
        dispatched_at: When the clock starts (aware).
        tier: The urgency tier.
        category: The order's category (per-category overrides).
        kind: The deadline's name in the result (`completion`; `rehandling` for a new round).
        started: How the explanation names the clock start.

    Raises:
        InvalidInstant: ``dispatched_at`` is naive.
    """
    rb = rulebook.for_category(category)
    label = f"{kind}{_category_note(rulebook, category)}"
    if tier is Tier.EXTRA_URGENT:
        t = to_local(dispatched_at)
        due = t + rb.extra_urgent_completion
        text = (
            f"{label}: {started} {_fmt(t)}; extra_urgent: "
            f"+{_fmt_delta(rb.extra_urgent_completion)} at any time = {_fmt(due)}"
        )
        return _make(kind, t, due, text, confirmed=True, rulebook=rulebook)
    return _working_days_deadline(
        kind,
        rulebook,
        calendar,
        dispatched_at,
        days=rb.working_days_for(tier),
        what=tier.value,
        started=started,
        label=label,
    )


def rehandling_deadline(
    rulebook: Rulebook,
    calendar: BusinessCalendar,
    callback_at: datetime,
    *,
    tier: Tier,
    category: Category = Category.GENERAL,
) -> ComputedDeadline:
    """A fresh completion deadline for re-handling after a dissatisfied callback (Art. 8.5).

    Same rule as `completion_deadline`, with the callback's arrival as the clock start.

    Raises:
        InvalidInstant: ``callback_at`` is naive.
    """
    return completion_deadline(
        rulebook,
        calendar,
        callback_at,
        tier=tier,
        category=category,
        kind=REHANDLING,
        started="callback arrived",
    )


def doubtful_reply_deadline(
    rulebook: Rulebook,
    calendar: BusinessCalendar,
    asked_at: datetime,
    *,
    category: Category = Category.GENERAL,
) -> ComputedDeadline:
    """The reply deadline of a doubtful order (存疑工单, Article 7.3).

    ``doubtful_reply_working_days`` (1) working days, counted like a completion deadline. The
    measures set no window; the parameter is the project's own default.

    Raises:
        InvalidInstant: ``asked_at`` is naive.
    """
    rb = rulebook.for_category(category)
    return _working_days_deadline(
        DOUBTFUL_REPLY,
        rulebook,
        calendar,
        asked_at,
        days=rb.doubtful_reply_working_days,
        what="reply window",
        started="asked",
        label=f"{DOUBTFUL_REPLY}{_category_note(rulebook, category)}",
    )


# -- Articles 3, 6.2 and 8: the platform's own steps ("第一时间"; our reading) -------------------


def dispatch_deadline(
    rulebook: Rulebook,
    calendar: BusinessCalendar,
    start: datetime,
    *,
    tier: Tier,
    category: Category = Category.GENERAL,
) -> ComputedDeadline:
    """One dispatch window of a received order (our reading of "第一时间派遣", Articles 3 and 8).

    The measures give the platform no number for dispatching a received order to a unit; the
    project applies Article 8.1's arithmetic (`receipt_deadline`) with the rulebook's
    ``dispatch_window`` numbers (the receipt window's unless set), counted from ``start``. An order
    still not dispatched at its end is reminded to the platform, and escalated to the supervising
    department one more window later: a reminder, not lateness.
    """
    rb = rulebook.for_category(category)
    head = f"dispatch{_category_note(rulebook, category)}: window from"
    return _step(DISPATCH, rulebook, rb, rb.dispatch(), calendar, start, tier=tier, head=head)


def result_review_deadline(
    rulebook: Rulebook,
    calendar: BusinessCalendar,
    submitted_at: datetime,
    *,
    tier: Tier,
    category: Category = Category.GENERAL,
) -> ComputedDeadline:
    """When the platform must have reviewed a unit's result (our reading of "第一时间回复", Art. 6.2).

    Article 8.1's arithmetic with the rulebook's ``result_review_window`` numbers (the receipt
    window's unless set), counted from the unit's submission.
    """
    rb = rulebook.for_category(category)
    head = f"result review{_category_note(rulebook, category)}: result submitted"
    return _step(RESULT_REVIEW, rulebook, rb, rb.result_review(), calendar, submitted_at, tier=tier, head=head)


def appeal_window_deadline(
    rulebook: Rulebook,
    calendar: BusinessCalendar,
    verdict_at: datetime,
    *,
    category: Category = Category.GENERAL,
) -> ComputedDeadline:
    """Until when the platform may appeal after the last dissatisfied verdict (Articles 5.5, 6.3, 7.2).

    ``appeal_window_working_days`` (3, our own default: the measures set none) working days,
    counted like a completion deadline from the verdict's arrival.
    """
    rb = rulebook.for_category(category)
    return _working_days_deadline(
        APPEAL_WINDOW,
        rulebook,
        calendar,
        verdict_at,
        days=rb.appeal_window_working_days,
        what="appeal window (our own default)",
        started="last dissatisfied verdict",
        label=f"{APPEAL_WINDOW}{_category_note(rulebook, category)}",
    )


# -- Articles 7-8: return window ---------------------------------------------------------------


def return_deadline(
    rulebook: Rulebook,
    dispatched_to_unit_at: datetime,
    *,
    category: Category = Category.GENERAL,
) -> ComputedDeadline:
    """Until when a unit may return its handling order (Articles 7-8): 8 hours, wall clock.

    Args:
        rulebook: The version bound to the order.
        dispatched_to_unit_at: When the platform dispatched the handling order to the unit.
        category: The order's category (per-category overrides).

    Raises:
        InvalidInstant: ``dispatched_to_unit_at`` is naive.
    """
    rb = rulebook.for_category(category)
    t = to_local(dispatched_to_unit_at)
    due = t + rb.return_window
    text = (
        f"return{_category_note(rulebook, category)}: dispatched to the unit {_fmt(t)}; "
        f"+{_fmt_delta(rb.return_window)} wall clock = {_fmt(due)}"
    )
    return _make(RETURN, t, due, text, confirmed=True, rulebook=rulebook)


# -- Articles 6.2 and 8: warnings --------------------------------------------------------------


def warning_deadline(
    rulebook: Rulebook,
    deadline: ComputedDeadline,
    *,
    category: Category = Category.GENERAL,
) -> ComputedDeadline:
    """When to warn about ``deadline``: ``start + warning_fraction * (due - start)``.

    Articles 6.2 and 8 ("督促…按照时限办理"): the warning goes out when the rulebook fraction
    (0.8) of the window has elapsed. The result's kind is ``<kind>_warning``; it is confirmed
    exactly when ``deadline`` is.
    """
    rb = rulebook.for_category(category)
    at = to_local(deadline.start + (deadline.due - deadline.start) * rb.warning_fraction)
    text = (
        f"{deadline.kind} warning: {rb.warning_fraction:.0%} of the window "
        f"{_fmt(to_local(deadline.start))} -> {_fmt(to_local(deadline.due))} elapsed = {_fmt(at)}"
    )
    return _make(
        deadline.kind + WARNING_SUFFIX,
        to_local(deadline.start),
        at,
        text,
        confirmed=deadline.calendar_confirmed,
        rulebook=rulebook,
    )


def warning_instant(
    rulebook: Rulebook, deadline: ComputedDeadline, *, category: Category = Category.GENERAL
) -> datetime:
    """The instant of `warning_deadline` (Articles 6.2 and 8), in Asia/Shanghai."""
    rb = rulebook.for_category(category)
    return to_local(deadline.start + (deadline.due - deadline.start) * rb.warning_fraction)
