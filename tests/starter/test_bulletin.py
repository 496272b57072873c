"""The monthly bulletin (Article 13): every section, self-contained HTML, Markdown, an empty month."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from activities.reports.bulletin import Bar, bar_chart, render_html, render_markdown, write_bulletin
from activities.reports.models import BulletinData
from activities.store.stats import bulletin_data
from domain.assessment import Period
from domain.privacy import REDACTED
from tests.support.stats import F_REPORTER, MARCH, NOW, Db, empty, march

__all__ = ["empty", "march"]  # the fixtures, imported for this module

SECTIONS = (
    "Headline figures",
    "On-time completion by district commission",
    "Late orders by unit",
    "Dissatisfied orders and their causes",
    "Assessment ranking",
)

VOID = {"meta", "br", "img", "hr", "link", "input", "col", "source", "wbr"}


class Structure(HTMLParser):
    """Checks that every element is closed, in order; collects tags, ids and attribute values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.values: list[str] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.append(value)
            if value:
                self.values.append(value)


def parse(html: str) -> Structure:
    s = Structure()
    s.feed(html)
    s.close()
    return s


@pytest.fixture(scope="module")
async def march_data(march: Db) -> BulletinData:
    return await bulletin_data(march.pool, MARCH, now=NOW)


class TestHtml:
    def test_every_section(self, march_data: BulletinData) -> None:
        """The five sections, in order, with the month and the previous one."""
        html = render_html(march_data)
        positions = [html.index(title) for title in SECTIONS]
        assert positions == sorted(positions)
        assert "2026-03" in html
        assert "2026-02" in html
        assert "市城市管理委便民服务专线办理情况简报" in html

    def test_valid_and_self_contained(self, march_data: BulletinData) -> None:
        """Well nested, unique ids, no script, nothing loaded from anywhere: no http(s) URL at all."""
        html = render_html(march_data)
        s = parse(html)
        assert s.doctype.lower() == "doctype html"
        assert s.errors == []
        assert s.stack == []
        assert [s.tags.count(t) for t in ("html", "head", "body")] == [1, 1, 1]
        assert s.tags.count("title") == 1 + s.tags.count("svg")  # the page's, and one per chart
        assert len(s.ids) == len(set(s.ids))
        assert "script" not in s.tags
        assert "http://" not in html
        assert "https://" not in html
        assert "//" not in " ".join(v for v in s.values if not v.startswith("#"))

    def test_charts_are_inline_svg(self, march_data: BulletinData) -> None:
        """Three charts: completion by district commission, late by unit, district commission scores."""
        html = render_html(march_data)
        s = parse(html)
        assert s.tags.count("svg") == 3
        assert s.tags.count("rect") >= 3

    def test_print_rules(self, march_data: BulletinData) -> None:
        """A4 pages, and no table row or chart cut across a page."""
        html = render_html(march_data)
        assert "@media print" in html
        assert "size: A4" in html
        assert "break-inside: avoid" in html

    def test_the_figures_and_the_causes(self, march_data: BulletinData) -> None:
        """Headline figures against February, the late units, each dissatisfied note, the ranking."""
        html = render_html(march_data)
        assert "<td>Orders received (dispatched by the city hotline)</td>" in html
        assert '<td class="n">13</td><td class="n">2</td><td class="n">+11</td>' in html
        assert "南开区城市管理委员会" in html
        for note in ("暖气仍不热", "诉求超出职责范围", "灯还是不亮", "噪音依旧", "还是吵", "仍不达标"):
            assert note in html
        assert "upheld (not counted)" in html
        assert "<td>moot</td>" in html  # D: satisfied while its appeal waited
        assert '<td class="n">93.00</td>' in html  # district-nankai

    def test_the_new_figures_where_they_belong(self, march_data: BulletinData) -> None:
        """Dispatch, result review, extensions and appeals in the headlines; the platforms' own steps per
        platform; the month's appeals beside the dissatisfied orders."""
        html = render_html(march_data)
        for label, now, before, change in (
            ("Orders dispatched to units (first dispatch)", "10", "2", "+8"),
            ("Results sent back to the units", "1", "0", "+1"),
            ("Appeals unanswered (no decision within the appeal wait)", "1", "0", "+1"),
            ("Overdue marks forgiven (extension approved after the deadline)", "1", "0", "+1"),
        ):
            cells = "".join(f'<td class="n">{v}</td>' for v in (now, before, change))
            assert f"<td>{label}</td>{cells}" in html
        assert "<h3>The platforms' own steps: dispatch and result review</h3>" in html
        # center: 9 dispatched, median 0.75 h, 1 reminder, 1 escalation, 12 reviewed, 1 late, 1 sent back, 1.0 h
        center = [9, "0.8 h", 1, 1, 12, 1, 1, "1.0 h"]
        assert "".join(f'<td class="n">{v}</td>' for v in center) in html
        assert "Appeals this month: 4 filed; 1 upheld, 1 rejected, 1 unanswered, 1 moot" in html
        assert "1 pending at the month&#x27;s end" in html

    def test_a_confidential_reporter_never_appears(self, march_data: BulletinData) -> None:
        """F's reporter's name and phone are in its subject and a callback note: neither page shows them."""
        name, phone = F_REPORTER
        for page in (render_html(march_data), render_markdown(march_data)):
            assert name not in page
            assert phone not in page
            assert f"{REDACTED}说暖气仍不热" in page

    def test_text_is_escaped(self, march_data: BulletinData) -> None:
        """A callback note is text, never markup."""
        first = march_data.dissatisfied[0].model_copy(update={"note": "<script>alert(1)</script> & 更多"})
        data = march_data.model_copy(update={"dissatisfied": [first, *march_data.dissatisfied[1:]]})
        html = render_html(data)
        assert "<script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 更多" in html


