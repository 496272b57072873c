"""The custom search attributes of the contract: names, types, and the keys the workflow sets."""

from __future__ import annotations

from typing import Final

from temporalio.common import SearchAttributeKey

ORDER_TIER: Final = SearchAttributeKey.for_keyword("OrderTier")
ORDER_CATEGORY: Final = SearchAttributeKey.for_keyword("OrderCategory")
ORDER_PLATFORM: Final = SearchAttributeKey.for_keyword("OrderPlatform")
ORDER_PHASE: Final = SearchAttributeKey.for_keyword("OrderPhase")
ORDER_UNITS: Final = SearchAttributeKey.for_keyword_list("OrderUnits")
ORDER_DISTRICT: Final = SearchAttributeKey.for_keyword("OrderDistrict")
RECEIPT_DUE: Final = SearchAttributeKey.for_datetime("ReceiptDue")
COMPLETION_DUE: Final = SearchAttributeKey.for_datetime("CompletionDue")
ORDER_FLAGS: Final = SearchAttributeKey.for_keyword_list("OrderFlags")

ALL: Final = (
    ORDER_TIER,
    ORDER_CATEGORY,
    ORDER_PLATFORM,
    ORDER_PHASE,
    ORDER_UNITS,
    ORDER_DISTRICT,
    RECEIPT_DUE,
    COMPLETION_DUE,
    ORDER_FLAGS,
)

_CLI_TYPE: Final = {
    "KEYWORD": "Keyword",
    "KEYWORD_LIST": "KeywordList",
    "DATETIME": "Datetime",
}


def registrations() -> list[tuple[str, str]]:
    """(name, type) of every custom search attribute, in the `temporal` CLI's spelling."""
    return [(k.name, _CLI_TYPE[k.indexed_value_type.name]) for k in ALL]
