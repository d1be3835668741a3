"""SQL building blocks the ledger's operations share: one dialect-aware place for
insert-or-ignore, bulk loads through the driver (``executemany`` on SQLite, ``COPY`` on
PostgreSQL), chunked IN lists and time values.

Every operation of the ledger is set-based: these helpers exist so that none of them grows a
loop of one statement per transaction.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

#: Rows per statement for IN lists and bulk inserts (well under SQLite's variable limit).
CHUNK = 2000


def utcnow() -> datetime:
    return datetime.now(UTC)


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def batched(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def text_rows(frame: pd.DataFrame, size: int = 50_000) -> Iterator[tuple[str, ...]]:
    """``frame``'s rows as tuples of Python strings, made ``size`` rows at a time as they are
    consumed: a day's two million keys never all exist as Python objects at once (about
    300 MB), the way a whole-frame ``astype(str)`` would make them."""
    for start in range(0, len(frame), size):
        part = frame.iloc[start : start + size]
        yield from zip(*(part[column].astype(str).tolist() for column in part.columns), strict=True)


def insert_ignore(engine: sa.Engine, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the engine's dialect."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"the ledger runs on sqlite and postgresql, not {dialect!r}")


def bulk_insert_ignore(
    engine: sa.Engine,
    conn: sa.Connection,
    table: sa.Table,
    columns: list[str],
    rows: Iterable[tuple[Any, ...]],
    constants: Mapping[str, Any] | None = None,
) -> int:
    """Insert-or-ignore many rows given as tuples in ``columns`` order, through the driver;
    returns the rows inserted (those not already present). ``constants``: columns with one
    value for every row (a registration's time), sent once rather than with each row.

    The statement is compiled once by SQLAlchemy for the connection's dialect and the rows
    go straight to the DB-API's ``executemany``: SQLAlchemy's per-row parameter processing
    cost more than SQLite's own work (5 s of 8 s for 500k rows). Values must already be in
    the driver's form (see :func:`bound`).
    """
    constants = dict(constants or {})
    if conn.dialect.name == "postgresql":
        return _copy_insert_ignore(conn, table, columns, rows, constants)
    if constants:
        tail = tuple(constants.values())
        columns = [*columns, *constants]
        rows = (row + tail for row in rows)
    compiled = insert_ignore(engine, table).compile(dialect=conn.dialect, column_keys=columns)
    if compiled.positional:
        order = [columns.index(name) for name in compiled.positiontup or []]
        if order != list(range(len(columns))):
            rows = (tuple(row[i] for i in order) for row in rows)
    else:
        rows = (dict(zip(columns, row, strict=True)) for row in rows)
    inserted = 0
    for chunk in batched(rows, 50_000):
        inserted += conn.exec_driver_sql(str(compiled), chunk).rowcount
    return inserted


def _copy_insert_ignore(
    conn: sa.Connection,
    table: sa.Table,
    columns: list[str],
    rows: Iterable[tuple[Any, ...]],
    constants: Mapping[str, Any],
) -> int:
    """PostgreSQL's fastest bulk path: ``COPY`` into a temporary table, then one ``INSERT ...
    SELECT`` of the rows not already present (COPY itself cannot ignore duplicates).

    Only ``columns`` are copied; ``constants`` are bound once in the ``INSERT`` (psycopg
    formats a datetime in Python: one per row made copying 2M keys take 4.5 s instead of
    0.7). Rows already present are filtered by an anti-join, and the insert runs without ``ON
    CONFLICT``, whose speculative insertion of every row cost 3.3 s of 8 s for 2M new rows.
    Only a row another transaction inserts at the same moment (PostgreSQL raises a unique
    violation once that transaction commits), or a key given twice in ``rows``, can still
    collide: the insert is then rolled back to a savepoint and done again with ``ON CONFLICT
    DO NOTHING``, so the result is the same either way, at the cost of a second insert. The
    temporary table lives until the transaction ends, so the rows become visible, and
    conflicts are resolved, atomically with the rest of the caller's transaction.
    """
    # imported here: every Dagster process imports the ledger, only PostgreSQL needs psycopg
    from psycopg import errors, sql

    staging = sql.Identifier(f"staging_{table.name}_{uuid.uuid4().hex[:8]}")
    target = sql.Identifier(table.name)
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    all_names = sql.SQL(", ").join(map(sql.Identifier, [*columns, *constants]))
    values = sql.SQL(", ").join(
        [
            *(sql.Identifier(name) for name in columns),
            *(_bound_constant(conn, table.c[name]) for name in constants),
        ]
    )
    present = sql.SQL(" AND ").join(
        sql.SQL("{0}.{2} = {1}.{2}").format(target, staging, sql.Identifier(column.name))
        for column in table.primary_key.columns
    )
    insert = sql.SQL(
        "INSERT INTO {} ({}) SELECT {} FROM {} WHERE NOT EXISTS (SELECT 1 FROM {} WHERE {})"
    ).format(target, all_names, values, staging, target, present)
    params = tuple(constants.values())
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
            ).format(staging, names, target)
        )
        with cursor.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(staging, names)) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute("SAVEPOINT bulk_insert")
        try:
            cursor.execute(insert, params)
        except errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT bulk_insert")
            cursor.execute(insert + sql.SQL(" ON CONFLICT DO NOTHING"), params)
        inserted = max(cursor.rowcount, 0)
        cursor.execute("RELEASE SAVEPOINT bulk_insert")
        return inserted
    finally:
        cursor.close()


def _bound_constant(conn: sa.Connection, column: sa.Column) -> Any:
    """A placeholder for ``column``'s one value in an ``INSERT ... SELECT``, cast to the
    column's type where PostgreSQL cannot infer it from a select list (a time). Text is not
    cast: a cast to ``VARCHAR(n)`` would cut a value too long instead of refusing it."""
    from psycopg import sql

    if isinstance(column.type, sa.String):
        return sql.Placeholder()
    return sql.SQL("{}::{}").format(
        sql.Placeholder(), sql.SQL(column.type.compile(dialect=conn.dialect))
    )


@contextlib.contextmanager
def _driver_cursor(conn: sa.Connection, query: sa.Select) -> Iterator[Any]:
    """A DB-API cursor of ``conn`` that has executed ``query`` (compiled by SQLAlchemy for the
    connection's dialect), closed on exit."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params: Any = compiled.params
    if compiled.positional:
        params = tuple(compiled.params[name] for name in compiled.positiontup or [])
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled), params)
        yield cursor
    finally:
        cursor.close()


