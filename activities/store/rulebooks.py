"""Rulebook versions in PostgreSQL: seeded from the package, then entered by operators (Article 14).

Each version is a record that never changes: who entered it, when, from which source, its content
(the rulebook file, ``docs/rulebook-format.md``) and the file exactly as it was given. The version
in force at an instant is the one whose ``effective_from`` is the latest on or before the instant's
Asia/Shanghai date; `OrderActivities.load_order_rules` binds it when an order starts (the workflow
keeps the answer in its history, so the order keeps it for life). Table:
``activities/store/migrations/009_rulebooks.sql``.

A successor must take effect after the newest stored version, and not before today: the orders
dispatched since have bound the version in force, so a version can only govern what is still to
come. Every write runs in one transaction under an advisory lock, so two workers seeding at once,
or two operators importing at once, never store two versions for one date.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from importlib import resources
from typing import Any, Final, TypeAlias

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.calendar import SHANGHAI, to_local
from domain.errors import RulebookError
from domain.rulebook import RULEBOOKS, SHIPPED_FILES, Rulebook, rulebook_digest, rulebook_text

SEED_AUTHOR: Final = "seed"

#: Every function takes a pool (it acquires a connection) or a connection the caller holds.
Db: TypeAlias = "asyncpg.Pool | asyncpg.Connection"

# Any constant works: it only has to be the same in every process that writes rulebook versions.
_RULEBOOK_LOCK: Final = 0x52554C45  # "RULE"

_COLUMNS: Final = "id, effective_from, nominal_end, title, digest, entered_by, entered_at, source, note"


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RulebookRefused(Exception):
    """A version the stored ones do not admit (its id or its date); the message is one line."""


class RulebookVersion(_Value):
    """Who entered one rulebook version, when, from what; and when it governs."""

    id: str = Field(description="The version's id, e.g. `tianjin-2021`.")
    effective_from: date = Field(description="First local (Asia/Shanghai) date it governs.")
    nominal_end: date | None = Field(default=None, description="When the measures' own validity ends.")
    title: str = Field(default="", description="What the version is, for a person.")
    digest: str = Field(description="SHA-256 of its content (keys sorted).")
    entered_by: str = Field(description="Who entered it (`seed` for the package's versions).")
    entered_at: AwareDatetime = Field(description="When it was stored.")
    source: str = Field(description="Where it comes from: the package's file, or the imported file.")
    note: str = Field(default="", description="The operator's note.")


class StoredRulebook(_Value):
    """A stored version with its rulebook, the file as entered, and its neighbours."""

    version: RulebookVersion
    rulebook: Rulebook
    original: str = Field(description="The file exactly as it was entered.")
    predecessor: str | None = Field(default=None, description="The version in force before it.")
    successor: RulebookVersion | None = Field(default=None, description="The version that follows it, if any.")


class ImportResult(_Value):
    """What `import_rulebook` did."""

    version: RulebookVersion = Field(description="The version stored now, or the identical one stored before.")
    stored: bool = Field(description="False: the same version was stored already and nothing changed.")
    predecessor: RulebookVersion | None = Field(default=None, description="The version it succeeds.")

    @property
    def message(self) -> str:
        """One line for the operator."""
        v = self.version
        if not self.stored:
            return (
                f"rulebook {v.id}: already stored with the same content (entered by {v.entered_by} at "
                f"{v.entered_at.isoformat()}); nothing changed"
            )
        after = ""
        if self.predecessor is not None:
            after = f"; {self.predecessor.id} governs orders dispatched before it"
        return (
            f"rulebook {v.id}: stored (by {v.entered_by}, from {v.source}); in force from "
            f"{v.effective_from.isoformat()} for orders dispatched from then on{after}; running orders keep theirs"
        )


class SeedResult(_Value):
    """What `seed_from_package` did."""

    seeded: list[str] = Field(default_factory=list, description="The versions stored now, oldest first.")
    skipped: dict[str, str] = Field(
        default_factory=dict, description="Shipped versions not stored, by id, with the reason."
    )


@asynccontextmanager
async def _transaction(db: Db) -> AsyncIterator[Any]:
    """A connection in a transaction (a savepoint when ``db`` is already in one)."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db


