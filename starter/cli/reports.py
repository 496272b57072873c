"""`hotline stats | assess | bulletin`: figures, the monthly assessment and the monthly bulletin.

The database is ``HOTLINE_DATABASE_URL``. Exit codes (`starter.cli.exits`): 0 done (a period
without orders is a valid, empty report), 1 the database could not be used, 2 bad arguments
(checked before the database is touched).
Definitions of every figure: ``docs/statistics.md``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from activities.reports.bulletin import write_bulletin
from activities.reports.models import AssessmentReport, BulletinData, InquiryRow, StatsReport
from activities.store.stats import StatsError, assessment, bulletin_data, inquiry_statistics, statistics
from domain.assessment import (
    RATE_COMPONENTS,
    AssessmentError,
    Figures,
    Grouping,
    Period,
    Score,
    SubjectGroup,
    assessment_by_id,
    assessment_for,
    weighed_components,
)
from domain.calendar import SHANGHAI
from starter.cli.db import run_with_pool
from starter.cli.exits import EXIT_OK, EXIT_USAGE, CliError

FORMATS: Final = ("table", "csv", "json")

#: Every figure, in output order, with the words the table shows.
FIGURE_LABELS: Final[dict[str, str]] = {
    "received": "received (dispatched)",
    "received_on_time": "  received on time",
    "received_late": "  received late",
    "dispatched": "dispatched to units (first)",
    "median_dispatch_hours": "  median hours receipt->dispatch",
    "dispatch_reminders": "  dispatch reminders",
    "dispatch_escalations": "  dispatch escalations",
    "assigned": "handling orders to units",
    "returns": "returns by units",
    "completed": "completed (first accepted result)",
    "completed_on_time": "  completed on time",
    "median_handling_hours": "  median handling hours",
    "results_reviewed": "results reviewed by platform",
    "results_reviewed_late": "  reviewed late",
    "results_sent_back": "  sent back",
    "median_review_hours": "  median review hours",
    "extensions_requested": "extensions asked",
    "extensions_forwarded": "  forwarded by platform",
    "extensions_declined": "  declined by platform",
    "extensions_approved": "  approved",
    "extensions_refused": "  refused",
    "extensions_forgiven": "  forgiven (approved late)",
    "extensions_ended": "  ended undecided",
    "callbacks": "callback verdicts",
    "dissatisfied": "  dissatisfied",
    "dissatisfied_excused": "  excused by upheld appeal",
    "rehandled": "re-handling rounds opened",
    "appeals_filed": "appeals filed",
    "appeals_upheld": "  upheld",
    "appeals_rejected": "  rejected",
    "appeals_unanswered": "  unanswered",
    "appeals_moot": "  moot",
    "appeals_pending": "  pending at period end",
    "late_at_end": "late at period end",
    "open_now": "open now",
    "late_now": "late now",
}

T = TypeVar("T")


# -- argument types (argparse names the argument and exits 2) ------------------------------------


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; allowed: YYYY-MM-DD, e.g. 2026-03-01") from None


def _month(value: str) -> Period:
    try:
        return Period.parse_month(value)
    except AssessmentError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _usage(command: str, message: str) -> int:
    print(f"hotline {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# -- the database ------------------------------------------------------------------------------


def _run(command: str, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``fn(pool)``; a database that cannot be used, or figures that cannot be computed, are one
    line on stderr and exit 1 (`CliError`)."""
    try:
        return run_with_pool(command, fn)
    except StatsError as e:
        raise CliError(f"hotline {command}: {e}") from None


def _now() -> datetime:
    return datetime.now(UTC)


