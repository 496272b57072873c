"""Rulebook files and databases of a test's own for the rulebook tests (store, CLI, workflow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from activities.store import calendar_store, rulebooks
from activities.store.db import apply_migrations
from activities.store.reference import seed_organisations
from domain.rulebook import TIANJIN_2021, rulebook_document

ROOT = Path(__file__).parents[2]
SHIPPED = ROOT / "domain" / "rulebooks" / "tianjin-2021.json"


def successor_file(book_id: str, effective_from: date, **changes: Any) -> dict[str, Any]:
    """A rulebook file (as a JSON object) with tianjin-2021's parameters, ``changes`` applied.

    Its nominal end is dropped unless given: a successor's own validity is its business.
    """
    doc = rulebook_document(TIANJIN_2021)
    doc.update(
        id=book_id,
        title=f"test successor {book_id}",
        effective_from=effective_from.isoformat(),
        nominal_end=None,
    )
    doc.update(changes)
    return doc


def write_file(folder: Path, doc: dict[str, Any] | str, name: str | None = None) -> Path:
    """``doc`` written as a rulebook file in ``folder`` (a string is written as it is)."""
    text = doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False, indent=2)
    path = folder / (name or f"rulebook-{uuid.uuid4().hex[:8]}.json")
    path.write_text(text, encoding="utf-8")
    return path


async def new_database(database_url: str, *, seed: bool = True, prefix: str = "rb") -> str:
    """A new, migrated database on the server of ``database_url``; ``seed``: orgs, calendar, rulebooks."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = database_url.rsplit("/", 1)[0] + f"/{name}"
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
        if seed:
            await seed_organisations(conn)
            await calendar_store.seed_from_package(conn)
            await rulebooks.seed_from_package(conn)
    finally:
        await conn.close()
    return url


def hotline(*args: str, database_url: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `hotline ARGS` in a child process on ``database_url``, as an operator would."""
    env = {**os.environ, "HOTLINE_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "starter.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