def _version(row: Any) -> RulebookVersion:
    return RulebookVersion(**{k: row[k] for k in RulebookVersion.model_fields})


def _rulebook(content: str) -> Rulebook:
    return Rulebook.model_validate_json(content)


def shipped_original(book_id: str) -> str:
    """The text of a shipped version's file (``domain/rulebooks/<file>.json``)."""
    name = SHIPPED_FILES[book_id].rsplit("/", 1)[-1]
    return (resources.files("domain") / "rulebooks" / name).read_text(encoding="utf-8")


async def _insert(
    conn: Any,
    book: Rulebook,
    *,
    original: str,
    entered_by: str,
    source: str,
    note: str,
    entered_at: datetime | None,
) -> RulebookVersion:
    row = await conn.fetchrow(
        f"""INSERT INTO rulebook_versions
               (id, effective_from, nominal_end, title, content, digest, entered_by, entered_at, source, note,
                original)
           VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, coalesce($8, now()), $9, $10, $11)
           RETURNING {_COLUMNS}""",
        book.id, book.effective_from, book.nominal_end, book.title, rulebook_text(book), rulebook_digest(book),
        entered_by, entered_at, source, note, original,
    )  # fmt: skip
    return _version(row)


async def seed_from_package(db: Db) -> SeedResult:
    """Store the package's versions (``domain/rulebooks/*.json``) that the database lacks.

    A shipped version is stored when its id is not stored yet and it takes effect after every
    stored version; otherwise it is skipped with the reason (the database owns the rulebooks:
    a stored version is never replaced). Run at every start of the dev stack and the worker.
    """
    result = SeedResult()
    async with _transaction(db) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _RULEBOOK_LOCK)
        stored = {r["id"]: r for r in await conn.fetch("SELECT id, effective_from, digest FROM rulebook_versions")}
        newest = max((r["effective_from"] for r in stored.values()), default=None)
        for book in RULEBOOKS:
            row = stored.get(book.id)
            if row is not None:
                if row["digest"] != rulebook_digest(book):
                    result.skipped[book.id] = (
                        f"the database holds another version under the id {book.id}; the database's is kept"
                    )
                continue
            if newest is not None and book.effective_from <= newest:
                result.skipped[book.id] = (
                    f"takes effect {book.effective_from.isoformat()}, not after the newest stored version's "
                    f"{newest.isoformat()}"
                )
                continue
            await _insert(
                conn,
                book,
                original=shipped_original(book.id),
                entered_by=SEED_AUTHOR,
                source=f"package {SHIPPED_FILES[book.id]}",
                note="seeded from the package",
                entered_at=None,
            )
            result.seeded.append(book.id)
            newest = book.effective_from
    return result


