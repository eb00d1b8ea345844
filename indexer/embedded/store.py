"""The embedded index file: its tables, and writing documents into them.

Layout of the index file:
- docs: one row per document, the JSON body plus the columns filters and sorts read;
- fts: FTS5 table over the searchable text (rowid = document id), one column per field group:
  what a query matches;
- score_<column>: one contentless FTS5 table per column of fts, holding that column alone:
  what a match is scored by (see SCORE_TABLES);
- bitmaps: for each facet value and each value of the columns filters compare, the set of
  documents that have it (`indexer.embedded.bitmaps`); meta: the file's generation, new with
  every write;
- labels: the name of each provider id, for the provider facet;
- deadlines: (doc_id, board, points, deadline) for per-board sorts and the claim window;
- points: every point of each document's `locations` (id, doc_id, lat, lon, by doc_id): how
  far the documents beyond a search's radius are (`indexer.embedded.geo`); a distance search
  itself reads the bitmap of each distinct point (`bitmaps.PLACE`);
- words: the unstemmed words of titles, keywords, practice areas, boards and providers, for
  typo correction;
- suggestions: whole titles, practice areas and providers, for typeahead.

The file uses a rollback journal, not WAL, because a full reindex `os.replace`s it and a WAL
file belongs to its database by name: it must never be paired with a different file.

The file says which version of this layout and of the documents it holds (`VERSION`, as
SQLite's `user_version`). A file an older version wrote is brought up to date in place, in
one transaction, by `upgrade` (the steps of `MIGRATIONS`) the first time it is opened, so it
is never misread: readers see the old file or the upgraded one, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from directory.search import TEXT_FIELD_NAMES, TEXT_FIELDS
from indexer.document import SearchDocument, document_json
from indexer.embedded import bitmaps
from indexer.text import ascii_words, fold_simple, strip_possessives

TOKENIZER = "porter unicode61 remove_diacritics 2"

# The fts table's columns, in order, and the document fields each one holds (list fields'
# values joined by " | "). Board names share the practice areas' column: a column of their
# own would change the file's layout, so every existing index would need a full reindex.
FTS_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("title", ("title",)),
    ("practice_areas", ("practice_area_names", "board_names")),
    ("keywords", ("keywords",)),
    ("provider", ("provider_name",)),
    ("objectives", ("objectives",)),
    ("description", ("description",)),
)
TEXT_COLUMNS = tuple(column for column, _ in FTS_COLUMNS)
# BM25 weight of each column: that of its first field in `directory.search.TEXT_FIELDS` (so
# board names weigh as practice areas do here, 4, where OpenSearch weighs them 2).
_FIELD_WEIGHTS = {f.name: f.weight for f in TEXT_FIELDS}
WEIGHTS = tuple(_FIELD_WEIGHTS[fields[0]] for _, fields in FTS_COLUMNS)
# A text field added to TEXT_FIELDS must be given a column here, or it would silently go
# unsearched by this engine.
_UNINDEXED = set(TEXT_FIELD_NAMES) - {f for _, fields in FTS_COLUMNS for f in fields}
if _UNINDEXED:
    raise RuntimeError(f"text fields without an FTS5 column: {sorted(_UNINDEXED)}")

# One FTS5 table per fts column, for scoring: FTS5's bm25 normalises a match by the length of
# the whole row, so a title match counted less in a record with a long description, and a
# term's weight was summed over columns before it saturated (a record naming the query in its
# title and its practice areas gained little over one naming it once). OpenSearch scores each
# field on its own (its length, its term frequencies) and adds the fields' scores, each times
# its weight; one table per column is the same rule in FTS5's terms. Contentless
# (content=''): they store the index, not the text, which fts already holds.
SCORE_TABLES = tuple((f"score_{column}", column) for column in TEXT_COLUMNS)

# The fields whose words typos are corrected against, and what typeahead suggests whole.
WORD_FIELDS = ("title", "provider_name", "keywords", "practice_area_names", "board_names")
SUGGESTION_FIELDS = (
    ("title", "title"),
    ("practice_area", "practice_area_names"),
    ("provider", "provider_name"),
)

# The version of the layout below and of the documents in it (`indexer.document`). Bump it
# with any change to SCHEMA, to what `insert` derives from a document, or to the documents'
# shape, and add the step that brings a file of the previous version up to it to MIGRATIONS.
VERSION = 5


def fts_text(text: str) -> str:
    """A text field as the fts table holds it: possessives dropped ("Crohn's" -> "Crohn"), as
    OpenSearch's analyzers and both engines' queries drop them (`indexer.text`)."""
    return strip_possessives(text)


def _fold_possessives(conn: sqlite3.Connection) -> None:
    """1 -> 2: the fts text of version 1 kept possessives ("crohn" "s"); fold them."""
    columns = ", ".join(TEXT_COLUMNS)
    changed = []
    for rowid, *texts in conn.execute(f"SELECT rowid, {columns} FROM fts").fetchall():
        folded = [fts_text(t) if t is not None else None for t in texts]
        if folded != texts:
            changed.append((*folded, rowid))
    assignments = ", ".join(f"{c} = ?" for c in TEXT_COLUMNS)
    conn.executemany(f"UPDATE fts SET {assignments} WHERE rowid = ?", changed)


def _score_tables(conn: sqlite3.Connection) -> None:
    """2 -> 3: the per-column score tables, filled from fts."""
    for table, column in SCORE_TABLES:
        conn.execute(_SCORE_TABLE.format(table=table, column=column))
        conn.execute(f"INSERT INTO {table} (rowid, {column}) SELECT rowid, {column} FROM fts")


def _execute(conn: sqlite3.Connection, sql: str) -> None:
    """Statements separated by ";" (none may hold one in a literal), in the caller's
    transaction: not `executescript`, which commits first."""
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def _bitmaps(conn: sqlite3.Connection) -> None:
    """3 -> 4: facet counts and filters read bitmaps, not (facet, value, doc) rows; the sorts
    walk indexes."""
    _execute(conn, _BITMAP_TABLES)
    pending = bitmaps.Pending()
    for doc_id, body in conn.execute("SELECT id, body FROM docs"):
        pending.add(doc_id, bitmaps.keys(json.loads(body)))
    pending.flush(conn)
    conn.execute("DROP TABLE facets")


def _points(docs: Sequence[Mapping[str, Any]]) -> list[tuple[int, float, float]]:
    """(doc id, lat, lon) of every point of the documents' `locations`. Raises ValueError for
    one that is not a point on the Earth (the document is then refused, as OpenSearch's
    geo_point refuses it)."""
    found = []
    for d in docs:
        for point in d.get("locations") or ():
            lat, lon = point["lat"], point["lon"]
            if isinstance(lat, bool) or isinstance(lon, bool):
                raise ValueError(f"a location is not a pair of numbers: {point!r}")
            lat, lon = float(lat), float(lon)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"a location is off the Earth: {lat}, {lon}")
            found.append((d["id"], lat, lon))
    return found


def _insert_points(conn: sqlite3.Connection, points: list[tuple[int, float, float]]) -> None:
    """The points, numbered on from the highest id in use."""
    if not points:
        return
    (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM points").fetchone()
    rows = [(last + i, doc_id, lat, lon) for i, (doc_id, lat, lon) in enumerate(points, 1)]
    conn.executemany("INSERT INTO points VALUES (?, ?, ?, ?)", rows)


# What version 5's documents added (`indexer.document`), as a document that says nothing of
# it holds it: the shape every reader of a hit may count on.
_ADDED_IN_5: Mapping[str, Any] = {"locations": [], "topic": [], "approvals": [], "mandate": []}


def _geo(conn: sqlite3.Connection) -> None:
    """4 -> 5: the points of distance search (`points`, and a bitmap per place), and the
    bitmaps of the mandate and topic facets, from the stored bodies.

    A body version 4 stored has no `locations`, `topic`, `approvals` or `mandate`, nor its
    sessions' `lat` and `lon` (the documents gained them with this version): each is added
    empty, so a hit reads as a document of this version does, and the new tables start empty.
    `directory index` renders every document again, which fills them: until then a
    distance search finds none of these documents, and no mandate or topic is counted."""
    _execute(conn, _GEO_TABLES)
    pending = bitmaps.Pending()
    points: list[tuple[int, float, float]] = []
    added = {"mandate", "topic", bitmaps.PLACE}
    rewritten = []
    for doc_id, body in conn.execute("SELECT id, body FROM docs").fetchall():
        doc = json.loads(body)
        changed = False
        for name, empty in _ADDED_IN_5.items():
            if name not in doc:
                doc[name], changed = list(empty), True
        for session in doc.get("occurrences") or []:
            for name in ("lat", "lon"):
                if isinstance(session, dict) and name not in session:
                    session[name], changed = None, True
        if changed:
            rewritten.append((document_json(doc), doc_id))
        pending.add(doc_id, (k for k in bitmaps.keys(doc) if k[0] in added))
        try:
            points += _points([{**doc, "id": doc_id}])
        except (KeyError, TypeError, ValueError):
            continue  # not a point: what a reindex would refuse the document for
    conn.executemany("UPDATE docs SET body = ? WHERE id = ?", rewritten)
    _insert_points(conn, points)
    pending.flush(conn)


# What brings a file of version n - 1 to version n, run by `upgrade` in one transaction: SQL
# (statements separated by ";", so none may hold one in a literal) or a function of the
# connection.
MIGRATIONS: Mapping[int, str | Callable[[sqlite3.Connection], None]] = {
    # 0 -> 1: delivery became one value. Version 0 (files from before the index had a version)
    # held "both" as the list ["in person", "online"], counted under either value.
    1: """
        UPDATE docs SET body = json_set(body, '$.delivery', CASE
            WHEN json_type(body, '$.delivery') IS NOT 'array'
                THEN json_extract(body, '$.delivery')
            WHEN EXISTS (SELECT 1 FROM json_each(body, '$.delivery') WHERE value = 'in person')
             AND EXISTS (SELECT 1 FROM json_each(body, '$.delivery') WHERE value = 'online')
                THEN 'both'
            ELSE json_extract(body, '$.delivery[0]')
        END);
        DELETE FROM facets WHERE facet = 'delivery';
        INSERT INTO facets (facet, value, doc_id)
            SELECT 'delivery', json_extract(body, '$.delivery'), id FROM docs
            WHERE coalesce(json_extract(body, '$.delivery'), '') <> '';
    """,
    2: _fold_possessives,
    3: _score_tables,
    4: _bitmaps,
    5: _geo,
}
if sorted(MIGRATIONS) != list(range(1, VERSION + 1)):
    raise RuntimeError(f"MIGRATIONS must have one step for each version up to {VERSION}")

_SCORE_TABLE = (
    f"CREATE VIRTUAL TABLE {{table}} USING fts5({{column}}, content='', tokenize='{TOKENIZER}')"
)

# The sorts of `indexer.embedded.query`, each an index in the ORDER BY's exact terms, so a page
# is read in order and stops early instead of sorting every match.
_BITMAP_TABLES = """
CREATE TABLE bitmaps (name TEXT NOT NULL, value TEXT NOT NULL, bits BLOB NOT NULL,
    PRIMARY KEY (name, value)) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX docs_soonest ON docs (next_start IS NULL, next_start, id);
