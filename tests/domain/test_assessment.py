"""The monthly assessment (Articles 4.4, 4.5, 6.5): periods, weights as versioned data, scores, ranks."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from domain.assessment import (
    ASSESSMENTS,
    TIANJIN_ASSESSMENT_2021,
    AssessmentError,
    AssessmentVersion,
    Figures,
    Period,
    Subject,
    SubjectGroup,
    Weights,
    assess,
    assessment_by_id,
    assessment_for,
    rates_of,
    score_of,
    weighed_components,
)

CST = timezone(timedelta(hours=8))
UNIT_WEIGHTS = TIANJIN_ASSESSMENT_2021.weights[SubjectGroup.UNIT]

#: 10 completed (8 on time), 10 verdicts (2 dissatisfied), 10 handling orders (1 returned)
TYPICAL = Figures(completed=10, completed_on_time=8, callbacks=10, dissatisfied=2, assigned=10, returns=1)


def unit(org: str, figures: Figures, *, training_missed: bool = False) -> Subject:
    return Subject(org=org, group=SubjectGroup.UNIT, figures=figures, training_missed=training_missed)


class TestPeriod:
    def test_a_month_is_local(self) -> None:
        """March runs from 1 March 00:00 to 1 April 00:00, Asia/Shanghai."""
        march = Period.parse_month("2026-03")
        assert (march.first, march.last) == (date(2026, 3, 1), date(2026, 3, 31))
        assert march.start == datetime(2026, 3, 1, tzinfo=CST)
        assert march.end == datetime(2026, 4, 1, tzinfo=CST)
        assert march.label() == "2026-03"
        assert march.is_month

    @pytest.mark.parametrize(
        ("month", "previous"),
        [("2026-03", "2026-02"), ("2026-01", "2025-12"), ("2024-03", "2024-02")],
    )
    def test_previous_month(self, month: str, previous: str) -> None:
        """The month before, across a year's turn."""
        assert Period.parse_month(month).previous_month() == Period.parse_month(previous)

    def test_december_ends_with_the_year(self) -> None:
        """December's end is 1 January of the next year."""
        assert Period.parse_month("2026-12").end == datetime(2027, 1, 1, tzinfo=CST)

    @pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-3", "26-03", "March", "2026-03-01", "", "0000-01"])
    def test_not_a_month(self, text: str) -> None:
        """Anything but YYYY-MM is refused, saying what is allowed."""
        with pytest.raises(AssessmentError, match="allowed: YYYY-MM"):
            Period.parse_month(text)

    def test_from_after_to(self) -> None:
        """A period cannot end before it starts."""
        with pytest.raises(ValidationError, match="starts 2026-03-31 after it ends 2026-03-01"):
            Period(first=date(2026, 3, 31), last=date(2026, 3, 1))

    def test_a_part_of_a_month(self) -> None:
        """A period that is not a whole month is labelled by its dates."""
        p = Period(first=date(2026, 3, 1), last=date(2026, 3, 15))
        assert not p.is_month
        assert p.label() == "2026-03-01..2026-03-15"


class TestFigures:
    def test_rates(self) -> None:
        """Each rate over its own denominator; none without one."""
        f = Figures(
            received_on_time=9,
            received_late=1,
            received=11,  # one undecided: not in the receipt rate
            completed=4,
            completed_on_time=3,
            callbacks=5,
            dissatisfied=2,
            dissatisfied_excused=1,
            assigned=4,
            returns=1,
        )
        assert f.receipt_rate == 0.9
        assert f.completion_rate == 0.75
        assert f.satisfaction_rate == 0.8  # 2 dissatisfied, 1 excused: 1 counts of 5
        assert f.return_rate == 0.25
        assert Figures().receipt_rate is None
        assert Figures().completion_rate is None
        assert Figures().satisfaction_rate is None
        assert Figures().return_rate is None

    def test_emptiness(self) -> None:
        """Empty means nothing counted at all."""
        assert Figures().is_empty()
        assert not Figures(open_now=1).is_empty()


