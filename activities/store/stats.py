"""Statistics, assessment and bulletin data from PostgreSQL (Articles 4.4, 4.5, 5.6, 6.4, 6.5, 13).

Every figure is read from the facts that migration ``005_statistics.sql`` keeps beside the
projection: ``order_events`` (what happened to an order, and when) and ``order_spans`` (when it was
open, and when it was behind a deadline). Triggers on ``orders`` rewrite a run's facts whenever its
projection is written, so the figures follow the orders as they change. The definitions are in
``docs/statistics.md``; a period is a range of local (Asia/Shanghai) dates, both ends included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final

import asyncpg

from activities.reports.models import (
    LIST_LIMIT,
    NO_UNIT,
    AssessmentReport,
    BulletinData,
    DissatisfiedOrder,
    InquiryRow,
    LateByUnit,
    LateOrder,
    StatsReport,
    StatsRow,
)
from domain.assessment import (
    AssessmentVersion,
    Figures,
    Grouping,
    Period,
    Subject,
    SubjectGroup,
    assess,
    assessment_for,
)
from domain.directory import DISTRICTS, ORGANISATIONS
from domain.models import Category, Platform, Tier
from domain.privacy import redact

#: The SQL expression each grouping groups by (never taken from user input).
_KEY: Final[dict[Grouping, str]] = {
    Grouping.TOTAL: "'total'",
    Grouping.PLATFORM: "platform",
    Grouping.UNIT: f"coalesce(unit, '{NO_UNIT}')",
    Grouping.DISTRICT: "district",
    Grouping.TIER: "tier",
    Grouping.CATEGORY: "category",
}

#: Display order of the keys of each grouping (others follow in alphabetical order, NO_UNIT last).
_ORDER: Final[dict[Grouping, list[str]]] = {
    Grouping.PLATFORM: [p.value for p in Platform],
    Grouping.UNIT: list(ORGANISATIONS),
    Grouping.DISTRICT: list(DISTRICTS),
    Grouping.TIER: [t.value for t in Tier],
    Grouping.CATEGORY: [c.value for c in Category],
}

#: Every kind of event (migrations 005 and 010), and the figures its counts go to, in the order the
#: events query returns them: (all, on time, late, dissatisfied, excused).
_EVENT_FIGURES: Final[dict[str, tuple[str | None, ...]]] = {
    "received": ("received", "received_on_time", "received_late", None, None),
    "dispatched": ("dispatched", None, None, None, None),
    "dispatch_reminder": ("dispatch_reminders", None, None, None, None),
    "dispatch_escalation": ("dispatch_escalations", None, None, None, None),
    "assigned": ("assigned", None, None, None, None),
    "returned": ("returns", None, None, None, None),
    "completed": ("completed", "completed_on_time", None, None, None),
    "result_reviewed": ("results_reviewed", None, "results_reviewed_late", None, None),
    "result_sent_back": ("results_sent_back", None, None, None, None),
    "extension_requested": ("extensions_requested", None, None, None, None),
    "extension_forwarded": ("extensions_forwarded", None, None, None, None),
    "extension_declined": ("extensions_declined", None, None, None, None),
    "extension_approved": ("extensions_approved", None, None, None, None),
    "extension_refused": ("extensions_refused", None, None, None, None),
    "extension_forgiven": ("extensions_forgiven", None, None, None, None),
    "extension_ended": ("extensions_ended", None, None, None, None),
    "callback": ("callbacks", None, None, "dissatisfied", "dissatisfied_excused"),
    "rehandling_opened": ("rehandled", None, None, None, None),
    "appeal_filed": ("appeals_filed", None, None, None, None),
    "appeal_upheld": ("appeals_upheld", None, None, None, None),
    "appeal_rejected": ("appeals_rejected", None, None, None, None),
    "appeal_unanswered": ("appeals_unanswered", None, None, None, None),
    "appeal_moot": ("appeals_moot", None, None, None, None),
}

#: The kinds whose `hours` have a median, and the figure it goes to.
_MEDIANS: Final[dict[str, str]] = {
    "completed": "median_handling_hours",
    "dispatched": "median_dispatch_hours",
    "result_reviewed": "median_review_hours",
}

# Counts per group and kind; the totals are their sums. `kind = ANY` lets the index (kind, at)
# serve each kind's range of the period (an index-only scan; no skip scan needed). Per group, the
# hours of the kinds with a median come along as an array whose median Python takes (hashed, not
# sorted: one pass over the period's events instead of a second scan and a sort by group).
_EVENTS_SQL: Final = """
SELECT {key} AS key, kind,
    count(*) AS n,
    count(*) FILTER (WHERE on_time) AS on_time,
    count(*) FILTER (WHERE NOT on_time) AS late,
    count(*) FILTER (WHERE dissatisfied) AS dissatisfied,
    count(*) FILTER (WHERE excused) AS excused,
    {hours} AS hours