async def import_rulebook(
    db: Db,
    book: Rulebook,
    *,
    original: str,
    entered_by: str,
    source: str,
    note: str = "",
    entered_at: datetime | None = None,
    today: date | None = None,
) -> ImportResult:
    """Store an operator's version (``hotline rulebook import``); the same version twice stores it once.

    Args:
        db: The database (a pool, or a connection the caller holds).
        book: A checked version (`domain.rulebook.parse_rulebook`).
        original: The file as given, kept with the record.
        entered_by: Who enters it.
        source: Where it comes from (the file's name, the notice).
        note: Anything worth recording with it.
        entered_at: When (the database's clock when omitted).
        today: The local date the import counts as made on (today in Asia/Shanghai when omitted).

    Raises:
        ValueError: ``entered_by`` or ``source`` is empty.
        RulebookRefused: the id is taken by another content; the version does not take effect after
            the newest stored one; or it takes effect before today.
    """
    if not entered_by.strip():
        raise ValueError("entered_by: say who enters the rulebook, e.g. --by 'Wang Fang'")
    if not source.strip():
        raise ValueError("source: say where the rulebook comes from")
    today = today or datetime.now(SHANGHAI).date()
    async with _transaction(db) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _RULEBOOK_LOCK)
        same = await conn.fetchrow(f"SELECT {_COLUMNS} FROM rulebook_versions WHERE id = $1", book.id)
        if same is not None:
            if same["digest"] == rulebook_digest(book):
                return ImportResult(version=_version(same), stored=False)
            raise RulebookRefused(
                f"the id {book.id} is already used by another version (entered by {same['entered_by']} at "
                f"{same['entered_at'].isoformat()}, in force from {same['effective_from'].isoformat()}); "
                "a stored version never changes: give the new one an id of its own"
            )
        newest_row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM rulebook_versions ORDER BY effective_from DESC LIMIT 1"
        )
        newest = _version(newest_row) if newest_row is not None else None
        if newest is not None and book.effective_from <= newest.effective_from:
            raise RulebookRefused(
                f"effective_from {book.effective_from.isoformat()} is not after the newest version's "
                f"({newest.id}, in force from {newest.effective_from.isoformat()}); a successor takes effect "
                "after it"
            )
        if book.effective_from < today:
            raise RulebookRefused(
                f"effective_from {book.effective_from.isoformat()} lies in the past (today is "
                f"{today.isoformat()} in Asia/Shanghai): orders dispatched since have bound the version in "
                "force; a new version takes effect today or later"
            )
        stored = await _insert(
            conn,
            book,
            original=original,
            entered_by=entered_by.strip(),
            source=source.strip(),
            note=note,
            entered_at=entered_at,
        )
    return ImportResult(version=stored, stored=True, predecessor=newest)


async def list_versions(db: Db) -> list[RulebookVersion]:
    """Every stored version, oldest first (by the date it takes effect)."""
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM rulebook_versions ORDER BY effective_from")
    return [_version(r) for r in rows]


async def show(db: Db, book_id: str) -> StoredRulebook | None:
    """The stored version ``book_id`` with its content, or `None` when no version has that id."""
    async with _transaction(db) as conn:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS}, content::text AS content, original FROM rulebook_versions WHERE id = $1", book_id
        )
        if row is None:
            return None
        before = await conn.fetchval(
            "SELECT id FROM rulebook_versions WHERE effective_from < $1 ORDER BY effective_from DESC LIMIT 1",
            row["effective_from"],
        )
        after = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM rulebook_versions WHERE effective_from > $1 ORDER BY effective_from LIMIT 1",
            row["effective_from"],
        )
    return StoredRulebook(
        version=_version(row),
        rulebook=_rulebook(row["content"]),
        original=row["original"],
        predecessor=before,
        successor=_version(after) if after is not None else None,
    )


async def load_rulebooks(db: Db) -> tuple[Rulebook, ...]:
    """Every stored version's rulebook, oldest first (`domain.rulebook.rulebook_for`'s ``books``)."""
    rows = await db.fetch("SELECT content::text AS content FROM rulebook_versions ORDER BY effective_from")
    return tuple(_rulebook(r["content"]) for r in rows)


async def in_force(db: Db, at: datetime) -> Rulebook:
    """The version in force at ``at``: the latest ``effective_from`` on or before its local date.

    Raises:
        InvalidInstant: ``at`` is naive.
        RulebookError: no version is stored, or none takes effect on or before that date.
    """
    day = to_local(at).date()
    async with _transaction(db) as conn:
        content = await conn.fetchval(
            """SELECT content::text FROM rulebook_versions WHERE effective_from <= $1
               ORDER BY effective_from DESC LIMIT 1""",
            day,
        )
        if content is not None:
            return _rulebook(content)
        first = await conn.fetchval("SELECT min(effective_from) FROM rulebook_versions")
    if first is None:
        raise RulebookError("no rulebook version is stored; the worker and `hotline dev` seed the package's at start")
    raise RulebookError(f"no rulebook in force on {day.isoformat()}; the first version takes effect on {first}")
