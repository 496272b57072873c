"""The rulebook as versioned data (rulebook.md, "Rulebook versions")."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInstant, RulebookError
from domain.models import Category, Tier
from domain.rulebook import (
    LEGACY_TIANJIN_2021,
    RULEBOOKS,
    SHIPPED_FILES,
    TIANJIN_2021,
    Rulebook,
    WindowOverrides,
    parse_rulebook,
    rulebook_by_id,
    rulebook_digest,
    rulebook_for,
    rulebook_text,
)

CST = timezone(timedelta(hours=8))


class TestTianjin2021:
    def test_parameters_are_the_rulebooks(self) -> None:
        """Every number of rulebook.md is a parameter of `tianjin-2021`, as documented."""
        rb = rulebook_by_id("tianjin-2021")
        assert rb.effective_from == date(2021, 4, 2)
        assert (rb.work_start, rb.work_end) == (time(9), time(16))
        assert rb.receipt_in_working_period == timedelta(hours=3)
        assert rb.receipt_after_work_start == timedelta(hours=3)
        assert rb.receipt_after_long_break == timedelta(hours=24)
        assert rb.long_break_min_days == 5
        assert rb.extra_urgent_receipt == timedelta(hours=1)
        assert rb.completion_working_days == {Tier.NORMAL: 6, Tier.URGENT: 2, Tier.VERY_URGENT: 1}
        assert rb.extra_urgent_completion == timedelta(minutes=30)
        assert rb.return_window == timedelta(hours=8)
        assert rb.warning_fraction == 0.8
        assert rb.rehandling_rounds == 1  # "再次办理": handled once more
        assert rb.callback_wait == timedelta(days=30)
        assert rb.doubtful_reply_working_days == 1
        assert rb.category_overrides == {}
        assert rb.nominal_end == date(2024, 4, 2)  # Article 14: three years
        assert (rb.dispatch(), rb.result_review()) == (rb.receipt_window(), rb.receipt_window())
        assert rb.appeal_window_working_days == 3
        assert rb.appeal_wait == timedelta(days=30)
        assert rb.overdue_reminder_interval == timedelta(days=1)

    def test_orders_of_lifecycle_1_keep_two_rounds(self) -> None:
        """Orders started before rulebooks were data keep the two re-handling rounds they were bound to."""
        assert LEGACY_TIANJIN_2021.rehandling_rounds == 2
        assert LEGACY_TIANJIN_2021.model_copy(update={"rehandling_rounds": 1}) == rulebook_by_id("tianjin-2021")

    @pytest.mark.parametrize("category", list(Category))
    def test_categories_equal_the_general_rules_by_default(self, category: Category) -> None:
        """Heating, gas and road_bridge follow the general windows unless overridden."""
        rb = rulebook_by_id("tianjin-2021")
        assert rb.for_category(category) == rb

    def test_frozen(self) -> None:
        """A rulebook version cannot be changed in place."""
        with pytest.raises(ValidationError):
            RULEBOOKS[0].long_break_min_days = 3  # type: ignore[misc]

    def test_round_trips_through_json(self) -> None:
        """A version survives JSON (it may be stored or sent as a payload)."""
        rb = RULEBOOKS[0]
        assert Rulebook.model_validate_json(rb.model_dump_json()) == rb


class TestRulebookFor:
    @pytest.mark.parametrize(
        ("instant", "expected"),
        [
            (datetime(2021, 4, 2, 0, 0, tzinfo=CST), "tianjin-2021"),
            (datetime(2026, 11, 27, 10, 15, tzinfo=CST), "tianjin-2021"),
            # 16:00 UTC on 04-01 is 00:00 on 04-02 in Tianjin
            (datetime(2021, 4, 1, 16, 0, tzinfo=UTC), "tianjin-2021"),
        ],
    )
    def test_version_in_force(self, instant: datetime, expected: str) -> None:
        """The version whose effective date (Tianjin local) is on or before the instant applies."""
        assert rulebook_for(instant).id == expected

    def test_before_the_first_version(self) -> None:
        """No rulebook governs an instant before 2021-04-02 (Tianjin local): the error says so."""
        with pytest.raises(RulebookError, match=r"2021-04-01.*2021-04-02"):
            rulebook_for(datetime(2021, 4, 1, 15, 59, 59, tzinfo=UTC))

    def test_naive_instant_is_refused(self) -> None:
        """A naive datetime is an error naming the allowed form."""
        with pytest.raises(InvalidInstant, match=r"naive.*\+08:00"):
            rulebook_for(datetime(2026, 3, 6, 9, 0))  # noqa: DTZ001

    def test_a_new_version_governs_new_instants_only(self) -> None:
        """With a second version, instants before its date keep the first one."""
        v2 = RULEBOOKS[0].model_copy(update={"id": "tianjin-2027", "effective_from": date(2027, 1, 1)})
        books = (RULEBOOKS[0], v2)
        assert rulebook_for(datetime(2026, 12, 31, 23, 59, tzinfo=CST), books=books).id == "tianjin-2021"
        assert rulebook_for(datetime(2027, 1, 1, 0, 0, tzinfo=CST), books=books).id == "tianjin-2027"

    def test_unknown_id(self) -> None:
        """An unknown id is an error listing the known ones."""
        with pytest.raises(RulebookError, match="tianjin-2021"):
            rulebook_by_id("beijing-2030")


class TestOverridesAndValidation:
    def test_category_override_is_partial(self) -> None:
        """An override changes only the fields it names; completion days merge per tier."""
        rb = RULEBOOKS[0].model_copy(
            update={
                "category_overrides": {
                    Category.HEATING: WindowOverrides(
                        receipt_after_long_break=timedelta(hours=12),
                        completion_working_days={Tier.NORMAL: 3},
                    )
                }
            }
        )
        heating = rb.for_category(Category.HEATING)
        assert heating.receipt_after_long_break == timedelta(hours=12)
        assert heating.completion_working_days == {
            Tier.NORMAL: 3,
            Tier.URGENT: 2,
            Tier.VERY_URGENT: 1,
        }
        assert heating.receipt_in_working_period == timedelta(hours=3)
        assert rb.for_category(Category.GAS) == rb

    def test_completion_days_need_every_day_counted_tier(self) -> None:
        """A version without a working-day window for a tier is refused."""
        with pytest.raises(ValidationError, match="very_urgent"):
            Rulebook(
                id="x",
                effective_from=date(2030, 1, 1),
                completion_working_days={Tier.NORMAL: 6, Tier.URGENT: 2},
            )

    def test_working_period_must_be_ordered(self) -> None:
        """The working period must start before it ends."""
        with pytest.raises(ValidationError, match="work_start"):
            Rulebook(id="x", effective_from=date(2030, 1, 1), work_start=time(16), work_end=time(9))

    def test_extra_urgent_has_no_working_day_window(self) -> None:
        """Asking for extra_urgent's working days is an error naming the day-counted tiers."""
        with pytest.raises(RulebookError, match="normal, urgent, very_urgent"):
            RULEBOOKS[0].working_days_for(Tier.EXTRA_URGENT)


