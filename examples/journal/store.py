"""In-memory journal state: users, vaults, entries and sessions, loaded from the fixtures.

Nothing here knows about HTTP or about divergences; handlers pass explicit flags (for
example the search tie-break direction) where the candidate behaves differently.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ENTRY_TYPES = ("journal", "note", "todo")
SESSION_LIFETIME = timedelta(hours=8)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def utc_now() -> datetime:
    """The current time, timezone-aware UTC with microseconds."""
    return datetime.now(UTC)


@dataclass
class Entry:
    """One journal entry; ``fields()`` gives the wire shape (datetimes left to the Wire)."""

    id: int
    title: str
    body: str
    section: str | None
    tags: list[str]
    type: str
    checkbox: bool | None
    mood_score: float | None
    date: str
    created_at: datetime
    updated_at: datetime
    version: int

    @property
    def word_count(self) -> int:
        return len(self.body.split())

    @property
    def etag(self) -> str:
        """Strong ETag over content, version and updated_at (identical in both modes)."""
        content = json.dumps(self.fields(with_body=True, stamps=False), sort_keys=True)
        digest = hashlib.sha256(
            f"{content}|{self.version}|{self.updated_at.isoformat()}".encode()
        ).hexdigest()
        return f'"{digest[:20]}"'

    def fields(self, *, with_body: bool = True, stamps: bool = True) -> dict[str, Any]:
        """Entry keys in wire order; summaries (``with_body=False``) carry an excerpt."""
        data: dict[str, Any] = {"id": self.id, "title": self.title}
        if with_body:
            data["body"] = self.body
        else:
            data["excerpt"] = self.body[:80]
        data.update(
            section=self.section,
            tags=list(self.tags),
            type=self.type,
            checkbox=self.checkbox,
            mood_score=self.mood_score,
            date=self.date,
        )
        if stamps:
            data.update(created_at=self.created_at, updated_at=self.updated_at)
        data.update(version=self.version, word_count=self.word_count)
        return data


@dataclass
class Vault:
    id: str
    name: str
    owner: str
    passphrase: str
    entries: dict[int, Entry]


@dataclass(frozen=True)
class User:
    id: str
    username: str
    name: str
    locale: str
    password: str


@dataclass
class Session:
    """A login: reachable by bearer token or by the ``sid`` cookie."""

    user: User
    token: str
    sid: str
    expires_at: datetime
    vault_sessions: dict[str, str] = field(default_factory=dict)  # vault_session -> vault id

    def unlock(self, vault: Vault) -> str:
        """Mint the ``X-Vault-Session`` id that entry calls on ``vault`` must present."""
        token = str(uuid.uuid4())
        self.vault_sessions[token] = vault.id
        return token

    def lock(self, vault: Vault) -> None:
        """Invalidate every vault session of ``vault``."""
        for token in [t for t, vault_id in self.vault_sessions.items() if vault_id == vault.id]:
            del self.vault_sessions[token]


@dataclass(frozen=True)
class SearchQuery:
    """Parsed search filters; ``None`` means "no filter"."""

    text: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    section: str | None = None
    tag: str | None = None
    type: str | None = None
    checkbox: bool | None = None

    def matches(self, entry: Entry) -> bool:
        text = self.text.casefold() if self.text else None
        return all(
            (
                text is None or text in entry.title.casefold() or text in entry.body.casefold(),
                self.date_from is None or entry.date >= self.date_from,
                self.date_to is None or entry.date <= self.date_to,
                self.section is None or entry.section == self.section,
                self.tag is None or self.tag in entry.tags,
                self.type is None or entry.type == self.type,
                self.checkbox is None or entry.checkbox is self.checkbox,
            )
        )


class Store:
    """All mutable state. ``reset()`` restores the fixtures and forgets every session."""

    def __init__(self, fixtures_dir: Path) -> None:
        self.fixtures_dir = fixtures_dir
        # New entry ids start at a random offset so two processes mint different ids.
        self.id_offset = 10_000 + secrets.randbelow(90_000)
        self.reset()

    def reset(self) -> None:
        manifest = json.loads((self.fixtures_dir / "manifest.json").read_text("utf-8"))
        self.users = {u["username"]: User(**u) for u in manifest["users"]}
        self.vaults = {v["id"]: self._load_vault(v) for v in manifest["vaults"]}
        self.by_token: dict[str, Session] = {}
        self.by_sid: dict[str, Session] = {}
        self._next_id = self.id_offset

    def _load_vault(self, meta: dict[str, Any]) -> Vault:
        raw = json.loads((self.fixtures_dir / meta["file"]).read_text("utf-8"))
        entries = {}
        for item in raw["entries"]:
            stamps = {k: datetime.fromisoformat(item[k]) for k in ("created_at", "updated_at")}
            entries[item["id"]] = Entry(**{**item, **stamps})
        return Vault(meta["id"], meta["name"], meta["owner"], meta["passphrase"], entries)

    # --- sessions -----------------------------------------------------------------

    def login(self, username: str, password: str) -> Session | None:
        user = self.users.get(username)
        if user is None or not secrets.compare_digest(user.password, password):
            return None
        session = Session(
            user, secrets.token_urlsafe(32), secrets.token_urlsafe(24), utc_now() + SESSION_LIFETIME
        )
        self.by_token[session.token] = self.by_sid[session.sid] = session
        return session

    def session_for(self, token: str | None, sid: str | None) -> Session | None:
        """The live session for a bearer token, else for a ``sid`` cookie."""
        for session in (self.by_token.get(token or ""), self.by_sid.get(sid or "")):
            if session is not None and session.expires_at > utc_now():
                return session
        return None

    def logout(self, session: Session) -> None:
        self.by_token.pop(session.token, None)
        self.by_sid.pop(session.sid, None)

    # --- vaults and entries -------------------------------------------------------

    def vaults_of(self, user: User) -> list[Vault]:
        return [v for v in self.vaults.values() if v.owner == user.username]

    def create_entry(self, vault: Vault, values: dict[str, Any]) -> Entry:
        now = utc_now()
        entry = Entry(
            id=self._next_id,
            title=values["title"],
            body=values.get("body", ""),
            section=values.get("section"),
            tags=values.get("tags", []),
            type=values.get("type", "journal"),
            checkbox=values.get("checkbox"),
            mood_score=values.get("mood_score"),
            date=values.get("date", now.date().isoformat()),
            created_at=now,
            updated_at=now,
            version=1,
        )
        self._next_id += 1
        vault.entries[entry.id] = entry
        return entry


def search(vault: Vault, query: SearchQuery, *, ties_newest_first: bool) -> list[Entry]:
    """Matching entries, newest date first; ties by id descending unless told otherwise."""
    found = [e for e in vault.entries.values() if query.matches(e)]
    found.sort(key=lambda e: e.id, reverse=ties_newest_first)
    found.sort(key=lambda e: e.date, reverse=True)  # stable: keeps the tie order
    return found


def page_of(items: list[Entry], page: int, per_page: int, *, skew: int = 0) -> list[Entry]:
    """Items of 1-based ``page``; ``skew`` shifts the start of pages after the first."""
    start = (page - 1) * per_page + (skew if page > 1 else 0)
    return items[start : start + per_page]


def validate_entry(data: dict[str, Any], *, partial: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Check a create (``partial=False``) or edit body; returns (clean values, field errors)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "title": (lambda v: isinstance(v, str) and v.strip() != "", "must be a non-empty string"),
        "body": (lambda v: isinstance(v, str), "must be a string"),
        "section": (lambda v: v is None or isinstance(v, str), "must be a string or null"),
        "tags": (_is_tag_list, "must be a list of strings"),
        "type": (lambda v: v in ENTRY_TYPES, f"must be one of {', '.join(ENTRY_TYPES)}"),
        "checkbox": (lambda v: v is None or isinstance(v, bool), "must be true, false or null"),
        "mood_score": (_is_mood, "must be a number from 0 to 5 or null"),
        "date": (is_iso_date, "must be a date like 2026-01-31"),
    }
    if not partial and "title" not in data:
        errors["title"] = "is required"
    for name, (is_valid, message) in checks.items():
        if name in data:
            if is_valid(data[name]):
                values[name] = data[name]
            else:
                errors[name] = message
    if isinstance(values.get("mood_score"), int):
        values["mood_score"] = float(values["mood_score"])
    return values, errors


def _is_tag_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(tag, str) for tag in value)


def _is_mood(value: object) -> bool:
    if value is None:
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 5


def is_iso_date(value: object) -> bool:
    """True for a real calendar date written ``YYYY-MM-DD``."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