FROM order_events
WHERE kind = ANY ($3::text[]) AND at >= $1 AND at < $2
GROUP BY 1, 2
"""

#: The hours of a group's events: only the kinds with a median (`_MEDIANS`) have any.
_HOURS: Final = "array_agg(hours) FILTER (WHERE hours IS NOT NULL)"

#: The events' key per grouping: the unit as it is (NULL for none, named in Python), which hashes
#: cheaper than the expression the spans group by.
_EVENT_KEY: Final[dict[Grouping, str]] = {**_KEY, Grouping.UNIT: "unit"}

# The medians of the total: the index gives the events in kind order, so each kind sorts its own.
_MEDIAN_SQL: Final = """
SELECT kind, percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median
FROM order_events
WHERE kind = ANY ($3::text[]) AND at >= $1 AND at < $2
GROUP BY kind
"""

# Runs open, late, and with an appeal waiting, at instant $1, per group and in total: a run with two
# late deadlines counts once, in each group its spans name and once in the total (a run has one open
# span and at most one appeal span, which need no DISTINCT).
_SPANS_SQL: Final = """
SELECT {key} AS key, {is_total} AS is_total,
    count(*) FILTER (WHERE kind = 'open') AS open,
    count(DISTINCT run_id) FILTER (WHERE kind = 'late') AS late,
    count(*) FILTER (WHERE kind = 'appeal') AS appeal
FROM order_spans
WHERE tstzrange(since, until, '(]') @> $1::timestamptz
{group_by}
"""

#: Memory for the sorts of a report (medians per group), so they stay out of temporary files.
_WORK_MEM: Final = "64MB"


class StatsError(Exception):
    """The figures cannot be computed (facts that cannot be derived from the projection)."""


def _sql(template: str, by: Grouping) -> str:
    """``template`` grouped by the grouping's key (and for the total, where it says so)."""
    key = _KEY[by]
    if by is Grouping.TOTAL:
        return template.format(key=key, is_total="true", group_by="")
    return template.format(key=key, is_total=f"GROUPING({key}) = 1", group_by=f"GROUP BY GROUPING SETS (({key}), ())")


def median(values: list[float]) -> float | None:
    """The median as PostgreSQL's ``percentile_cont(0.5)`` computes it (None for no values)."""
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return None
    mid = n // 2
    return xs[mid] if n % 2 else xs[mid - 1] + (xs[mid] - xs[mid - 1]) * 0.5


def _sort_key(by: Grouping, key: str) -> tuple[int, int, str]:
    order = _ORDER.get(by, [])
    if key == NO_UNIT:
        return (2, 0, key)
    return (0, order.index(key), key) if key in order else (1, 0, key)


async def derive_backlog(conn: Any) -> int:
    """Derive again the facts of runs the trigger could not derive; returns how many there were.

    Raises:
        StatsError: some still cannot be derived (the message names how many and why).
    """
    runs = [r["run_id"] for r in await conn.fetch("SELECT run_id FROM stats_backlog")]
    if not runs:
        return 0
    try:
        async with conn.transaction():
            await conn.execute("SELECT stats_rederive($1::text[])", runs)
    except asyncpg.PostgresError as e:
        raise StatsError(
            f"the statistics facts of {len(runs)} order run(s) cannot be derived from their status: {e}; "
            "see the table stats_backlog"
        ) from e
    return len(runs)