# -- rendering ----------------------------------------------------------------------------------


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def _grid(rows: list[list[str]], *, right: range | None = None) -> str:
    """Columns padded to their widest cell; those in ``right`` (default: all but the first) right-aligned."""
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = right if right is not None else range(1, len(widths))
    return "".join(
        "  ".join(_pad(c, w, right=i in right) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip() + "\n"
        for r in rows
    )


def _figure(f: Figures, name: str) -> str:
    value = getattr(f, name)
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _when(t: datetime) -> str:
    return t.astimezone(SHANGHAI).isoformat(timespec="seconds")


def render_stats(report: StatsReport, fmt: str) -> str:
    """A `StatsReport` as a table (figures down, groups across), CSV or JSON."""
    columns = [(r.key, r.figures) for r in report.rows] + [("total", report.total)]
    if fmt == "json":
        return str(report.model_dump_json(indent=2)) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([report.by.value, *FIGURE_LABELS])
        for key, f in columns:
            w.writerow([key, *["" if getattr(f, n) is None else getattr(f, n) for n in FIGURE_LABELS]])
        return buf.getvalue()
    head = (
        f"{report.period.label()} ({report.period.first}..{report.period.last}, Asia/Shanghai)"
        f"{'' if report.by is Grouping.TOTAL else ' by ' + report.by.value}; "
        f"open/late now as of {_when(report.as_of)}\n"
    )
    rows = [["figure", *[k for k, _ in columns]]]
    rows += [[label, *[_figure(f, name) for _, f in columns]] for name, label in FIGURE_LABELS.items()]
    return head + _grid(rows)


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}"


_SCORE_COLUMNS: Final = [
    "group",
    "rank",
    "org",
    "score",
    "base",
    *RATE_COMPONENTS,
    "late_at_end",
    "late_deduction",
    "training_missed",
    "training_deduction",
    "completed",
    "callbacks",
    "dissatisfied",
    "dissatisfied_excused",
    "returns",
    "name",
]


def _ratio(rate: float | None) -> str | float:
    return "" if rate is None else round(rate, 4)


def _score_values(s: Score) -> list[Any]:
    f = s.figures
    return [
        s.group.value,
        s.rank,
        s.org,
        f"{s.score:.2f}",
        f"{s.base:.2f}",
        *[_ratio(s.rates[c]) for c in RATE_COMPONENTS],
        f.late_at_end,
        s.late_deduction,
        s.training_missed,
        s.training_deduction,
        f.completed,
        f.callbacks,
        f.dissatisfied,
        f.dissatisfied_excused,
        f.returns,
        s.name,
    ]


def render_assessment(report: AssessmentReport, fmt: str) -> str:
    """An `AssessmentReport` as ranked tables per group, CSV or JSON."""
    if fmt == "json":
        return str(report.model_dump_json(indent=2)) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(_SCORE_COLUMNS)
        for s in report.scores:
            w.writerow(_score_values(s))
        return buf.getvalue()
    version = assessment_by_id(report.version)
    out = [f"assessment {report.version} of {report.month.label()} (rates in %, deductions in points)\n"]
    for group in SubjectGroup:
        scores = [s for s in report.scores if s.group is group]
        if not scores:
            continue
        wt = version.weights[group]
        weights = ", ".join(f"{c.replace('_', ' ')} {getattr(wt, c):g}" for c in RATE_COMPONENTS)
        weights += f"; -{wt.late_points:g} per order late at the end, -{wt.training_points:g} for missed training"
        components = weighed_components(version, group)
        header = ["rank", "org", "score", *[c.replace("_", " ") for c in components], "late", "training", "name"]
        rows = [header]
        for s in scores:
            rows.append(
                [
                    str(s.rank),
                    s.org,
                    f"{s.score:.2f}",
                    *[_pct(s.rates[c]) for c in components],
                    f"{s.figures.late_at_end} -{s.late_deduction:g}" if s.late_deduction else "0",
                    f"missed -{s.training_deduction:g}" if s.training_missed else "-",
                    s.name,
                ]
            )
        title = f"\n{group.value.replace('_', ' ')}s (weights: {weights})\n"
        out.append(title + _grid(rows, right=range(2, len(header) - 1)))
    return "".join(out)