class TestFile:
    """The rulebook file (docs/rulebook-format.md): JSON as written, refused in one line naming the field."""

    SHIPPED = (Path(__file__).parents[2] / "domain" / "rulebooks" / "tianjin-2021.json").read_text(encoding="utf-8")

    def doc(self, **changes: object) -> str:
        return json.dumps({**json.loads(self.SHIPPED), **changes})

    def test_the_shipped_file_is_tianjin_2021(self) -> None:
        assert parse_rulebook(self.SHIPPED) == TIANJIN_2021
        assert SHIPPED_FILES == {"tianjin-2021": "domain/rulebooks/tianjin-2021.json"}

    def test_text_round_trips_and_the_digest_ignores_key_order(self) -> None:
        """`rulebook_text` parses back equal; the digest is the content's, however the file orders its keys."""
        assert parse_rulebook(rulebook_text(TIANJIN_2021)) == TIANJIN_2021
        reordered = json.dumps(dict(reversed(list(json.loads(self.SHIPPED).items()))))
        assert rulebook_digest(parse_rulebook(reordered)) == rulebook_digest(TIANJIN_2021)
        other = parse_rulebook(self.doc(long_break_min_days=4))
        assert rulebook_digest(other) != rulebook_digest(TIANJIN_2021)

    @pytest.mark.parametrize("value", ["PT3H", "PT30M", "P1D", "P1DT12H", "PT90S", "P2W"])
    def test_iso_durations(self, value: str) -> None:
        assert parse_rulebook(self.doc(return_window=value)).return_window > timedelta(0)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("{", r"^f\.json: not JSON: "),
            ("[1]", "one JSON object"),
            (b"\xff", "not UTF-8"),
            ('{"id": "x", "effective_from": "2030-01-01", "extra": 1}', "extra: unknown field"),
            ('{"effective_from": "2030-01-01"}', "id: required field is missing"),
            ('{"id": "x", "effective_from": "2030-01-01", "return_window": "8 hours"}', '"8 hours" is not a duration'),
            ('{"id": "x", "effective_from": "2030-01-01", "return_window": 28800}', "28800 is not a duration"),
            ('{"id": "x", "effective_from": "2030-01-01", "return_window": "8:00:00"}', "is not a duration"),
            ('{"id": "x", "effective_from": "2030-01-01", "callback_wait": "P1M"}', "is not a duration"),
            ('{"id": "x", "effective_from": "2030-01-01", "long_break_min_days": "5"}', "valid integer"),
            (
                '{"id": "x", "effective_from": "2030-01-01", "category_overrides": {"gas": {"appeal_wait": "1d"}}}',
                "category_overrides.gas.appeal_wait: ",
            ),
            (
                '{"id": "x", "effective_from": "2030-01-01", '
                '"category_overrides": {"heating": {"return_window": "PT0S"}}}',
                "category_overrides.heating: return_window must be positive",
            ),
        ],
    )
    def test_refusals_name_the_field(self, text: str | bytes, message: str) -> None:
        with pytest.raises(RulebookError, match=message) as err:
            parse_rulebook(text, source="f.json")
        assert str(err.value).startswith("f.json: ")
        assert "\n" not in str(err.value)

    def test_an_override_that_breaks_the_merged_rules_is_refused_by_the_model(self) -> None:
        """Not only the file: a `Rulebook` whose override would fail an order of that category is invalid."""
        with pytest.raises(ValidationError, match=r"category_overrides\.gas: "):
            Rulebook(
                id="x",
                effective_from=date(2030, 1, 1),
                category_overrides={Category.GAS: WindowOverrides(completion_working_days={Tier.EXTRA_URGENT: 1})},
            )