async def statistics(pool: Any, period: Period, *, by: Grouping = Grouping.TOTAL, now: datetime) -> StatsReport:
    """The figures of ``period`` grouped ``by`` (Articles 5.6, 6.4; docs/statistics.md).

    Args:
        pool: An asyncpg pool (or connection) on the hotline database.
        period: Local dates, both included.
        by: The grouping; `Grouping.TOTAL` gives the total alone.
        now: The instant open_now and late_now refer to; late_at_end refers to the period's end,
            or to ``now`` when that comes first.

    Raises:
        StatsError: facts that cannot be derived.
    """
    async with _connection(pool) as conn:
        await derive_backlog(conn)
        async with _snapshot(conn):
            return await _statistics(conn, period, by=by, now=now)


async def _statistics(conn: Any, period: Period, *, by: Grouping, now: datetime) -> StatsReport:
    values: dict[str | None, dict[str, Any]] = {None: {}}
    total = values[None]
    grouped = by is not Grouping.TOTAL
    events_sql = _EVENTS_SQL.format(key=_EVENT_KEY[by], hours=_HOURS if grouped else "NULL")
    for r in await conn.fetch(events_sql, period.start, period.end, list(_EVENT_FIGURES)):
        slot = values.setdefault(NO_UNIT if r["key"] is None else r["key"], {}) if grouped else total
        counts = (r["n"], r["on_time"], r["late"], r["dissatisfied"], r["excused"])
        for name, n in zip(_EVENT_FIGURES[r["kind"]], counts, strict=True):
            if name is not None:
                slot[name] = slot.get(name, 0) + n
                if slot is not total:
                    total[name] = total.get(name, 0) + n
        if r["hours"] and r["kind"] in _MEDIANS:
            slot[_MEDIANS[r["kind"]]] = median(r["hours"])
    for r in await conn.fetch(_MEDIAN_SQL, period.start, period.end, list(_MEDIANS)):
        total[_MEDIANS[r["kind"]]] = r["median"]

    end = min(period.end, now)
    # figure -> (the spans' column, the instant it is counted at)
    instants = {
        "open_now": ("open", now),
        "late_now": ("late", now),
        "late_at_end": ("late", end),
        "appeals_pending": ("appeal", end),
    }
    for at in dict.fromkeys(at for _, at in instants.values()):
        for r in await conn.fetch(_sql(_SPANS_SQL, by), at):
            slot = values.setdefault(None if r["is_total"] else r["key"], {})
            for name, (column, instant) in instants.items():
                if instant == at:
                    slot[name] = r[column]

    figures = {k: Figures.model_validate(v) for k, v in values.items()}
    rows = [StatsRow(key=str(k), figures=f) for k, f in figures.items() if k is not None and not f.is_empty()]
    rows.sort(key=lambda r: _sort_key(by, r.key))
    return StatsReport(period=period, by=by, as_of=now, rows=[] if by is Grouping.TOTAL else rows, total=figures[None])


# -- assessment ---------------------------------------------------------------------------------


async def assessment(
    pool: Any, month: Period, *, now: datetime, version: AssessmentVersion | None = None
) -> AssessmentReport:
    """Score every platform, district commission and unit for ``month`` (Articles 4.4, 4.5, 6.5).

    Platforms and district commissions are always listed; other units when anything counted for
    them in the month (orders, open orders, a missed training submission). Missed training comes
    from ``training_missed``, which the knowledge base's monthly duty fills (Article 11).

    Raises:
        AssessmentError: no version applies to ``month``.
        StatsError: facts that cannot be derived.
    """
    chosen = version or assessment_for(month)
    async with _connection(pool) as conn:
        await derive_backlog(conn)
        async with _snapshot(conn):
            return await _assessment(conn, month, now=now, version=chosen)


