"""Per-provider API keys: made by the command line, shown once, stored as a hash, revocable.

A key reads "cme_<prefix>_<secret>". The prefix finds the row; the SHA-256 of the whole key
is compared in constant time. A key is 256 random bits, so a slow password hash would add
latency and no safety.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from directory.registry.db import is_busy
from directory.registry.models import ApiKey, Provider, utcnow

KEY_PREFIX = "cme"


@dataclass(frozen=True)
class IssuedKey:
    key: str  # the only time the whole key exists outside the provider's hands
    record: ApiKey


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue(session: Session, provider: Provider, name: str) -> IssuedKey:
    prefix = secrets.token_hex(5)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    record = ApiKey(provider_id=provider.id, name=name, prefix=prefix, key_hash=_hash(key))
    session.add(record)
    session.flush()
    return IssuedKey(key, record)


def authenticate(session: Session, presented: str | None) -> ApiKey | None:
    """The live key `presented` is, or None (unknown, malformed, revoked)."""
    if not presented:
        return None
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    record = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if record is None or record.revoked_at is not None:
        return None
    if not hmac.compare_digest(record.key_hash, _hash(presented.strip())):
        return None
    return record


# last_used_at is for the provider's own records ("when was this key last used?"), so a
# minute's precision is plenty; writing it on every request would make every read a write.
TOUCH_EVERY = timedelta(minutes=1)


def touch(engine: Engine, key: ApiKey) -> None:
    """Note that `key` was used, in its own short transaction, at most once a minute.

    It never holds up the request: authentication is a read, and while a batch import holds
    SQLite's write lock this write is skipped (the next request past the minute tries again).
    """
    now = utcnow()
    if key.last_used_at is not None and _aware(key.last_used_at) > now - TOUCH_EVERY:
        return
    try:
        with engine.begin() as connection:
            connection.execute(
                update(ApiKey)
                .where(ApiKey.id == key.id)
                .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - TOUCH_EVERY))
                .values(last_used_at=now)
            )
    except OperationalError as exc:
        if not is_busy(exc):
            raise


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; the registry writes them in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def revoke(session: Session, prefix: str) -> ApiKey | None:
    record = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if record is not None and record.revoked_at is None:
        record.revoked_at = utcnow()
    return record