def driver_frame(conn: sa.Connection, query: sa.Select) -> pd.DataFrame:
    """``query``'s rows as a frame, fetched through the DB-API cursor of ``conn``.

    For millions of plain text and number columns, SQLAlchemy's row objects and result
    processing cost several times the database's own work (6 s of CPU for the 2M keys of one
    day). Only for columns that need no result processing (no datetimes).
    """
    with _driver_cursor(conn, query) as cursor:
        rows = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=list(query.selected_columns.keys()))


def json_text_array(dialect: str, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """An aggregate of ``column``'s values as the text of a JSON array, in ``dialect``.

    The database writes the array in C, escaping every value exactly, so that a reader of a
    group's millions of values receives one string per group instead of one Python object per
    value (PostgreSQL's ``json_agg`` is cast to text, or psycopg would parse it into lists).
    """
    if dialect == "sqlite":
        return sa.func.json_group_array(column)
    if dialect == "postgresql":
        return sa.cast(sa.func.json_agg(column), sa.Text)
    raise NotImplementedError(f"the ledger runs on sqlite and postgresql, not {dialect!r}")


def driver_text_batches(
    conn: sa.Connection, query: sa.Select, rows: int
) -> Iterator[pa.RecordBatch]:
    """``query``'s rows (text columns only), ``rows`` at a time, as Arrow batches: a reader of
    many rows holds one batch of Python rows at once, never all of them."""
    names = list(query.selected_columns.keys())
    with _driver_cursor(conn, query) as cursor:
        while chunk := cursor.fetchmany(rows):
            columns = zip(*chunk, strict=True)
            yield pa.RecordBatch.from_arrays(
                [pa.array(column, type=pa.string()) for column in columns], names=names
            )


def bound(conn: sa.Connection, column: sa.Column, value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (SQLite stores datetimes as text)."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process else value


def aware(value: datetime | None) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if value is None:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def none_if_missing(value: object) -> Any:
    """``None`` for None/NaN/NA (what pandas hands over for a missing value), else the value."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def null_safe_eq(column: sa.ColumnElement, param: str) -> sa.ColumnElement[bool]:
    """``column = :param`` that is also true when both are NULL."""
    value = sa.bindparam(param)
    return sa.or_(column == value, sa.and_(column.is_(None), value.is_(None)))
