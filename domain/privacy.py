"""A confidential reporter's name and phone in text shown to anyone else (Articles 8.2 and 8.4).

The rule (``docs/rules.md``, "Confidential reporter"): the name and phone of a reporter who asked for
confidentiality never appear in notifications, outboxes, logs, search attributes, statistics or
bulletins. `redact` takes them out of a text however the phone is written (spaces, dashes, ``+86``),
the same way `domain.order.Order` scrubs what it sends; the bulletin applies it to every text it
shows of a confidential order (its subject, the callback notes).
"""

from __future__ import annotations

import re
from typing import Final

#: What replaces a confidential reporter's name or phone (the same words as `domain.order.REDACTED`).
REDACTED: Final = "[reporter]"

#: Fewer digits than this are no phone number worth finding in a text (they would match anything).
_MIN_PHONE_DIGITS: Final = 5


def redact(text: str, name: str, phone: str) -> str:
    """``text`` without the reporter's ``name`` and ``phone``, each replaced by `REDACTED`.

    The phone is found by its digits in order, with spaces or dashes between them and an optional
    ``+`` before, so ``139 1234 5678`` and ``139-1234-5678`` go too.
    """
    if name:
        text = text.replace(name, REDACTED)
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= _MIN_PHONE_DIGITS:
        pattern = r"\+?" + r"[\s-]*".join(re.escape(c) for c in digits)
        text = re.sub(pattern, REDACTED, text)
    return text
