"""Configuration from environment variables, with defaults that run on a laptop.

Everything a deployment changes lives here, so README's configuration table and the code agree.
"""

from __future__ import annotations

import os
import secrets
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A checkout has pyproject.toml beside the packages; an installed wheel has not.
IN_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "templates").is_dir()
# A wheel installs templates/ and static/ as data files under the environment's prefix
# (pyproject.toml, [tool.setuptools.data-files]), since the design keeps them at the top level
# of the checkout rather than inside a package.
INSTALLED_SHARE = Path(sysconfig.get_path("data")) / "share" / "cme-directory"
SHIPPED = PROJECT_ROOT if IN_CHECKOUT else INSTALLED_SHARE
DEFAULT_DATA_DIR = PROJECT_ROOT / "var" if IN_CHECKOUT else Path("var").resolve()


@dataclass(frozen=True)
class Config:
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = f"sqlite:///{DEFAULT_DATA_DIR / 'directory.sqlite3'}"
    # "embedded" needs no server; "opensearch" is the engine for real deployments.
    search_backend: str = "embedded"
    opensearch_url: str = "http://127.0.0.1:9200"
    opensearch_index_prefix: str = "cme"
    opensearch_user: str | None = None
    opensearch_password: str | None = None
    # Gzip requests to OpenSearch: True, False, or None for "unless the cluster's URL is a
    # loopback address" (compressing for a cluster on the same machine only costs CPU).
    opensearch_compress: bool | None = None
    # Bulk requests a full reindex keeps in flight while it reads and renders the next chunk
    # (at least 1).
    opensearch_bulk_threads: int = 2
    # Listings expire at the end of their last day in the directory's own time zone, not UTC.
    timezone: str = "America/New_York"
    # Run the incremental sync right after a provider's write, so changes show at once.
    sync_after_write: bool = True
    # Signs session cookies. Unset, one is made once and kept in the data folder (mode 0600),
    # so every worker process and every restart signs with the same key.
    secret_key: str = ""
    # Seconds a write waits for another writer (SQLite: a batch import) before answering 503.
    database_busy_timeout: float = 5.0
    # The Jinja templates and the static files: the checkout's, or an installed wheel's.
    templates_dir: Path = SHIPPED / "templates"
    static_dir: Path = SHIPPED / "static"
    # Each worker keeps recent search answers (see directory/web/search_cache.py): the landing
    # page and a widget pre-set to one board ask the same question all day. At most this many
    # answers and megabytes per worker, each for at most this many seconds (a backstop: any
    # write to the index already retires them). 0 entries turns the cache off.
    search_cache_entries: int = 512
    search_cache_megabytes: float = 32.0
    search_cache_seconds: float = 300.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        defaults = cls()
        data_dir = Path(env.get("DIRECTORY_DATA_DIR", defaults.data_dir))
        return cls(
            database_url=env.get("DATABASE_URL", f"sqlite:///{data_dir / 'directory.sqlite3'}"),
            data_dir=data_dir,
            search_backend=env.get("SEARCH_BACKEND", defaults.search_backend),
            opensearch_url=env.get("OPENSEARCH_URL", defaults.opensearch_url),
            opensearch_index_prefix=env.get(
                "OPENSEARCH_INDEX_PREFIX", defaults.opensearch_index_prefix
            ),
            opensearch_user=env.get("OPENSEARCH_USER") or None,
            opensearch_password=env.get("OPENSEARCH_PASSWORD") or None,
            opensearch_compress=_yes_no_auto(env, "OPENSEARCH_COMPRESS"),
            opensearch_bulk_threads=max(
                1,
                _bounded(env, "OPENSEARCH_BULK_THREADS", defaults.opensearch_bulk_threads, int, 64),
            ),
            timezone=env.get("DIRECTORY_TIMEZONE", defaults.timezone),
            sync_after_write=env.get("SYNC_AFTER_WRITE", "1").lower() not in ("0", "false", "no"),
            secret_key=env.get("SECRET_KEY") or "",
            database_busy_timeout=float(
                env.get("DATABASE_BUSY_TIMEOUT", defaults.database_busy_timeout)
            ),
            templates_dir=Path(env.get("DIRECTORY_TEMPLATES_DIR", defaults.templates_dir)),
            static_dir=Path(env.get("DIRECTORY_STATIC_DIR", defaults.static_dir)),
            search_cache_entries=_bounded(
                env, "SEARCH_CACHE_ENTRIES", defaults.search_cache_entries, int, 1_000_000
            ),
            search_cache_megabytes=_bounded(
                env, "SEARCH_CACHE_MB", defaults.search_cache_megabytes, float, 100_000
            ),
            search_cache_seconds=_bounded(
                env, "SEARCH_CACHE_SECONDS", defaults.search_cache_seconds, float, 86_400
            ),
        )


def _bounded(env: dict[str, str], name: str, default: float, kind: type, high: float) -> Any:
    """A number from the environment in [0, high], or a start-up error naming the variable."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(
            f"{name}: '{raw}' is not a {'whole ' if kind is int else ''}number"
        ) from None
    if not 0 <= value <= high:  # also refuses NaN
        raise ValueError(f"{name}: give a number from 0 to {high:g}")
    return value


def _yes_no_auto(env: dict[str, str], name: str) -> bool | None:
    """An on/off setting that may be left to the code to decide: unset, empty or "auto"."""
    raw = env.get(name, "").strip().lower()
    if raw in ("", "auto"):
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}: '{raw}' is not one of 1, 0 or auto")


SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret


def persistent_secret(data_dir: Path) -> str:
    """The data folder's session-signing key, made on first use, readable by its owner only.

    Without SECRET_KEY each gunicorn worker used to draw its own key, so a sign-in worked only
    on the requests that reached the worker that signed it. One file shared by the workers
    (and kept across restarts) fixes that without asking every deployment to set a key.
    """
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two workers starting together, one writes the key and both read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)  # the other worker is still writing it
    raise RuntimeError(f"{path} is empty: delete it, or set SECRET_KEY")
