"""The workflows' typed search attribute keys agree with the contract's names and types."""

from __future__ import annotations

from domain.contract import SEARCH_ATTRIBUTE_TYPES
from workflows import search_attributes as sa

CLI_TYPE = {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList", "DATETIME": "Datetime"}


def test_every_key_is_a_contract_attribute_of_its_type() -> None:
    """What the workflows upsert is what the dev server and the compose job register."""
    assert {k.name: CLI_TYPE[k.indexed_value_type.name] for k in sa.ALL} == {
        a.value: t for a, t in SEARCH_ATTRIBUTE_TYPES.items()
    }
