"""What the servers themselves see of each app: the truth beside the app's own count."""

from __future__ import annotations

from leaklab.scenarios.model import WORKER_UPSTREAM_SOCKETS, ServerTruth, metric

# The servers' view, through the exporters the stack runs (and compose).
POSTGRESQL = ServerTruth(
    "seen by PostgreSQL", metric("pg_connections"), "application_name", "sum", "pg_stat_activity"
)
REDIS = ServerTruth(
    "seen by Redis", "redis_connected_clients_details", "name", "count", "CLIENT LIST"
)
# Redis clients in pub/sub mode (flag P), one series per client, per name.
REDIS_PUBSUB = ServerTruth(
    "seen by Redis (pub/sub)",
    'redis_connected_clients_details{flags="P"}',
    "name",
    "count",
    "CLIENT LIST, flags P",
)
# The OS's view of each worker's sockets to the upstream, read at scrape time (psutil).
UPSTREAM_SOCKETS = ServerTruth(
    "seen by the OS",
    WORKER_UPSTREAM_SOCKETS.name,
    "",
    "sum",
    "the workers' sockets to the upstream (any state)",
)