CREATE INDEX docs_credits ON docs (cme_credits IS NULL, cme_credits DESC, id);
CREATE INDEX docs_points ON docs (max_points IS NULL, max_points DESC, id);
CREATE INDEX docs_deadline ON docs (claim_deadline IS NULL, claim_deadline, id);
CREATE INDEX docs_newest ON docs (created_at IS NULL, created_at DESC, id);
CREATE INDEX deadlines_points ON deadlines (board, points DESC, doc_id);
CREATE INDEX deadlines_dates ON deadlines (board, deadline, doc_id);
"""

# Each document's points, exact, by doc_id: for removal, and for the distance of documents
# beyond a search's radius.
_GEO_TABLES = """
CREATE TABLE points (id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL, lat REAL NOT NULL,
    lon REAL NOT NULL);
CREATE INDEX points_by_doc ON points (doc_id);
"""

SCHEMA = (
    f"""
PRAGMA user_version = {VERSION};
CREATE TABLE docs (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    end_date TEXT NOT NULL,
    start_date TEXT,
    next_start TEXT,
    enduring INTEGER NOT NULL,
    cme_credits REAL,
    max_points REAL,
    claim_deadline TEXT,
    created_at TEXT
);
CREATE VIRTUAL TABLE fts USING fts5({", ".join(TEXT_COLUMNS)}, tokenize='{TOKENIZER}');
CREATE TABLE labels (facet TEXT NOT NULL, value TEXT NOT NULL, label TEXT NOT NULL,
    PRIMARY KEY (facet, value)) WITHOUT ROWID;