def render_inquiries(rows: list[InquiryRow], fmt: str) -> str:
    """The doubtful-order figures per unit, as a table, CSV or JSON lines."""
    header = ["unit", "asked", "answered", "answered_on_time", "open_now", "late_now"]
    if fmt == "json":
        return "".join(r.model_dump_json() + "\n" for r in rows)
    if fmt == "csv":
        lines = [",".join(header)] + [",".join(str(getattr(r, h)) for h in header) for r in rows]
        return "\n".join(lines) + "\n"
    table = [header] + [[str(getattr(r, h)) for h in header] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    out = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join(out) + ("\n" if rows else "\n(no doubtful orders in the period)\n")


# -- commands ----------------------------------------------------------------------------------


def cmd_stats(args: argparse.Namespace) -> int:
    """Print the figures of a period."""
    if args.first > args.last:
        return _usage("stats", f"--from {args.first} is after --to {args.last}; allowed: --from on or before --to")
    period = Period(first=args.first, last=args.last)
    by = Grouping(args.by)

    async def work(pool: Any) -> str:
        if args.inquiries:
            return render_inquiries(await inquiry_statistics(pool, period, now=_now()), args.format)
        return render_stats(await statistics(pool, period, by=by, now=_now()), args.format)

    sys.stdout.write(_run("stats", work))
    return EXIT_OK


def _version_ok(command: str, month: Period) -> int | None:
    try:
        assessment_for(month)
    except AssessmentError as e:
        return _usage(command, str(e))
    return None


def cmd_assess(args: argparse.Namespace) -> int:
    """Print the month's ranked assessment."""
    if (code := _version_ok("assess", args.month)) is not None:
        return code

    async def work(pool: Any) -> str:
        return render_assessment(await assessment(pool, args.month, now=_now()), args.format)

    sys.stdout.write(_run("assess", work))
    return EXIT_OK


def cmd_bulletin(args: argparse.Namespace) -> int:
    """Write the month's bulletin as HTML and Markdown."""
    if (code := _version_ok("bulletin", args.month)) is not None:
        return code
    out: Path = args.out
    if out.exists() and not out.is_dir():
        return _usage("bulletin", f"--out {out} is a file; allowed: a directory (created when missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return _usage("bulletin", f"--out {out} cannot be created: {e.strerror}")

    async def work(pool: Any) -> BulletinData:
        return await bulletin_data(pool, args.month, now=_now())

    data = _run("bulletin", work)
    try:
        paths = write_bulletin(data, out)
    except OSError as e:
        raise CliError(f"hotline bulletin: cannot write into {out}: {e.strerror}") from None
    for p in paths:
        print(p)
    return EXIT_OK


# -- wiring ------------------------------------------------------------------------------------


def _stats(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Figures of the orders of a period of local (Asia/Shanghai) dates, both ends included, "
        "in total or per group (Articles 5.6, 6.4). Each event counts in the period its instant falls in; "
        "open now and late now are the running orders at this instant. Definitions: docs/statistics.md."
    )
    p.add_argument("--from", dest="first", required=True, type=_date, metavar="DATE", help="first date, YYYY-MM-DD")
    p.add_argument("--to", dest="last", required=True, type=_date, metavar="DATE", help="last date (included)")
    p.add_argument(
        "--by",
        choices=[g.value for g in Grouping],
        default=Grouping.TOTAL.value,
        help="split by platform, unit (lead unit; '-' for none), district (the order's location), tier or "
        "category; default: total",
    )
    p.add_argument("--format", choices=FORMATS, default="table", help="table (default), csv or json")
    p.add_argument(
        "--inquiries",
        action="store_true",
        help="the doubtful orders' figures instead (Article 7.3): asked, answered, on time, open, late, per unit",
    )
    p.set_defaults(func=cmd_stats)


def _assess(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Scores per platform, district commission and unit for a month (Articles 4.4, 4.5, 6.5) "
        "under the assessment version in force: weighted rates (on-time receipt, on-time completion, "
        "satisfaction with upheld appeals excused, returns) less points per order late at the month's end "
        "and for missed training material (Article 11)."
    )
    p.add_argument("--month", required=True, type=_month, metavar="YYYY-MM", help="the month, e.g. 2026-03")
    p.add_argument("--format", choices=FORMATS, default="table", help="table (default), csv or json")
    p.set_defaults(func=cmd_assess)


def _bulletin(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Write bulletin-YYYY-MM.html (self-contained: inline CSS and SVG, prints on A4) and "
        "bulletin-YYYY-MM.md: headline figures against the previous month, on-time completion by district "
        "commission, late orders by unit, dissatisfied orders and their causes, the assessment ranking "
        "(Article 13)."
    )
    p.add_argument("--month", required=True, type=_month, metavar="YYYY-MM", help="the month, e.g. 2026-03")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="directory to write into (default: here)")
    p.set_defaults(func=cmd_bulletin)


def configure(command: str, parser: argparse.ArgumentParser) -> None:
    """The arguments of `hotline stats`, `hotline assess` and `hotline bulletin`."""
    {"stats": _stats, "assess": _assess, "bulletin": _bulletin}[command](parser)