class TestMarkdown:
    def test_every_section_and_table(self, march_data: BulletinData) -> None:
        """The same sections as headings; tables with as many cells as their header."""
        md = render_markdown(march_data)
        for i, title in enumerate(SECTIONS, start=1):
            assert f"## {i}. {title}\n" in md
        for block in md.split("\n\n"):
            lines = [line for line in block.splitlines() if line.startswith("|")]
            if lines:
                widths = {line.replace("\\|", "").count("|") for line in lines}
                assert len(widths) == 1, block
        assert "| 南开区城市管理委员会 | 1 | 1 |" in md
        assert "仍不达标" in md
        assert "### The platforms' own steps: dispatch and result review\n" in md
        assert "<svg" not in md

    def test_a_pipe_in_a_note_stays_in_its_cell(self, march_data: BulletinData) -> None:
        """A `|` in a note is escaped."""
        first = march_data.dissatisfied[0].model_copy(update={"note": "a | b\nc"})
        data = march_data.model_copy(update={"dissatisfied": [first, *march_data.dissatisfied[1:]]})
        assert "| a \\| b c |" in render_markdown(data)


class TestEmptyMonth:
    async def test_renders(self, empty: Db, tmp_path: Path) -> None:
        """A month without orders: every section, saying there was nothing, and valid HTML."""
        data = await bulletin_data(empty.pool, Period.month(2026, 3), now=NOW)
        html = render_html(data)
        s = parse(html)
        assert s.errors == []
        assert s.stack == []
        for title in SECTIONS:
            assert title in html
        assert "No order was late this month." in html
        assert "No dissatisfied verdict this month." in html
        assert "No district commission completed an order this month." in html
        assert s.tags.count("svg") == 1  # the district commissions' scores, all 100
        md = render_markdown(data)
        assert "No order was late this month." in md
        html_path, md_path = write_bulletin(data, tmp_path / "out")
        assert html_path.name == "bulletin-2026-03.html"
        assert md_path.read_text(encoding="utf-8") == md
        assert html_path.read_text(encoding="utf-8") == html


class TestBarChart:
    def test_bars_scale_to_the_maximum(self) -> None:
        """The longest bar spans the plot; a missing value draws no bar but still says so."""
        svg = bar_chart(
            [Bar("a", 1.0, "100%"), Bar("b", 0.5, "50%"), Bar("c", None, "no orders")],
            title="t",
            max_value=1.0,
            colour=lambda _: "#000",
        )
        s = parse(svg)
        assert s.errors == []
        assert s.stack == []
        assert s.tags.count("rect") == 2
        assert 'width="360.0"' in svg
        assert 'width="180.0"' in svg
        assert "no orders" in svg