CREATE TABLE deadlines (
    doc_id INTEGER NOT NULL, board TEXT NOT NULL, points REAL, deadline TEXT,
    PRIMARY KEY (doc_id, board)
) WITHOUT ROWID;
CREATE TABLE words (word TEXT PRIMARY KEY, uses INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE suggestions (
    kind TEXT NOT NULL, text TEXT NOT NULL, folded TEXT NOT NULL, uses INTEGER NOT NULL,
    PRIMARY KEY (kind, text)
) WITHOUT ROWID;
CREATE INDEX suggestions_by_folded ON suggestions (folded);
"""
    + "".join(f"{_SCORE_TABLE.format(table=t, column=c)};\n" for t, c in SCORE_TABLES)
    + _BITMAP_TABLES
    + _GEO_TABLES
)


def folded_words(text: str) -> list[str]:
    """The words this engine indexes and looks up: ASCII letters and digits, folded."""
    return ascii_words(fold_simple(text))


def _texts(doc: Mapping[str, Any], field: str) -> list[str]:
    """A text field's values: one for a string field, every one for a list field."""
    value = doc[field]
    return list(value) if isinstance(value, list) else [value]


# --- the file --------------------------------------------------------------------------------


def create(target: Path) -> None:
    """An empty index at `target`, unless one appeared there meanwhile (never replaced)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.new-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.executescript(SCHEMA)
    conn.close()
    with contextlib.suppress(FileExistsError):
        os.link(tmp, target)  # create only if still absent: never replace a built index
    tmp.unlink(missing_ok=True)


def connect(target: Path) -> sqlite3.Connection:
    """A connection to the index at `target` (an empty one if there is none yet), in
    autocommit mode: transactions are explicit."""
    if not target.exists():
        create(target)
    conn = sqlite3.connect(target, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    return conn


class NewerIndex(RuntimeError):
    """The file was written by a newer version of this module: rebuild it (`reindex`)."""


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def upgrade(conn: sqlite3.Connection) -> None:
    """Bring the file of `conn` to `VERSION`, in one transaction (another connection may have
    done it meanwhile: then nothing). Raises NewerIndex for a file newer than this code."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = version(conn)
        if found > VERSION:
            raise NewerIndex(
                f"the search index file is version {found}, and this version of the directory "
                f"reads version {VERSION}: rebuild it with `directory index`"
            )
        for step in range(found + 1, VERSION + 1):
            migration = MIGRATIONS[step]
            if callable(migration):
                migration(conn)
                continue
            _execute(conn, migration)
        conn.execute(f"PRAGMA user_version = {VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# --- writing ---------------------------------------------------------------------------------


def remove(conn: sqlite3.Connection, ids: list[int], pending: bitmaps.Pending) -> None:
    """Delete documents by id, in chunks that stay under SQLite's parameter limit; their
    bitmap entries go into `pending` (and any this transaction added are taken out)."""
    pending.forget(ids)
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        marks = ",".join("?" * len(chunk))
        for doc_id, body in conn.execute(f"SELECT id, body FROM docs WHERE id IN ({marks})", chunk):
            pending.remove(doc_id, bitmaps.keys(json.loads(body)))
        # A contentless table forgets a row only when told its text: read it from fts first.
        rows = conn.execute(
            f"SELECT rowid, {', '.join(TEXT_COLUMNS)} FROM fts WHERE rowid IN ({marks})", chunk
        ).fetchall()
        for i, (table, column) in enumerate(SCORE_TABLES, start=1):
            conn.executemany(
                f"INSERT INTO {table} ({table}, rowid, {column}) VALUES ('delete', ?, ?)",
                [(row[0], row[i]) for row in rows if row[i] is not None],
            )
        # Words and suggestions are left as they are: a stale one costs a wasted lookup.
        for sql in (
            f"DELETE FROM docs WHERE id IN ({marks})",
            f"DELETE FROM fts WHERE rowid IN ({marks})",
            f"DELETE FROM deadlines WHERE doc_id IN ({marks})",
            f"DELETE FROM points WHERE doc_id IN ({marks})",
        ):
            conn.execute(sql, chunk)


def insert(conn: sqlite3.Connection, docs: list[SearchDocument], pending: bitmaps.Pending) -> None:
    """Add documents (not yet in the index) to every table, in the caller's transaction, and
    their bitmap entries to `pending` (the caller flushes it before committing).

    Raises as soon as one document cannot be stored (see `indexer.document.document_json`),
    having written part of the batch: the caller rolls back to before it."""
    if not docs:
        return
    points = _points(docs)  # checked before anything is written
    conn.executemany(
        "INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                d["id"], document_json(d), d["end_date"], d["start_date"],
                d["next_start"], int(d["enduring"]), d["cme_credits"], d["max_points"],
                d["claim_deadline"], d["created_at"],
            )
            for d in docs
        ],
    )  # fmt: skip
    texts = [
        (
            d["id"],
            *(
                fts_text(" | ".join(t for f in fields for t in _texts(d, f)))
                for _, fields in FTS_COLUMNS
            ),
        )
        for d in docs
    ]
    conn.executemany(
        f"INSERT INTO fts (rowid, {', '.join(TEXT_COLUMNS)})"
        f" VALUES (?, {', '.join('?' * len(TEXT_COLUMNS))})",
        texts,
    )
    for i, (table, column) in enumerate(SCORE_TABLES, start=1):
        conn.executemany(
            f"INSERT INTO {table} (rowid, {column}) VALUES (?, ?)", [(t[0], t[i]) for t in texts]
        )
    conn.executemany(
        "INSERT OR REPLACE INTO labels VALUES ('provider', ?, ?)",
        {(d["provider"], d["provider_name"]) for d in docs},
    )
    conn.executemany(
        "INSERT INTO deadlines VALUES (?, ?, ?, ?)",
        [
            (d["id"], board, d["points"].get(board), d["deadlines"].get(board))
            for d in docs
            for board in sorted(set(d["points"]) | set(d["deadlines"]))
        ],
    )
    words: dict[str, int] = {}
    suggestions: dict[tuple[str, str], int] = {}
    for d in docs:
        for field in WORD_FIELDS:
            for text in _texts(d, field):
                for w in folded_words(text):
                    if len(w) > 2:
                        words[w] = words.get(w, 0) + 1
        for kind, field in SUGGESTION_FIELDS:
            for text in _texts(d, field):
                suggestions[(kind, text)] = suggestions.get((kind, text), 0) + 1
    conn.executemany(
        "INSERT INTO words VALUES (?, ?) ON CONFLICT (word) DO UPDATE SET uses = uses + excluded.uses",
        words.items(),
    )
    conn.executemany(
        "INSERT INTO suggestions VALUES (?, ?, ?, ?) ON CONFLICT (kind, text) DO UPDATE SET uses = uses + excluded.uses",
        [(k, t, " ".join(folded_words(t)), n) for (k, t), n in suggestions.items()],
    )
    _insert_points(conn, points)
    # Last: a document whose rows failed above never reaches the bitmaps.
    for d in docs:
        pending.add(d["id"], bitmaps.keys(d))
