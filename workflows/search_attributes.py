"""The contract's custom search attributes as typed keys (names and types: `domain.contract`)."""

from __future__ import annotations

from typing import Final

from temporalio.common import SearchAttributeKey

from domain.contract import SearchAttribute

ORDER_TIER: Final = SearchAttributeKey.for_keyword(SearchAttribute.ORDER_TIER.value)
ORDER_CATEGORY: Final = SearchAttributeKey.for_keyword(SearchAttribute.ORDER_CATEGORY.value)
ORDER_PLATFORM: Final = SearchAttributeKey.for_keyword(SearchAttribute.ORDER_PLATFORM.value)
ORDER_PHASE: Final = SearchAttributeKey.for_keyword(SearchAttribute.ORDER_PHASE.value)
ORDER_UNITS: Final = SearchAttributeKey.for_keyword_list(SearchAttribute.ORDER_UNITS.value)
ORDER_DISTRICT: Final = SearchAttributeKey.for_keyword(SearchAttribute.ORDER_DISTRICT.value)
RECEIPT_DUE: Final = SearchAttributeKey.for_datetime(SearchAttribute.RECEIPT_DUE.value)
COMPLETION_DUE: Final = SearchAttributeKey.for_datetime(SearchAttribute.COMPLETION_DUE.value)
ORDER_FLAGS: Final = SearchAttributeKey.for_keyword_list(SearchAttribute.ORDER_FLAGS.value)

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
