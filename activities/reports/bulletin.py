"""The monthly bulletin (简报, Article 13): one self-contained HTML page and its Markdown twin.

The page carries its own CSS (with print rules: A4, no page break inside a table row or a chart)
and inline SVG charts drawn here; it loads nothing from anywhere, so it can be mailed, archived
and printed as it is. Sections: headline figures against the previous month, on-time completion by
district commission, late orders by unit, dissatisfied orders and their causes (the callback
notes), and the assessment ranking. The data comes from `activities.store.stats.bulletin_data`, which has
already taken a confidential reporter's name and phone out of every text shown (subjects, notes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Final

from activities.reports.models import NO_UNIT, BulletinData, StatsRow
from domain.assessment import RATE_COMPONENTS, Figures, Score, SubjectGroup, assessment_by_id, weighed_components
from domain.calendar import SHANGHAI
from domain.directory import DISTRICTS

TITLE: Final = "市城市管理委便民服务专线办理情况简报"

GROUP_TITLES: Final[dict[SubjectGroup, str]] = {
    SubjectGroup.PLATFORM: "Platforms (承办平台)",
    SubjectGroup.DISTRICT_COMMISSION: "District commissions (区城市管理委, Art. 4.5)",
    SubjectGroup.UNIT: "Divisions and units (委机关处室、委属单位)",
}

APPEAL_WORDS: Final[dict[str, str]] = {
    "": "–",
    "filed": "pending",
    "upheld": "upheld",
    "rejected": "rejected",
    "unanswered": "unanswered",
    "moot": "moot",
}

_DASH: Final = "–"


# -- numbers ------------------------------------------------------------------------------------


def _pct(rate: float | None) -> str:
    return _DASH if rate is None else f"{100 * rate:.1f}%"


def _hours(h: float | None) -> str:
    return _DASH if h is None else f"{h:.1f} h"


def _when(t: datetime | None) -> str:
    return "not met yet" if t is None else t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _signed(value: float, unit: str = "", digits: int = 0) -> str:
    if value == 0:
        return "±0" + unit
    return f"{value:+.{digits}f}{unit}".replace("-", "−")


@dataclass(frozen=True)
class Headline:
    """One headline figure: this month, the previous month and the change, as text."""

    label: str
    now: str
    before: str
    change: str


def _count(label: str, now: int, before: int) -> Headline:
    return Headline(label, str(now), str(before), _signed(now - before))


def _rate_line(label: str, now: float | None, before: float | None) -> Headline:
    change = _DASH if now is None or before is None else _signed(100 * (now - before), " pp", 1)
    return Headline(label, _pct(now), _pct(before), change)


def _hours_line(label: str, now: float | None, before: float | None) -> Headline:
    change = _DASH if now is None or before is None else _signed(now - before, " h", 1)
    return Headline(label, _hours(now), _hours(before), change)


def headlines(now: Figures, before: Figures) -> list[Headline]:
    """The headline figures of the month against the previous month (definitions: docs/statistics.md)."""

    def count(label: str, name: str) -> Headline:
        return _count(label, getattr(now, name), getattr(before, name))

    def hours(label: str, name: str) -> Headline:
        return _hours_line(label, getattr(now, name), getattr(before, name))

    return [
        count("Orders received (dispatched by the city hotline)", "received"),
        _rate_line("Received on time (of those decided)", now.receipt_rate, before.receipt_rate),
        count("Orders dispatched to units (first dispatch)", "dispatched"),
        hours("Median dispatch time (receipt to first dispatch)", "median_dispatch_hours"),
        count("Dispatch reminders to the platforms (not lateness)", "dispatch_reminders"),
        count("Dispatch escalations to the supervising departments", "dispatch_escalations"),
        count("Orders completed (first accepted result)", "completed"),
        _rate_line(
            "Completed on time (a forgiven overdue mark is not late)", now.completion_rate, before.completion_rate
        ),
        hours("Median handling time (units' clock start to accepted result)", "median_handling_hours"),
        count("Results reviewed by the platforms", "results_reviewed"),
        count("Results reviewed after their review window", "results_reviewed_late"),
        count("Results sent back to the units", "results_sent_back"),
        hours("Median review time (submission to review)", "median_review_hours"),
        _rate_line("Satisfaction (upheld appeals excused)", now.satisfaction_rate, before.satisfaction_rate),
        count("Dissatisfied verdicts", "dissatisfied"),
        count("Re-handling rounds opened", "rehandled"),
        count("Appeals filed", "appeals_filed"),
        count("Appeals upheld", "appeals_upheld"),
        count("Appeals rejected", "appeals_rejected"),
        count("Appeals unanswered (no decision within the appeal wait)", "appeals_unanswered"),
        count("Appeals pending at the month's end", "appeals_pending"),
        count("Handling orders returned by units", "returns"),
        count("Extensions asked for", "extensions_requested"),
        count("Extensions forwarded by the platforms", "extensions_forwarded"),
        count("Extensions declined by the platforms", "extensions_declined"),
        count("Extensions approved", "extensions_approved"),
        count("Extensions refused", "extensions_refused"),
        count("Overdue marks forgiven (extension approved after the deadline)", "extensions_forgiven"),
        count("Orders late at the month's end", "late_at_end"),
    ]


#: The platforms' own steps (Arts. 3, 6.2, 8: dispatch and reply "第一时间"), one table row per platform.
PLATFORM_STEPS_HEADER: Final = [
    "Platform",
    "Dispatched",
    "Median dispatch time",
    "Dispatch reminders",
    "Escalations",
    "Results reviewed",
    "Reviewed late",
    "Sent back",
    "Median review time",
]


def platform_steps(data: BulletinData) -> list[list[str]]:
    """Per platform: its dispatches and reminders, its reviews of results (late, sent back), their medians."""
    return [
        [
            data.names.get(r.key, r.key),
            str(r.figures.dispatched),
            _hours(r.figures.median_dispatch_hours),
            str(r.figures.dispatch_reminders),
            str(r.figures.dispatch_escalations),
            str(r.figures.results_reviewed),
            str(r.figures.results_reviewed_late),
            str(r.figures.results_sent_back),
            _hours(r.figures.median_review_hours),
        ]
        for r in data.by_platform
    ]


def appeals_line(f: Figures) -> str:
    """The month's appeals in one sentence."""
    return (
        f"Appeals this month: {f.appeals_filed} filed; {f.appeals_upheld} upheld, {f.appeals_rejected} rejected, "
        f"{f.appeals_unanswered} unanswered, {f.appeals_moot} moot (the order closed otherwise); "
        f"{f.appeals_pending} pending at the month's end. Only an upheld appeal excuses the verdicts it contests; "
        "an unanswered one leaves them counted."
    )