async def _assessment(
    conn: Any,
    month: Period,
    *,
    now: datetime,
    version: AssessmentVersion,
    by_unit: StatsReport | None = None,
    by_platform: StatsReport | None = None,
) -> AssessmentReport:
    by_unit = by_unit or await _statistics(conn, month, by=Grouping.UNIT, now=now)
    by_platform = by_platform or await _statistics(conn, month, by=Grouping.PLATFORM, now=now)
    orgs = await conn.fetch("SELECT id, kind, name_zh FROM organisations ORDER BY id")
    missed = {r["org"] for r in await conn.fetch("SELECT org FROM training_missed WHERE month = $1", month.first)}
    unit_figures = {r.key: r.figures for r in by_unit.rows if r.key != NO_UNIT}
    platform_figures = {r.key: r.figures for r in by_platform.rows}
    kinds = {r["id"]: r["kind"] for r in orgs}
    names = {r["id"]: r["name_zh"] for r in orgs}

    subjects: list[Subject] = []
    for org, kind in kinds.items():
        if kind == "platform":
            subjects.append(_subject(org, names, SubjectGroup.PLATFORM, platform_figures, missed))
        if kind == "district_commission":
            subjects.append(_subject(org, names, SubjectGroup.DISTRICT_COMMISSION, unit_figures, missed))
    for org in sorted(set(unit_figures) | missed):
        kind = kinds.get(org)
        if kind in ("district_commission", "city_hotline") or (kind == "platform" and org not in unit_figures):
            continue
        subjects.append(_subject(org, names, SubjectGroup.UNIT, unit_figures, missed))
    return AssessmentReport(month=month, version=version.id, as_of=now, scores=assess(version, subjects))


def _subject(
    org: str, names: dict[str, str], group: SubjectGroup, figures: dict[str, Figures], missed: set[str]
) -> Subject:
    return Subject(
        org=org,
        name=names.get(org, ""),
        group=group,
        figures=figures.get(org, Figures()),
        training_missed=org in missed,
    )


# -- bulletin -----------------------------------------------------------------------------------


#: The columns `_scrubbed` needs: whether the reporter asked for confidentiality, and who they are.
_REPORTER: Final = "o.confidential, o.reporter_name, o.reporter_phone"


def _scrubbed(row: Any, *texts: str) -> dict[str, Any]:
    """A bulletin row without the reporter's columns, its ``texts`` redacted for a confidential reporter.

    The projection keeps the reporter's name and phone (`orders`); a bulletin never shows those of a
    reporter who asked for confidentiality (Art. 8.2), not even inside a callback note or a subject.
    """
    out = dict(row)
    confidential, name, phone = out.pop("confidential"), out.pop("reporter_name"), out.pop("reporter_phone")
    if confidential:
        for field in texts:
            out[field] = redact(out[field], name, phone)
    return out


_LATE_OVERLAP: Final = """
FROM order_spans s JOIN orders o USING (run_id)
WHERE s.kind = 'late' AND tstzrange(s.since, s.until, '(]') && tstzrange($1, $2, '(]')
"""


