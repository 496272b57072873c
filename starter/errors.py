"""What the client can answer besides a status: light to import (no Temporal), for the CLI."""

from __future__ import annotations


class OrderAlreadyRunning(Exception):
    """An order with this number is running; a second start changes nothing."""


class TemporalUnreachable(Exception):
    """The Temporal front end does not answer at the configured address."""


class OrderNotFound(Exception):
    """No workflow exists for this order number."""


class ActionRefused(Exception):
    """The order refused an action or a query; the message is the workflow's, naming the rule."""