def _unit_name(data: BulletinData, unit: str) -> str:
    if unit == NO_UNIT:
        return "no unit (platform)"
    return data.names.get(unit, unit)


def _district_short(org: str) -> str:
    return DISTRICTS.get(org.removeprefix("district-"), org)


def district_completion(data: BulletinData) -> list[tuple[str, float | None, int]]:
    """(district name, on-time completion rate, completions) of every district commission."""
    rows = {r.key: r.figures for r in data.by_unit}
    out = []
    for district in DISTRICTS:
        f = rows.get(f"district-{district}", Figures())
        out.append((DISTRICTS[district], f.completion_rate, f.completed))
    return out


# -- SVG ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (None: nothing to draw) and the text beside it."""

    label: str
    value: float | None
    text: str


def bar_chart(bars: list[Bar], *, title: str, max_value: float, colour: Callable[[float], str]) -> str:
    """A horizontal bar chart as inline SVG (no namespace URL: HTML5 knows `<svg>`)."""
    label_w, bar_w, value_w, row_h, top = 190, 360, 90, 22, 8
    width = label_w + bar_w + value_w
    height = top * 2 + row_h * len(bars)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{label_w}" y1="{top - 4}" x2="{label_w}" y2="{height - top + 4}" class="axis"/>',
    ]
    for i, bar in enumerate(bars):
        y = top + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" class="label">{escape(bar.label)}</text>')
        if bar.value is not None and max_value > 0:
            w = max(1.0, bar_w * min(bar.value, max_value) / max_value) if bar.value > 0 else 0.0
            parts.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{colour(bar.value)}"/>'
            )
            x_text = label_w + w + 6
        else:
            x_text = label_w + 6
        parts.append(f'<text x="{x_text:.1f}" y="{y + 15}" class="value">{escape(bar.text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _rate_colour(rate: float) -> str:
    return "#2e7d32" if rate >= 0.9 else "#f9a825" if rate >= 0.7 else "#c62828"


def _late_colour(_: float) -> str:
    return "#c62828"


def _score_colour(score: float) -> str:
    return _rate_colour(score / 100)


# -- HTML ---------------------------------------------------------------------------------------

_CSS: Final = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 2em auto; max-width: 60em; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 2px solid #345; padding-bottom: 0.2em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
p.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.excused td { color: #666; }
.chart { max-width: 100%; height: auto; }
.chart .label, .chart .value { font-size: 12px; fill: #222; }
.chart .axis { stroke: #555; stroke-width: 1; }
.note { color: #555; font-size: 0.9em; }
.empty { font-style: italic; color: #555; }
footer { margin-top: 2em; color: #555; font-size: 0.85em; border-top: 1px solid #bbb; padding-top: 0.5em; }
@media print {
  @page { size: A4; margin: 15mm; }
  body { margin: 0; max-width: none; font-size: 10.5pt; color: #000; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table, figure, .chart { break-inside: avoid; page-break-inside: avoid; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  rect { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _table(
    header: list[str], rows: list[list[str]], *, numeric: set[int] | None = None, classes: list[str] | None = None
) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        cells = "".join(
            f'<td class="n">{escape(c)}</td>' if j in numeric else f"<td>{escape(c)}</td>" for j, c in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _month_words(data: BulletinData) -> str:
    m = data.month.first
    return f"{m.year}年{m.month}月"


def _sections(data: BulletinData) -> dict[str, tuple[str, str]]:
    """Section id -> (title, HTML body)."""
    sections: dict[str, tuple[str, str]] = {}

    lines = headlines(data.current, data.before)
    body = _table(
        ["Figure", data.month.label(), data.previous.label(), "Change"],
        [[h.label, h.now, h.before, h.change] for h in lines],
        numeric={1, 2, 3},
    )
    platforms = [
        [
            data.names.get(r.key, r.key),
            str(r.figures.received),
            _pct(r.figures.receipt_rate),
            str(r.figures.completed),
            _pct(r.figures.completion_rate),
            _pct(r.figures.satisfaction_rate),
        ]
        for r in data.by_platform
    ]
    if platforms:
        body += "<h3>By platform</h3>" + _table(
            ["Platform", "Received", "On-time receipt", "Completed", "On-time completion", "Satisfaction"],
            platforms,
            numeric={1, 2, 3, 4, 5},
        )
    if data.by_platform:
        body += "<h3>The platforms' own steps: dispatch and result review</h3>" + _table(
            PLATFORM_STEPS_HEADER, platform_steps(data), numeric=set(range(1, len(PLATFORM_STEPS_HEADER)))
        )
        body += (
            '<p class="note">A dispatch reminder is not lateness; a review after its window is: an order waiting '
            "for a late review counts as late for no unit (the platform's duty).</p>"
        )
    sections["headline"] = ("Headline figures", body)

    districts = district_completion(data)
    if any(n for _, _, n in districts):
        chart = bar_chart(
            [Bar(name, rate, f"{_pct(rate)} of {n}" if n else "no completions") for name, rate, n in districts],
            title="On-time completion rate by district commission",
            max_value=1.0,
            colour=_rate_colour,
        )
        caption = '<figcaption class="note">Green ≥ 90 %, amber ≥ 70 %, red below.</figcaption>'
        body = f"<figure>{chart}{caption}</figure>"
    else:
        body = '<p class="empty">No district commission completed an order this month.</p>'
    sections["districts"] = ("On-time completion by district commission", body)

    if data.late_by_unit:
        top = max(x.during for x in data.late_by_unit)
        chart = bar_chart(
            [Bar(_unit_name(data, x.unit), x.during, f"{x.during} ({x.at_end} at end)") for x in data.late_by_unit],
            title="Orders late during the month, by unit",
            max_value=float(top),
            colour=_late_colour,
        )
        body = f"<figure>{chart}</figure>" + _table(
            ["Unit", "Late during the month", "Still late at its end"],
            [[_unit_name(data, x.unit), str(x.during), str(x.at_end)] for x in data.late_by_unit],
            numeric={1, 2},
        )
        more = data.late_orders_total - len({x.order_no for x in data.late_orders})
        body += "<h3>The late orders</h3>" + _table(
            ["Order", "Subject", "Unit", "Deadline", "Late since", "Until"],
            [
                [x.order_no, x.subject, _unit_name(data, x.unit), x.deadline, _when(x.since), _when(x.until)]
                for x in data.late_orders
            ],
        )
        if more > 0:
            body += f'<p class="note">… and {more} more: <code>hotline order list --late</code>.</p>'
    else:
        body = '<p class="empty">No order was late this month.</p>'
    sections["late"] = ("Late orders by unit", body)

    if data.dissatisfied:
        body = _table(
            ["Order", "Subject", "Unit", "District", "When", "Reply", "Cause (callback note)", "Appeal"],
            [
                [
                    x.order_no,
                    x.subject,
                    _unit_name(data, x.unit),
                    DISTRICTS.get(x.district, x.district),
                    _when(x.at),
                    "first" if x.round == 0 else f"re-handling {x.round}",
                    x.note or _DASH,
                    APPEAL_WORDS.get(x.appeal, x.appeal) + (" (not counted)" if x.excused else ""),
                ]
                for x in data.dissatisfied
            ],
            classes=["excused" if x.excused else "" for x in data.dissatisfied],
        )
        if data.dissatisfied_total > len(data.dissatisfied):
            body += f'<p class="note">… and {data.dissatisfied_total - len(data.dissatisfied)} more.</p>'
    else:
        body = '<p class="empty">No dissatisfied verdict this month.</p>'
    body += f'<p class="note">{escape(appeals_line(data.current))}</p>'
    sections["dissatisfied"] = ("Dissatisfied orders and their causes", body)

    version = escape(data.assessment.version)
    body = f'<p class="note">Assessment {version}; definitions and weights: docs/statistics.md.</p>'
    districts_scores = [s for s in data.assessment.scores if s.group is SubjectGroup.DISTRICT_COMMISSION]
    if districts_scores:
        body += (
            "<figure>"
            + bar_chart(
                [Bar(_district_short(s.org), s.score, f"{s.score:.2f}") for s in districts_scores],
                title="Scores of the district commissions",
                max_value=100.0,
                colour=_score_colour,
            )
            + "</figure>"
        )
    for group, header, rows in _score_tables(data):
        body += f"<h3>{escape(GROUP_TITLES[group])}</h3>" + _table(header, rows, numeric=set(range(2, len(header) - 1)))
    sections["assessment"] = ("Assessment ranking", body)
    return sections


def _score_header(components: list[str]) -> list[str]:
    return [
        "Rank",
        "Organisation",
        "Score",
        *[RATE_COMPONENTS[c].capitalize() for c in components],
        "Late at end",
        "Training",
    ]


def _score_row(data: BulletinData, s: Score, components: list[str]) -> list[str]:
    return [
        str(s.rank),
        data.names.get(s.org, s.org) or s.org,
        f"{s.score:.2f}",
        *[_pct(s.rates[c]) for c in components],
        f"{s.figures.late_at_end} (−{s.late_deduction:g})" if s.late_deduction else str(s.figures.late_at_end),
        f"missed (−{s.training_deduction:g})" if s.training_missed else _DASH,
    ]


def _score_tables(data: BulletinData) -> list[tuple[SubjectGroup, list[str], list[list[str]]]]:
    """(group, header, rows) of each group with scores; only the rates that weigh for the group."""
    version = assessment_by_id(data.assessment.version)
    out = []
    for group in SubjectGroup:
        scores = [s for s in data.assessment.scores if s.group is group]
        if scores:
            components = weighed_components(version, group)
            out.append((group, _score_header(components), [_score_row(data, s, components) for s in scores]))
    return out


def render_html(data: BulletinData) -> str:
    """The bulletin as one self-contained HTML page (inline CSS and SVG, no scripts, no links out)."""
    sections = _sections(data)
    toc = "".join(f'<li><a href="#{sid}">{escape(title)}</a></li>' for sid, (title, _) in sections.items())
    body = "".join(
        f'<section id="{sid}"><h2>{i}. {escape(title)}</h2>{html}</section>'
        for i, (sid, (title, html)) in enumerate(sections.items(), start=1)
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(TITLE)} {escape(data.month.label())}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<header><h1>{escape(TITLE)}</h1>"
        f'<p class="sub">{escape(_month_words(data))} · Bulletin on the handling of hotline orders, '
        f"{escape(data.month.label())} (Article 13)</p>"
        f'<p class="note">Figures as of {escape(_when(data.as_of))} (Asia/Shanghai); '
        f"compared with {escape(data.previous.label())}.</p>"
        f"<nav><ol>{toc}</ol></nav></header>"
        f"{body}"
        "<footer>Generated by <code>hotline bulletin</code>. Counts follow docs/statistics.md: an event counts "
        "in the month its instant falls in (local time); late orders are those behind a deadline that counts "
        "(receipt, completion, re-handling, the platform's result review) at some instant of the month. "
        "A confidential reporter's name and phone are never shown.</footer>"
        "</body></html>\n"
    )


# -- Markdown -----------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_markdown(data: BulletinData) -> str:
    """The bulletin as Markdown: the same sections, tables instead of charts."""
    out = [
        f"# {TITLE} {data.month.label()}\n",
        f"{_month_words(data)} · Bulletin on the handling of hotline orders (Article 13). Figures as of "
        f"{_when(data.as_of)} (Asia/Shanghai), compared with {data.previous.label()}.\n",
        "## 1. Headline figures\n",
        _md_table(
            ["Figure", data.month.label(), data.previous.label(), "Change"],
            [[h.label, h.now, h.before, h.change] for h in headlines(data.current, data.before)],
        ),
    ]
    if data.by_platform:
        out += [
            "### By platform\n",
            _md_table(
                ["Platform", "Received", "On-time receipt", "Completed", "On-time completion", "Satisfaction"],
                [_platform_md(data, r) for r in data.by_platform],
            ),
        ]
    if data.by_platform:
        out += [
            "### The platforms' own steps: dispatch and result review\n",
            _md_table(PLATFORM_STEPS_HEADER, platform_steps(data)),
            "A dispatch reminder is not lateness; a review after its window is: an order waiting for a late review "
            "counts as late for no unit (the platform's duty).\n",
        ]
    out.append("## 2. On-time completion by district commission\n")
    districts = district_completion(data)
    if any(n for _, _, n in districts):
        out.append(
            _md_table(
                ["District commission", "On-time completion", "Completed"],
                [[d, _pct(r), str(n)] for d, r, n in districts],
            )
        )
    else:
        out.append("No district commission completed an order this month.\n")
    out.append("## 3. Late orders by unit\n")
    if data.late_by_unit:
        out.append(
            _md_table(
                ["Unit", "Late during the month", "Still late at its end"],
                [[_unit_name(data, x.unit), str(x.during), str(x.at_end)] for x in data.late_by_unit],
            )
        )
        out += [
            "### The late orders\n",
            _md_table(
                ["Order", "Subject", "Unit", "Deadline", "Late since", "Until"],
                [
                    [x.order_no, x.subject, _unit_name(data, x.unit), x.deadline, _when(x.since), _when(x.until)]
                    for x in data.late_orders
                ],
            ),
        ]
    else:
        out.append("No order was late this month.\n")
    out.append("## 4. Dissatisfied orders and their causes\n")
    if data.dissatisfied:
        out.append(
            _md_table(
                ["Order", "Subject", "Unit", "When", "Reply", "Cause (callback note)", "Appeal"],
                [
                    [
                        x.order_no,
                        x.subject,
                        _unit_name(data, x.unit),
                        _when(x.at),
                        "first" if x.round == 0 else f"re-handling {x.round}",
                        x.note or _DASH,
                        APPEAL_WORDS.get(x.appeal, x.appeal) + (" (not counted)" if x.excused else ""),
                    ]
                    for x in data.dissatisfied
                ],
            )
        )
    else:
        out.append("No dissatisfied verdict this month.\n")
    out.append(appeals_line(data.current) + "\n")
    out.append(
        f"\n## 5. Assessment ranking\n\nAssessment {data.assessment.version}; definitions: docs/statistics.md.\n"
    )
    for group, header, rows in _score_tables(data):
        out += [f"### {GROUP_TITLES[group]}\n", _md_table(header, rows)]
    return "\n".join(out)


def _platform_md(data: BulletinData, r: StatsRow) -> list[str]:
    f = r.figures
    return [
        data.names.get(r.key, r.key),
        str(f.received),
        _pct(f.receipt_rate),
        str(f.completed),
        _pct(f.completion_rate),
        _pct(f.satisfaction_rate),
    ]


def write_bulletin(data: BulletinData, out_dir: Path) -> tuple[Path, Path]:
    """Write ``bulletin-YYYY-MM.html`` and ``.md`` into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"bulletin-{data.month.label()}"
    html_path, md_path = out_dir / f"{stem}.html", out_dir / f"{stem}.md"
    html_path.write_text(render_html(data), encoding="utf-8")
    md_path.write_text(render_markdown(data), encoding="utf-8")
    return html_path, md_path
