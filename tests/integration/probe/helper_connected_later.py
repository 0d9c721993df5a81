"""Run in a fresh interpreter (test_probe_imported_after_enable.py): the probe enabled
first, then the drivers imported and connected to the real servers (argv: root, PostgreSQL
URL, Redis URL). Prints the live connections by origin (JSON)."""

import json
import sys

from leaklab import probe
from leaklab.settings import ProbeSettings

enabled = probe.enable(sys.argv[1], settings=ProbeSettings(memory_window=0))
assert enabled is not None
dsn, redis_url = sys.argv[2], sys.argv[3]

# imported for the first time in this process, after enable()
import psycopg  # noqa: E402
import psycopg2.pool  # noqa: E402
import redis  # noqa: E402
from psycopg2 import connect  # noqa: E402  (calls the module's _connect, patched)

conn = connect(dsn, application_name="leaklab-probe-test")  # psycopg2 connect
pool = psycopg2.pool.ThreadedConnectionPool(1, 1, dsn)  # psycopg2 pool
conn3 = psycopg.connect(dsn, application_name="leaklab-probe-test")  # psycopg connect
client = redis.Redis.from_url(redis_url)  # redis client
client.ping()
live = {
    kind: {origin: n for (origin, _endpoint), n in counts.items()}
    for kind, counts in enabled.registry.live().items()
}
print(json.dumps(live))
conn.close()
pool.closeall()
conn3.close()
client.close()