async def bulletin_data(pool: Any, month: Period, *, now: datetime) -> BulletinData:
    """Everything a month's bulletin shows (Article 13), read in one snapshot.

    Headline figures against the previous month, figures per platform and unit, late orders by
    unit, dissatisfied orders and their causes, the assessment ranking.

    Raises:
        AssessmentError: no assessment version applies to ``month``.
        StatsError: facts that cannot be derived.
    """
    version = assessment_for(month)
    previous = month.previous_month()
    async with _connection(pool) as conn:
        await derive_backlog(conn)
    async with _connection(pool) as conn, _snapshot(conn):
        current = await _statistics(conn, month, by=Grouping.PLATFORM, now=now)
        before = await _statistics(conn, previous, by=Grouping.TOTAL, now=now)
        by_unit = await _statistics(conn, month, by=Grouping.UNIT, now=now)
        ranking = await _assessment(conn, month, now=now, version=version, by_unit=by_unit, by_platform=current)
        window_end = min(month.end, now)
        late_rows = await conn.fetch(
            f"""
            SELECT coalesce(s.unit, '{NO_UNIT}') AS unit, count(DISTINCT s.run_id) AS during,
                   count(DISTINCT s.run_id) FILTER (
                       WHERE tstzrange(s.since, s.until, '(]') @> $2::timestamptz) AS at_end
            {_LATE_OVERLAP}
            GROUP BY 1
            """,
            month.start,
            window_end,
        )
        late_total = await conn.fetchval(f"SELECT count(DISTINCT s.run_id) {_LATE_OVERLAP}", month.start, window_end)
        late_orders = await conn.fetch(
            f"""
            SELECT o.order_no, o.subject, coalesce(s.unit, '{NO_UNIT}') AS unit, s.platform, s.district,
                   s.deadline, s.since, s.until, {_REPORTER}
            {_LATE_OVERLAP}
            ORDER BY coalesce(s.until, $2) - s.since DESC, o.order_no
            LIMIT {LIST_LIMIT}
            """,
            month.start,
            window_end,
        )
        dissatisfied_sql = """
            FROM order_events e JOIN orders o USING (run_id)
            WHERE e.kind = 'callback' AND e.dissatisfied AND e.at >= $1 AND e.at < $2
        """
        dissatisfied_total = await conn.fetchval(f"SELECT count(*) {dissatisfied_sql}", month.start, month.end)
        dissatisfied = await conn.fetch(
            f"""
            SELECT o.order_no, o.subject, coalesce(e.unit, '{NO_UNIT}') AS unit, e.district, e.at,
                   coalesce((o.status -> 'callbacks' -> e.seq ->> 'round')::int, 0) AS round,
                   coalesce(o.status -> 'callbacks' -> e.seq ->> 'note', '') AS note,
                   CASE WHEN jsonb_typeof(o.status -> 'appeal') IS DISTINCT FROM 'object' THEN ''
                        WHEN o.status -> 'appeal' ->> 'upheld' = 'true' THEN 'upheld'
                        WHEN o.status -> 'appeal' ->> 'upheld' = 'false' THEN 'rejected'
                        WHEN o.status ->> 'outcome' = 'appeal_unanswered' THEN 'unanswered'
                        WHEN o.status ->> 'closed_at' IS NOT NULL THEN 'moot'
                        ELSE 'filed' END AS appeal,
                   e.excused, {_REPORTER}
            {dissatisfied_sql}
            ORDER BY e.at, o.order_no
            LIMIT {LIST_LIMIT}
            """,
            month.start,
            month.end,
        )
        names = {r["id"]: r["name_zh"] for r in await conn.fetch("SELECT id, name_zh FROM organisations")}
    late_by_unit = [LateByUnit(unit=r["unit"], during=r["during"], at_end=r["at_end"]) for r in late_rows]
    late_by_unit.sort(key=lambda x: (-x.during, -x.at_end, x.unit))
    return BulletinData(
        month=month,
        previous=previous,
        as_of=now,
        current=current.total,
        before=before.total,
        by_platform=current.rows,
        by_unit=by_unit.rows,
        late_by_unit=late_by_unit,
        late_orders=[LateOrder.model_validate(_scrubbed(r, "subject")) for r in late_orders],
        late_orders_total=int(late_total or 0),
        dissatisfied=[DissatisfiedOrder.model_validate(_scrubbed(r, "subject", "note")) for r in dissatisfied],
        dissatisfied_total=int(dissatisfied_total or 0),
        assessment=ranking,
        names=names,
    )


@asynccontextmanager
async def _snapshot(conn: Any) -> AsyncIterator[None]:
    """One read-only snapshot for every query of a report, with room for its sorts."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute(f"SET LOCAL work_mem = '{_WORK_MEM}'")
        yield


@asynccontextmanager
async def _connection(source: Any) -> AsyncIterator[Any]:
    """A connection of ``source``: acquired from it when it is a pool, else ``source`` itself."""
    if isinstance(source, asyncpg.Pool):
        async with source.acquire() as conn:
            yield conn
    else:
        yield source


async def inquiry_statistics(pool: Any, period: Period, *, now: datetime) -> list[InquiryRow]:
    """Doubtful-order figures per unit asked now (after reassignments); definitions in docs/statistics.md."""
    async with _connection(pool) as conn:
        rows = await conn.fetch(
            """
            SELECT unit,
                count(*) FILTER (WHERE (asked_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2) AS asked,
                count(*) FILTER (WHERE (answered_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2)
                    AS answered,
                count(*) FILTER (WHERE (answered_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2
                                   AND answered_at <= reply_due) AS answered_on_time,
                count(*) FILTER (WHERE answered_at IS NULL AND phase = 'awaiting_answer') AS open_now,
                count(*) FILTER (WHERE answered_at IS NULL AND phase = 'awaiting_answer' AND reply_due < $3)
                    AS late_now
            FROM inquiries
            GROUP BY unit
            HAVING count(*) FILTER (WHERE (asked_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2) > 0
                OR count(*) FILTER (WHERE (answered_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2) > 0
                OR count(*) FILTER (WHERE answered_at IS NULL AND phase = 'awaiting_answer') > 0
            ORDER BY unit
            """,
            period.first,
            period.last,
            now,
        )
    return [InquiryRow(**dict(r)) for r in rows]
