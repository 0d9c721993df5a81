"""Run in a fresh interpreter (test_probe_import_hooks.py): the probe enabled before any
hooked library is imported. Prints what enable() imported, which of each library's
attributes are patched once the code imports it, and the live objects by origin (JSON)."""

import json
import sys

from leaklab import probe
from leaklab.probe.patching import MARK
from leaklab.settings import ProbeSettings

LIBRARIES = ["psycopg2", "psycopg", "psycopg_pool", "sqlalchemy", "redis", "requests"]
LIBRARIES += ["urllib3", "httpx", "httpcore"]

enabled = probe.enable(sys.argv[1], settings=ProbeSettings(memory_window=0))
assert enabled is not None
imported_by_enable = [name for name in LIBRARIES if name in sys.modules]

# each imported here for the first time in this process (httpcore: by httpx)
import httpcore  # noqa: E402
import httpx  # noqa: E402
import psycopg  # noqa: E402
import psycopg2.pool  # noqa: E402
import psycopg_pool  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402
import sqlalchemy  # noqa: E402
import urllib3  # noqa: E402

client = httpx.Client()  # httpx client
session = requests.Session()  # requests session
engine = sqlalchemy.create_engine("sqlite://")  # engine

attributes = {
    "psycopg2._connect": psycopg2._connect,
    "psycopg2.pool": psycopg2.pool.AbstractConnectionPool._getconn,
    "psycopg": psycopg.Connection.__init__,
    "psycopg_pool": psycopg_pool.ConnectionPool.getconn,
    "sqlalchemy": sqlalchemy.engine.Engine.__init__,
    "redis": redis.connection.ConnectionPool.__init__,
    "requests": requests.Session.send,
    "urllib3": urllib3.connectionpool.HTTPConnectionPool._new_conn,
    "httpx": httpx.Client.send,
    "httpcore": httpcore.HTTPConnection.__init__,
}
live = {
    kind: {origin: n for (origin, _endpoint), n in counts.items()}
    for kind, counts in enabled.registry.live().items()
}
print(
    json.dumps(
        {
            "imported_by_enable": imported_by_enable,
            "patched": {name: getattr(f, MARK, False) for name, f in attributes.items()},
            "live": live,
        }
    )
)
client.close()
session.close()
