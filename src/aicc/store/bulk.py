"""Many rows into one table in one statement, their new ids back in the order given.

SQLAlchemy renders a multi-row ``INSERT … VALUES (…), (…) RETURNING`` with one placeholder per value. On
PostgreSQL psycopg then parses that text again for every batch (its query cache stops at 50 parameters),
and a batch of submitted jobs (35 columns) spent more time there than in the database: 12 % of an API
worker's time under load. So on PostgreSQL the rows travel as one JSON parameter of a short, constant
statement, which the server unpacks with ``json_populate_recordset``; the ids are drawn from the table's
sequence first, so they follow the order given without relying on the order of ``RETURNING``. Values go as
JSON (datetimes as ISO 8601 with their zone); the server converts them to the columns' types.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.orm import Session


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a bulk insert")
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} in a bulk insert")


def insert_ids(s: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert ``rows`` (all with the same keys, none of them ``id``) into ``table``; their ids, in order."""
    if not rows:
        return []
    if s.get_bind().dialect.name != "postgresql":
        return list(s.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                              list(rows)).scalars())
    names = list(rows[0])
    for name in names:  # names come from our own code, never a request; still, only the table's columns pass
        if name not in table.c or name == "id":
            raise ValueError(f"{table.name} has no insertable column {name!r}")
    s.flush()  # what the ORM holds goes first, as an ordinary execute would autoflush it
    ids = list(s.execute(text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                         {"t": table.name, "n": len(rows)}).scalars())
    columns = ", ".join(f'"{n}"' for n in ["id", *names])
    payload = json.dumps([{"id": i, **r} for i, r in zip(ids, rows, strict=True)], default=_plain)
    s.execute(text(f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} '  # noqa: S608 - names checked above
                   f'FROM json_populate_recordset(NULL::"{table.name}", CAST(:rows AS json))'), {"rows": payload})
    return [int(i) for i in ids]