class TestVersions:
    def test_the_2021_version(self) -> None:
        """tianjin-assessment-2021 applies from April 2021, the month the measures were issued."""
        assert assessment_for(Period.parse_month("2021-04")) is TIANJIN_ASSESSMENT_2021
        assert assessment_for(Period.parse_month("2026-03")) is TIANJIN_ASSESSMENT_2021
        assert assessment_by_id("tianjin-assessment-2021") is TIANJIN_ASSESSMENT_2021
        assert ASSESSMENTS[0] is TIANJIN_ASSESSMENT_2021

    def test_before_the_first_version(self) -> None:
        """A month before the first version has no assessment, and the message says from when."""
        with pytest.raises(AssessmentError, match="no assessment version applies to 2021-03; the first"):
            assessment_for(Period.parse_month("2021-03"))

    def test_unknown_id(self) -> None:
        """An unknown id lists the known ones."""
        with pytest.raises(AssessmentError, match="known: tianjin-assessment-2021"):
            assessment_by_id("shanghai-2030")

    def test_a_new_version_governs_from_its_month(self) -> None:
        """A later version takes over from its first month; earlier months keep theirs."""
        newer = TIANJIN_ASSESSMENT_2021.model_copy(
            update={"id": "tianjin-assessment-2027", "effective_from": date(2027, 1, 1)}
        )
        versions = (TIANJIN_ASSESSMENT_2021, newer)
        assert assessment_for(Period.parse_month("2026-12"), versions=versions) is TIANJIN_ASSESSMENT_2021
        assert assessment_for(Period.parse_month("2027-01"), versions=versions) is newer

    def test_every_group_is_weighed(self) -> None:
        """A version must weigh every group, start on a month's first day, weigh some rate."""
        with pytest.raises(ValidationError, match="weights lack groups: unit"):
            AssessmentVersion(
                id="x",
                effective_from=date(2027, 1, 1),
                weights={g: UNIT_WEIGHTS for g in SubjectGroup if g is not SubjectGroup.UNIT},
            )
        with pytest.raises(ValidationError, match="first day of a month"):
            AssessmentVersion(
                id="x", effective_from=date(2027, 1, 2), weights=dict.fromkeys(SubjectGroup, UNIT_WEIGHTS)
            )
        with pytest.raises(ValidationError, match="at least one rate"):
            Weights(
                on_time_receipt=0, on_time_completion=0, satisfaction=0, no_returns=0, late_points=1, training_points=1
            )

    def test_receipt_weighs_for_platforms_only(self) -> None:
        """Receipt is the platform's duty (Art. 8.1): it weighs for platforms, not for units."""
        assert weighed_components(TIANJIN_ASSESSMENT_2021, SubjectGroup.PLATFORM) == [
            "on_time_receipt",
            "on_time_completion",
            "satisfaction",
        ]
        assert weighed_components(TIANJIN_ASSESSMENT_2021, SubjectGroup.DISTRICT_COMMISSION) == [
            "on_time_completion",
            "satisfaction",
            "no_returns",
        ]


