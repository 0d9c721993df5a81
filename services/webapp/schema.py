"""The seeded tables the endpoints query, created idempotently before the apps start."""

from __future__ import annotations

from psycopg2.extensions import connection

PRODUCTS = 1000
_LOCK_ID = 0x1EA4_1AB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id          integer PRIMARY KEY,
    name        text    NOT NULL,
    price_cents integer NOT NULL CHECK (price_cents >= 0)
);
INSERT INTO products (id, name, price_cents)
SELECT i, 'product ' || i, (i * 7919) %% 100000
FROM generate_series(1, %(rows)s) AS i
ON CONFLICT (id) DO NOTHING;
"""


def ensure_schema(conn: connection) -> None:
    """Create and seed `products` once, safely when several processes race."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        cur.execute(_SCHEMA, {"rows": PRODUCTS})