class TestScore:
    def test_weighted_rates(self) -> None:
        """Completion 0.8 x 40 + satisfaction 0.8 x 40 + no returns 0.9 x 20 = 82."""
        score, base, late, training = score_of(unit("u", TYPICAL), UNIT_WEIGHTS)
        assert (score, base, late, training) == (82.0, 82.0, 0.0, 0.0)

    def test_an_upheld_appeal_does_not_count_against(self) -> None:
        """A dissatisfied verdict overturned by an upheld appeal counts as not dissatisfied."""
        excused = TYPICAL.model_copy(update={"dissatisfied_excused": 1})
        assert rates_of(excused)["satisfaction"] == 0.9
        assert score_of(unit("u", excused), UNIT_WEIGHTS)[0] == 86.0  # +0.1 x 40

    def test_missed_training_is_counted(self) -> None:
        """A month's training material not submitted (Art. 11) costs its points."""
        assert score_of(unit("u", TYPICAL, training_missed=True), UNIT_WEIGHTS)[0] == 77.0

    def test_late_orders_are_counted(self) -> None:
        """Each order behind a deadline at the month's end costs its points."""
        late = TYPICAL.model_copy(update={"late_at_end": 3})
        assert score_of(unit("u", late), UNIT_WEIGHTS)[:3] == (76.0, 82.0, 6.0)

    def test_a_rate_without_denominator_is_left_out(self) -> None:
        """No callbacks: completion and returns carry the score, reweighted (0.8 x 40 + 0.9 x 20) / 60."""
        f = TYPICAL.model_copy(update={"callbacks": 0, "dissatisfied": 0})
        assert score_of(unit("u", f), UNIT_WEIGHTS)[0] == round(100 * (0.8 * 40 + 0.9 * 20) / 60, 2)

    def test_nothing_to_hold_against(self) -> None:
        """No orders: full marks, less what it did miss."""
        assert score_of(unit("u", Figures()), UNIT_WEIGHTS)[0] == 100.0
        assert score_of(unit("u", Figures(), training_missed=True), UNIT_WEIGHTS)[0] == 95.0

    def test_never_below_zero(self) -> None:
        """Deductions stop at 0."""
        f = Figures(completed=1, callbacks=1, dissatisfied=1, late_at_end=100)
        assert score_of(unit("u", f), UNIT_WEIGHTS)[0] == 0.0


class TestRanking:
    def test_ranked_within_each_group(self) -> None:
        """Platforms, district commissions, units: each ranked on its own, best first."""
        subjects = [
            unit("dept-a", TYPICAL),
            Subject(org="district-x", group=SubjectGroup.DISTRICT_COMMISSION, figures=TYPICAL),
            unit("dept-b", TYPICAL.model_copy(update={"completed_on_time": 10})),
            Subject(org="center", group=SubjectGroup.PLATFORM, figures=Figures(received_on_time=1)),
            Subject(org="district-y", group=SubjectGroup.DISTRICT_COMMISSION, figures=Figures()),
        ]
        scores = assess(TIANJIN_ASSESSMENT_2021, subjects)
        assert [(s.group.value, s.org, s.rank, s.score) for s in scores] == [
            ("platform", "center", 1, 100.0),
            ("district_commission", "district-y", 1, 100.0),
            ("district_commission", "district-x", 2, 82.0),
            ("unit", "dept-b", 1, 90.0),
            ("unit", "dept-a", 2, 82.0),
        ]

    def test_equal_scores_share_a_rank(self) -> None:
        """1, 2, 2, 4; equals listed by org id."""
        subjects = [
            unit("d", Figures(completed=2, completed_on_time=0)),
            unit("c", TYPICAL),
            unit("b", TYPICAL),
            unit("a", Figures()),
        ]
        assert [(s.org, s.rank) for s in assess(TIANJIN_ASSESSMENT_2021, subjects)] == [
            ("a", 1),
            ("b", 2),
            ("c", 2),
            ("d", 4),
        ]

    def test_an_upheld_appeal_can_change_the_ranking(self) -> None:
        """Two units alike but for an appeal: the one whose appeal was upheld ranks first."""
        upheld = unit("z-upheld", TYPICAL.model_copy(update={"dissatisfied_excused": 2}))
        rejected = unit("a-rejected", TYPICAL)
        scores = assess(TIANJIN_ASSESSMENT_2021, [rejected, upheld])
        assert [(s.org, s.rank, s.score) for s in scores] == [("z-upheld", 1, 90.0), ("a-rejected", 2, 82.0)]

    def test_missed_training_can_change_the_ranking(self) -> None:
        """Two units alike but for the training material: the one that missed it ranks second."""
        scores = assess(TIANJIN_ASSESSMENT_2021, [unit("a", TYPICAL, training_missed=True), unit("b", TYPICAL)])
        assert [(s.org, s.rank, s.training_deduction) for s in scores] == [("b", 1, 0.0), ("a", 2, 5.0)]
